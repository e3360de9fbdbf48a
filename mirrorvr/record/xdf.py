"""An incremental XDF 1.0 writer (the container LabRecorder writes; pyxdf reads it).

Layout (XDF 1.0 spec, as read by pyxdf's ``load_xdf``): the magic ``XDF:``, then chunks.
Each chunk is ``[NumLengthBytes: 1, 4 or 8][Length: uint, little endian][Tag: uint16]
[Content]``, where Length counts the tag and the content. Tags: 1 FileHeader (XML),
2 StreamHeader (StreamId uint32 + XML), 3 Samples, 4 ClockOffset, 5 Boundary,
6 StreamFooter (StreamId + XML). A Samples chunk holds ``StreamId, [NumSamples: varlen]``
then per sample ``[TimeStampBytes: 0 or 8][TimeStamp: float64][values]``; numeric values
are little endian, strings are ``[varlen length][utf-8 bytes]`` per channel.

Every chunk is assembled in memory and written with one ``write`` call; :meth:`flush`
pushes the file to the OS, so a crash loses at most what was written since the last flush.
A file without footers (the writer never closed) is still readable by pyxdf.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import struct
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirrorvr.errors import RecordingError

logger = logging.getLogger(__name__)

TAG_FILE_HEADER = 1
TAG_STREAM_HEADER = 2
TAG_SAMPLES = 3
TAG_CLOCK_OFFSET = 4
TAG_BOUNDARY = 5
TAG_STREAM_FOOTER = 6

#: The Boundary chunk's fixed UUID (pyxdf ``_scan_forward`` looks for it to resync).
BOUNDARY_UUID = bytes([0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F,
                       0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4])

#: XDF channel formats mirrorvr writes, and their little-endian numpy dtypes.
CHANNEL_FORMATS: dict[str, np.dtype | None] = {
    "float32": np.dtype("<f4"),
    "double64": np.dtype("<f8"),
    "int32": np.dtype("<i4"),
    "string": None,
}


def varlen_int(n: int) -> bytes:
    """XDF variable-length unsigned integer: a byte count (1, 4 or 8), then the value."""
    if n < 0:
        raise RecordingError(f"varlen_int: {n!r} is negative")
    if n < 1 << 8:
        return b"\x01" + struct.pack("<B", n)
    if n < 1 << 32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def chunk(tag: int, content: bytes) -> bytes:
    """One complete chunk: length (of tag + content), tag, content."""
    return varlen_int(len(content) + 2) + struct.pack("<H", tag) + content


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0"?>' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


@dataclass(frozen=True)
class StreamInfo:
    """The header of one stream.

    Attributes
    ----------
    name, type : str
        Stream name and content type (e.g. ``"EMG"``, ``"Markers"``).
    channel_names : tuple of str
        One label per channel (written to ``desc/channels/channel/label``).
    nominal_srate_hz : float
        Nominal sampling rate, Hz; 0 for irregular streams (markers, events).
    channel_format : str
        ``"float32"``, ``"double64"``, ``"int32"`` or ``"string"``.
    created_at_s : float
        Session-clock time of creation, s.
    source_id : str
        A stable id of the producer.
    channel_unit : str
        Unit written per channel (e.g. ``"volts"``), or "".
    """

    name: str
    type: str
    channel_names: tuple[str, ...]
    nominal_srate_hz: float
    channel_format: str
    created_at_s: float = 0.0
    source_id: str = ""
    channel_unit: str = ""

    def __post_init__(self) -> None:
        if self.channel_format not in CHANNEL_FORMATS:
            raise RecordingError(
                f"stream {self.name!r}: channel_format {self.channel_format!r} is not one of "
                f"{list(CHANNEL_FORMATS)}"
            )
        if len(self.channel_names) < 1:
            raise RecordingError(f"stream {self.name!r}: needs at least one channel")
        if not self.nominal_srate_hz >= 0:
            raise RecordingError(
                f"stream {self.name!r}: nominal_srate_hz {self.nominal_srate_hz!r} must be >= 0"
            )

    @property
    def channel_count(self) -> int:
        return len(self.channel_names)

    def to_xml(self) -> bytes:
        info = ET.Element("info")
        _sub(info, "name", self.name)
        _sub(info, "type", self.type)
        _sub(info, "channel_count", str(self.channel_count))
        _sub(info, "nominal_srate", repr(float(self.nominal_srate_hz)))
        _sub(info, "channel_format", self.channel_format)
        _sub(info, "source_id", self.source_id)
        _sub(info, "version", "1.1")
        _sub(info, "created_at", repr(float(self.created_at_s)))
        desc = _sub(info, "desc")
        channels = _sub(desc, "channels")
        for label in self.channel_names:
            ch = _sub(channels, "channel")
            _sub(ch, "label", label)
            if self.channel_unit:
                _sub(ch, "unit", self.channel_unit)
            _sub(ch, "type", self.type)
        _sub(desc, "acquisition").append(_text_el("software", "mirrorvr"))
        return _xml(info)


def _text_el(tag: str, text: str) -> ET.Element:
    el = ET.Element(tag)
    el.text = text
    return el


@dataclass
class _StreamState:
    info: StreamInfo
    dtype: np.dtype | None
    first_s: float | None = None
    last_s: float | None = None
    count: int = 0


class XdfWriter:
    """Writes an XDF 1.0 file chunk by chunk. Thread-safe; one writer per file.

    Parameters
    ----------
    path : str or Path
        The file to create (overwritten if it exists).
    header_fields : dict of str -> str, optional
        Extra FileHeader fields (e.g. ``{"datetime": ..., "session": ...}``).

    Raises
    ------
    RecordingError
        If the file cannot be created or written.
    """

    def __init__(self, path: str | Path, header_fields: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._streams: dict[int, _StreamState] = {}
        self._closed = False
        try:
            self._f = open(self.path, "wb")  # closed in close()
        except OSError as err:
            raise RecordingError(f"cannot create XDF file {str(self.path)!r}: {err}") from err
        info = ET.Element("info")
        _sub(info, "version", "1.0")
        fields = {"datetime": _dt.datetime.now(_dt.timezone.utc).isoformat()}
        fields.update(header_fields or {})
        for key, value in fields.items():
            _sub(info, key, str(value))
        self._write(b"XDF:" + chunk(TAG_FILE_HEADER, _xml(info)))
        self.flush()

    # ------------------------------------------------------------------ writing

    def add_stream(self, stream_id: int, info: StreamInfo) -> None:
        """Write the StreamHeader chunk of a new stream."""
        with self._lock:
            if stream_id in self._streams:
                raise RecordingError(f"XDF stream id {stream_id} ({info.name!r}) already exists")
            self._streams[stream_id] = _StreamState(info, CHANNEL_FORMATS[info.channel_format])
        self._write(chunk(TAG_STREAM_HEADER, struct.pack("<I", stream_id) + info.to_xml()))

    def write_samples(self, stream_id: int, t_s: np.ndarray, values) -> None:
        """Write one Samples chunk.

        Parameters
        ----------
        t_s : (n,) float
            Session-clock time of each sample, s (always written explicitly).
        values : (n, n_channels) array for numeric streams, or a sequence of n sequences of
            n_channels str for string streams.
        """
        state = self._state(stream_id)
        t_s = np.asarray(t_s, dtype="<f8").reshape(-1)
        n = t_s.shape[0]
        if n == 0:
            return
        nch = state.info.channel_count
        head = struct.pack("<I", stream_id) + varlen_int(n)
        if state.dtype is None:
            parts = [head]
            for k in range(n):
                parts.append(b"\x08" + struct.pack("<d", t_s[k]))
                row = values[k]
                if len(row) != nch:
                    raise RecordingError(
                        f"stream {state.info.name!r}: sample {k} has {len(row)} values, "
                        f"expected {nch}"
                    )
                for text in row:
                    raw = str(text).encode("utf-8")
                    parts.append(varlen_int(len(raw)) + raw)
            body = b"".join(parts)
        else:
            values = np.asarray(values)
            if values.shape != (n, nch):
                raise RecordingError(
                    f"stream {state.info.name!r}: values of shape {values.shape}, "
                    f"expected {(n, nch)}"
                )
            rec = np.empty(n, dtype=[("tsb", "u1"), ("ts", "<f8"), ("v", state.dtype, (nch,))])
            rec["tsb"] = 8
            rec["ts"] = t_s
            rec["v"] = values
            body = head + rec.tobytes()
        self._write(chunk(TAG_SAMPLES, body))
        with self._lock:
            if state.first_s is None:
                state.first_s = float(t_s[0])
            state.last_s = float(t_s[-1])
            state.count += n

    def write_clock_offset(self, stream_id: int, collection_time_s: float, offset_s: float) -> None:
        """Write a ClockOffset chunk (offset of the stream's clock to the recorder's, s)."""
        self._state(stream_id)
        self._write(chunk(TAG_CLOCK_OFFSET, struct.pack("<Idd", stream_id, collection_time_s,
                                                        offset_s)))

    def write_boundary(self) -> None:
        """Write a Boundary chunk (lets readers resynchronise after a damaged chunk)."""
        self._write(chunk(TAG_BOUNDARY, BOUNDARY_UUID))

    def flush(self) -> None:
        """Hand everything written so far to the operating system."""
        with self._lock:
            if self._closed:
                return
            try:
                self._f.flush()
            except OSError as err:
                raise RecordingError(f"cannot flush XDF file {str(self.path)!r}: {err}") from err

    def sync(self) -> None:
        """Flush and ask the OS to put the file on disk (slow; not per sample)."""
        self.flush()
        with self._lock:
            if not self._closed:
                os.fsync(self._f.fileno())

    def close(self) -> None:
        """Write a StreamFooter per stream (first/last timestamp, sample count), then close."""
        with self._lock:
            if self._closed:
                return
            states = dict(self._streams)
        try:
            for stream_id, state in states.items():
                self._write(chunk(TAG_STREAM_FOOTER, struct.pack("<I", stream_id)
                                  + self._footer_xml(state)))
            self.flush()
        finally:
            with self._lock:
                self._closed = True
                self._f.close()

    def abort(self) -> None:
        """Close the file without footers, after a failure (what was flushed stays)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._f.close()
            except OSError as err:
                logger.error("closing %s after a failure: %s", self.path, err)

    @property
    def closed(self) -> bool:
        return self._closed

    def sample_count(self, stream_id: int) -> int:
        """Samples written so far to a stream."""
        return self._state(stream_id).count

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _footer_xml(state: _StreamState) -> bytes:
        info = ET.Element("info")
        first = 0.0 if state.first_s is None else state.first_s
        last = 0.0 if state.last_s is None else state.last_s
        _sub(info, "first_timestamp", repr(first))
        _sub(info, "last_timestamp", repr(last))
        _sub(info, "sample_count", str(state.count))
        _sub(info, "clock_offsets")
        return _xml(info)

    def _state(self, stream_id: int) -> _StreamState:
        with self._lock:
            try:
                return self._streams[stream_id]
            except KeyError:
                raise RecordingError(f"XDF stream id {stream_id} has no header") from None

    def _write(self, data: bytes) -> None:
        with self._lock:
            if self._closed:
                raise RecordingError(f"XDF file {str(self.path)!r} is closed")
            try:
                self._f.write(data)
            except OSError as err:
                raise RecordingError(f"cannot write XDF file {str(self.path)!r}: {err}") from err
