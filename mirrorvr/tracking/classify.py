"""Movement class and level from an intact-limb pose, for mirror-mode stimulation.

Each candidate class ``m`` has a direction in joint space, ``v_m = full(m) - rest`` (the
poses of :mod:`mirrorvr.limb.poses`). A pose's deviation from rest ``d = pose - rest`` is
projected on every direction; the class's level is ``clip(<d, v_m> / <v_m, v_m>, 0, 1)``,
i.e. how far along the way to the full movement the limb is. The class that explains the
deviation best (smallest residual ``|d - level_m v_m|``) wins when its level reaches
``on_level``, and stays until it drops below ``off_level``
(hysteresis, so a level hovering at the threshold does not flicker and trigger trains).
Only measured joints (finite in the reading) count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import check_limb
from mirrorvr.movements import (
    LOWER_LIMB_MOVEMENTS,
    REST,
    UPPER_LIMB_MOVEMENTS,
    check_movement,
    movement_limb,
)


class PoseClassifier:
    """Pose -> (movement, level) with hysteresis.

    Parameters
    ----------
    limb : str
    movements : sequence of str, optional
        Candidate classes (rest is implied); default the limb's classes of
        :mod:`mirrorvr.movements` (forearm set / lower-limb set).
    on_level, off_level : float
        Level at which a class starts and below which it ends, 0 < off < on <= 1.
    """

    def __init__(self, limb: str, movements: Sequence[str] | None = None,
                 on_level: float = 0.35, off_level: float = 0.2) -> None:
        self.limb = check_limb(limb)
        if movements is None:
            movements = UPPER_LIMB_MOVEMENTS if limb == "upper" else LOWER_LIMB_MOVEMENTS
        self.movements = tuple(m for m in movements if m != REST)
        for m in self.movements:
            check_movement(m, UPPER_LIMB_MOVEMENTS + LOWER_LIMB_MOVEMENTS[1:])
            if movement_limb(m) != limb:
                raise ConfigError(f"movements: {m!r} is not a {limb}-limb class")
        if not 0.0 < off_level < on_level <= 1.0:
            raise ConfigError(
                f"on_level/off_level: {on_level!r}/{off_level!r} must satisfy "
                "0 < off_level < on_level <= 1"
            )
        self.on_level, self.off_level = float(on_level), float(off_level)
        # anatomical angles are side-independent: the right side's tables serve both
        self.rest_rad = target_pose(REST, 0.0, "right", limb).angles
        self.directions = np.stack(
            [target_pose(m, 1.0, "right", limb).angles - self.rest_rad for m in self.movements]
        ) if self.movements else np.zeros((0, self.rest_rad.size))
        self._current = REST

    def levels(self, angles) -> np.ndarray:
        """Level of each candidate class, ``(n_movements,)`` in [0, 1]."""
        return self._fit(angles)[0]

    def _fit(self, angles) -> tuple[np.ndarray, np.ndarray]:
        """Levels ``(n_movements,)`` and squared residuals ``|d - level v|^2``."""
        d = np.asarray(angles, dtype=float) - self.rest_rad
        measured = np.isfinite(d)
        d = np.where(measured, d, 0.0)
        v = self.directions * measured
        norm2 = np.einsum("ij,ij->i", v, v)
        with np.errstate(invalid="ignore", divide="ignore"):
            level = np.clip(np.where(norm2 > 1e-12, v @ d / norm2, 0.0), 0.0, 1.0)
        residual = np.sum((d[None, :] - level[:, None] * v) ** 2, axis=1)
        return level, np.where(level > 0, residual, np.inf)

    def classify(self, angles) -> tuple[str, float]:
        """The movement being performed and its level (``("rest", 0.0)`` below threshold)."""
        if not self.movements:
            return REST, 0.0
        levels, residuals = self._fit(angles)
        best = int(np.argmin(residuals))
        if self._current != REST:
            k = self.movements.index(self._current)
            level = float(levels[k])
            switch = best != k and levels[best] >= self.on_level and (
                residuals[best] < 0.5 * residuals[k])
            if level >= self.off_level and not switch:
                return self._current, level
            self._current = REST
        if levels[best] >= self.on_level:
            self._current = self.movements[best]
            return self._current, float(levels[best])
        return REST, 0.0

    def reset(self) -> None:
        self._current = REST
