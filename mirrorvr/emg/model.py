"""The fitted decoder model: features -> classifier, and the proportional level range.

:class:`DecoderModel` follows scikit-learn's conventions: ``__init__`` only stores its
hyper-parameters (settings, sampling rate, channels, thresholds), :meth:`DecoderModel.fit`
checks them and the data and sets the learned attributes, whose names end in ``_``
(``classifier_``, ``classes_``, ``rest_mav_v_``, ``max_mav_v_``, ...). Every method is a
pure function of the windows it is given: the streaming state (filter, window buffer, vote,
artefact blanking) belongs to :class:`mirrorvr.emg.decoder.Decoder`, which wraps a fitted
model; :mod:`mirrorvr.emg.model_io` saves and loads one.

Proportional level (REFERENCES.md: "velocity/proportional output scaled between per-class rest
and MVC levels"; :mod:`mirrorvr.emg.proportional`): with ``m`` the mean MAV over channels of
a window, ``level = map(clip((m - rest_mav_v_) / (max_mav_v_[class] - rest_mav_v_), 0, 1))``
with ``settings.level_map`` (linear, quadratic, logistic); ``rest`` has level 0. :meth:`fit`
takes ``rest_mav_v_`` as the median of ``m`` over the rest windows and ``max_mav_v_[class]``
as the ``level_percentile`` (95th) percentile of ``m`` over that class's windows — a robust
"maximum seen in calibration"; :meth:`DecoderModel.calibrate_levels` and
:meth:`DecoderModel.calibrate_levels_from_ramps` set them from dedicated recordings instead.

Most callers train through :func:`mirrorvr.emg.calibration.train_decoder`, which also
cross-validates.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence

import numpy as np

from mirrorvr.config import EmgSettings
from mirrorvr.emg.classifier import Classifier, check_classifier_name, make_classifier
from mirrorvr.emg.features import check_feature_names, extract_features
from mirrorvr.emg.filters import EmgFilter
from mirrorvr.emg.proportional import check_level_map, map_level, normalised_effort
from mirrorvr.errors import ConfigError, DecoderError
from mirrorvr.movements import REST

logger = logging.getLogger(__name__)


def training_hash(windows: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 (hex) of training windows (float64, C order, with their shape) and labels."""
    h = hashlib.sha256()
    w = np.ascontiguousarray(windows, dtype=np.float64)
    h.update(repr(w.shape).encode())
    h.update(w.tobytes())
    h.update("\x00".join(np.asarray(labels).astype(str).tolist()).encode())
    return h.hexdigest()


def mean_mav(windows: np.ndarray) -> np.ndarray:
    """Mean over channels of each window's MAV: ``(n_windows, n_channels, n)`` V ->
    ``(n_windows,)`` V."""
    return np.abs(np.asarray(windows, dtype=np.float64)).mean(axis=(1, 2))


