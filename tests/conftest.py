"""Shared fixtures. GL: one small offscreen window per test module (Mesa llvmpipe via EGL).

LSL discovery stays on this machine (``lsl_api.cfg``: ResolveScope = machine), set before
pylsl is first imported.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("LSLAPICFG", str(Path(__file__).resolve().parents[1] / "lsl_api.cfg"))


@pytest.fixture(scope="module")
def gl_window():
    """A headless 320x240 OpenGL 3.3 window, closed at the end of the module."""
    from mirrorvr.render.window import open_window

    window = open_window(320, 240, headless=True, title="mirrorvr-test")
    yield window
    window.close()
