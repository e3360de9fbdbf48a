"""Neutral-pose offsets: what a tracker reads while the limb rests in the known neutral pose.

The protocol's neutral step asks the patient to rest the intact limb in the bind pose of the
skeleton ("rest your hand flat on the table, fingers straight"; "sit with your foot flat on
the floor"). Every tracker has biases of its own (landmark placement, glove sensors, IMU
mounting), so what it reads then is not exactly the bind pose; the difference, averaged over
the step, is stored per joint and subtracted from every later reading::

    offset_rad[j] = mean(reading[j]) - bind_rad[j]        corrected = reading - offset_rad

A joint the tracker does not measure keeps offset 0. A step during which the limb moved
(spread above ``max_spread_rad``) or with too few samples is refused, naming the joint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import check_limb, check_side, limb_spec

#: Joints moving more than this (s.d. over the step, rad) mean the limb was not at rest (~6 deg).
MAX_SPREAD_RAD = 0.1


@dataclass(frozen=True, eq=False)
class NeutralOffsets:
    """Per-joint offsets of one tracker on one limb.

    Attributes
    ----------
    side, limb : str
    offsets_rad : (n_dofs,) float
        Subtracted from every reading, rad (0 where the tracker does not measure).
    source : str
        The source they were measured with (offsets of another tracker do not apply).
    """

    side: str
    limb: str
    offsets_rad: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        check_side(self.side)
        spec = limb_spec(self.limb)
        offsets = np.array(self.offsets_rad, dtype=float)
        if offsets.shape != (spec.n_dofs,) or not np.all(np.isfinite(offsets)):
            raise ConfigError(
                f"offsets_rad: shape {offsets.shape} given, expected ({spec.n_dofs},) finite "
                f"values for the {self.limb} limb"
            )
        offsets.setflags(write=False)
        object.__setattr__(self, "offsets_rad", offsets)

    @classmethod
    def zero(cls, side: str, limb: str, source: str = "") -> NeutralOffsets:
        return cls(side, limb, np.zeros(limb_spec(limb).n_dofs), source)

    def apply(self, angles: np.ndarray) -> np.ndarray:
        """``angles - offsets_rad`` for one reading (n_dofs,) or many (n, n_dofs), rad."""
        return np.asarray(angles, dtype=float) - self.offsets_rad

    def to_dict(self) -> dict:
        names = limb_spec(self.limb).dof_names
        return {"side": self.side, "limb": self.limb, "source": self.source,
                "offsets_rad": {n: float(v) for n, v in zip(names, self.offsets_rad,
                                                            strict=True) if v != 0.0}}

    @classmethod
    def from_dict(cls, data: dict) -> NeutralOffsets:
        try:
            side, limb, named = data["side"], data["limb"], data["offsets_rad"]
        except (KeyError, TypeError) as err:
            raise ConfigError(f"neutral offsets: missing field {err}") from None
        spec = limb_spec(check_limb(limb))
        offsets = np.zeros(spec.n_dofs)
        for name, value in named.items():
            offsets[spec.dof_index(name)] = float(value)
        return cls(side, limb, offsets, str(data.get("source", "")))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> NeutralOffsets:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"neutral offsets file {str(path)!r} does not exist") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"neutral offsets file {str(path)!r} is not JSON: {err}") from None
        return cls.from_dict(data)


class NeutralPoseCalibration:
    """Collects raw readings during the neutral step and turns them into offsets.

    Parameters
    ----------
    side, limb : str
    min_samples : int
        Fewest confident readings per measured joint.
    max_spread_rad : float
        Largest standard deviation of a joint over the step, rad.
    """

    def __init__(self, side: str, limb: str, min_samples: int = 10,
                 max_spread_rad: float = MAX_SPREAD_RAD) -> None:
        self.side, self.limb = check_side(side), check_limb(limb)
        self.spec = limb_spec(limb)
        self.min_samples = int(min_samples)
        self.max_spread_rad = float(max_spread_rad)
        self._rows: list[np.ndarray] = []

    def add(self, angles) -> None:
        """One raw (unfiltered, uncorrected) reading, (n_dofs,) rad, NaN = not measured."""
        row = np.asarray(angles, dtype=float)
        if row.shape != (self.spec.n_dofs,):
            raise ConfigError(f"angles: shape {row.shape} given, expected ({self.spec.n_dofs},)")
        self._rows.append(row)

    @property
    def n_samples(self) -> int:
        return len(self._rows)

    def result(self, source: str = "") -> NeutralOffsets:
        """The offsets; :class:`ConfigError` when the step was too short or the limb moved."""
        if not self._rows:
            raise ConfigError("neutral step: no confident reading of the limb was received")
        rows = np.stack(self._rows)
        counts = np.isfinite(rows).sum(axis=0)
        measured = counts > 0
        names = self.spec.dof_names
        for j in np.flatnonzero(measured & (counts < self.min_samples)):
            raise ConfigError(
                f"neutral step: {names[j]} was read {int(counts[j])} times (need >= "
                f"{self.min_samples}); hold the neutral pose longer"
            )
        mean = np.zeros(self.spec.n_dofs)
        spread = np.zeros(self.spec.n_dofs)
        mean[measured] = np.nanmean(rows[:, measured], axis=0)
        spread[measured] = np.nanstd(rows[:, measured], axis=0)
        moving = np.flatnonzero(spread > self.max_spread_rad)
        if moving.size:
            j = int(moving[np.argmax(spread[moving])])
            raise ConfigError(
                f"neutral step: {names[j]} moved (s.d. {np.degrees(spread[j]):.1f} deg, allowed "
                f"<= {np.degrees(self.max_spread_rad):.1f} deg); keep the limb still"
            )
        offsets = np.where(measured, mean - self.spec.bind_rad, 0.0)
        return NeutralOffsets(self.side, self.limb, offsets, source)
