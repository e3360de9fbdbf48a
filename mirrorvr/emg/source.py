"""The one interface every EMG source implements (BrainFlow boards, the simulated patient)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mirrorvr.errors import ConfigError


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


def chunk_arrays(t_s, data, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """``t_s (n,)`` s and ``data (n_channels, n)`` V as float64 arrays, or a ConfigError
    naming both shapes when they do not fit together or ``n_channels``."""
    t = np.asarray(t_s, dtype=np.float64)
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != n_channels or t.shape != (x.shape[1],):
        raise ConfigError(
            f"data: shape {x.shape} / t_s {t.shape} do not match (n_channels={n_channels}, n)"
        )
    return t, x


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
