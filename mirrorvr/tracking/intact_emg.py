"""Intact-side EMG as a pose source (``"intact_emg"``).

Electrodes on the intact forearm or leg; a decoder calibrated on the intact side
(:mod:`mirrorvr.emg.decoder`) decides movement and level every window increment, and the
intact limb's pose is that movement at that level (:func:`~mirrorvr.limb.poses.target_pose`).
This is the condition of Yanagisawa et al. (Neurology 2020): a decoder built from
intact-hand movements drives the virtual hand. Every sample carries the decoder's movement
and level, so the driver does not classify the pose; the recording names the source.

The decoder is either given (a model file from an earlier calibration of these electrodes)
or calibrated here: :meth:`IntactEmgSource.calibrate` hands over labelled cue segments
(session time) — in a session, the first cue cycles of the first mirror block, which the
patient performs with the intact limb — and once the last one has been recorded the decoder
is trained (on a worker thread in real time, at once on a fake clock) and starts driving.
Until then :attr:`IntactEmgSource.problem` says it is calibrating, so the driver shows no
tracked pose. When no EMG sample comes for ``silence_s`` the problem says so, tracking is
lost and mirror-mode stimulation stops (SAFETY.md 14).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np

from mirrorvr.emg.calibration import (
    CalibrationRecording,
    CueSegment,
    cue_schedule,
    simulate_calibration,
    train_decoder,
)
from mirrorvr.emg.liveness import StreamWatch
from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import ConfigError, MirrorVRError
from mirrorvr.limb.poses import target_pose
from mirrorvr.movements import REST
from mirrorvr.tracking.source import PoseSample, check_source_limb

log = logging.getLogger(__name__)

#: Middle share of each calibration cue kept for training. Smaller than BioPatRec's 0.7
#: (REFERENCES.md): a mirror cue's contraction lasts ~1.75 s, and 0.6 trims 0.35 s at each
#: end, more than a reaction time, so no window straddles the onset.
CALIBRATION_KEEP_FRACTION = 0.6


class IntactEmgSource:
    """Decoded intact-side EMG -> intact-limb poses.

    Parameters
    ----------
    emg_source : EmgSource
        The intact side's electrodes (started and stopped with this source).
    side, limb : str
        The intact side and its limb.
    settings : EmgSettings
        The intact side's EMG settings (mains, and the decoder's for a calibration here).
    decoder : Decoder, optional
        Trained on these electrodes (same channel names); None: :meth:`calibrate` first.
    accuracy : float, optional
        The given decoder's cross-validated accuracy, if known (a model file's report).
    calibration_repetitions : int
        Cue cycles a session's calibration takes (:func:`calibration_segments`).
    min_accuracy_for_stim : float
        Cross-validated accuracy the decoder needs before its movements may trigger
        stimulation (SAFETY.md 14; the session checks it), 0..1.
    silence_s : float
        No EMG sample for this long: the stream counts as stopped, s.
    train_in_background : bool
        Train on a worker thread (real time) or within :meth:`read` (a fake clock, where
        no session time passes while it trains).
    """

    name = "intact_emg"

    def __init__(self, emg_source, side: str, limb: str, settings, decoder=None, *,
                 accuracy: float | None = None, calibration_repetitions: int = 2,
                 min_accuracy_for_stim: float = 0.8, silence_s: float = 0.5,
                 train_in_background: bool = True) -> None:
        self.side, self.limb, _ = check_source_limb(side, limb)
        self.emg_source, self.settings = emg_source, settings
        self.calibration_repetitions = int(calibration_repetitions)
        self.min_accuracy_for_stim = float(min_accuracy_for_stim)
        self.decoder = None
        #: (k, at_increments) for set_onset_windows; None: the decoder's own
        self._onset_windows: tuple[int, bool] | None = None
        #: cross-validated accuracy of the decoder in use (None: not known)
        self.accuracy = accuracy
        #: the CalibrationReport of a calibration made here
        self.report = None
        if decoder is not None:
            self._use(decoder, accuracy)
        self.train_in_background = bool(train_in_background)
        self.silence_s = float(silence_s)
        #: called with every chunk read (on the control thread): the session records it
        self.on_chunk: Callable[[EmgChunk], None] | None = None
        self._watch = StreamWatch(self.silence_s)
        self._segments: tuple[CueSegment, ...] = ()
        self._chunks: list[EmgChunk] = []
        self._worker: threading.Thread | None = None
        self._trained: tuple | None = None  # (decoder, report) from the worker
        self._failure: Exception | None = None  # what the worker raised unexpectedly
        #: why the calibration failed (None: it did not)
        self.calibration_error: str | None = None

    def _use(self, decoder, accuracy: float | None) -> None:
        trained = decoder.model.channel_names_
        if tuple(self.emg_source.channel_names) != tuple(trained):
            raise ConfigError(
                f"decoder: trained on channels {list(trained)}, the intact-side "
                f"EMG has {list(self.emg_source.channel_names)}")
        self.decoder, self.accuracy = decoder, accuracy
        if self._onset_windows is not None:
            decoder.set_onset_windows(*self._onset_windows)

    def set_onset_windows(self, k: int, at_increments: bool = False) -> None:
        """``k`` sure windows in a row make an onset, for the decoder in use and one trained
        later (a block that stimulates asks for more, at the increments only: a wrong onset
        stimulates); see :meth:`mirrorvr.emg.decoder.Decoder.set_onset_windows`."""
        self._onset_windows = (int(k), bool(at_increments))
        if self.decoder is not None:
            self.decoder.set_onset_windows(*self._onset_windows)

    # ------------------------------------------------------------------ calibration

    def calibrate(self, segments: Sequence[CueSegment]) -> None:
        """Train a decoder on the intact-side EMG of ``segments`` (session time, s; rest
        and movements, with repetitions) once the last one has been recorded."""
        segments = tuple(segments)
        if not segments:
            raise ConfigError("calibrate: no cue segments given")
        self.decoder, self.accuracy, self.report = None, None, None
        self.calibration_error = None
        self._segments, self._chunks, self._trained = segments, [], None

    @property
    def calibrating(self) -> bool:
        """Between :meth:`calibrate` and a trained decoder (or a failed calibration)."""
        return bool(self._segments) and self.decoder is None and self.calibration_error is None

    @property
    def calibration_end_s(self) -> float | None:
        """When the last calibration segment ends, s (None: no calibration asked for)."""
        return max(s.end_s for s in self._segments) if self._segments else None

    def classes(self) -> tuple[str, ...]:
        """The calibration's classes: rest, then the cued movements in order of appearance."""
        return tuple(dict.fromkeys([REST] + [s.movement for s in self._segments]))

    def _train(self) -> None:
        recording = CalibrationRecording.from_chunks(
            self._chunks, self.emg_source.sampling_rate_hz, self._segments,
            channel_names=self.emg_source.channel_names)
        settings = self.settings.model_copy(update={"movements": self.classes()})
        self._trained = train_decoder(recording, settings,
                                      keep_fraction=CALIBRATION_KEEP_FRACTION)

    def _train_guarded(self) -> None:
        try:
            self._train()
        except MirrorVRError as err:  # too little EMG, a class never seen: said, not raised
            self.calibration_error = str(err)
            log.error("intact-side calibration failed: %s", err)
        except Exception as err:  # a bug: re-raised on the control thread (read)
            self._failure = err

    def _calibration_step(self, chunk: EmgChunk | None, now_s: float) -> None:
        if chunk is not None and self._worker is None and self._trained is None:
            self._chunks.append(chunk)  # (not while the worker reads them)
        recorded = bool(self._chunks) and self._chunks[-1].t_s[-1] >= self.calibration_end_s
        if self._worker is None and self._trained is None and recorded:
            if self.train_in_background:
                self._worker = threading.Thread(target=self._train_guarded, daemon=True,
                                                name="mirrorvr-intact-calibration")
                self._worker.start()
            else:
                self._train_guarded()
        if self._worker is not None and not self._worker.is_alive():
            self._worker = None
        if self._failure is not None and self._worker is None:
            raise self._failure
        if self._trained is not None and self._worker is None:
            decoder, report = self._trained
            self._use(decoder, report.accuracy)
            self.report, self._chunks = report, []
            log.info("intact-side decoder trained at %.3f s: %s", now_s, report.summary())

    # ------------------------------------------------------------------ IntactLimbSource

    @property
    def problem(self) -> str | None:
        if self.calibration_error is not None:
            return f"intact-side calibration failed: {self.calibration_error}"
        if self.calibrating:
            return "calibrating the intact-side decoder"
        gap = self._watch.open_gap
        if gap is not None:
            return f"intact-side EMG stopped ({gap.reason})"
        return None

    def start(self) -> None:
        self._watch = StreamWatch(self.silence_s)
        if self.decoder is not None:  # a new stretch of EMG: no filter state from the last
            self.decoder.reset()
        self.emg_source.start()

    def read(self, now_s: float) -> list[PoseSample]:
        chunk = self.emg_source.read()
        got = chunk is not None and chunk.n_samples > 0
        ended = "the EMG source ended" if self.emg_source.finished and not got else None
        self._watch.update(now_s, float(chunk.t_s[0]) if got else None,
                           float(chunk.t_s[-1]) if got else None, ended)
        if got and self.on_chunk is not None:
            self.on_chunk(chunk)
        if self.calibrating:
            self._calibration_step(chunk if got else None, now_s)
            return []
        if not got or self.decoder is None:
            return []
        if not np.isfinite(chunk.data).all():  # one NaN would stay in the filters for good
            chunk = EmgChunk(chunk.t_s, np.nan_to_num(chunk.data, nan=0.0, posinf=0.0,
                                                      neginf=0.0))
        out = []
        for intent in self.decoder.process(chunk):
            level = 0.0 if intent.movement == REST else intent.level
            pose = target_pose(intent.movement, level, self.side, self.limb)
            out.append(PoseSample(intent.t_s, pose.angles, 1.0, now_s,
                                  movement=intent.movement, level=level))
        return out

    def stop(self) -> None:
        self.emg_source.stop()


