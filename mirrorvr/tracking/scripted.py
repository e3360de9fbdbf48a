"""A scripted intact hand: a motion timeline standing in for a tracker in demos and tests.

A real tracker (gamepad, webcam, intact-side EMG) reports a pose and, where it can, the
movement class; this one follows a list of timed movements with smooth onsets and offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import Pose
from mirrorvr.movements import REST, check_movement


@dataclass(frozen=True)
class ScriptedMovement:
    """One movement of the script: ``movement`` at ``level`` from ``start_s`` to ``end_s``."""

    start_s: float
    end_s: float
    movement: str
    level: float = 1.0


def _smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class ScriptedIntactHand:
    """Pose of the intact hand over time, from a script of movements.

    Parameters
    ----------
    side : str
        "left" or "right": the intact side.
    script : sequence of ScriptedMovement
        Non-overlapping, in time order (session clock, s).
    transition_s : float
        Duration of the smooth onset and offset of each movement, s.
    """

    def __init__(self, side: str, script, transition_s: float = 0.3) -> None:
        if side not in ("left", "right"):
            raise ConfigError(f"side: {side!r} is not allowed (allowed: 'left', 'right')")
        self.side = side
        self.transition_s = float(transition_s)
        self.script = tuple(sorted(script, key=lambda m: m.start_s))
        for prev, nxt in zip(self.script, self.script[1:], strict=False):
            if nxt.start_s < prev.end_s:
                raise ConfigError(
                    f"script: movement at {nxt.start_s:.3f} s starts before the one at "
                    f"{prev.start_s:.3f} s ends ({prev.end_s:.3f} s)"
                )
        for m in self.script:
            check_movement(m.movement)
            if not 0.0 <= m.level <= 1.0:
                raise ConfigError(f"script level: {m.level!r} is outside [0, 1]")

    def movement_at(self, t_s: float) -> tuple[str, float]:
        """The movement class and its current level at ``t_s`` (rest, 0 between movements)."""
        for m in self.script:
            if m.start_s <= t_s < m.end_s + self.transition_s:
                rise = _smoothstep((t_s - m.start_s) / self.transition_s)
                fall = 1.0 - _smoothstep((t_s - m.end_s) / self.transition_s)
                return m.movement, float(m.level * min(rise, fall))
        return REST, 0.0

    def label_at(self, t_s: float) -> str:
        """The movement being performed at ``t_s`` as a tracker would label it."""
        for m in self.script:
            if m.start_s <= t_s < m.end_s:
                return m.movement
        return REST

    def pose_at(self, t_s: float) -> Pose:
        """The intact hand's pose at ``t_s``."""
        movement, level = self.movement_at(t_s)
        return target_pose(movement, level, self.side)
