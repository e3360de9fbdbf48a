"""Decoder calibration from a cued, labelled recording.

Protocol (REFERENCES.md, "Myoelectric pattern recognition"; BioPatRec): cued contractions,
e.g. 3 s contract / 3 s rest × repetitions per movement; rest is a class; only the middle
``keep_fraction`` (0.7, BioPatRec cTp) of every cue segment is used, so offsets and reaction
time are left out. Onsets are added back: each contraction's EMG onset is found in its
segment (the envelope rising through 10 % of the way from rest to the segment's steady level,
:mod:`mirrorvr.emg.onset`), and the windows from :data:`ONSET_ACTIVE_S` of activity on to the
kept middle are trained as that movement, so a decoder knows what a movement looks like in
its first windows (it decides onsets from them, :class:`~mirrorvr.emg.classifier.OnsetVote`).

The flow a session runner follows::

    from mirrorvr.emg.calibration import (
        CalibrationRecording, cue_schedule, simulate_calibration, train_decoder)

    # 1. the cue timeline, relative to the start of calibration (s)
    cues = cue_schedule(settings.movements, repetitions=2, contract_s=3.0, rest_s=3.0)

    # 2a. simulated patient: script intents and collect chunks in one call
    patient.start()
    recording = simulate_calibration(patient, clock, cues, level=0.7)

    # 2b. or, with any source (a real board), show each cue, remember its session-time
    #     span as CueSegment(movement, start_s, end_s, repetition), collect every chunk:
    #     recording = CalibrationRecording.from_chunks(chunks, source.sampling_rate_hz, segments)

    # 3. train and check
    decoder, report = train_decoder(recording, settings, keep_fraction=0.7)
    log.info(report.summary())

    # 4. live: feed every chunk, get one Intent per 50 ms increment
    for intent in decoder.process(source.read()): ...

Cue segment times are on the session clock, like the chunk timestamps; a recording knows
the session time of its first sample (``start_s``).

The report's accuracy is per window, without majority vote: leave-one-repetition-out when
there are >= 2 repetitions, else stratified k-fold on consecutive (unshuffled) windows —
adjacent windows overlap, so k-fold is optimistic.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mirrorvr.clock import Clock
from mirrorvr.config import EmgSettings
from mirrorvr.emg.decoder import Decoder
from mirrorvr.emg.model import DecoderModel
from mirrorvr.emg.onset import first_rise, onset_threshold_v, smoothed_envelope
from mirrorvr.emg.source import EmgChunk
from mirrorvr.emg.windowing import sliding_windows
from mirrorvr.errors import ConfigError, DecoderError
from mirrorvr.movements import ALL_MOVEMENTS, REST, check_movement

logger = logging.getLogger(__name__)

#: Middle share of each cue segment kept for training (BioPatRec cTp, REFERENCES.md).
DEFAULT_KEEP_FRACTION = 0.7
#: Onset windows are trained from this much activity after a contraction's EMG onset, s.
ONSET_ACTIVE_S = 0.05


@dataclass(frozen=True)
class CueSegment:
    """One cue: ``movement`` was asked for from ``start_s`` to ``end_s`` (session time, s)."""

    movement: str
    start_s: float
    end_s: float
    repetition: int = 0

    def __post_init__(self) -> None:
        check_movement(self.movement, ALL_MOVEMENTS)
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)
                and self.end_s > self.start_s):
            raise ConfigError(
                f"segment {self.movement!r}: start_s={self.start_s!r}, end_s={self.end_s!r} "
                "must be finite with end_s > start_s"
            )

    def shifted(self, dt_s: float) -> CueSegment:
        return CueSegment(self.movement, self.start_s + dt_s, self.end_s + dt_s, self.repetition)


def _as_segment(s: CueSegment | Sequence) -> CueSegment:
    if isinstance(s, CueSegment):
        return s
    try:
        return CueSegment(*s)
    except TypeError:
        raise ConfigError(
            f"segments: {s!r} is not (movement, start_s, end_s[, repetition])"
        ) from None


@dataclass(frozen=True)
class CalibrationRecording:
    """A continuous labelled calibration recording.

    Attributes
    ----------
    data : (n_channels, n) float64
        Raw EMG, V.
    sampling_rate_hz : float
        Hz.
    segments : tuple of CueSegment
        Cues as (movement, start_s, end_s, repetition); plain tuples are accepted.
    start_s : float
        Session time of the first sample, s.
    channel_names : tuple of str
    """

    data: np.ndarray
    sampling_rate_hz: float
    segments: tuple[CueSegment, ...]
    start_s: float = 0.0
    channel_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        data = np.asarray(self.data, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] == 0:
            raise ConfigError(f"data: expected shape (n_channels, n > 0), got {data.shape}")
        if not (math.isfinite(self.sampling_rate_hz) and self.sampling_rate_hz > 0):
            raise ConfigError(f"sampling_rate_hz: {self.sampling_rate_hz!r} must be positive")
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "segments", tuple(_as_segment(s) for s in self.segments))
        if not self.segments:
            raise ConfigError("segments: empty; a calibration needs cue segments")

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def duration_s(self) -> float:
        return self.data.shape[1] / self.sampling_rate_hz

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[EmgChunk],
        sampling_rate_hz: float,
        segments: Iterable[CueSegment | Sequence],
        channel_names: Sequence[str] = (),
    ) -> CalibrationRecording:
        """Concatenate consecutive chunks of one source into a recording."""
        chunks = [c for c in chunks if c is not None and c.n_samples > 0]
        if not chunks:
            raise ConfigError("chunks: no samples were recorded")
        data = np.concatenate([c.data for c in chunks], axis=1)
        t = np.concatenate([c.t_s for c in chunks])
        gaps = np.diff(t)
        if gaps.size and gaps.max() > 5.0 / sampling_rate_hz:
            logger.warning("calibration chunks have a gap of %.3f s; samples were lost",
                           float(gaps.max()))
        return cls(data, float(sampling_rate_hz), tuple(segments), float(t[0]),
                   tuple(channel_names))


def cue_schedule(
    movements: Sequence[str],
    repetitions: int = 3,
    contract_s: float = 3.0,
    rest_s: float = 3.0,
    start_s: float = 0.0,
) -> list[CueSegment]:
    """The cue timeline: per movement, ``repetitions`` × (contract, then rest).

    ``rest`` in ``movements`` is not cued as a contraction; the rest after each contraction
    is a ``rest`` segment with the same repetition number. Defaults: 3 s / 3 s × 3
    (REFERENCES.md).
    """
    if int(repetitions) != repetitions or repetitions < 1:
        raise ConfigError(f"repetitions: {repetitions!r} must be a positive integer")
    if not contract_s > 0:
        raise ConfigError(f"contract_s: {contract_s!r} must be > 0 s")
    if not rest_s > 0:
        raise ConfigError(f"rest_s: {rest_s!r} must be > 0 s")
    active = [check_movement(m, ALL_MOVEMENTS) for m in movements if m != REST]
    if not active:
        raise ConfigError(f"movements: {list(movements)!r} has no movement besides rest")
    out, t = [], float(start_s)
    for movement in active:
        for rep in range(int(repetitions)):
            out.append(CueSegment(movement, t, t + contract_s, rep))
            out.append(CueSegment(REST, t + contract_s, t + contract_s + rest_s, rep))
            t += contract_s + rest_s
    return out


def simulate_calibration(
    patient,
    clock: Clock,
    cues: Sequence[CueSegment],
    level: float = 0.7,
    poll_s: float = 0.05,
) -> CalibrationRecording:
    """Run ``cues`` (times relative to now) on a started simulated patient.

    Scripts one intent per cue through ``patient.set_intent`` (``level`` for contractions,
    0 for rest), advances the clock with ``clock.sleep_until`` (a FakeClock jumps, a real
    clock sleeps) while reading every ``poll_s``, and returns the recording with its
    segments on the session clock. Samples read before the call are discarded.
    """
    if not 0 < level <= 1:
        raise ConfigError(f"level: {level!r} must be in (0, 1]")
    if not poll_s > 0:
        raise ConfigError(f"poll_s: {poll_s!r} must be > 0 s")
    drained = patient.read()  # drop what came before calibration
    # Cues start on the first sample not yet read, so the recording holds whole segments.
    t0 = clock.now() if drained is None else float(drained.t_s[-1]) + 1.0 / patient.sampling_rate_hz
    segments = [_as_segment(c).shifted(t0) for c in cues]
    for s in segments:
        patient.set_intent(s.movement, 0.0 if s.movement == REST else level, s.start_s)
    end = max(s.end_s for s in segments)
    patient.set_intent(REST, 0.0, end)
    chunks, t = [], t0
    while t < end:
        t = min(t + poll_s, end)
        clock.sleep_until(t)
        chunk = patient.read()
        if chunk is not None:
            chunks.append(chunk)
    return CalibrationRecording.from_chunks(
        chunks, patient.sampling_rate_hz, segments, patient.channel_names
    )


@dataclass(frozen=True)
class CalibrationReport:
    """Cross-validated quality of a calibration.

    Attributes
    ----------
    classes : tuple of str
        Class order of the confusion matrix (``settings.movements`` order).
    accuracy : float
        Pooled window accuracy over all folds, [0, 1].
    fold_accuracies : tuple of float
        Accuracy of each fold.
    confusion : (n_classes, n_classes) int
        Rows true class, columns predicted class, pooled over folds.
    cv_scheme : str
        ``"leave-one-repetition-out"`` or ``"stratified-k-fold(k)"``.
    n_windows : dict str -> int
        Training windows per class.
    keep_fraction : float
    """

    classes: tuple[str, ...]
    accuracy: float
    fold_accuracies: tuple[float, ...]
    confusion: np.ndarray
    cv_scheme: str
    n_windows: dict[str, int]
    keep_fraction: float

    def summary(self) -> str:
        """A one-line human summary for logs."""
        folds = ", ".join(f"{a:.2f}" for a in self.fold_accuracies)
        return (f"calibration: {self.accuracy:.1%} window accuracy ({self.cv_scheme}; "
                f"folds {folds}) over classes {list(self.classes)}")


def training_windows(
    recording: CalibrationRecording,
    model: DecoderModel,
    keep_fraction: float = DEFAULT_KEEP_FRACTION,
    onset_active_s: float | None = ONSET_ACTIVE_S,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Filtered windows of the kept middle of each segment, and of each contraction's onset.

    The whole recording is filtered once with a fresh filter of the model's settings (the
    same causal filter as live). Segments of classes the model does not decode are skipped.
    ``onset_active_s``: windows holding at least this much of a contraction after its EMG
    onset, up to the kept middle, are added (None: only the middle, as BioPatRec).

    Returns
    -------
    windows : (n_windows, n_channels, window_samples) float64
    labels : (n_windows,) str
    repetitions : (n_windows,) int
    """
    if not (math.isfinite(keep_fraction) and 0 < keep_fraction <= 1):
        raise ConfigError(f"keep_fraction: {keep_fraction!r} must be in (0, 1]")
    if recording.n_channels != model.n_channels:
        raise DecoderError(
            f"recording has {recording.n_channels} channels, decoder expects {model.n_channels}"
        )
    filtered = model.new_filter().process(recording.data)
    fs, n = recording.sampling_rate_hz, recording.data.shape[1]
    W, inc = model.window_samples, model.increment_samples
    onsets = (_OnsetFinder(recording, filtered, keep_fraction)
              if onset_active_s is not None else None)
    parts, labels, reps = [], [], []
    for s in recording.segments:
        if s.movement not in model.movements:
            logger.info("segment %s not decoded; skipped", s.movement)
            continue
        trim = (1.0 - keep_fraction) / 2 * (s.end_s - s.start_s)
        i0 = max(0, math.ceil((s.start_s + trim - recording.start_s) * fs - 1e-9))
        i1 = min(n, math.floor((s.end_s - trim - recording.start_s) * fs + 1e-9))
        w = sliding_windows(filtered[:, i0:i1], W, inc) if i1 > i0 else np.empty((0,))
        if w.shape[0] == 0:
            logger.warning("segment %s %.2f-%.2f s yields no complete window; skipped",
                           s.movement, s.start_s, s.end_s)
            continue
        if onsets is not None and s.movement != REST:
            onset_i = onsets.onset_index(s, i0)
            if onset_i is not None:
                first = onset_i + int(round(onset_active_s * fs)) - W
                starts = range(max(0, first), i0, inc)
                if len(starts):
                    w = np.concatenate([np.stack([filtered[:, j:j + W] for j in starts]), w])
        parts.append(w)
        labels.extend([s.movement] * w.shape[0])
        reps.extend([s.repetition] * w.shape[0])
    if not parts:
        raise DecoderError("recording: no segment yields a complete training window")
    return np.concatenate(parts, axis=0), np.asarray(labels), np.asarray(reps)


