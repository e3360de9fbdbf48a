"""The session recorder: every stream on the session clock, written incrementally to XDF.

The hot paths (render loop, control loop, acquisition) only validate and enqueue; a writer
thread owns the file. Each batch taken from the queue is written and flushed, so a crash
loses at most the last flush interval (ARCHITECTURE.md "Storage"). After a write error the
recorder refuses further data with :class:`~mirrorvr.errors.RecordingError`; everything
already flushed stays in the file.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import mirrorvr
from mirrorvr.clock import Clock
from mirrorvr.errors import RecordingError
from mirrorvr.record.lsl import LiveStreams, open_live_streams
from mirrorvr.record.xdf import CHANNEL_FORMATS, StreamInfo, XdfWriter

logger = logging.getLogger(__name__)

MARKER_STREAM = "markers"
RECORDING_NAME = "recording.xdf"


@dataclass(frozen=True)
class StreamHandle:
    """A stream registered with a :class:`Recorder` (what ``push`` takes)."""

    stream_id: int
    name: str
    channel_names: tuple[str, ...]
    channel_format: str

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)


_STOP = object()


class Recorder:
    """Records named streams and markers of one session into ``session_dir/recording.xdf``.

    Parameters
    ----------
    session_dir : str or Path
        The session's folder (created if missing).
    clock : Clock
        The session clock (stream creation times; wall-clock anchor in the file header).
    flush_interval_s : float
        Longest time data waits in the queue before it is written and flushed, s.
    boundary_interval_s : float
        How often a Boundary chunk is written, s (helps readers resync after damage).
    live : LiveStreams, optional
        Also publish every stream live (e.g. :class:`~mirrorvr.record.lsl.LslPublisher`):
        same streams, same samples and timestamps; it queues, so ``push`` never waits on it.
    """

    def __init__(
        self,
        session_dir: str | Path,
        clock: Clock,
        flush_interval_s: float = 0.1,
        boundary_interval_s: float = 5.0,
        live: LiveStreams | None = None,
    ) -> None:
        self.session_dir = Path(session_dir)
        self.path = self.session_dir / RECORDING_NAME
        self.clock = clock
        self.flush_interval_s = float(flush_interval_s)
        self.boundary_interval_s = float(boundary_interval_s)
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._handles: dict[str, StreamHandle] = {}
        self._next_id = 1
        self._writer: XdfWriter | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._started = False
        self.live = live
        self.markers = self.add_stream(MARKER_STREAM, "Markers", ("marker",), 0.0, "string")

    @classmethod
    def for_session(cls, session_dir: str | Path, clock: Clock, record) -> Recorder:
        """The recorder a session's ``record`` settings (:class:`mirrorvr.config.RecordSettings`)
        ask for: XDF, and with ``record.lsl`` the same streams live on LSL."""
        return cls(session_dir, clock,
                   live=open_live_streams(record.lsl, record.lsl_wait_for_consumers_s))

    # ------------------------------------------------------------------ streams

    def add_stream(
        self,
        name: str,
        type: str,  # noqa: A002 - the XDF field is called type
        channel_names: Sequence[str],
        nominal_rate_hz: float,
        channel_format: str = "double64",
        unit: str = "",
    ) -> StreamHandle:
        """Register a stream (before or after :meth:`start`) and return its handle.

        ``unit`` is written for every channel (e.g. ``"volts"``; XDF ``channel/unit``).

        Raises
        ------
        RecordingError
            If the name is taken, the format unknown, the rate negative, or the recorder closed.
        """
        channel_names = tuple(str(c) for c in channel_names)
        with self._lock:
            self._check_open(name)
            if name in self._handles:
                raise RecordingError(f"stream {name!r} already exists in {str(self.path)!r}")
            info = StreamInfo(
                name=name, type=type, channel_names=channel_names,
                nominal_srate_hz=float(nominal_rate_hz), channel_format=channel_format,
                created_at_s=self.clock.now(), source_id=self._source_id(name),
                channel_unit=unit,
            )
            handle = StreamHandle(self._next_id, name, channel_names, channel_format)
            self._next_id += 1
            self._handles[name] = handle
            self._queue.put(("header", handle.stream_id, info))
            if self.live is not None:
                self.live.add_stream(handle.stream_id, info)
        return handle

    def _source_id(self, name: str) -> str:
        """``mirrorvr:<pseudonym>/<session folder>:<stream>``: unique per session, so a lab
        recorder (and LSL's recovery) can tell sessions and streams apart."""
        return f"mirrorvr:{self.session_dir.parent.name}/{self.session_dir.name}:{name}"

    def streams(self) -> dict[str, StreamHandle]:
        """The registered streams by name."""
        with self._lock:
            return dict(self._handles)

    # ------------------------------------------------------------------ data

    def push(self, handle: StreamHandle, t_s, samples) -> None:
        """Queue samples of one stream (never touches the disk).

        Parameters
        ----------
        handle : StreamHandle
        t_s : (n,) float
            Session-clock time of each sample, s.
        samples : (n, n_channels) array for numeric streams; for string streams a list of n
            str (one channel) or n sequences of n_channels str.

        Raises
        ------
        RecordingError
            Naming the stream: after close or a write error, unknown handle, bad shapes or
            non-finite timestamps.
        """
        with self._lock:
            self._check_open(handle.name)
            if self._handles.get(handle.name) != handle:
                raise RecordingError(f"stream {handle.name!r} is not registered with this recorder")
        t = np.array(t_s, dtype=np.float64, copy=True)
        if t.ndim == 0:
            t = t.reshape(1)
        if t.ndim != 1:
            raise RecordingError(
                f"stream {handle.name!r}: t_s must have shape (n,), given {t.shape}"
            )
        n = t.shape[0]
        if not np.all(np.isfinite(t)):
            raise RecordingError(f"stream {handle.name!r}: t_s contains non-finite timestamps")
        nch = handle.n_channels
        if handle.channel_format == "string":
            rows = self._string_rows(handle, samples, n)
            if n:
                self._queue.put(("samples", handle.stream_id, t, rows))
                if self.live is not None:
                    self.live.push(handle.stream_id, t, rows)
            return
        try:
            values = np.array(samples, dtype=CHANNEL_FORMATS[handle.channel_format], copy=True)
        except (TypeError, ValueError) as err:
            raise RecordingError(
                f"stream {handle.name!r}: samples are not {handle.channel_format} numbers: {err}"
            ) from err
        if values.ndim == 1 and nch == 1 and values.shape[0] == n:
            values = values.reshape(n, 1)
        if values.shape != (n, nch):
            raise RecordingError(
                f"stream {handle.name!r}: samples of shape {values.shape} given, "
                f"expected {(n, nch)} (n samples from t_s, {nch} channels)"
            )
        if n:
            self._queue.put(("samples", handle.stream_id, t, values))
            if self.live is not None:
                self.live.push(handle.stream_id, t, values)

    @staticmethod
    def _string_rows(handle: StreamHandle, samples, n: int) -> list[tuple[str, ...]]:
        if isinstance(samples, str):
            samples = [samples]
        try:
            rows = [
                (s,) if isinstance(s, str) else tuple(s)
                for s in samples
            ]
        except TypeError as err:
            raise RecordingError(
                f"stream {handle.name!r}: string samples must be a list of str or of "
                f"sequences of str: {err}"
            ) from err
        shape = (len(rows), len(rows[0]) if rows else handle.n_channels)
        if len(rows) != n or any(len(r) != handle.n_channels for r in rows):
            raise RecordingError(
                f"stream {handle.name!r}: string samples of shape {shape} given, "
                f"expected {(n, handle.n_channels)}"
            )
        if not all(isinstance(v, str) for r in rows for v in r):
            raise RecordingError(f"stream {handle.name!r}: string samples must all be str")
        return rows

    def marker(self, t_s: float, text: str) -> None:
        """Record an event marker (irregular-rate string stream ``"markers"``)."""
        if not isinstance(text, str):
            raise RecordingError(f"stream {MARKER_STREAM!r}: marker text must be str, "
                                 f"given {type(text).__name__}")
        if not math.isfinite(t_s):
            raise RecordingError(f"stream {MARKER_STREAM!r}: marker time {t_s!r} is not finite")
        self.push(self.markers, [t_s], [text])

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Create the file and start the writer thread.

        Raises
        ------
        RecordingError
            If the file cannot be created.
        """
        with self._lock:
            self._check_open("(recording)")
            self._start_locked()

    def _start_locked(self) -> None:
        if self._started:
            return
        try:
            self.session_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RecordingError(
                f"cannot create session folder {str(self.session_dir)!r}: {err}"
            ) from err
        fields = {"software": f"mirrorvr {mirrorvr.__version__}"}
        if hasattr(self.clock, "to_unix"):
            fields["unix_time_at_session_zero_s"] = repr(self.clock.to_unix(0.0))
        self._writer = XdfWriter(self.path, fields)
        self._started = True
        self._thread = threading.Thread(target=self._run, name="mirrorvr-recorder", daemon=True)
        self._thread.start()
        logger.info("recording to %s", self.path)

    def close(self) -> None:
        """Write everything queued, the stream footers, and close the file. Idempotent.

        Raises
        ------
        RecordingError
            If a write failed at any time during the recording.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._error is None:
                self._start_locked()  # a never-started recorder still leaves a valid file
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join()
        if self.live is not None:
            self.live.close()
        if self._error is not None:
            raise RecordingError(
                f"recording {str(self.path)!r} failed: {self._error}; data written before the "
                "failure is in the file"
            ) from self._error

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def error(self) -> BaseException | None:
        """The write error that stopped the recording, if any."""
        return self._error

    def _check_open(self, name: str) -> None:
        # called with the lock held
        if self._closed:
            raise RecordingError(f"stream {name!r}: the recorder {str(self.path)!r} is closed")
        if self._error is not None:
            raise RecordingError(
                f"stream {name!r}: the recording {str(self.path)!r} failed earlier "
                f"({self._error}); nothing more is recorded"
            )

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        writer = self._writer
        last_boundary_s = self.clock.now()
        stream_ids: list[int] = []
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=self.flush_interval_s)
            except queue.Empty:
                continue
            batch = [item]
            while True:  # drain what is there, then write it as one batch
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                for item in batch:
                    if item is _STOP:
                        stopping = True
                        continue
                    self._write_item(writer, item)
                    if item[0] == "header":
                        stream_ids.append(item[1])
                        writer.write_clock_offset(item[1], self.clock.now(), 0.0)
                if self.clock.now() - last_boundary_s >= self.boundary_interval_s:
                    writer.write_boundary()
                    last_boundary_s = self.clock.now()
                    self._write_clock_offsets(writer, stream_ids)
                writer.flush()
            except (RecordingError, OSError) as err:
                logger.error("recording %s failed: %s", self.path, err)
                self._error = err
                break
        try:
            if self._error is None:
                self._write_clock_offsets(writer, stream_ids)
                writer.close()  # footers
            else:
                writer.abort()
        except (RecordingError, OSError) as err:
            logger.error("closing recording %s failed: %s", self.path, err)
            if self._error is None:
                self._error = err

    def _write_clock_offsets(self, writer: XdfWriter, stream_ids: list[int]) -> None:
        # Every stream is stamped on the recorder's own session clock, so the offset is 0;
        # readers (pyxdf's clock synchronisation) expect these chunks as LSL writes them.
        now = self.clock.now()
        for stream_id in stream_ids:
            writer.write_clock_offset(stream_id, now, 0.0)

    @staticmethod
    def _write_item(writer: XdfWriter, item) -> None:
        kind = item[0]
        if kind == "header":
            writer.add_stream(item[1], item[2])
        elif kind == "samples":
            writer.write_samples(item[1], item[2], item[3])
        else:
            raise RecordingError(f"internal: unknown queue item {kind!r}")
