"""Mirroring across the body midline (the ``x = 0`` plane).

Joint angles are anatomical and each side's skeleton is built as the reflection of the other,
so mirroring a pose keeps its angles and swaps its side. World-space points reflect by
``x -> -x``.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import MIDLINE_REFLECTION, Pose

__all__ = ["MIDLINE_REFLECTION", "mirror_pose", "other_side", "reflect_points", "reflect_matrix"]


def other_side(side: str) -> str:
    """``"left"`` <-> ``"right"``."""
    if side == "left":
        return "right"
    if side == "right":
        return "left"
    raise ConfigError(f"side: {side!r} is not a body side (allowed: ['left', 'right'])")


def mirror_pose(pose: Pose) -> Pose:
    """The same joint angles on the other side."""
    if pose.within_limits():
        return Pose(other_side(pose.side), pose.angles, pose.limb)
    return Pose.unchecked(other_side(pose.side), pose.angles, pose.limb)


def reflect_points(points: np.ndarray) -> np.ndarray:
    """Reflect points across the midline.

    Parameters
    ----------
    points : (n, 3) float

    Returns
    -------
    reflected : (n, 3) float, ``x`` negated
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ConfigError(f"points: shape {points.shape} given, expected (n, 3)")
    return points * np.array([-1.0, 1.0, 1.0])


def reflect_matrix(transform: np.ndarray) -> np.ndarray:
    """Conjugate a transform (..., 4, 4) by the midline reflection: ``R @ T @ R``."""
    return MIDLINE_REFLECTION @ np.asarray(transform, dtype=float) @ MIDLINE_REFLECTION
