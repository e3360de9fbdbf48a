"""Movement classes -> target poses, and a time-based pose follower.

``target_pose(movement, level, side)`` blends from the relaxed rest pose (level 0) to the full
movement (level 1). ``PoseFollower`` chases a target with a first-order lag whose time
constant is in seconds, so the motion looks the same at any frame rate.
"""

from __future__ import annotations

import math

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import FINGERS, Pose, check_side
from mirrorvr.movements import (
    HAND_CLOSE,
    HAND_OPEN,
    PRONATION,
    REST,
    SUPINATION,
    WRIST_EXTENSION,
    WRIST_FLEXION,
    check_movement,
)


def _relaxed() -> dict[str, float]:
    """A hand at rest on a table: fingers gently curved, thumb relaxed."""
    angles = {"thumb_opposition": 0.1, "thumb_mcp_flexion": 0.1, "thumb_ip_flexion": 0.15}
    for i, f in enumerate(FINGERS):
        angles[f"{f}_mcp_flexion"] = 0.08 + 0.04 * i
        angles[f"{f}_pip_flexion"] = 0.18 + 0.05 * i
        angles[f"{f}_dip_flexion"] = 0.15
    return angles


def _open() -> dict[str, float]:
    angles = {
        "thumb_opposition": -0.25,
        "thumb_abduction": 0.35,
        "thumb_mcp_flexion": -0.1,
        "thumb_ip_flexion": -0.1,
    }
    for f, spread in zip(FINGERS, (0.12, 0.0, -0.1, -0.22), strict=True):
        angles[f"{f}_mcp_abduction"] = spread
        angles[f"{f}_mcp_flexion"] = -0.2
        angles[f"{f}_pip_flexion"] = 0.0
        angles[f"{f}_dip_flexion"] = 0.0
    return angles


def _close() -> dict[str, float]:
    angles = {
        "thumb_opposition": 0.75,
        "thumb_abduction": -0.2,
        "thumb_mcp_flexion": 0.55,
        "thumb_ip_flexion": 0.6,
    }
    for f in FINGERS:
        angles[f"{f}_mcp_flexion"] = 1.45
        angles[f"{f}_pip_flexion"] = 1.75
        angles[f"{f}_dip_flexion"] = 1.0
    return angles


_FULL: dict[str, dict[str, float]] = {
    REST: _relaxed(),
    HAND_OPEN: _open(),
    HAND_CLOSE: _close(),
    WRIST_FLEXION: {**_relaxed(), "wrist_flexion": 0.9},
    WRIST_EXTENSION: {**_relaxed(), "wrist_flexion": -0.8},
    PRONATION: {**_relaxed(), "forearm_pronation": 0.5},
    SUPINATION: {**_relaxed(), "forearm_pronation": -1.6},
}


def target_pose(movement: str, level: float, side: str) -> Pose:
    """The pose of ``movement`` performed at ``level``.

    Parameters
    ----------
    movement : str
        One of :data:`mirrorvr.movements.UPPER_LIMB_MOVEMENTS`.
    level : float
        0 = rest, 1 = full movement; linear in between.
    side : str
        ``"left"`` or ``"right"``.
    """
    check_movement(movement)
    check_side(side)
    if not (0.0 <= level <= 1.0) or math.isnan(level):
        raise ConfigError(f"level: {level!r} is outside [0, 1]")
    rest = Pose.from_angles(side, **_FULL[REST])
    full = Pose.from_angles(side, **_FULL[movement])
    return rest.lerp(full, float(level))


class PoseFollower:
    """Moves smoothly towards a target pose with a first-order lag (time-based).

    Each update moves a fraction ``1 - exp(-dt / time_constant_s)`` of the remaining way, so
    one 100 ms step lands where ten 10 ms steps do.

    Parameters
    ----------
    side : str
    time_constant_s : float
        Time to cover ~63 % of a step change, s (> 0).
    initial : Pose, optional
        Start pose; default the relaxed rest pose.
    """

    def __init__(self, side: str, time_constant_s: float = 0.12, initial: Pose | None = None):
        check_side(side)
        if not time_constant_s > 0:
            raise ConfigError(f"time_constant_s: {time_constant_s!r} must be > 0")
        if initial is not None and initial.side != side:
            raise ConfigError(f"initial.side: {initial.side!r} differs from {side!r}")
        self.side = side
        self.time_constant_s = float(time_constant_s)
        self._pose = initial if initial is not None else target_pose(REST, 0.0, side)
        self._last_t_s: float | None = None

    @property
    def pose(self) -> Pose:
        """The current pose."""
        return self._pose

    def reset(self, pose: Pose, t_s: float | None = None) -> None:
        """Jump to ``pose``; the next update measures elapsed time from ``t_s``."""
        if pose.side != self.side:
            raise ConfigError(f"pose.side: {pose.side!r} differs from {self.side!r}")
        self._pose = pose
        self._last_t_s = t_s

    def update(self, target: Pose, t_s: float) -> Pose:
        """Advance to session time ``t_s`` (s) towards ``target`` and return the new pose.

        The first call only starts the clock (returns the current pose unchanged).
        """
        if target.side != self.side:
            raise ConfigError(f"target.side: {target.side!r} differs from {self.side!r}")
        if self._last_t_s is None:
            self._last_t_s = float(t_s)
            return self._pose
        dt_s = float(t_s) - self._last_t_s
        if dt_s < 0:
            raise ConfigError(
                f"t_s: {t_s!r} is earlier than the previous update ({self._last_t_s!r}); "
                "time only moves forward"
            )
        self._last_t_s = float(t_s)
        alpha = 1.0 - math.exp(-dt_s / self.time_constant_s)
        angles = self._pose.angles + alpha * (target.angles - self._pose.angles)
        # Stay between the current and the target pose (rounding cannot leave the limits).
        angles = np.clip(
            angles,
            np.minimum(self._pose.angles, target.angles),
            np.maximum(self._pose.angles, target.angles),
        )
        if target.within_limits() and self._pose.within_limits():
            self._pose = Pose(self.side, angles)
        else:
            self._pose = Pose.unchecked(self.side, angles)
        return self._pose