def calibration_segments(cues, movements, start_s: float,
                         repetitions: int) -> list[CueSegment]:
    """The labelled segments of a mirror block's first ``repetitions`` cue cycles.

    ``cues`` are the block's cues (``movement``, ``start_s``, ``end_s`` from the block's
    start, ``repetition``: the cycle they belong to) over its ``movements``; each of the
    first ``repetitions`` cycles gives every movement and the rest after it. At least one
    cue must follow, to mirror.

    Raises
    ------
    ConfigError
        When the block holds fewer cues than that, naming how many it needs.
    """
    active = [m for m in movements if m != REST]
    needed = repetitions * len(active)
    if len(cues) <= needed:
        raise ConfigError(
            f"calibration_repetitions = {repetitions}: the intact-side calibration takes "
            f"{needed} cues ({repetitions} of each of {len(active)} movements) and one more "
            f"to mirror; the first mirror block holds {len(cues)}")
    segments = []
    for cue, after in zip(cues[:needed], cues[1:needed + 1], strict=True):
        segments.append(CueSegment(cue.movement, start_s + cue.start_s, start_s + cue.end_s,
                                   cue.repetition))
        segments.append(CueSegment(REST, start_s + cue.end_s, start_s + after.start_s,
                                   cue.repetition))
    return segments


def calibrate_on_simulated_patient(patient, clock, settings, repetitions: int = 2,
                                   contract_s: float = 2.0, rest_s: float = 2.0):
    """Cue the simulated intact side through ``settings.movements`` and train its decoder.

    Returns the trained :class:`~mirrorvr.emg.decoder.Decoder` and its
    :class:`~mirrorvr.emg.calibration.CalibrationReport` (a real patient's intact side is
    calibrated in the session, by :meth:`IntactEmgSource.calibrate`, the same way).
    """
    cues = cue_schedule(settings.movements, repetitions, contract_s, rest_s)
    recording = simulate_calibration(patient, clock, cues)
    return train_decoder(recording, settings)
