"""Finds the packaged ``shaders/`` and ``models/`` folders.

They live at the repository root (next to ``mirrorvr/``). ``MIRRORVR_RESOURCES`` overrides
the root, e.g. for an installed copy that keeps them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from mirrorvr.errors import ResourceError

_ROOT = Path(__file__).resolve().parent.parent


def resource_root() -> Path:
    """The folder holding ``shaders/`` and ``models/``."""
    return Path(os.environ.get("MIRRORVR_RESOURCES", _ROOT))


def _find(kind: str, name: str) -> Path:
    folder = resource_root() / kind
    path = folder / name
    if not path.is_file():
        available = sorted(p.name for p in folder.glob("*")) if folder.is_dir() else []
        raise ResourceError(f"{kind[:-1]} {name!r} not found in {folder} (available: {available})")
    return path


def shader_path(name: str) -> Path:
    """Path of a GLSL file in ``shaders/``, e.g. ``shader_path("skin.vert")``."""
    return _find("shaders", name)


def model_path(name: str) -> Path:
    """Path of a model file in ``models/``, e.g. ``model_path("upper_limb_right.glb")``."""
    return _find("models", name)
