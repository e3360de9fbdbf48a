"""The one interface every EMG source implements (BrainFlow boards, the simulated patient)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class EmgChunk:
    """A block of consecutive samples.

    Attributes
    ----------
    t_s : (n_samples,) float64
        Session-clock time of each sample, s.
    data : (n_channels, n_samples) float64
        EMG in volts.
    """

    t_s: np.ndarray
    data: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])


class EmgSource(Protocol):
    """A source of multi-channel EMG on the session clock.

    ``read`` never blocks: it returns every sample that arrived since the last call, or
    ``None`` when nothing did.
    """

    sampling_rate_hz: float
    channel_names: tuple[str, ...]

    def start(self) -> None: ...

    def read(self) -> EmgChunk | None: ...

    def stop(self) -> None: ...
