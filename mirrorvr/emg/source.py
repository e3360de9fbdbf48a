"""The one interface every EMG source implements (BrainFlow boards, the simulated patient)."""

from __future__ import annotations

from collections.abc import Callable
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
    ``None`` when nothing did. ``finished`` is True once a source knows it has nothing more
    to give (a playback file that ran out); ``gaps`` are the losses it bridged by itself
    (a board reconnected); ``set_event_listener`` receives ``(t_s, text)`` for each such
    event; ``insert_marker`` writes a cue into the board's own marker row, if it has one.
    """

    sampling_rate_hz: float
    channel_names: tuple[str, ...]
    gaps: list

    @property
    def finished(self) -> bool: ...

    def start(self) -> None: ...

    def read(self) -> EmgChunk | None: ...

    def stop(self) -> None: ...

    def set_event_listener(self, listener: Callable[[float, str], None] | None) -> None: ...

    def insert_marker(self, value: float, label: str = "") -> None: ...


class ComputedSource:
    """What an :class:`EmgSource` that is not a board has: no marker row, no losses it
    bridges by itself, no events; it ends only when it says so (``finished``)."""

    gaps: list = []

    @property
    def finished(self) -> bool:
        return False

    def set_event_listener(self, listener: Callable[[float, str], None] | None) -> None:
        """Nothing to report: a computed source has no connection to lose."""

    def insert_marker(self, value: float, label: str = "") -> None:
        """No marker row: the recording's own markers hold the cues."""
