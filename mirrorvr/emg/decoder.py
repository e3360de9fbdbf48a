"""The real-time EMG decoder: filter -> windows -> features -> classifier -> majority vote.

:class:`Decoder` wraps a fitted :class:`~mirrorvr.emg.model.DecoderModel` (features,
classifier, level range) and owns only the state of one live stream: artefact blanker,
filter, window buffer and vote. ``Decoder.process(chunk)`` turns each incoming
:class:`~mirrorvr.emg.source.EmgChunk` into one :class:`~mirrorvr.emg.intent.Intent` per
window increment (150 ms windows every 25 ms by default; BioPatRec's 200 / 50 ms are one
setting away), and one per onset found between two increments (below). That state carries
over between chunks, so chunk boundaries do not matter.

Onsets (:class:`~mirrorvr.emg.classifier.OnsetVote`): while the output is rest,
``settings.onset_windows`` windows in a row the classifier is sure of
(``settings.onset_confidence``) are a movement onset at once instead of waiting for the vote
to fill; the vote confirms or corrects everything after it. While the output is rest the
windows ending between two increments are checked too, every ``settings.onset_step_s`` (5 ms
by default), so a sure onset does not wait up to an increment for the next decision; they
only ever make an onset (the vote sees the increments' windows only). Blocks that stimulate
ask for more sure windows, checked at the increments only
(:meth:`Decoder.set_onset_windows`).

Rejection (``settings.rejection_threshold``, REFERENCES.md / LibEMG 0.9): a window whose top
class probability is below the threshold is decided ``rest`` before the vote.

Level: the voted class's proportional level, :meth:`DecoderModel.levels
<mirrorvr.emg.model.DecoderModel.levels>`; ``rest`` has level 0.

A decoder comes from :func:`mirrorvr.emg.calibration.train_decoder` (which fits and
cross-validates the model) or :meth:`Decoder.load`; ``Decoder(model)`` wraps a model fitted
by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mirrorvr.config import EmgSettings
from mirrorvr.emg.blanking import ArtefactBlanker
from mirrorvr.emg.classifier import OnsetVote, make_classifier, reject_low_confidence
from mirrorvr.emg.features import hudgins
from mirrorvr.emg.filters import EmgFilter
from mirrorvr.emg.intent import Intent
from mirrorvr.emg.model import DecoderModel
from mirrorvr.emg.model_io import load_model, save_model
from mirrorvr.emg.source import EmgChunk
from mirrorvr.emg.windowing import SlidingWindower
from mirrorvr.errors import DecoderError
from mirrorvr.movements import REST


def warm_up(settings: EmgSettings) -> None:
    """Load now what the first training and the first live window would otherwise load
    while a session runs and its watchdog watches: the compiled filter and feature kernels
    (~0.1 s; compiled ~1 s the first time on a machine) and scikit-learn with the
    configured classifier (~0.3 s). Each holds the interpreter while it loads."""
    hudgins(np.zeros((1, 1, 3)))
    EmgFilter(1, 1000.0).process(np.zeros((1, 3)))
    make_classifier(settings.classifier)
    import sklearn.model_selection  # noqa: F401 - the calibration's cross-validation


class Decoder:
    """Streaming movement decoder: a fitted model and the state of one live stream.

    Parameters
    ----------
    model : DecoderModel
        Fitted (:meth:`DecoderModel.fit <mirrorvr.emg.model.DecoderModel.fit>` or
        :func:`~mirrorvr.emg.model_io.load_model`); an unfitted one raises
        :class:`~mirrorvr.errors.DecoderError`. Later level calibrations of the model
        (``decoder.model.calibrate_levels*``) apply to this decoder at once.

    Attributes
    ----------
    model : DecoderModel
    filter : EmgFilter
        Causal band-pass/notch filter of the raw EMG, ``model.n_channels`` channels.
    windower : SlidingWindower
        Window buffer: ``model.window_samples`` every ``model.onset_step_samples`` (every
        ``model.increment_samples // model.onset_step_samples``-th is an increment's).
    vote : OnsetVote
        Majority vote with onset pass-through.
    blanker : ArtefactBlanker
        Stimulation-artefact blanking before the filter (see :meth:`blank`).
    rejection_threshold : float
        Top-class probability below which a window is decided rest, [0, 1].
    """

    def __init__(self, model: DecoderModel) -> None:
        model.check_fitted()
        model.check_params()
        settings = model.settings
        self.model = model
        self.rejection_threshold = float(settings.rejection_threshold)
        self.filter = model.new_filter()
        step = model.onset_step_samples
        self.windower = SlidingWindower(int(model.n_channels), model.window_samples, step)
        #: windows per increment: window k (since the reset) is an increment's when
        #: k % _per_increment == 0, the others are onset checks
        self._per_increment = model.increment_samples // step
        self._index = 0
        #: check the windows between the increments for onsets (set_onset_windows)
        self.onsets_between_increments = True
        self.vote = OnsetVote(settings.majority_vote, settings.onset_confidence,
                              settings.onset_windows)
        self.blanker = ArtefactBlanker(int(model.n_channels))

    @classmethod
    def load(cls, path, channel_names: Sequence[str] | None = None,
             sampling_rate_hz: float | None = None) -> Decoder:
        """A decoder on the model saved at ``path``; refuses a different channel layout
        (names in order) or sampling rate, Hz (see :func:`~mirrorvr.emg.model_io.load_model`)."""
        return cls(load_model(path, channel_names=channel_names,
                              sampling_rate_hz=sampling_rate_hz))

    def save(self, path, report=None) -> None:
        """Write the model (and its CalibrationReport) to ``path`` (.npz); see
        :mod:`mirrorvr.emg.model_io` for the format."""
        save_model(self.model, path, report)

    # ------------------------------------------------------------------ decoding

    def process(self, chunk: EmgChunk) -> list[Intent]:
        """Decode the windows completed by ``chunk``: one :class:`Intent` per increment,
        and one for each onset found between two increments.

        ``chunk.data`` is ``(n_channels, n)`` raw EMG, V; ``chunk.t_s`` its sample times, s.
        """
        model = self.model
        classifier = model.check_fitted()
        data = np.asarray(chunk.data, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] != model.n_channels:
            raise DecoderError(
                f"chunk.data: shape {data.shape} does not match n_channels={model.n_channels}"
            )
        raw = self.blanker.process(chunk.t_s, data)
        windows, t_end = self.windower.push(chunk.t_s, self.filter.process(raw))
        n = windows.shape[0]
        if n == 0:
            return []
        on_increment = (self._index + np.arange(n)) % self._per_increment == 0
        self._index += n
        if not self.onsets_between_increments and not on_increment.all():
            windows, t_end = windows[on_increment], t_end[on_increment]
            on_increment = on_increment[on_increment]
            if windows.shape[0] == 0:
                return []
        labels, proba = classifier.decide(model.features(windows))
        raw = reject_low_confidence(labels, proba, self.rejection_threshold).tolist()
        top = proba.max(axis=1).tolist()
        vote, decided, voted = self.vote, [], []
        for i, (label, p) in enumerate(zip(raw, top, strict=True)):
            if on_increment[i]:
                voted.append(vote.update_sure(label, p))
            elif vote.output == REST and vote.check_onset(label, p):
                voted.append(label)
            else:
                continue
            decided.append(i)
        if not decided:
            return []
        col = {c: i for i, c in enumerate(classifier.classes_)}
        # rest has level 0 by definition; the level range is only looked up for movements
        levels = (model.levels(windows[decided], voted) if voted.count(REST) < len(voted)
                  else None)
        intents = []
        for j, (i, movement) in enumerate(zip(decided, voted, strict=True)):
            level = 0.0 if movement == REST else float(levels[j])
            intents.append(Intent(
                t_s=float(t_end[i]), movement=movement, level=level,
                confidence=float(proba[i, col[movement]]) if movement in col else 0.0,
            ))
        return intents

    def set_onset_windows(self, k: int, at_increments: bool = False) -> None:
        """From now on, ``k`` sure windows in a row make an onset (see :class:`OnsetVote`),
        looked for every ``settings.onset_step_s`` while the output is rest, or with
        ``at_increments`` only in the increments' windows (where an onset stimulates: ``k``
        windows in a row then span ``k - 1`` increments)."""
        self.vote.set_onset_windows(k)
        self.onsets_between_increments = not at_increments

    def blank(self, t_start_s: float, t_end_s: float) -> None:
        """Blank the raw EMG during a stimulation pulse or train (session time, s).

        Call it with each EMS pulse/train interval, before its samples are decoded; see
        :mod:`mirrorvr.emg.blanking`. Thread-safe.
        """
        self.blanker.blank(t_start_s, t_end_s)

    def reset(self) -> None:
        """Clear the streaming state (filter, window buffer, vote, blanking); keep the model."""
        self.filter.reset()
        self.windower.reset()
        self._index = 0
        self.vote.reset()
        self.blanker.reset()
