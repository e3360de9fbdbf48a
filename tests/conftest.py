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


@pytest.fixture(autouse=True, scope="session")
def _device_locks_in_a_private_folder(tmp_path_factory):
    """The stimulator owner locks (SAFETY.md item 13) of this test run live in a folder of
    its own; subprocesses inherit it through the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MIRRORVR_LOCK_DIR", str(tmp_path_factory.mktemp("device-locks")))
        yield