class DecoderModel:
    """Movement classifier and level range for one electrode set-up (scikit-learn style).

    The parameters are stored as given; :meth:`fit` checks them (:meth:`check_params`) and
    sets the attributes (so does :func:`mirrorvr.emg.model_io.load_model`).

    Parameters
    ----------
    settings : EmgSettings
        Band-pass, mains, window/increment, features, classifier, level map, classes.
    sampling_rate_hz : float
        Sampling rate of the source, Hz.
    n_channels : int
        Number of EMG channels of the source.
    zc_threshold_v : float
        ZC amplitude threshold, V (see :mod:`mirrorvr.emg.features`).
    ssc_threshold_v2 : float
        SSC slope-product threshold, V².
    level_percentile : float
        Percentile of per-class calibration MAV taken as that class's maximum, (0, 100].
    channel_names : sequence of str or None
        Electrode layout, ``n_channels`` distinct names (None: ``EMG1``, ``EMG2``, ...).

    Attributes
    ----------
    classifier_ : Classifier
    classes_ : tuple of str
        Classes the classifier knows, in its own (probability column) order.
    feature_names_ : tuple of str
    channel_names_ : tuple of str
        The electrode layout trained for (a loaded model refuses another).
    rest_mav_v_ : float
        Rest level of the mean MAV, V.
    max_mav_v_ : dict class -> float
        Full-scale mean MAV per movement class, V.
    training_data_sha256_ : str
        SHA-256 of the training windows and labels (:func:`training_hash`).
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
        self.settings = settings
        self.sampling_rate_hz = sampling_rate_hz
        self.n_channels = n_channels
        self.zc_threshold_v = zc_threshold_v
        self.ssc_threshold_v2 = ssc_threshold_v2
        self.level_percentile = level_percentile
        self.channel_names = channel_names

    # ------------------------------------------------------------------ hyper-parameters

    @property
    def window_samples(self) -> int:
        """Samples per analysis window (``settings.window_s`` at the sampling rate)."""
        return int(round(self.settings.window_s * float(self.sampling_rate_hz)))

    @property
    def increment_samples(self) -> int:
        """Samples between window starts (``settings.increment_s`` at the sampling rate)."""
        return int(round(self.settings.increment_s * float(self.sampling_rate_hz)))

    @property
    def onset_step_samples(self) -> int:
        """Samples between the windows checked for a sure onset while the output is rest
        (``settings.onset_step_s`` at the sampling rate, rounded down to a whole fraction of
        the increment; at most the increment, at least one sample)."""
        increment = self.increment_samples
        want = max(1, int(round(self.settings.onset_step_s * float(self.sampling_rate_hz))))
        if increment < 1 or want >= increment:
            return increment
        return max(d for d in range(1, want + 1) if increment % d == 0)

    @property
    def movements(self) -> tuple[str, ...]:
        """The decoded classes, in ``settings.movements`` order."""
        return tuple(self.settings.movements)

    def check_params(self) -> None:
        """Raise :class:`~mirrorvr.errors.ConfigError` naming the first invalid
        hyper-parameter (:meth:`fit` calls it; so does a decoder built on a loaded model)."""
        settings, fs, n = self.settings, self.sampling_rate_hz, self.n_channels
        if not isinstance(settings, EmgSettings):
            raise ConfigError(f"settings: expected EmgSettings, got {type(settings).__name__}")
        if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
            raise ConfigError(f"sampling_rate_hz: {fs!r} must be a positive number")
        try:
            whole = int(n) == n and n >= 1
        except (TypeError, ValueError):
            whole = False
        if not whole:
            raise ConfigError(f"n_channels: {n!r} must be a positive integer")
        if not 0 < self.level_percentile <= 100:
            raise ConfigError(
                f"level_percentile: {self.level_percentile!r} must be in (0, 100]")
        check_feature_names(settings.features, "emg.features")
        check_classifier_name(settings.classifier, "emg.classifier")
        check_level_map(settings.level_map)
        if self.window_samples < 3:
            raise ConfigError(
                f"emg.window_s: {settings.window_s} s is {self.window_samples} samples at "
                f"{float(fs)} Hz; need at least 3"
            )
        if self.increment_samples < 1:
            raise ConfigError(
                f"emg.increment_s: {settings.increment_s} s is less than one sample at "
                f"{float(fs)} Hz"
            )
        self._channel_names()

    def _channel_names(self) -> tuple[str, ...]:
        names = tuple(self.channel_names) if self.channel_names else tuple(
            f"EMG{i + 1}" for i in range(int(self.n_channels)))
        if len(names) != self.n_channels or len(set(names)) != len(names):
            raise ConfigError(
                f"channel_names: {list(names)!r} must be {self.n_channels} distinct names"
            )
        return tuple(str(n) for n in names)

    def new_filter(self) -> EmgFilter:
        """A fresh causal filter with these settings (live decoding and calibration)."""
        return EmgFilter(
            int(self.n_channels), float(self.sampling_rate_hz), self.settings.bandpass_hz,
            self.settings.mains_hz,
        )

    # ------------------------------------------------------------------ training

    @property
    def is_fitted(self) -> bool:
        classifier = getattr(self, "classifier_", None)
        return classifier is not None and classifier.is_fitted

    def fit(self, windows: np.ndarray, labels: Sequence[str]) -> DecoderModel:
        """Train on filtered calibration windows; returns ``self``.

        Parameters
        ----------
        windows : (n_windows, n_channels, window_samples) float
            Windows of the **filtered** signal (see :meth:`new_filter`), V.
        labels : (n_windows,) str
            Movement class of each window; every class of ``settings.movements`` must occur.
        """
        self.check_params()
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

        self.feature_names_ = check_feature_names(self.settings.features, "emg.features")
        self.channel_names_ = self._channel_names()
        name = check_classifier_name(self.settings.classifier, "emg.classifier")
        self.classifier_ = make_classifier(name).fit(self.features(w), y)
        self.classes_ = tuple(self.classifier_.classes_)

        m = mean_mav(w)
        rest = m[y == REST]
        self.rest_mav_v_ = float(np.median(rest)) if rest.size else 0.0
        self.max_mav_v_ = {}
        for cls in self.movements:
            if cls == REST:
                continue
            top = float(np.percentile(m[y == cls], self.level_percentile))
            if top <= self.rest_mav_v_:
                logger.warning(
                    "class %s: calibration MAV %.3g V is not above rest %.3g V; level stays 0",
                    cls, top, self.rest_mav_v_,
                )
            self.max_mav_v_[cls] = top
        self.training_data_sha256_ = training_hash(w, y)
        logger.debug("decoder model trained on %d windows, classes %s", w.shape[0],
                     self.classes_)
        return self

    def check_fitted(self) -> Classifier:
        """The fitted classifier; :class:`~mirrorvr.errors.DecoderError` if not trained."""
        if not self.is_fitted:
            raise DecoderError(
                "decoder is not trained; train it with calibration.train_decoder() or fit()"
            )
        return self.classifier_

    # ------------------------------------------------------------------ level range

    def calibrate_levels(
        self, rest_windows: np.ndarray, mvc_windows: dict[str, np.ndarray],
        percentile: float | None = None,
    ) -> None:
        """Set the level range from a rest recording and per-class MVC recordings.

        Parameters
        ----------
        rest_windows : (n, n_channels, window_samples) float
            Filtered windows at rest, V; ``rest_mav_v_`` becomes their median mean-MAV.
        mvc_windows : dict class -> (n, n_channels, window_samples) float
            Filtered windows of a maximal contraction per class, V; ``max_mav_v_[class]``
            becomes the ``percentile`` (default ``level_percentile``) of their mean-MAV.
        """
        self.check_params()
        pct = self.level_percentile if percentile is None else float(percentile)
        rest = mean_mav(rest_windows)
        if rest.size == 0:
            raise DecoderError("rest_windows: empty; need at least one rest window")
        self._check_level_classes(mvc_windows, "mvc_windows")
        tops = {}
        for cls, w in mvc_windows.items():
            m = mean_mav(w)
            if m.size == 0:
                raise DecoderError(f"mvc_windows[{cls!r}]: empty")
            tops[cls] = float(np.percentile(m, pct))
        self.rest_mav_v_ = float(np.median(rest))
        self.max_mav_v_ = {**getattr(self, "max_mav_v_", {}), **tops}
        for cls, top in tops.items():
            if top <= self.rest_mav_v_:
                logger.warning("class %s: MVC %.3g V is not above rest %.3g V; level stays 0",
                               cls, top, self.rest_mav_v_)

    def _check_level_classes(self, classes, field: str) -> None:
        """``classes`` (names) must be decoded classes other than rest."""
        allowed = [m for m in self.movements if m != REST]
        if set(classes) - set(allowed):
            raise DecoderError(f"{field}: {sorted(classes)!r} must name decoded classes other "
                               f"than rest (allowed: {allowed})")

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
        extrapolated to full effort: ``max_mav_v_[class] = a + b``. A ramp up and down again
        lags the cue by the same reaction time both ways, so the line is not tilted by it.
        ``rest_mav_v_`` (from :meth:`fit` or :meth:`calibrate_levels`, which must come first)
        stays as it is. Returns ``{class: {"intercept_v", "slope_v", "max_mav_v"}}``.
        """
        self.check_params()
        rest_v = self._rest_mav_v()
        self._check_level_classes(ramps, "ramps")
        fits = {}
        for cls, (w, effort) in ramps.items():
            m = mean_mav(w)
            e = np.asarray(effort, dtype=np.float64)
            if e.shape != m.shape or e.size < 2 or np.ptp(e) <= 0:
                raise DecoderError(
                    f"ramps[{cls!r}]: need >= 2 windows with different efforts "
                    f"({m.size} windows, {e.size} efforts)"
                )
            slope, intercept = np.polyfit(e, m, 1)
            top = float(intercept + slope)
            if slope <= 0 or top <= rest_v:
                logger.warning("class %s: ramp MAV does not rise with effort (slope %.3g V); "
                               "level range kept", cls, slope)
                continue
            self.max_mav_v_[cls] = top
            fits[cls] = {"intercept_v": float(intercept), "slope_v": float(slope),
                         "max_mav_v": top}
        return fits

    def _rest_mav_v(self) -> float:
        if not hasattr(self, "rest_mav_v_"):
            raise DecoderError("no level range: fit() or calibrate_levels() first")
        return self.rest_mav_v_

    # ------------------------------------------------------------------ per window

    def features(self, windows: np.ndarray) -> np.ndarray:
        """Feature matrix ``(n_windows, n_channels * n_features)`` of filtered windows
        ``(n_windows, n_channels, window_samples)`` V.

        Units per feature (V, counts; ln V for amplitude features with
        ``settings.log_amplitude``), see :func:`~mirrorvr.emg.features.extract_features`.
        """
        names = getattr(self, "feature_names_", None)
        if names is None:
            names = check_feature_names(self.settings.features, "emg.features")
        return extract_features(
            windows, names,
            zc_threshold_v=float(self.zc_threshold_v),
            ssc_threshold_v2=float(self.ssc_threshold_v2),
            sampling_rate_hz=float(self.sampling_rate_hz),
            log_amplitude=self.settings.log_amplitude,
        )

    def levels(self, windows: np.ndarray, movements: Sequence[str]) -> np.ndarray:
        """Proportional level in [0, 1] of each filtered window
        ``(n_windows, n_channels, window_samples)`` V for the given class of each window:
        ``(n_windows,)``. A class without a known maximum has level 0."""
        rest_v = self._rest_mav_v()
        m = mean_mav(windows)
        known = getattr(self, "max_mav_v_", {})
        tops = np.array([known.get(c, -np.inf) for c in movements], dtype=np.float64)
        if tops.shape != m.shape:
            raise DecoderError(f"movements: {len(tops)} labels for {m.shape[0]} windows")
        return map_level(normalised_effort(m, rest_v, tops), self.settings.level_map)

    def predict_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-window decisions (no vote, no rejection) on filtered windows
        ``(n_windows, n_channels, window_samples)`` V.

        Returns
        -------
        labels : (n_windows,) str
        proba : (n_windows, n_classes) float, columns in :attr:`classes_` order
        """
        return self.check_fitted().decide(self.features(windows))
