"""The LSL pose stream format, an outlet that publishes it and a source that reads it.

Any tracker that publishes this format drives mirror mode without code in mirrorvr (a Leap
Motion / Ultraleap LSL app, a data glove, an IMU suit, a headset's hand tracking, mirrorvr's
own webcam tracker process).

Stream format (version 1)
-------------------------
- **type** ``MirrorVR.Pose``; any **name** (the session picks a stream by name, or the one
  whose side and limb match); nominal rate: the tracker's frame rate, or 0 (irregular).
- **channels** (``float32`` or ``double64``), labelled in ``desc/channels/channel/label``:
  any subset of the skeleton's DOF names of the limb (:mod:`mirrorvr.limb.skeleton`, e.g.
  ``wrist_flexion``, ``index_mcp_flexion``; lower limb ``knee_flexion``,
  ``ankle_dorsiflexion``, ...) in **radians**, anatomical (the same numbers for a left and a
  right limb), plus optionally ``confidence`` (0..1; default 1) and ``processing_s`` (the
  tracker's capture-to-push time, s). NaN = not measured in this sample. Other labels are
  refused, naming them.
- **desc**: ``side`` (``left``/``right``, the tracked limb's side), ``limb``
  (``upper``/``lower``), ``format`` = ``mirrorvr-pose-1``; optional ``tracker`` (free text).
- **timestamps**: LSL ``local_clock()`` of the sender at *capture* (the camera frame or
  sensor reading), not at push. mirrorvr adds the inlet's ``time_correction()``; on Linux
  ``local_clock()`` is ``time.monotonic()``, the session clock.

A second, optional stream of type ``MirrorVR.Landmarks`` carries a tracker's raw landmarks
(the webcam tracker: normalised image x, y and relative depth z per landmark) for display.

pylsl is imported only inside the functions that use it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

from mirrorvr.errors import AcquisitionError, ConfigError
from mirrorvr.limb.skeleton import check_limb, check_side, limb_spec
from mirrorvr.tracking.source import PoseSample, check_source_limb

log = logging.getLogger(__name__)

STREAM_TYPE = "MirrorVR.Pose"
LANDMARK_STREAM_TYPE = "MirrorVR.Landmarks"
FORMAT = "mirrorvr-pose-1"
CONFIDENCE = "confidence"
PROCESSING = "processing_s"
EXTRA_CHANNELS: tuple[str, ...] = (CONFIDENCE, PROCESSING)


@dataclass(frozen=True)
class PoseStreamLayout:
    """Where each channel of a pose stream goes.

    Attributes
    ----------
    side, limb : str
    dof_index : (n_dof_channels,) int
        For each DOF channel, its index in the limb's ``Pose.angles``.
    dof_channel : (n_dof_channels,) int
        The stream channel of each of those DOFs.
    confidence_channel, processing_channel : int or None
    """

    side: str
    limb: str
    dof_index: np.ndarray
    dof_channel: np.ndarray
    confidence_channel: int | None
    processing_channel: int | None

    @classmethod
    def from_labels(cls, side: str, limb: str, labels, stream: str = "") -> PoseStreamLayout:
        """Check ``labels`` against the format; :class:`ConfigError` names what is wrong."""
        check_side(side)
        spec = limb_spec(check_limb(limb))
        where = f"pose stream {stream!r}: " if stream else "pose stream: "
        labels = list(labels)
        unknown = [x for x in labels if x not in spec.dof_names and x not in EXTRA_CHANNELS]
        if unknown:
            raise ConfigError(
                f"{where}channel labels {unknown} are not DOFs of the {limb} limb nor "
                f"{list(EXTRA_CHANNELS)} (allowed: {list(spec.dof_names)})")
        if len(set(labels)) != len(labels):
            raise ConfigError(f"{where}channel labels {labels} repeat a name")
        dofs = [(spec.dof_index(x), c) for c, x in enumerate(labels) if x in spec.dof_names]
        if not dofs:
            raise ConfigError(f"{where}no channel is a DOF of the {limb} limb "
                              f"(labels {labels}; allowed: {list(spec.dof_names)})")
        return cls(side, limb, np.array([d for d, _ in dofs]), np.array([c for _, c in dofs]),
                   labels.index(CONFIDENCE) if CONFIDENCE in labels else None,
                   labels.index(PROCESSING) if PROCESSING in labels else None)

    def samples(self, values: np.ndarray, t_s: np.ndarray, received_s: float) -> list[PoseSample]:
        """Pose samples from a chunk ``values (n, n_channels)`` stamped ``t_s (n,)`` (session)."""
        n_dofs = limb_spec(self.limb).n_dofs
        out = []
        for row, t in zip(np.asarray(values, dtype=float), np.asarray(t_s, dtype=float),
                          strict=True):
            angles = np.full(n_dofs, np.nan)
            angles[self.dof_index] = row[self.dof_channel]
            conf = 1.0 if self.confidence_channel is None else row[self.confidence_channel]
            conf = float(np.clip(conf, 0.0, 1.0)) if np.isfinite(conf) else 0.0
            proc = 0.0 if self.processing_channel is None else row[self.processing_channel]
            out.append(PoseSample(float(t), angles, conf, received_s,
                                  float(proc) if np.isfinite(proc) else 0.0))
        return out


def _desc_fields(xml_text: str) -> tuple[dict[str, str], list[str]]:
    """``(top-level desc fields, channel labels)`` of a stream's XML header."""
    root = ET.fromstring(xml_text)
    desc = root.find("desc")
    if desc is None:
        return {}, []
    fields = {child.tag: (child.text or "").strip() for child in desc if len(child) == 0}
    labels = [(ch.findtext("label") or "").strip()
              for ch in desc.findall("channels/channel")]
    return fields, labels


