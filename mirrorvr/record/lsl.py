"""Live Lab Streaming Layer outlets: every stream a session records, published as it records.

With ``record.lsl = true`` the :class:`~mirrorvr.record.recorder.Recorder` hands each new
stream and each pushed chunk to an :class:`LslPublisher` as well as to its XDF writer. The
outlets carry the XDF stream's name, type, channel labels, units and nominal rate
(``desc/channels/channel/{label,unit,type}``, as the XDF header), markers as an
irregular-rate string stream, and every sample keeps its session timestamp (the session
clock is ``time.monotonic()``, which is LSL's ``local_clock()`` on Linux), so a lab's own
recorder gets what the XDF holds.

The hot paths never wait on LSL: the publisher has its own queue and thread; a failing
outlet is logged and dropped, and the session and its recording go on. Closing the
recorder publishes everything queued; the outlets themselves end with
:meth:`LslPublisher.release` (or when the recorder is dropped), so a consumer still reading
the last samples is not cut off.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Protocol

import numpy as np

from mirrorvr.errors import RecordingError
from mirrorvr.record.xdf import StreamInfo

logger = logging.getLogger(__name__)

_STOP = object()


class LiveStreams(Protocol):
    """Where a Recorder also sends its streams while it records (e.g. LSL)."""

    def add_stream(self, stream_id: int, info: StreamInfo) -> None:
        """A new stream (called once, before its samples)."""
        ...

    def push(self, stream_id: int, t_s: np.ndarray, values) -> None:
        """Samples of a stream: ``t_s`` (n,) session times, s; ``values`` (n, n_channels)
        numbers, or n tuples of str. Must not block."""
        ...

    def close(self) -> None:
        """Publish everything queued; nothing more is taken."""
        ...


def _lsl_info(info: StreamInfo):
    import pylsl

    lsl_info = pylsl.StreamInfo(
        info.name, info.type, info.channel_count,
        info.nominal_srate_hz if info.nominal_srate_hz > 0 else pylsl.IRREGULAR_RATE,
        info.channel_format, info.source_id or f"mirrorvr:{info.name}",
    )
    channels = lsl_info.desc().append_child("channels")
    for label in info.channel_names:
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        if info.channel_unit:
            ch.append_child_value("unit", info.channel_unit)
        ch.append_child_value("type", info.type)
    lsl_info.desc().append_child("acquisition").append_child_value("software", "mirrorvr")
    return lsl_info


class LslPublisher:
    """Publishes a Recorder's streams as LSL outlets from its own thread.

    Parameters
    ----------
    wait_for_consumers_s : float
        Before a stream's first samples are published, wait up to this long (counted from
        the first stream) for a consumer such as LabRecorder to connect; the samples queue
        meanwhile. 0: publish at once (a consumer that connects later gets data from then).
    max_buffered_s : float
        How much data an outlet keeps for a slow consumer, s (LSL's ``max_buffered``).

    Raises
    ------
    RecordingError
        If pylsl (liblsl) cannot be loaded.
    """

    def __init__(self, wait_for_consumers_s: float = 0.0, max_buffered_s: float = 360.0) -> None:
        try:
            import pylsl  # noqa: F401 - fail here, before the session starts, not later
        except (ImportError, RuntimeError) as err:
            raise RecordingError(f"record.lsl = true needs pylsl with liblsl: {err}") from err
        self.wait_for_consumers_s = float(wait_for_consumers_s)
        self.max_buffered_s = float(max_buffered_s)
        self._queue: queue.Queue = queue.Queue()
        self._outlets: dict[int, object] = {}
        self._waited: set[int] = set()
        self._names: dict[int, str] = {}
        self._failed: set[int] = set()
        self._wait_until: float | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._closing = threading.Event()  # ends a wait for consumers early
        self.dropped_chunks = 0

    def add_stream(self, stream_id: int, info: StreamInfo) -> None:
        with self._lock:
            if self._closed:
                return
            if self._thread is None:
                self._wait_until = time.monotonic() + self.wait_for_consumers_s
                self._thread = threading.Thread(target=self._run, name="mirrorvr-lsl",
                                                daemon=True)
                self._thread.start()
        self._queue.put(("header", stream_id, info))

    def push(self, stream_id: int, t_s: np.ndarray, values) -> None:
        if not self._closed:
            self._queue.put(("samples", stream_id, t_s, values))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._closing.set()
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def release(self) -> None:
        """End the outlets (consumers see the streams go). Until then, or until the
        publisher is garbage-collected, consumers can still read what was published."""
        self.close()
        self._outlets.clear()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                if item[0] == "header":
                    self._open(item[1], item[2])
                else:
                    self._publish(item[1], item[2], item[3])
            except (RuntimeError, ValueError, TypeError, OSError) as err:
                # liblsl's errors; the session and its recording go on without this stream
                stream_id = item[1]
                self._failed.add(stream_id)
                self._outlets.pop(stream_id, None)
                logger.error("LSL stream %r stopped publishing: %s",
                             self._names.get(stream_id, stream_id), err)

    def _open(self, stream_id: int, info: StreamInfo) -> None:
        import pylsl

        self._names[stream_id] = info.name
        max_buffered = max(1, int(round(self.max_buffered_s)))
        self._outlets[stream_id] = pylsl.StreamOutlet(_lsl_info(info), 0, max_buffered)
        logger.info("publishing %r on LSL (%d channels)", info.name, info.channel_count)

    def _wait_for_consumer(self, stream_id: int, outlet) -> None:
        """Until a consumer connects, the deadline passes or the recorder closes."""
        while not self._closing.is_set():
            remaining = (self._wait_until or 0.0) - time.monotonic()
            if remaining <= 0:
                logger.warning("no LSL consumer of %r after %.1f s; publishing anyway",
                               self._names[stream_id], self.wait_for_consumers_s)
                return
            if outlet.wait_for_consumers(min(0.1, remaining)):
                return

    def _publish(self, stream_id: int, t_s: np.ndarray, values) -> None:
        outlet = self._outlets.get(stream_id)
        if outlet is None:
            self.dropped_chunks += 1
            return
        if stream_id not in self._waited:
            self._waited.add(stream_id)
            self._wait_for_consumer(stream_id, outlet)
        if isinstance(values, np.ndarray):
            outlet.push_chunk(values, timestamp=[float(t) for t in t_s])
        else:
            outlet.push_chunk([list(row) for row in values], timestamp=[float(t) for t in t_s])


def open_live_streams(lsl: bool, wait_for_consumers_s: float = 0.0) -> LslPublisher | None:
    """The live publisher a session's ``record`` settings ask for, or None."""
    return LslPublisher(wait_for_consumers_s) if lsl else None
