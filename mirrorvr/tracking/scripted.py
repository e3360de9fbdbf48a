"""A scripted intact limb: a motion timeline standing in for a tracker in demos and tests.

A real tracker (gamepad, webcam, intact-side EMG) reports a pose and, where it can, the
movement class; this one follows a list of timed movements with smooth onsets and offsets.
:class:`ScriptSource` delivers it as an :class:`~mirrorvr.tracking.source.IntactLimbSource`
(``"script"``), sampled at a fixed rate, optionally with tracker-like noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import Pose, check_limb
from mirrorvr.movements import ALL_MOVEMENTS, REST, check_movement, movement_limb
from mirrorvr.tracking.source import PoseSample


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
    limb : str
        "upper" (default) or "lower"; every movement of the script must be of this limb.
    neutral_until_s : float, optional
        Until then the limb is held in the bind pose (the neutral step: hand flat on the
        table, foot flat on the floor), then it relaxes over ``transition_s``; session s.
    """

    def __init__(self, side: str, script, transition_s: float = 0.3, limb: str = "upper",
                 neutral_until_s: float | None = None) -> None:
        if side not in ("left", "right"):
            raise ConfigError(f"side: {side!r} is not allowed (allowed: 'left', 'right')")
        self.side = side
        self.limb = check_limb(limb)
        self.transition_s = float(transition_s)
        self.script = tuple(sorted(script, key=lambda m: m.start_s))
        self.neutral_until_s = neutral_until_s
        for prev, nxt in zip(self.script, self.script[1:], strict=False):
            if nxt.start_s < prev.end_s:
                raise ConfigError(
                    f"script: movement at {nxt.start_s:.3f} s starts before the one at "
                    f"{prev.start_s:.3f} s ends ({prev.end_s:.3f} s)"
                )
        for m in self.script:
            check_movement(m.movement, ALL_MOVEMENTS)
            if m.movement != REST and movement_limb(m.movement) != self.limb:
                raise ConfigError(
                    f"script movement: {m.movement!r} is not a {self.limb}-limb class")
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
        pose = target_pose(movement, level, self.side, self.limb)
        if self.neutral_until_s is None:
            return pose
        held = 1.0 - _smoothstep((t_s - self.neutral_until_s) / self.transition_s)
        if held <= 0.0:
            return pose
        bind = Pose.rest(self.side, self.limb).angles
        return Pose(self.side, pose.angles + held * (bind - pose.angles), self.limb)


class ScriptSource:
    """A :class:`ScriptedIntactHand` as a pose source ("script"), sampled at ``rate_hz``.

    Parameters
    ----------
    script : ScriptedIntactHand
    rate_hz : float
        Samples per second of session time (> 0).
    noise_rad : float
        Standard deviation of white noise added to every angle, rad (a tracker's jitter).
    seed : int
        Seeds the noise.
    with_movement : bool
        Whether samples carry the script's movement and level (as a decoder or a keyboard
        would); otherwise the driver classifies the pose.
    """

    name = "script"
    problem = None

    def __init__(self, script: ScriptedIntactHand, rate_hz: float = 60.0,
                 noise_rad: float = 0.0, seed: int = 0, with_movement: bool = False) -> None:
        if not rate_hz > 0:
            raise ConfigError(f"rate_hz: {rate_hz!r} must be > 0")
        if not noise_rad >= 0:
            raise ConfigError(f"noise_rad: {noise_rad!r} must be >= 0")
        self.script = script
        self.side, self.limb = script.side, script.limb
        self.period_s = 1.0 / float(rate_hz)
        self.noise_rad = float(noise_rad)
        self.with_movement = bool(with_movement)
        self._rng = np.random.default_rng(seed)
        self._next_k: int | None = None

    def start(self) -> None:
        self._next_k = None

    def read(self, now_s: float) -> list[PoseSample]:
        """Samples at multiples of the period up to ``now_s`` (the first one at ``now_s``)."""
        if self._next_k is None:
            self._next_k = int(np.ceil(now_s / self.period_s - 1e-9))
        samples = []
        while self._next_k * self.period_s <= now_s + 1e-12:
            t_s = self._next_k * self.period_s
            angles = self.script.pose_at(t_s).angles
            if self.noise_rad:
                angles = angles + self._rng.normal(0.0, self.noise_rad, angles.shape)
            movement, level = self.script.movement_at(t_s) if self.with_movement else (None, None)
            samples.append(PoseSample(t_s, angles, received_s=now_s, movement=movement,
                                      level=level))
            self._next_k += 1
        return samples

    def stop(self) -> None:
        pass