def layout_from_info_xml(xml_text: str, name: str = "") -> PoseStreamLayout:
    """Check a stream's full XML header (``StreamInfo.as_xml()``) against the format."""
    fields, labels = _desc_fields(xml_text)
    for key in ("side", "limb"):
        if key not in fields:
            raise ConfigError(f"pose stream {name!r}: desc has no <{key}> (the format needs "
                              "side and limb in the stream description)")
    return PoseStreamLayout.from_labels(fields["side"], fields["limb"], labels, name)


def pose_stream_info(name: str, side: str, limb: str, dofs=None, rate_hz: float = 0.0,
                     tracker: str = "", source_id: str = "", landmarks: int = 0):
    """A ``pylsl.StreamInfo`` in the format above.

    Parameters
    ----------
    name : str
    side, limb : str
    dofs : sequence of str, optional
        The DOF channels (default every DOF of the limb); ``confidence`` and
        ``processing_s`` follow them.
    rate_hz : float
        Nominal rate (0: irregular).
    tracker : str
        Free text naming the tracker.
    landmarks : int
        0: a pose stream; n > 0: its companion landmark stream of n landmarks (x, y, z).
    """
    import pylsl

    spec = limb_spec(check_limb(limb))
    check_side(side)
    if landmarks:
        labels = [f"{axis}{i}" for i in range(landmarks) for axis in "xyz"]
        info = pylsl.StreamInfo(name, LANDMARK_STREAM_TYPE, len(labels), rate_hz,
                                pylsl.cf_float32, source_id or name)
    else:
        dofs = list(spec.dof_names if dofs is None else dofs)
        PoseStreamLayout.from_labels(side, limb, dofs + list(EXTRA_CHANNELS), name)
        labels = dofs + list(EXTRA_CHANNELS)
        info = pylsl.StreamInfo(name, STREAM_TYPE, len(labels), rate_hz, pylsl.cf_float32,
                                source_id or name)
    desc = info.desc()
    for key, value in (("format", FORMAT), ("side", side), ("limb", limb),
                       ("tracker", tracker)):
        desc.append_child_value(key, value)
    channels = desc.append_child("channels")
    for label in labels:
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        unit = {"confidence": "normalized", "processing_s": "seconds"}.get(label, "radians")
        ch.append_child_value("unit", "normalized" if landmarks else unit)
    return info


