"""Keyboard and gamepad sources: a therapist, or a patient without a tracker, plays movements.

Neither polls pygame: the session's event loop (the window's ``poll_events`` on the main
thread) hands each key name or joystick event over with :meth:`KeyboardSource.handle_key` /
:meth:`GamepadSource.handle_key`, and the control thread reads the resulting poses. Only
while started (a mirror block) does a source take keys: a digit typed on a rating screen is
an answer, not a movement. Each start begins at rest.

Keyboard (``"keyboard"``): a digit key selects a movement class, ``0`` rest; ``up`` /
``down`` change the level in steps of 0.1. The pose follows the choice with a first-order
lag (:class:`~mirrorvr.limb.poses.PoseFollower`, 0.15 s), sampled at every read.

Gamepad (``"gamepad"``): each stick axis plays a pair of opposite movements proportionally
(e.g. the left stick's vertical axis: up = hand open, down = hand close); several at once
blend (:func:`~mirrorvr.limb.poses.blended_pose`). The dominant one is the movement class.
Joystick events arrive as text, ``"joyaxis <axis> <value>"``, from the window's
``poll_events``.
"""

from __future__ import annotations

import threading

from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import PoseFollower, blended_pose, target_pose
from mirrorvr.movements import ALL_MOVEMENTS, REST, check_movement, movement_limb
from mirrorvr.tracking.source import PoseSample, check_source_limb

#: Digit key -> movement class, per limb.
DEFAULT_KEYS: dict[str, dict[str, str]] = {
    "upper": {"0": REST, "1": "hand_open", "2": "hand_close", "3": "wrist_flexion",
              "4": "wrist_extension", "5": "pronation", "6": "supination"},
    "lower": {"0": REST, "1": "ankle_dorsiflexion", "2": "ankle_plantarflexion",
              "3": "knee_extension", "4": "knee_flexion", "5": "toe_flexion",
              "6": "toe_extension"},
}
#: Gamepad axis -> (movement at -1, movement at +1), per limb (SDL axis numbers).
DEFAULT_AXES: dict[str, dict[int, tuple[str, str]]] = {
    "upper": {1: ("hand_open", "hand_close"), 3: ("wrist_extension", "wrist_flexion"),
              2: ("supination", "pronation"), 0: ("radial_deviation", "ulnar_deviation")},
    "lower": {1: ("ankle_dorsiflexion", "ankle_plantarflexion"),
              3: ("knee_extension", "knee_flexion"), 2: ("ankle_eversion", "ankle_inversion"),
              0: ("toe_extension", "toe_flexion")},
}
DEAD_ZONE = 0.1


def _check_map(movements, limb: str) -> None:
    for m in movements:
        check_movement(m, ALL_MOVEMENTS)
        if m != REST and movement_limb(m) != limb:
            raise ConfigError(f"movement {m!r} is not a {limb}-limb class")


class KeyboardSource:
    """Movements played with keys (``"keyboard"``).

    Parameters
    ----------
    side, limb : str
    keys : dict str -> str, optional
        Key name -> movement class (default :data:`DEFAULT_KEYS`).
    level : float
        Starting level, [0, 1].
    """

    name = "keyboard"
    problem = None

    def __init__(self, side: str, limb: str, keys: dict[str, str] | None = None,
                 level: float = 0.7) -> None:
        self.side, self.limb, _ = check_source_limb(side, limb)
        self.keys = dict(DEFAULT_KEYS[limb] if keys is None else keys)
        _check_map(self.keys.values(), limb)
        if not 0.0 <= level <= 1.0:
            raise ConfigError(f"level: {level!r} is outside [0, 1]")
        self.level = float(level)
        self.movement = REST
        self._follower = PoseFollower(side, 0.15, limb=limb)
        self._lock = threading.Lock()
        self._started = False

    def handle_key(self, key: str) -> bool:
        """A key pressed (the window's key name); True when this source used it (only
        between :meth:`start` and :meth:`stop`)."""
        with self._lock:
            if not self._started:
                return False
            if key in self.keys:
                self.movement = self.keys[key]
            elif key in ("up", "down"):
                step = 0.1 if key == "up" else -0.1
                self.level = round(min(1.0, max(0.1, self.level + step)), 3)
            else:
                return False
            return True

    def start(self) -> None:
        with self._lock:
            self.movement, self._started = REST, True
        self._follower = PoseFollower(self.side, 0.15, limb=self.limb)

    def read(self, now_s: float) -> list[PoseSample]:
        with self._lock:
            movement, level = self.movement, (0.0 if self.movement == REST else self.level)
        pose = self._follower.update(target_pose(movement, level, self.side, self.limb), now_s)
        return [PoseSample(now_s, pose.angles, 1.0, now_s, movement=movement, level=level)]

    def stop(self) -> None:
        with self._lock:
            self._started = False


class GamepadSource:
    """Movements played proportionally with a gamepad's sticks (``"gamepad"``).

    Parameters
    ----------
    side, limb : str
    axes : dict int -> (str, str), optional
        Axis -> (movement at -1, movement at +1) (default :data:`DEFAULT_AXES`).
    """

    name = "gamepad"
    problem = None

    def __init__(self, side: str, limb: str,
                 axes: dict[int, tuple[str, str]] | None = None) -> None:
        self.side, self.limb, _ = check_source_limb(side, limb)
        self.axes = dict(DEFAULT_AXES[limb] if axes is None else axes)
        _check_map([m for pair in self.axes.values() for m in pair], limb)
        self._values: dict[int, float] = {}
        self._lock = threading.Lock()
        self._started = False

    def handle_key(self, event: str) -> bool:
        """``"joyaxis <axis> <value>"`` from the window's events; True when this source used
        it (other names are left for others; none before :meth:`start` or after
        :meth:`stop`)."""
        if not self._started:
            return False
        parts = event.split()
        if len(parts) != 3 or parts[0] != "joyaxis":
            return False
        try:
            axis, value = int(parts[1]), float(parts[2])
        except ValueError:
            return False
        if axis not in self.axes:
            return False
        with self._lock:
            self._values[axis] = max(-1.0, min(1.0, value))
        return True

    def levels(self) -> dict[str, float]:
        """Movement -> level from the sticks now (dead zone removed, rescaled to [0, 1])."""
        with self._lock:
            values = dict(self._values)
        levels: dict[str, float] = {}
        for axis, value in values.items():
            if abs(value) <= DEAD_ZONE:
                continue
            movement = self.axes[axis][1 if value > 0 else 0]
            levels[movement] = (abs(value) - DEAD_ZONE) / (1.0 - DEAD_ZONE)
        return levels

    def start(self) -> None:
        with self._lock:
            self._values.clear()
        self._started = True

    def read(self, now_s: float) -> list[PoseSample]:
        levels = self.levels()
        pose = blended_pose(levels, self.side, self.limb)
        movement, level = max(levels.items(), key=lambda kv: kv[1]) if levels else (REST, 0.0)
        return [PoseSample(now_s, pose.angles, 1.0, now_s, movement=movement, level=level)]

    def stop(self) -> None:
        self._started = False
