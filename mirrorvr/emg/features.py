"""Time-domain EMG features (the Hudgins set), vectorised over windows.

Every feature maps windows ``(n_windows, n_channels, n_samples)`` to
``(n_windows, n_channels)`` float64. Names follow the field's standard (REFERENCES.md,
"Myoelectric pattern recognition": Hudgins time-domain set MAV, WL, ZC, SSC — BioPatRec
"Top 4", LibEMG "HTD"). With ``x`` one channel of one window, ``N`` its length:

``MAV``  mean absolute value: ``sum(|x_i|) / N``, V.

``WL``   waveform length: ``sum_{i=0}^{N-2} |x_{i+1} - x_i|``, V.

``ZC``   zero crossings: number of ``i`` in ``0..N-2`` with ``x_i * x_{i+1} < 0`` **and**
         ``|x_i - x_{i+1}| >= zc_threshold_v``. A strict sign change is needed, so an exact
         zero sample breaks a crossing (``-1, 0, 1`` counts 0). Count (float).

``SSC``  slope sign changes: number of ``i`` in ``1..N-2`` with
         ``(x_i - x_{i-1}) * (x_i - x_{i+1}) >= ssc_threshold_v2``. The threshold is on the
         product, V². With the default threshold 0 a flat run (equal neighbours) **counts**.
         Count (float).

``RMS``  root mean square: ``sqrt(sum(x_i^2) / N)``, V (not part of the Hudgins set).

With both thresholds 0 these are exactly the definitions of LibEMG and of the MATLAB code
that computed its reference values (``tests/data/libemg/``, pinned in
``tests/test_emg_features.py``).

``extract_features`` stacks features **feature-major**: column ``f * n_channels + c`` is
feature ``names[f]`` of channel ``c``; :func:`feature_column_names` gives the labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mirrorvr.errors import ConfigError

FeatureFn = Callable[..., np.ndarray]


def _as_windows(windows: np.ndarray) -> np.ndarray:
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 3:
        raise ConfigError(
            f"windows: expected shape (n_windows, n_channels, n_samples), got {w.shape}"
        )
    return w


def mav(windows: np.ndarray) -> np.ndarray:
    """Mean absolute value, (n_windows, n_channels, n_samples) -> (n_windows, n_channels), V."""
    return np.mean(np.abs(_as_windows(windows)), axis=2)


def wl(windows: np.ndarray) -> np.ndarray:
    """Waveform length, (n_windows, n_channels, n_samples) -> (n_windows, n_channels), V."""
    return np.sum(np.abs(np.diff(_as_windows(windows), axis=2)), axis=2)


def zc(windows: np.ndarray, threshold_v: float = 0.0) -> np.ndarray:
    """Zero crossings (strict sign change with a jump of at least ``threshold_v``, V).

    ``(n_windows, n_channels, n_samples)`` -> ``(n_windows, n_channels)`` counts (float64).
    """
    w = _as_windows(windows)
    x0, x1 = w[:, :, :-1], w[:, :, 1:]
    crossing = (x0 * x1) < 0
    if threshold_v > 0:
        crossing &= np.abs(x0 - x1) >= threshold_v
    return np.count_nonzero(crossing, axis=2).astype(np.float64)


def ssc(windows: np.ndarray, threshold_v2: float = 0.0) -> np.ndarray:
    """Slope sign changes (``(x_i - x_{i-1}) (x_i - x_{i+1}) >= threshold_v2``, V²).

    ``(n_windows, n_channels, n_samples)`` -> ``(n_windows, n_channels)`` counts (float64).
    """
    w = _as_windows(windows)
    x_prev, x_mid, x_next = w[:, :, :-2], w[:, :, 1:-1], w[:, :, 2:]
    turn = (x_mid - x_prev) * (x_mid - x_next) >= threshold_v2
    return np.count_nonzero(turn, axis=2).astype(np.float64)


def rms(windows: np.ndarray) -> np.ndarray:
    """Root mean square, (n_windows, n_channels, n_samples) -> (n_windows, n_channels), V."""
    w = _as_windows(windows)
    return np.sqrt(np.mean(w * w, axis=2))


#: Feature functions by standard name.
FEATURES: dict[str, FeatureFn] = {"MAV": mav, "WL": wl, "ZC": zc, "SSC": ssc, "RMS": rms}

#: The Hudgins time-domain set, in the conventional order.
HUDGINS: tuple[str, ...] = ("MAV", "WL", "ZC", "SSC")


def check_feature_names(names: Sequence[str], field: str = "features") -> tuple[str, ...]:
    """Return ``names`` as a tuple if every name is registered, else raise ConfigError."""
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    if not names:
        raise ConfigError(f"{field}: empty; give at least one of {sorted(FEATURES)}")
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ConfigError(
            f"{field}: {unknown!r} not known (allowed: {sorted(FEATURES)})"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"{field}: {list(names)!r} names a feature twice")
    return names


def extract_features(
    windows: np.ndarray,
    names: Sequence[str] = HUDGINS,
    *,
    zc_threshold_v: float = 0.0,
    ssc_threshold_v2: float = 0.0,
) -> np.ndarray:
    """Feature matrix of a batch of windows.

    Parameters
    ----------
    windows : (n_windows, n_channels, n_samples) float
        EMG windows, V.
    names : sequence of str
        Feature names from :data:`FEATURES`.
    zc_threshold_v : float
        Amplitude threshold of ZC, V.
    ssc_threshold_v2 : float
        Threshold of SSC on the slope product, V².

    Returns
    -------
    X : (n_windows, n_channels * len(names)) float64
        Feature-major columns: column ``f * n_channels + c`` is ``names[f]`` of channel ``c``.
    """
    names = check_feature_names(names)
    w = _as_windows(windows)
    n_windows, n_channels, _ = w.shape
    out = np.empty((n_windows, n_channels * len(names)), dtype=np.float64)
    for f, name in enumerate(names):
        if name == "ZC":
            values = zc(w, zc_threshold_v)
        elif name == "SSC":
            values = ssc(w, ssc_threshold_v2)
        else:
            values = FEATURES[name](w)
        out[:, f * n_channels:(f + 1) * n_channels] = values
    return out


def feature_column_names(
    names: Sequence[str], channel_names: Sequence[str]
) -> list[str]:
    """Labels of the columns of :func:`extract_features`, e.g. ``"MAV:EMG1"``."""
    return [f"{f}:{c}" for f in check_feature_names(names) for c in channel_names]