class PoseOutlet:
    """Publishes poses of one limb in the format above (a tracker's side of the stream).

    Parameters
    ----------
    name, side, limb, dofs, rate_hz, tracker : see :func:`pose_stream_info`
    """

    def __init__(self, name: str, side: str, limb: str, dofs=None, rate_hz: float = 0.0,
                 tracker: str = "") -> None:
        import pylsl

        self.spec = limb_spec(limb)
        self.dofs = tuple(self.spec.dof_names if dofs is None else dofs)
        self._index = np.array([self.spec.dof_index(d) for d in self.dofs])
        self.info = pose_stream_info(name, side, limb, self.dofs, rate_hz, tracker)
        self._outlet = pylsl.StreamOutlet(self.info)

    def push(self, angles, capture_s: float, confidence: float = 1.0,
             processing_s: float = 0.0) -> None:
        """Publish ``angles`` ((n_dofs,) rad in the limb's order, NaN = not measured) taken
        at ``capture_s`` (LSL ``local_clock()``)."""
        angles = np.asarray(angles, dtype=float)
        if angles.shape != (self.spec.n_dofs,):
            raise ConfigError(f"angles: shape {angles.shape}, expected ({self.spec.n_dofs},)")
        row = [*angles[self._index].tolist(), float(confidence), float(processing_s)]
        self._outlet.push_sample(row, capture_s)

    def have_consumers(self) -> bool:
        return bool(self._outlet.have_consumers())


