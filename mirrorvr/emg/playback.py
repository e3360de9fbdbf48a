"""Replay recorded EMG as a live :class:`~mirrorvr.emg.source.EmgSource`.

Two kinds of file:

- a mirrorvr session recording (XDF, read with pyxdf): the stream named ``"EMG"`` (or any
  name/type asked for), channel labels from its header, values in V;
- a BrainFlow file written by ``DataFilter.write_file`` (rows = board channels, one sample per
  line): the EMG rows and the timestamp row of the board that recorded it (the *master*
  board, REFERENCES.md), values in the board's unit (µV for EXG: scaled to V).

Timing: :meth:`PlaybackSource.start` anchors the first sample at ``clock.now()``. With
``speed = 1`` each sample is released when the session clock reaches its recorded offset
(gaps in the recording are kept), with ``speed = 2`` twice as fast, and with
``speed = math.inf`` every :meth:`~PlaybackSource.read` returns the next ``chunk_s`` of the
recording at once ("as fast as asked"). Sample times are on the session clock: the anchor
plus the recorded offset divided by ``speed`` (for ``inf``: not divided, so times keep the
recording's spacing). With a FakeClock replay is deterministic and independent of how reads
are spaced.

To replay a BrainFlow file through BrainFlow's own driver instead (the real acquisition code
path, real time only), use :class:`~mirrorvr.emg.brainflow_source.BrainFlowSource` with
``board="PLAYBACK_FILE_BOARD", file=PATH, master_board=BOARD``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mirrorvr.clock import Clock
from mirrorvr.emg.source import ComputedSource, EmgChunk
from mirrorvr.errors import AcquisitionError, ConfigError

logger = logging.getLogger(__name__)

#: EXG data in BrainFlow files is in microvolts.
MICROVOLT = 1e-6


class PlaybackSource(ComputedSource):
    """An :class:`~mirrorvr.emg.source.EmgSource` that replays an array of samples.

    Parameters
    ----------
    clock : Clock
        Session clock.
    data : (n_channels, n_samples) float
        Recorded EMG, V.
    sampling_rate_hz : float
        Nominal rate of the recording, Hz.
    channel_names : sequence of str
        One name per row (default ``EMG1..EMGn``).
    t_s : (n_samples,) float or None
        Recorded sample times, s, non-decreasing (any origin); None: a regular grid.
    speed : float
        Replay speed: 1 real time, > 1 faster, ``math.inf`` as fast as read.
    chunk_s : float
        Recording length returned per read when ``speed`` is ``inf``, s.
    loop : bool
        Start again from the beginning at the end (else :attr:`finished` becomes True and
        ``read`` returns None).
    """

    def __init__(
        self,
        clock: Clock,
        data: np.ndarray,
        sampling_rate_hz: float,
        channel_names: Sequence[str] | None = None,
        t_s: np.ndarray | None = None,
        *,
        speed: float = 1.0,
        chunk_s: float = 0.05,
        loop: bool = False,
        source_name: str = "array",
    ) -> None:
        data = np.ascontiguousarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] == 0:
            raise ConfigError(f"data: expected shape (n_channels, n_samples > 0), got {data.shape}")
        if not (math.isfinite(sampling_rate_hz) and sampling_rate_hz > 0):
            raise ConfigError(f"sampling_rate_hz: {sampling_rate_hz!r} must be > 0")
        if not (speed > 0 and not math.isnan(speed)):
            raise ConfigError(f"speed: {speed!r} must be > 0 (math.inf: as fast as read)")
        if not (math.isfinite(chunk_s) and chunk_s > 0):
            raise ConfigError(f"chunk_s: {chunk_s!r} must be > 0 s")
        n = data.shape[1]
        if t_s is None:
            offsets = np.arange(n) / float(sampling_rate_hz)
        else:
            t = np.asarray(t_s, dtype=np.float64)
            if t.shape != (n,) or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
                raise ConfigError(
                    f"t_s: expected {n} finite non-decreasing times, got shape {t.shape}"
                )
            offsets = t - t[0]
        names = tuple(channel_names) if channel_names else tuple(
            f"EMG{i + 1}" for i in range(data.shape[0]))
        if len(names) != data.shape[0]:
            raise ConfigError(
                f"channel_names: {len(names)} names for {data.shape[0]} channels"
            )
        self.clock = clock
        self.data = data
        self.offsets_s = offsets
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.channel_names: tuple[str, ...] = names
        self.speed = float(speed)
        self.chunk_s = float(chunk_s)
        self.loop = bool(loop)
        self.source_name = source_name
        self._period_s = float(offsets[-1]) + 1.0 / self.sampling_rate_hz  # one pass, s
        self._lock = threading.Lock()
        self._started = False
        self._t0_s = 0.0
        self._next = 0  # index over the (possibly looped) sample sequence

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float:
        """Length of one pass through the recording, s (recording time)."""
        return self._period_s

    @property
    def finished(self) -> bool:
        """True once every sample was returned (never when looping)."""
        with self._lock:
            return not self.loop and self._next >= self.n_samples

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_xdf(
        cls, clock: Clock, path: str | Path, stream: str = "EMG", **kwargs
    ) -> PlaybackSource:
        """Replay the stream named (or, failing that, typed) ``stream`` of an XDF file."""
        try:
            import pyxdf
        except ImportError as err:  # optional: only needed here
            raise AcquisitionError(
                "reading XDF needs pyxdf (pip install pyxdf)"
            ) from err
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"path: {str(path)!r} is not a file")
        with path.open("rb") as f:
            magic = f.read(4)
        if magic != b"XDF:":
            raise AcquisitionError(f"{str(path)!r}: not an XDF file (no 'XDF:' magic)")
        try:
            streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False,
                                        synchronize_clocks=False)
        except Exception as err:  # pyxdf raises plain exceptions on damaged files
            raise AcquisitionError(f"{str(path)!r}: not a readable XDF file: {err}") from err
        by_name = {s["info"]["name"][0]: s for s in streams}
        found = by_name.get(stream) or next(
            (s for s in streams if s["info"]["type"][0] == stream), None)
        if found is None:
            raise ConfigError(
                f"stream: {stream!r} is not in {str(path)!r} (streams: {sorted(by_name)})"
            )
        info = found["info"]
        x = np.asarray(found["time_series"], dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise AcquisitionError(f"{str(path)!r}: stream {stream!r} holds no numeric samples")
        try:
            names = [c["label"][0] for c in info["desc"][0]["channels"][0]["channel"]]
        except (KeyError, IndexError, TypeError):
            names = None
        rate = float(info["nominal_srate"][0])
        t = np.asarray(found["time_stamps"], dtype=np.float64)
        if not rate > 0:
            rate = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 1.0
        logger.info("replaying %s stream %r: %d channels, %d samples at %.0f Hz",
                    path.name, stream, x.shape[1], x.shape[0], rate)
        return cls(clock, x.T, rate, names, t, source_name=f"{path.name}:{stream}", **kwargs)

    @classmethod
    def from_brainflow_file(
        cls,
        clock: Clock,
        path: str | Path,
        board: str | int,
        channels: Sequence[int] | None = None,
        volts_per_unit: float = MICROVOLT,
        **kwargs,
    ) -> PlaybackSource:
        """Replay a ``DataFilter.write_file`` file recorded with ``board`` (its master board).

        ``channels`` picks among the board's EMG (else EXG) rows, as in BrainFlowSource.
        """
        from brainflow.board_shim import BoardShim, BrainFlowError
        from brainflow.data_filter import DataFilter

        from mirrorvr.emg.brainflow_source import board_rows, resolve_board_id

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"path: {str(path)!r} is not a file")
        board_id, board_name = resolve_board_id(board)
        try:
            raw = DataFilter.read_file(str(path))
            rate = float(BoardShim.get_sampling_rate(board_id))
            ts_row = int(BoardShim.get_timestamp_channel(board_id))
        except BrainFlowError as err:
            raise AcquisitionError(
                f"{str(path)!r} ({board_name}): BrainFlow exit code {err.exit_code}: {err}"
            ) from err
        rows = board_rows(board_id, board_name, channels)
        if raw.ndim != 2 or raw.shape[0] <= max(max(rows), ts_row):
            raise AcquisitionError(
                f"{str(path)!r}: {raw.shape[0] if raw.ndim == 2 else 0} rows, but a "
                f"{board_name} file has at least {max(max(rows), ts_row) + 1}"
            )
        data = raw[rows] * float(volts_per_unit)
        t = raw[ts_row]
        if np.any(np.diff(t) < 0) or not np.all(np.isfinite(t)):
            t = None  # unusable timestamps: the nominal grid
        logger.info("replaying BrainFlow file %s (%s): %d channels, %d samples at %.0f Hz",
                    path.name, board_name, len(rows), raw.shape[1], rate)
        return cls(clock, data, rate, None, t, source_name=f"{path.name}:{board_name}",
                   **kwargs)

    # ------------------------------------------------------------------ EmgSource

    def start(self) -> None:
        """Start (or restart) replay from the first sample, anchored at ``clock.now()``."""
        with self._lock:
            self._t0_s = self.clock.now()
            self._next = 0
            self._started = True
        logger.info("playback of %s started at speed %s", self.source_name, self.speed)

    def _offset(self, index: np.ndarray) -> np.ndarray:
        """Recording offset, s, of looped sample indices (pass p adds p periods)."""
        n = self.n_samples
        return self.offsets_s[index % n] + (index // n) * self._period_s

    def read(self) -> EmgChunk | None:
        """The samples due since the last read; None when none is due (or the end passed)."""
        with self._lock:
            if not self._started:
                raise AcquisitionError(f"playback {self.source_name}: read() before start()")
            n = self.n_samples
            end = None if self.loop else n
            if end is not None and self._next >= end:
                return None
            if math.isinf(self.speed):
                horizon = self._offset(np.array([self._next]))[0] + self.chunk_s
                scale = 1.0
            else:
                horizon = (self.clock.now() - self._t0_s) * self.speed
                scale = 1.0 / self.speed
            # last index whose offset <= horizon: search pass by pass
            passes = int(horizon // self._period_s)
            within = horizon - passes * self._period_s
            last = passes * n + int(np.searchsorted(self.offsets_s, within + 1e-9,
                                                    side="right")) - 1
            if end is not None:
                last = min(last, end - 1)
            if math.isinf(self.speed):
                last = max(last, self._next)  # always progress
            if last < self._next:
                return None
            idx = np.arange(self._next, last + 1)
            self._next = last + 1
            t = self._t0_s + self._offset(idx) * scale
            data = self.data[:, idx % n]
        return EmgChunk(t_s=t, data=data)

    def stop(self) -> None:
        """Stop; ``read`` raises until ``start`` is called again."""
        with self._lock:
            self._started = False