class _OnsetFinder:
    """Each contraction's EMG onset in a calibration recording: where the envelope rises
    through 10 % of the way from the rest level (the rest segments' kept middles) to the
    segment's own steady level, and stays above it for 50 ms."""

    HOLD_S = 0.05

    def __init__(self, recording: CalibrationRecording, filtered: np.ndarray,
                 keep_fraction: float) -> None:
        self.recording, self.keep_fraction = recording, keep_fraction
        self.fs = recording.sampling_rate_hz
        self.envelope = smoothed_envelope(filtered, self.fs)
        rest = [self._kept(s) for s in recording.segments if s.movement == REST]
        rest_values = np.concatenate([self.envelope[a:b] for a, b in rest if b > a] or
                                     [np.zeros(0)])
        self.rest_v = float(np.median(rest_values)) if rest_values.size else float(
            np.percentile(self.envelope, 10))

    def _index(self, t_s: float) -> int:
        return int(round((t_s - self.recording.start_s) * self.fs))

    def _kept(self, s: CueSegment) -> tuple[int, int]:
        trim = (1.0 - self.keep_fraction) / 2 * (s.end_s - s.start_s)
        return self._index(s.start_s + trim), self._index(s.end_s - trim)

    def onset_index(self, s: CueSegment, kept_start: int) -> int | None:
        """Sample index of ``s``'s EMG onset, between its cue and its kept middle."""
        a, b = self._kept(s)
        if b <= a:
            return None
        steady = float(np.median(self.envelope[a:b]))
        start = max(0, self._index(s.start_s))
        found = first_rise(self.envelope[start:kept_start],
                           onset_threshold_v(self.rest_v, steady),
                           int(round(self.HOLD_S * self.fs)))
        return None if found is None else start + found


