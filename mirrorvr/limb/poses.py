"""Movement classes -> target poses, and a time-based pose follower.

``target_pose(movement, level, side)`` blends from the relaxed rest pose (level 0) to the full
movement (level 1); the movement class picks the limb (``rest`` takes ``limb``).
``PoseFollower`` chases a target with a first-order lag whose time constant is in seconds, so
the motion looks the same at any frame rate.

Every class of :data:`mirrorvr.movements.ALL_MOVEMENTS` has a pose: the forearm classes and
the grasps (power grasp, tip pinch, key grip, point) for the upper limb; ankle, toe and knee
classes for the lower limb (seated, foot on the floor at rest).
"""

from __future__ import annotations

import math

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import ANKLE_BIND_RAD, FINGERS, Pose, check_limb, check_side
from mirrorvr.movements import (
    ALL_MOVEMENTS,
    ANKLE_DORSIFLEXION,
    ANKLE_EVERSION,
    ANKLE_INVERSION,
    ANKLE_PLANTARFLEXION,
    HAND_CLOSE,
    HAND_OPEN,
    KEY_GRIP,
    KNEE_EXTENSION,
    KNEE_FLEXION,
    PINCH,
    POINT,
    POWER_GRASP,
    PRONATION,
    RADIAL_DEVIATION,
    REST,
    SUPINATION,
    TOE_EXTENSION,
    TOE_FLEXION,
    ULNAR_DEVIATION,
    WRIST_EXTENSION,
    WRIST_FLEXION,
    check_movement,
    movement_limb,
)


def _relaxed() -> dict[str, float]:
    """A hand resting flat on a table, palm down: fingers almost straight, their pads and the
    thumb's side on the table (the thumb alongside the index finger, not tucked under)."""
    angles = {
        "thumb_opposition": -0.1,
        "thumb_abduction": -0.1,
        "thumb_mcp_flexion": 0.0,
        "thumb_ip_flexion": 0.1,
    }
    for i, f in enumerate(FINGERS):
        angles[f"{f}_mcp_flexion"] = 0.10 + 0.02 * i
        angles[f"{f}_pip_flexion"] = 0.12 + 0.03 * i
        angles[f"{f}_dip_flexion"] = 0.06
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


def _curled(mcp: float, pip: float, dip: float, fingers=FINGERS) -> dict[str, float]:
    angles = {}
    for f in fingers:
        angles[f"{f}_mcp_flexion"] = mcp
        angles[f"{f}_pip_flexion"] = pip
        angles[f"{f}_dip_flexion"] = dip
    return angles


def _power_grasp() -> dict[str, float]:
    """Cylindrical grasp of a ~4 cm handle: fingers wrapped, thumb opposed across them."""
    return {
        **_curled(1.0, 1.25, 0.55),
        "thumb_opposition": 0.95,
        "thumb_abduction": 0.15,
        "thumb_mcp_flexion": 0.35,
        "thumb_ip_flexion": 0.35,
    }


def _pinch() -> dict[str, float]:
    """Tip pinch: index and thumb tips meet; the other fingers relaxed, slightly curled."""
    return {
        **_relaxed(),
        **_curled(0.35, 0.55, 0.3, ("middle", "ring", "little")),
        **PINCH_THUMB_INDEX,
    }


def _key_grip() -> dict[str, float]:
    """Lateral (key) pinch: fingers curled, thumb pad on the side of the index finger."""
    return {
        **_curled(1.1, 1.45, 0.7),
        "index_mcp_flexion": 0.9,
        "index_pip_flexion": 1.35,
        "thumb_opposition": 0.25,
        "thumb_abduction": -0.35,
        "thumb_mcp_flexion": 0.3,
        "thumb_ip_flexion": 0.25,
    }


def _point() -> dict[str, float]:
    """Index extended, the other fingers in a fist, thumb over the middle finger."""
    return {
        **_curled(1.4, 1.7, 0.95, ("middle", "ring", "little")),
        "index_mcp_flexion": 0.0,
        "index_pip_flexion": 0.0,
        "index_dip_flexion": 0.0,
        "thumb_opposition": 0.8,
        "thumb_abduction": -0.15,
        "thumb_mcp_flexion": 0.5,
        "thumb_ip_flexion": 0.45,
    }


#: Index and thumb angles whose tips meet (tuned against the skeleton's fingertip positions).
PINCH_THUMB_INDEX: dict[str, float] = {
    "index_mcp_flexion": 0.81,
    "index_pip_flexion": 0.85,
    "index_dip_flexion": 0.44,
    "thumb_opposition": 0.55,
    "thumb_abduction": 0.18,
    "thumb_mcp_flexion": 0.07,
    "thumb_ip_flexion": 0.12,
}

_LOWER_REST: dict[str, float] = {"toe_flexion": 0.05}
_ANKLE = ANKLE_BIND_RAD  # the foot flat on the floor in the seated rest pose

_FULL: dict[str, dict[str, float]] = {
    REST: _relaxed(),
    HAND_OPEN: _open(),
    HAND_CLOSE: _close(),
    WRIST_FLEXION: {**_relaxed(), "wrist_flexion": 0.9},
    WRIST_EXTENSION: {**_relaxed(), "wrist_flexion": -0.8},
    PRONATION: {**_relaxed(), "forearm_pronation": 0.5},
    SUPINATION: {**_relaxed(), "forearm_pronation": -1.6},
    RADIAL_DEVIATION: {**_relaxed(), "wrist_deviation": 0.3},
    ULNAR_DEVIATION: {**_relaxed(), "wrist_deviation": -0.5},
    POWER_GRASP: _power_grasp(),
    PINCH: _pinch(),
    KEY_GRIP: _key_grip(),
    POINT: _point(),
}

