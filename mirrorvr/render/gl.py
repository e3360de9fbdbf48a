"""The one import of PyOpenGL for the GL modules (shader, mesh, renderer).

PyOpenGL fixes its platform (GLX or EGL) at its first import. When nothing chose one yet, pick
EGL if there is no display, so importing a GL module before :func:`open_window` still works
headless.
"""

from __future__ import annotations

import os
import sys

from mirrorvr.render.window import display_available, prepare_environment

if "OpenGL" not in sys.modules and "PYOPENGL_PLATFORM" not in os.environ:
    prepare_environment(headless=not display_available())

from OpenGL import GL  # noqa: E402
from OpenGL.error import GLError  # noqa: E402

__all__ = ["GL", "GLError"]