def _splits(labels: np.ndarray, reps: np.ndarray, n_folds: int):
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold

    if np.unique(reps).size >= 2:
        return "leave-one-repetition-out", list(LeaveOneGroupOut().split(labels, labels, reps))
    min_count = int(min(np.unique(labels, return_counts=True)[1]))
    k = min(n_folds, min_count)
    if k < 2:
        raise DecoderError(
            f"cross-validation needs >= 2 windows per class; the smallest class has {min_count}"
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=False)
    return f"stratified-k-fold({k})", list(splitter.split(labels, labels))


def train_decoder(
    recording: CalibrationRecording,
    settings: EmgSettings,
    keep_fraction: float = DEFAULT_KEEP_FRACTION,
    *,
    n_folds: int = 5,
    onset_active_s: float | None = ONSET_ACTIVE_S,
    **model_kwargs,
) -> tuple[Decoder, CalibrationReport]:
    """Cross-validate, then fit a :class:`~mirrorvr.emg.model.DecoderModel` on all kept
    windows and wrap it in a streaming :class:`~mirrorvr.emg.decoder.Decoder`.

    Parameters
    ----------
    recording : CalibrationRecording
    settings : EmgSettings
        Decoder settings; ``settings.movements`` are the classes (each needs segments).
    keep_fraction : float
        Middle share of each segment used (BioPatRec cTp 0.7).
    n_folds : int
        k of the k-fold fallback when there is only one repetition.
    onset_active_s : float or None
        Also train each contraction's onset windows (see :func:`training_windows`).
    **model_kwargs
        Passed to :class:`~mirrorvr.emg.model.DecoderModel` (thresholds, level percentile,
        channel names; default the recording's).

    Returns
    -------
    decoder : Decoder, on the fitted model (``decoder.model``), fresh streaming state
    report : CalibrationReport
    """
    model_kwargs.setdefault("channel_names", recording.channel_names or None)

    def new_model() -> DecoderModel:
        return DecoderModel(settings, recording.sampling_rate_hz, recording.n_channels,
                            **model_kwargs)

    model = new_model()
    model.check_params()
    windows, labels, reps = training_windows(recording, model, keep_fraction, onset_active_s)
    missing = [m for m in model.movements if m not in set(labels.tolist())]
    if missing:
        raise DecoderError(f"recording: no calibration segments for classes {missing!r}")

    classes = model.movements
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    scheme, splits = _splits(labels, reps, n_folds)
    fold_acc = []
    for train, test in splits:
        fold = new_model().fit(windows[train], labels[train])
        predicted, _ = fold.predict_windows(windows[test])
        fold_acc.append(float(np.mean(predicted == labels[test])))
        np.add.at(confusion, ([index[t] for t in labels[test]],
                              [index[p] for p in predicted]), 1)
    model.fit(windows, labels)
    report = CalibrationReport(
        classes=classes,
        accuracy=float(np.trace(confusion) / confusion.sum()),
        fold_accuracies=tuple(fold_acc),
        confusion=confusion,
        cv_scheme=scheme,
        n_windows={c: int(np.sum(labels == c)) for c in classes},
        keep_fraction=float(keep_fraction),
    )
    logger.info(report.summary())
    return Decoder(model), report


