"""The one interface of intact-limb pose sources, and the samples they deliver.

A source (an LSL pose stream, the webcam tracker, intact-side EMG, keyboard, gamepad, the
replay of a recording, a script) is started and stopped by the session and *read* on the
control thread: :meth:`IntactLimbSource.read` never blocks and returns every sample that
arrived since the previous call. Each sample carries the tracker's own capture time mapped
onto the session clock, the joint angles of the intact limb (radians, the skeleton's DOF
order, NaN where the tracker does not measure a DOF) and a confidence in [0, 1].

Conditioning (filtering, neutral offsets, limits, loss handling) is not a source's job:
:class:`~mirrorvr.tracking.driver.MirrorDriver` does it for every source alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import check_limb, check_side, limb_spec
from mirrorvr.movements import ALL_MOVEMENTS, check_movement

#: Source kinds, as recorded in every trial (``source`` of the driver: "lsl:<stream name>",
#: "webcam", "intact_emg", "keyboard", "gamepad", "replay", "script").
SOURCE_KINDS: tuple[str, ...] = (
    "lsl", "webcam", "intact_emg", "keyboard", "gamepad", "replay", "script",
)


@dataclass(frozen=True, eq=False)
class PoseSample:
    """One measurement of the intact limb.

    Attributes
    ----------
    t_s : float
        Capture time of the measurement on the session clock, s (the tracker's own
        timestamp, mapped; not the time it reached mirrorvr).
    angles : (n_dofs,) float64
        Joint angles, rad, in the limb's DOF order; NaN = not measured. Read-only.
    confidence : float
        0..1; the driver treats samples below its ``min_confidence`` as tracking lost.
    received_s : float or None
        Session time at which mirrorvr received the sample, s (None: not known).
    processing_s : float
        Time the tracker spent between capture and publishing, s (0: not reported).
    movement, level : str or None, float or None
        The movement class and level when the source knows them (intact-side EMG,
        keyboard, gamepad); None: the driver classifies the pose.
    """

    t_s: float
    angles: np.ndarray
    confidence: float = 1.0
    received_s: float | None = None
    processing_s: float = 0.0
    movement: str | None = None
    level: float | None = None

    def __post_init__(self) -> None:
        angles = np.array(self.angles, dtype=np.float64)
        if angles.ndim != 1:
            raise ConfigError(f"angles: shape {angles.shape} given, expected (n_dofs,)")
        angles.setflags(write=False)
        object.__setattr__(self, "angles", angles)
        if not math.isfinite(self.t_s):
            raise ConfigError(f"t_s: {self.t_s!r} is not a finite time")
        if not 0.0 <= self.confidence <= 1.0:
            raise ConfigError(f"confidence: {self.confidence!r} is outside [0, 1]")
        if self.movement is not None:
            check_movement(self.movement, ALL_MOVEMENTS)
            if self.level is None or not 0.0 <= self.level <= 1.0:
                raise ConfigError(f"level: {self.level!r} must be in [0, 1] with a movement")


@runtime_checkable
class IntactLimbSource(Protocol):
    """What every intact-limb pose source provides.

    Attributes
    ----------
    name : str
        What drives the limb, for the recording: "lsl:<stream name>", "webcam",
        "intact_emg", "keyboard", "gamepad", "replay" or "script".
    side, limb : str
        The intact side ("left"/"right") and the limb ("upper"/"lower") it measures.
    problem : str or None
        Why the source cannot deliver right now (stream not found, process exited, file
        ended), for the HUD and the recording; None while it is fine.
    """

    name: str
    side: str
    limb: str

    @property
    def problem(self) -> str | None: ...

    def start(self) -> None:
        """Begin acquiring; returns at once (a slow connection happens in the background)."""
        ...

    def read(self, now_s: float) -> list[PoseSample]:
        """Every sample that arrived since the last call (oldest first); never blocks."""
        ...

    def stop(self) -> None:
        """Stop acquiring and release what was opened (idempotent)."""
        ...


def check_source_limb(side: str, limb: str) -> tuple[str, str, int]:
    """Validated ``(side, limb, n_dofs)`` for a source's constructor."""
    check_side(side)
    check_limb(limb)
    return side, limb, limb_spec(limb).n_dofs


def angles_from_named(limb: str, named: dict[str, float]) -> np.ndarray:
    """``(n_dofs,)`` angles, rad, from ``{dof name: angle}``; DOFs not named are NaN.

    Unknown names -> :class:`ConfigError` naming them and the limb's DOFs.
    """
    spec = limb_spec(limb)
    angles = np.full(spec.n_dofs, np.nan)
    for name, value in named.items():
        angles[spec.dof_index(name)] = float(value)
    return angles
