"""The real-time EMG decoder: filter -> windows -> features -> classifier -> majority vote.

``Decoder.process(chunk)`` turns each incoming :class:`~mirrorvr.emg.source.EmgChunk` into
one :class:`~mirrorvr.emg.intent.Intent` per window increment (150 ms windows every 25 ms by
default; BioPatRec's 200 / 50 ms are one setting away). Filter, window buffer and vote history
are stateful, so chunk boundaries do not matter.

Onsets (:class:`~mirrorvr.emg.classifier.OnsetVote`): while the output is rest,
``settings.onset_windows`` windows in a row the classifier is sure of
(``settings.onset_confidence``) are a movement onset at once instead of waiting for the vote
to fill; the vote confirms or corrects everything after it. Blocks that stimulate ask for
more sure windows (:meth:`Decoder.set_onset_windows`).

Rejection (``settings.rejection_threshold``, REFERENCES.md / LibEMG 0.9): a window whose top
class probability is below the threshold is decided ``rest`` before the vote.

Proportional level (REFERENCES.md: "velocity/proportional output scaled between per-class rest
and MVC levels"; :mod:`mirrorvr.emg.proportional`): with ``m`` the mean MAV over channels of
the window, ``level = map(clip((m - rest_mav_v) / (max_mav_v[class] - rest_mav_v), 0, 1))``
for the voted class with ``settings.level_map`` (linear, quadratic, logistic); ``rest`` has
level 0. By default ``rest_mav_v`` is the median of ``m`` over the rest windows of
calibration and ``max_mav_v[class]`` the ``level_percentile`` (95th) percentile of ``m`` over
that class's windows — a robust "maximum seen in calibration"; :meth:`Decoder.calibrate_levels`
sets both from dedicated rest and MVC recordings instead.

A decoder is trained from filtered calibration windows with :meth:`Decoder.fit`; most
callers use :func:`mirrorvr.emg.calibration.train_decoder`, which also cross-validates.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from mirrorvr.config import EmgSettings
from mirrorvr.emg.blanking import ArtefactBlanker
from mirrorvr.emg.classifier import (
    Classifier,
    OnsetVote,
    check_classifier_name,
    make_classifier,
    reject_low_confidence,
)
from mirrorvr.emg.features import check_feature_names, extract_features, hudgins
from mirrorvr.emg.filters import EmgFilter
from mirrorvr.emg.intent import Intent
from mirrorvr.emg.proportional import check_level_map, map_level, normalised_effort
from mirrorvr.emg.source import EmgChunk
from mirrorvr.emg.windowing import SlidingWindower
from mirrorvr.errors import ConfigError, DecoderError
from mirrorvr.movements import REST

logger = logging.getLogger(__name__)


def training_hash(windows: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 (hex) of training windows (float64, C order, with their shape) and labels."""
    import hashlib

    h = hashlib.sha256()
    w = np.ascontiguousarray(windows, dtype=np.float64)
    h.update(repr(w.shape).encode())
    h.update(w.tobytes())
    h.update("\x00".join(np.asarray(labels).astype(str).tolist()).encode())
    return h.hexdigest()


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
    """Streaming movement decoder for one electrode set-up.

    Parameters
    ----------
    settings : EmgSettings
        Band-pass, mains, window/increment, features, classifier, vote length, classes.
    sampling_rate_hz : float
        Sampling rate of the source, Hz.
    n_channels : int
        Number of EMG channels of the source.
    zc_threshold_v : float
        ZC amplitude threshold, V (see :mod:`mirrorvr.emg.features`).
    ssc_threshold_v2 : float
        SSC slope-product threshold, V².
    level_percentile : float
        Percentile of per-class calibration MAV taken as that class's maximum.
    """

    def __init__(
        self,
        settings: EmgSettings,
        sampling_rate_hz: float,
        n_channels: int,
        *,
        zc_threshold_v: float = 0.0,
        ssc_threshold_v2: float = 0.0,
        level_percentile: float = 95.0,
        channel_names: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(settings, EmgSettings):
            raise ConfigError(f"settings: expected EmgSettings, got {type(settings).__name__}")
        if not (isinstance(sampling_rate_hz, (int, float)) and math.isfinite(sampling_rate_hz)
                and sampling_rate_hz > 0):
            raise ConfigError(f"sampling_rate_hz: {sampling_rate_hz!r} must be a positive number")
        if int(n_channels) != n_channels or n_channels < 1:
            raise ConfigError(f"n_channels: {n_channels!r} must be a positive integer")
        if not 0 < level_percentile <= 100:
            raise ConfigError(f"level_percentile: {level_percentile!r} must be in (0, 100]")
        self.settings = settings
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.n_channels = int(n_channels)
        self.feature_names = check_feature_names(settings.features, "emg.features")
        self.classifier_name = check_classifier_name(settings.classifier, "emg.classifier")
        self.level_map = check_level_map(settings.level_map)
        self.rejection_threshold = float(settings.rejection_threshold)
        self.window_samples = int(round(settings.window_s * self.sampling_rate_hz))
        self.increment_samples = int(round(settings.increment_s * self.sampling_rate_hz))
        if self.window_samples < 3:
            raise ConfigError(
                f"emg.window_s: {settings.window_s} s is {self.window_samples} samples at "
                f"{self.sampling_rate_hz} Hz; need at least 3"
            )
        if self.increment_samples < 1:
            raise ConfigError(
                f"emg.increment_s: {settings.increment_s} s is less than one sample at "
                f"{self.sampling_rate_hz} Hz"
            )
        self.movements: tuple[str, ...] = tuple(settings.movements)
        self.zc_threshold_v = float(zc_threshold_v)
        self.ssc_threshold_v2 = float(ssc_threshold_v2)
        self.level_percentile = float(level_percentile)

        self.filter = self.new_filter()
        self.windower = SlidingWindower(
            self.n_channels, self.window_samples, self.increment_samples
        )
        self.vote = OnsetVote(settings.majority_vote, settings.onset_confidence,
                              settings.onset_windows)
        #: Stimulation-artefact blanking before the filter (see :meth:`blank`).
        self.blanker = ArtefactBlanker(self.n_channels)
        self.classifier: Classifier | None = None
        self.rest_mav_v: float = 0.0
        self.max_mav_v: dict[str, float] = {}
        names = tuple(channel_names) if channel_names else tuple(
            f"EMG{i + 1}" for i in range(self.n_channels))
        if len(names) != self.n_channels or len(set(names)) != len(names):
            raise ConfigError(
                f"channel_names: {list(names)!r} must be {self.n_channels} distinct names"
            )
        #: Electrode layout the decoder is trained for (a loaded model refuses another).
        self.channel_names: tuple[str, ...] = tuple(str(n) for n in names)
        #: SHA-256 of the training windows and labels (set by :meth:`fit`).
        self.training_data_sha256: str = ""

    # ------------------------------------------------------------------ pieces

    def new_filter(self) -> EmgFilter:
        """A fresh filter with this decoder's settings (calibration filters with one)."""
        return EmgFilter(
            self.n_channels, self.sampling_rate_hz, self.settings.bandpass_hz,
            self.settings.mains_hz,
        )

    def features(self, windows: np.ndarray) -> np.ndarray:
        """Feature matrix ``(n_windows, n_channels * n_features)`` of filtered windows.

        Units per feature (V, counts; ln V for amplitude features with
        ``settings.log_amplitude``), see :func:`~mirrorvr.emg.features.extract_features`.
        """
        return extract_features(
            windows, self.feature_names,
            zc_threshold_v=self.zc_threshold_v, ssc_threshold_v2=self.ssc_threshold_v2,
            sampling_rate_hz=self.sampling_rate_hz, log_amplitude=self.settings.log_amplitude,
        )

    @staticmethod
    def mean_mav(windows: np.ndarray) -> np.ndarray:
        """Mean over channels of each window's MAV, ``(n_windows,)`` V."""
        return np.abs(np.asarray(windows, dtype=np.float64)).mean(axis=(1, 2))

    @property
    def is_fitted(self) -> bool:
        return self.classifier is not None and self.classifier.is_fitted

    @property
    def classes(self) -> tuple[str, ...]:
        """Classes the trained classifier knows (its own order)."""
        return self.classifier.classes_ if self.classifier is not None else ()

    # ------------------------------------------------------------------ training

    def fit(self, windows: np.ndarray, labels: Sequence[str]) -> Decoder:
        """Train on filtered calibration windows.

        Parameters
        ----------
        windows : (n_windows, n_channels, window_samples) float
            Windows of the **filtered** signal (see :meth:`new_filter`), V.
        labels : (n_windows,) str
            Movement class of each window; every class of ``settings.movements`` must occur.
        """
        w = np.asarray(windows, dtype=np.float64)
        y = np.asarray(labels).astype(str)
        expected = (self.n_channels, self.window_samples)
        if w.ndim != 3 or w.shape[1:] != expected:
            raise DecoderError(
                f"windows: shape {w.shape} does not match (n_windows, {expected[0]}, {expected[1]})"
            )
        if y.shape != (w.shape[0],):
            raise DecoderError(f"labels: shape {y.shape} does not match {w.shape[0]} windows")
        present = set(y.tolist())
        unknown = sorted(present - set(self.movements))
        if unknown:
            raise DecoderError(
                f"labels: {unknown!r} are not decoded classes "
                f"(emg.movements={list(self.movements)})"
            )
        missing = [m for m in self.movements if m not in present]
        if missing:
            raise DecoderError(f"labels: no calibration windows for classes {missing!r}")
        classifier = make_classifier(self.classifier_name).fit(self.features(w), y)

        m = self.mean_mav(w)
        rest = m[y == REST]
        self.rest_mav_v = float(np.median(rest)) if rest.size else 0.0
        self.max_mav_v = {}
        for cls in self.movements:
            if cls == REST:
                continue
            top = float(np.percentile(m[y == cls], self.level_percentile))
            if top <= self.rest_mav_v:
                logger.warning(
                    "class %s: calibration MAV %.3g V is not above rest %.3g V; level stays 0",
                    cls, top, self.rest_mav_v,
                )
            self.max_mav_v[cls] = top
        self.classifier = classifier
        self.training_data_sha256 = training_hash(w, y)
        self.reset()
        logger.debug("decoder trained on %d windows, classes %s", w.shape[0], classifier.classes_)
        return self

    def _check_fitted(self) -> Classifier:
        if self.classifier is None or not self.classifier.is_fitted:
            raise DecoderError(
                "decoder is not trained; train it with calibration.train_decoder() or fit()"
            )
        return self.classifier

    # ------------------------------------------------------------------ decoding

    def calibrate_levels(
        self, rest_windows: np.ndarray, mvc_windows: dict[str, np.ndarray],
        percentile: float | None = None,
    ) -> None:
        """Set the level range from a rest recording and per-class MVC recordings.

        Parameters
        ----------
        rest_windows : (n, n_channels, window_samples) float
            Filtered windows at rest, V; ``rest_mav_v`` becomes their median mean-MAV.
        mvc_windows : dict class -> (n, n_channels, window_samples) float
            Filtered windows of a maximal contraction per class, V; ``max_mav_v[class]``
            becomes the ``percentile`` (default ``level_percentile``) of their mean-MAV.
        """
        pct = self.level_percentile if percentile is None else float(percentile)
        rest = self.mean_mav(rest_windows)
        if rest.size == 0:
            raise DecoderError("rest_windows: empty; need at least one rest window")
        allowed = set(self.movements) - {REST}
        if set(mvc_windows) - allowed:
            raise DecoderError(
                f"mvc_windows: {sorted(mvc_windows)!r} must name decoded classes other than "
                f"rest (allowed: {[m for m in self.movements if m != REST]})"
            )
        tops = {}
        for cls, w in mvc_windows.items():
            m = self.mean_mav(w)
            if m.size == 0:
                raise DecoderError(f"mvc_windows[{cls!r}]: empty")
            tops[cls] = float(np.percentile(m, pct))
        self.rest_mav_v = float(np.median(rest))
        self.max_mav_v.update(tops)
        for cls, top in tops.items():
            if top <= self.rest_mav_v:
                logger.warning("class %s: MVC %.3g V is not above rest %.3g V; level stays 0",
                               cls, top, self.rest_mav_v)

    def calibrate_levels_from_ramps(
        self, ramps: dict[str, tuple[np.ndarray, np.ndarray]],
    ) -> dict[str, dict[str, float]]:
        """Set each class's maximum from a ramp recording: cued effort against mean-MAV.

        Parameters
        ----------
        ramps : dict class -> (windows (n, n_channels, window_samples) V, effort (n,))
            Filtered windows of a ramp and the effort cued at each (fraction of maximum
            voluntary contraction, [0, 1]).

        A least-squares line ``m = a + b * effort`` through each class's windows is
        extrapolated to full effort: ``max_mav_v[class] = a + b``. A ramp up and down again
        lags the cue by the same reaction time both ways, so the line is not tilted by it.
        ``rest_mav_v`` stays as it is. Returns ``{class: {"intercept_v", "slope_v",
        "max_mav_v"}}``.
        """
        allowed = set(self.movements) - {REST}
        if set(ramps) - allowed:
            raise DecoderError(
                f"ramps: {sorted(ramps)!r} must name decoded classes other than rest "
                f"(allowed: {[m for m in self.movements if m != REST]})"
            )
        fits = {}
        for cls, (w, effort) in ramps.items():
            m = self.mean_mav(w)
            e = np.asarray(effort, dtype=np.float64)
            if e.shape != m.shape or e.size < 2 or np.ptp(e) <= 0:
                raise DecoderError(
                    f"ramps[{cls!r}]: need >= 2 windows with different efforts "
                    f"({m.size} windows, {e.size} efforts)"
                )
            slope, intercept = np.polyfit(e, m, 1)
            top = float(intercept + slope)
            if slope <= 0 or top <= self.rest_mav_v:
                logger.warning("class %s: ramp MAV does not rise with effort (slope %.3g V); "
                               "level range kept", cls, slope)
                continue
            self.max_mav_v[cls] = top
            fits[cls] = {"intercept_v": float(intercept), "slope_v": float(slope),
                         "max_mav_v": top}
        return fits

    def levels(self, windows: np.ndarray, movements: Sequence[str]) -> np.ndarray:
        """Proportional level in [0, 1] of each window for the given class, ``(n_windows,)``."""
        m = self.mean_mav(windows)
        tops = np.array([self.max_mav_v.get(c, -np.inf) for c in movements], dtype=np.float64)
        if tops.shape != m.shape:
            raise DecoderError(f"movements: {len(tops)} labels for {m.shape[0]} windows")
        return map_level(normalised_effort(m, self.rest_mav_v, tops), self.level_map)

    def predict_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stateless per-window decisions (no vote) on filtered windows.

        Returns
        -------
        labels : (n_windows,) str
        proba : (n_windows, n_classes) float, columns in :attr:`classes` order
        """
        return self._check_fitted().decide(self.features(windows))

    def process(self, chunk: EmgChunk) -> list[Intent]:
        """Decode the windows completed by ``chunk``: one :class:`Intent` per increment.

        ``chunk.data`` is ``(n_channels, n)`` raw EMG, V; ``chunk.t_s`` its sample times, s.
        """
        classifier = self._check_fitted()
        data = np.asarray(chunk.data, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] != self.n_channels:
            raise DecoderError(
                f"chunk.data: shape {data.shape} does not match n_channels={self.n_channels}"
            )
        raw = self.blanker.process(chunk.t_s, data)
        windows, t_end = self.windower.push(chunk.t_s, self.filter.process(raw))
        if windows.shape[0] == 0:
            return []
        labels, proba = classifier.decide(self.features(windows))
        raw = reject_low_confidence(labels, proba, self.rejection_threshold)
        voted = self.vote.process_sure(raw.tolist(), proba.max(axis=1).tolist())
        col = {c: i for i, c in enumerate(classifier.classes_)}
        # rest has level 0 by definition; the level range is only looked up for movements
        levels = self.levels(windows, voted) if voted.count(REST) < len(voted) else None
        intents = []
        for i, movement in enumerate(voted):
            level = 0.0 if movement == REST else float(levels[i])
            intents.append(Intent(
                t_s=float(t_end[i]), movement=movement, level=level,
                confidence=float(proba[i, col[movement]]) if movement in col else 0.0,
            ))
        return intents

    def set_onset_windows(self, k: int) -> None:
        """From now on, ``k`` sure windows in a row make an onset (see :class:`OnsetVote`)."""
        self.vote.set_onset_windows(k)

    def blank(self, t_start_s: float, t_end_s: float) -> None:
        """Blank the raw EMG during a stimulation pulse or train (session time, s).

        Call it with each EMS pulse/train interval, before its samples are decoded; see
        :mod:`mirrorvr.emg.blanking`. Thread-safe.
        """
        self.blanker.blank(t_start_s, t_end_s)

    def save(self, path, report=None) -> None:
        """Write the trained decoder (and its CalibrationReport) to ``path`` (.npz).

        See :mod:`mirrorvr.emg.model_io` for the format.
        """
        from mirrorvr.emg.model_io import save_decoder

        save_decoder(self, path, report)

    @classmethod
    def load(cls, path, channel_names: Sequence[str] | None = None,
             sampling_rate_hz: float | None = None) -> Decoder:
        """Read a saved decoder; refuses a different channel layout or sampling rate."""
        from mirrorvr.emg.model_io import load_decoder

        return load_decoder(path, channel_names=channel_names, sampling_rate_hz=sampling_rate_hz)

    def reset(self) -> None:
        """Clear the streaming state (filter, window buffer, vote); keep the training."""
        self.filter.reset()
        self.windower.reset()
        self.vote.reset()
        self.blanker.reset()