def ramp_windows(
    recording: CalibrationRecording,
    model: DecoderModel,
    ramps: Sequence[CueSegment],
    peak_level: float,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Filtered windows of each ramp with the effort cued at each window's middle.

    A ramp segment asks for rest at its start and end and ``peak_level`` (fraction of
    maximum voluntary contraction) at its middle, rising and falling linearly. The recording
    is filtered once with a fresh filter (as :func:`training_windows`). Returns
    ``{class: (windows, effort)}`` for
    :meth:`DecoderModel.calibrate_levels_from_ramps
    <mirrorvr.emg.model.DecoderModel.calibrate_levels_from_ramps>`.
    """
    if not (math.isfinite(peak_level) and 0 < peak_level <= 1):
        raise ConfigError(f"peak_level: {peak_level!r} must be in (0, 1]")
    filtered = model.new_filter().process(recording.data)
    fs, n = recording.sampling_rate_hz, recording.data.shape[1]
    W, inc = model.window_samples, model.increment_samples
    out: dict[str, list] = {}
    for s in ramps:
        i0 = max(0, math.ceil((s.start_s - recording.start_s) * fs - 1e-9))
        i1 = min(n, math.floor((s.end_s - recording.start_s) * fs + 1e-9))
        w = sliding_windows(filtered[:, i0:i1], W, inc) if i1 > i0 else np.empty((0,))
        if w.shape[0] == 0:
            logger.warning("ramp %s %.2f-%.2f s yields no complete window; skipped",
                           s.movement, s.start_s, s.end_s)
            continue
        mid_s = recording.start_s + (i0 + np.arange(w.shape[0]) * inc + W / 2) / fs
        half = (s.end_s - s.start_s) / 2
        effort = peak_level * np.clip(1 - np.abs(mid_s - s.start_s - half) / half, 0, 1)
        ws, es = out.setdefault(s.movement, ([], []))
        ws.append(w)
        es.append(effort)
    return {c: (np.concatenate(ws), np.concatenate(es)) for c, (ws, es) in out.items()}