class LslPoseSource:
    """Reads a pose stream in the format above (``"lsl:<stream name>"``).

    A background thread finds the stream (by ``stream_name``, or the first one of the
    side and limb), opens an inlet and takes each sample as it arrives (with any others
    already waiting); :meth:`read` hands over what arrived.
    Timestamps become session time with the inlet's ``time_correction()``, which needs the
    session clock to be the real one (``time.monotonic()`` = LSL ``local_clock()``).
    When the stream disappears, :attr:`problem` says so and the thread looks for it again.

    Parameters
    ----------
    side, limb : str
        The intact limb to track; a stream for another side or limb is not taken.
    stream_name : str
        The stream's name ("" = any pose stream of ``side`` and ``limb``).
    """

    def __init__(self, side: str, limb: str, stream_name: str = "",
                 name: str | None = None) -> None:
        self.side, self.limb, _ = check_source_limb(side, limb)
        self.stream_name = stream_name
        self.name = name or f"lsl:{stream_name or STREAM_TYPE}"
        self._queue: collections.deque[PoseSample] = collections.deque(maxlen=4096)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._problem: str | None = f"looking for the LSL pose stream {self._wanted()}"
        self.connected_stream: str | None = None

    def _wanted(self) -> str:
        which = f"{self.stream_name!r}" if self.stream_name else f"of type {STREAM_TYPE}"
        return f"{which} ({self.side} {self.limb} limb)"

    @property
    def problem(self) -> str | None:
        return self._problem

    def start(self) -> None:
        if self._thread is not None:
            return
        # a reader thread of its own, with its own queue and stop: what came before a stop
        # is not this stretch's tracking, and an earlier thread still ending cannot add to it
        self._queue = collections.deque(maxlen=4096)
        self._problem = f"looking for the LSL pose stream {self._wanted()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop, self._queue),
                                        name="mirrorvr-lsl-pose", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading; returns at once (a mirror block ends on the render thread): the
        reader thread ends by itself within its current pull or resolve (< 2.5 s)."""
        self._stop.set()
        self._thread = None

    def read(self, now_s: float) -> list[PoseSample]:
        out = []
        while True:
            try:
                out.append(self._queue.popleft())
            except IndexError:
                return out

    # ------------------------------------------------------------------ background

    def _run(self, stop: threading.Event, queue: collections.deque) -> None:
        import pylsl
        from pylsl.util import LostError

        while not stop.is_set():
            try:
                inlet, layout, name = self._connect(pylsl)
            except ConfigError as err:  # a stream of the right name that breaks the format
                if not stop.is_set():
                    self._problem = str(err)
                log.error("%s", err)
                stop.wait(1.0)
                continue
            if inlet is None:
                continue
            self.connected_stream = name
            try:
                self._pull(inlet, layout, name, stop, queue)
            except LostError:
                if not stop.is_set():
                    self._problem = f"the LSL pose stream {name!r} was lost"
                log.warning("the LSL pose stream %r was lost", name)
            finally:
                inlet.close_stream()

    def _connect(self, pylsl):
        from pylsl.util import LostError
        from pylsl.util import TimeoutError as LslTimeout

        pred = f"type='{STREAM_TYPE}'" + (f" and name='{self.stream_name}'"
                                         if self.stream_name else "")
        infos = pylsl.resolve_bypred(pred, 0, 0.5)
        for info in infos:
            inlet = pylsl.StreamInlet(info, max_buflen=2, recover=False)
            try:
                full = inlet.info(timeout=2.0)
                layout = layout_from_info_xml(full.as_xml(), info.name())
            except (LslTimeout, LostError):  # gone between resolving and reading its header
                inlet.close_stream()
                continue
            except ConfigError:
                inlet.close_stream()
                if self.stream_name:
                    raise
                continue
            if (layout.side, layout.limb) != (self.side, self.limb):
                inlet.close_stream()
                if self.stream_name:
                    raise ConfigError(
                        f"pose stream {info.name()!r}: tracks the {layout.side} {layout.limb} "
                        f"limb, the session needs the {self.side} {self.limb} limb")
                continue
            inlet.open_stream(timeout=2.0)
            return inlet, layout, info.name()
        return None, None, None

    def _pull(self, inlet, layout: PoseStreamLayout, name: str, stop: threading.Event,
              queue: collections.deque) -> None:
        offset_s = inlet.time_correction(timeout=2.0)
        corrected_at = time.monotonic()
        if not stop.is_set():
            self._problem = None
        log.info("reading LSL pose stream %r (clock offset %.6f s)", name, offset_s)
        while not stop.is_set():
            # wait for one sample, then take whatever else is there: pull_chunk with a
            # timeout returns only when the timeout ends (liblsl fills the chunk until
            # then), which kept every sample ~25 ms (half the timeout) on average
            first, stamp = inlet.pull_sample(timeout=0.05)
            if stamp is None:
                values, stamps = [], []
            else:
                values, stamps = inlet.pull_chunk(timeout=0.0)
                values, stamps = [first, *values], [stamp, *stamps]
            received_s = time.monotonic()
            if received_s - corrected_at > 5.0:
                offset_s = inlet.time_correction(timeout=0.5)
                corrected_at = received_s
            if stamps:
                t_s = np.asarray(stamps) + offset_s
                queue.extend(layout.samples(np.asarray(values), t_s, received_s))


def resolve_pose_streams(wait_s: float = 1.0) -> list[dict]:
    """Every pose stream visible now: name, side, limb, channels, and a format problem (or
    None). For ``mirrorvr track streams``."""
    import pylsl
    from pylsl.util import TimeoutError as LslTimeout

    found = []
    for info in pylsl.resolve_byprop("type", STREAM_TYPE, 0, wait_s):
        inlet = pylsl.StreamInlet(info, recover=False)
        try:
            xml_text = inlet.info(timeout=2.0).as_xml()
        except LslTimeout as err:
            raise AcquisitionError(f"pose stream {info.name()!r}: no header ({err})") from err
        finally:
            inlet.close_stream()
        fields, labels = _desc_fields(xml_text)
        try:
            layout_from_info_xml(xml_text, info.name())
            problem = None
        except ConfigError as err:
            problem = str(err)
        found.append({"name": info.name(), "side": fields.get("side"),
                      "limb": fields.get("limb"), "channels": labels,
                      "rate_hz": info.nominal_srate(), "problem": problem})
    return found