_FULL_LOWER: dict[str, dict[str, float]] = {
    REST: _LOWER_REST,
    ANKLE_DORSIFLEXION: {**_LOWER_REST, "ankle_dorsiflexion": _ANKLE + 0.6},
    ANKLE_PLANTARFLEXION: {**_LOWER_REST, "ankle_dorsiflexion": -0.87},
    ANKLE_INVERSION: {**_LOWER_REST, "ankle_inversion": 0.5},
    # Eversion: the full 15 deg, with the dorsiflexion that comes with it (pronation).
    ANKLE_EVERSION: {**_LOWER_REST, "ankle_inversion": -0.26, "ankle_dorsiflexion": _ANKLE + 0.22},
    TOE_FLEXION: {"toe_flexion": 0.6},
    TOE_EXTENSION: {"toe_flexion": -1.15},
    KNEE_EXTENSION: {**_LOWER_REST, "knee_flexion": 0.25, "ankle_dorsiflexion": -0.2},
    # Seated knee flexion: the foot slides back under the chair, heel up, toes on the floor.
    KNEE_FLEXION: {**_LOWER_REST, "knee_flexion": 1.45, "ankle_dorsiflexion": -0.75},
}


def full_pose(movement: str, side: str, limb: str | None = None) -> Pose:
    """The pose of ``movement`` at level 1 (``limb`` only matters for ``rest``)."""
    return target_pose(movement, 1.0, side, limb)


def target_pose(movement: str, level: float, side: str, limb: str | None = None) -> Pose:
    """The pose of ``movement`` performed at ``level``.

    Parameters
    ----------
    movement : str
        One of :data:`mirrorvr.movements.ALL_MOVEMENTS`.
    level : float
        0 = rest, 1 = full movement; linear in between.
    side : str
        ``"left"`` or ``"right"``.
    limb : str, optional
        ``"upper"`` or ``"lower"``; default the movement's limb (``rest``: upper). A limb
        that does not do ``movement`` is an error.
    """
    check_movement(movement, ALL_MOVEMENTS)
    check_side(side)
    own = movement_limb(movement)
    if limb is None:
        limb = own
    check_limb(limb)
    if movement != REST and limb != own:
        raise ConfigError(f"movement: {movement!r} is a {own}-limb class, not a {limb}-limb one")
    if not (0.0 <= level <= 1.0) or math.isnan(level):
        raise ConfigError(f"level: {level!r} is outside [0, 1]")
    table = _FULL if limb == "upper" else _FULL_LOWER
    rest = Pose.from_angles(side, limb, **table[REST])
    full = Pose.from_angles(side, limb, **table[movement])
    return rest.lerp(full, float(level))


def blended_pose(levels: dict[str, float], side: str, limb: str | None = None) -> Pose:
    """Several movements at once: the rest pose plus each movement's change from rest at its
    level (e.g. ``{"hand_open": 0.4, "wrist_flexion": 0.2}``), clipped to the joint limits.

    Parameters
    ----------
    levels : dict str -> float
        Movement class -> level in [0, 1]; empty: the rest pose.
    side : str
    limb : str, optional
        ``"upper"`` or ``"lower"``; default the movements' limb (``"upper"`` when empty).
    """
    if limb is None:
        limb = movement_limb(next(iter(levels))) if levels else "upper"
    rest = target_pose(REST, 0.0, side, limb)
    angles = rest.angles.copy()
    for movement, level in levels.items():
        angles += target_pose(movement, level, side, limb).angles - rest.angles
    return Pose.unchecked(side, angles, limb).clipped()


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
    limb : str
        ``"upper"`` (default) or ``"lower"``; taken from ``initial`` when given.
    """

    def __init__(
        self,
        side: str,
        time_constant_s: float = 0.12,
        initial: Pose | None = None,
        limb: str = "upper",
    ):
        check_side(side)
        check_limb(limb)
        if not time_constant_s > 0:
            raise ConfigError(f"time_constant_s: {time_constant_s!r} must be > 0")
        if initial is not None and initial.side != side:
            raise ConfigError(f"initial.side: {initial.side!r} differs from {side!r}")
        self.side = side
        self.time_constant_s = float(time_constant_s)
        self._pose = initial if initial is not None else target_pose(REST, 0.0, side, limb)
        self.limb = self._pose.limb
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
        self.limb = pose.limb
        self._last_t_s = t_s

    def update(self, target: Pose, t_s: float) -> Pose:
        """Advance to session time ``t_s`` (s) towards ``target`` and return the new pose.

        The first call only starts the clock (returns the current pose unchanged).
        """
        if target.side != self.side:
            raise ConfigError(f"target.side: {target.side!r} differs from {self.side!r}")
        if target.limb != self._pose.limb:
            raise ConfigError(f"target.limb: {target.limb!r} differs from {self._pose.limb!r}")
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
            self._pose = Pose(self.side, angles, self.limb)
        else:
            self._pose = Pose.unchecked(self.side, angles, self.limb)
        return self._pose
