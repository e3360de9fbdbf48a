"""EMG features, vectorised over windows.

Every feature maps windows ``(n_windows, n_channels, n_samples)`` to
``(n_windows, n_channels)`` float64, or ``(n_windows, n_channels, k)`` for the features with
``k`` values per channel (:data:`FEATURE_WIDTH`). Names follow the field's standard
(REFERENCES.md, "Myoelectric pattern recognition": Hudgins time-domain set MAV, WL, ZC, SSC —
BioPatRec "Top 4", LibEMG "HTD"). With ``x`` one channel of one window, ``N`` its length:

``MAV``  mean absolute value: ``sum(|x_i|) / N``, V.

``WL``   waveform length: ``sum_{i=0}^{N-2} |x_{i+1} - x_i|``, V.

``ZC``   zero crossings: number of ``i`` in ``0..N-2`` with ``x_i * x_{i+1} < 0`` **and**
         ``|x_i - x_{i+1}| >= zc_threshold_v``. A strict sign change is needed, so an exact
         zero sample breaks a crossing (``-1, 0, 1`` counts 0). Count (float).

``SSC``  slope sign changes: number of ``i`` in ``1..N-2`` with
         ``(x_i - x_{i-1}) * (x_i - x_{i+1}) >= ssc_threshold_v2``. The threshold is on the
         product, V². With the default threshold 0 a flat run (equal neighbours) **counts**.
         Count (float).

``RMS``  root mean square: ``sqrt(sum(x_i^2) / N)``, V.

``VAR``  variance of zero-mean EMG, no mean removed: ``sum(x_i^2) / N``, V² (as in the
         MATLAB reference; Phinyomark et al. divide by ``N - 1``).

``LOGVAR`` ``ln(max(VAR, 1e-24 V²))``: log-variance, ln V² (the floor keeps a dead channel
         finite).

``HJORTH`` three values per channel (Hjorth 1970), with ``var`` the population variance
         (mean removed) and ``dx`` the first difference: activity ``var(x)`` (V²), mobility
         ``sqrt(var(dx) / var(x))`` and complexity ``mobility(dx) / mobility(x)``
         (both per sample, dimensionless; 0 where a variance is 0). A sampled sine of
         ``w`` rad/sample has mobility ``2 sin(w / 2)`` and complexity 1.

``AR4``  four autoregressive coefficients per channel, autocorrelation (Yule–Walker)
         method solved by Levinson–Durbin, without removing the mean: MATLAB's ``lpc(x, 4)``
         without its leading 1, i.e. the prediction-error filter
         ``x_n + a_1 x_{n-1} + ... + a_4 x_{n-4} = e_n``. Dimensionless; 0 for a flat channel.

``SM``   spectral moments of order 0, 1, 2 per channel (Du & Vuskovic; LibEMG ``SM``):
         ``SM_k = sum_j P_j f_j^k`` over the one-sided bins ``j = 0..M/2-1`` of an ``M``-point
         FFT (``M`` the next power of 2 >= N, zero padded), ``P_j = |X_j|^2 / N^2`` and
         ``f_j = j fs / M``. Units V², V² Hz, V² Hz². Needs the sampling rate.

``MNF``  mean frequency ``SM_1 / SM_0``, Hz (0 for a flat channel). Needs the sampling rate.

With both thresholds 0, MAV, WL, ZC, SSC, RMS, VAR and AR4 are exactly the definitions of
the MATLAB code that computed LibEMG's reference values (``tests/data/libemg/``); SM and MNF
equal them after the MATLAB code's frequency axis (``linspace(0, fs/2, M/2)``, a step of
``fs / (M - 2)`` instead of ``fs / M``) is accounted for. All are pinned in
``tests/test_emg_features.py``.

``extract_features`` stacks features **feature-major**: the block of feature ``names[f]``
holds ``width * n_channels`` columns, value ``j`` of channel ``c`` at ``j * n_channels + c``
within the block; :func:`feature_column_names` gives the labels (``"MAV:EMG1"``,
``"AR4.2:EMG1"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numba
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


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _hudgins_kernel(w, zc_threshold_v, ssc_threshold_v2, out):  # pragma: no cover - compiled
    """Fill ``out (n_windows, 4, n_channels)`` with MAV, WL, ZC, SSC of C-contiguous ``w``.

    One branch-free pass per term, so LLVM vectorises the loops; ``reassoc`` lets it reorder
    the float sums (MAV, WL differ from numpy's by rounding only; the counts are exact).
    """
    n_windows, n_channels, n = w.shape
    for k in range(n_windows):
        for c in range(n_channels):
            x = w[k, c]
            total = 0.0
            for i in range(n):
                total += abs(x[i])
            length = 0.0
            crossings = 0
            for i in range(n - 1):
                jump = abs(x[i + 1] - x[i])
                length += jump
                crossings += (x[i] * x[i + 1] < 0.0) & (jump >= zc_threshold_v)
            turns = 0
            for i in range(1, n - 1):
                turns += (x[i] - x[i - 1]) * (x[i] - x[i + 1]) >= ssc_threshold_v2
            out[k, 0, c] = total / n
            out[k, 1, c] = length
            out[k, 2, c] = crossings
            out[k, 3, c] = turns


def hudgins(windows: np.ndarray, zc_threshold_v: float = 0.0,
            ssc_threshold_v2: float = 0.0) -> np.ndarray:
    """MAV, WL, ZC and SSC in one compiled pass, feature-major ``(n_windows, 4 * n_channels)``.

    The decoder's hot path for the default feature set (numba; compiled on first use and
    cached in ``__pycache__``). Equal to the four numpy functions above: the counts exactly,
    MAV and WL to float rounding of their sums.
    """
    # One kernel type only (C-contiguous, writeable): numba compiles anew for each layout or
    # read-only flag, which would stall the first live window of that kind.
    w = np.require(_as_windows(windows), requirements=("C", "W"))
    n_windows, n_channels, _ = w.shape
    out = np.empty((n_windows, 4, n_channels))
    _hudgins_kernel(w, float(zc_threshold_v), float(ssc_threshold_v2), out)
    return out.reshape(n_windows, 4 * n_channels)


def rms(windows: np.ndarray) -> np.ndarray:
    """Root mean square, (n_windows, n_channels, n_samples) -> (n_windows, n_channels), V."""
    w = _as_windows(windows)
    return np.sqrt(np.mean(w * w, axis=2))


#: Floor of VAR before the logarithm of LOGVAR, V² (1 pV RMS).
LOGVAR_FLOOR_V2 = 1e-24


def var(windows: np.ndarray) -> np.ndarray:
    """Variance of zero-mean EMG ``sum(x^2) / N``, -> (n_windows, n_channels), V²."""
    w = _as_windows(windows)
    return np.einsum("wcn,wcn->wc", w, w) / w.shape[2]


def logvar(windows: np.ndarray) -> np.ndarray:
    """``ln(max(VAR, 1e-24))``, -> (n_windows, n_channels), ln V²."""
    return np.log(np.maximum(var(windows), LOGVAR_FLOOR_V2))


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def hjorth(windows: np.ndarray) -> np.ndarray:
    """Hjorth activity (V²), mobility and complexity (per sample).

    ``(n_windows, n_channels, n_samples)`` -> ``(n_windows, n_channels, 3)``.
    """
    w = _as_windows(windows)
    if w.shape[2] < 3:
        raise ConfigError(f"windows: HJORTH needs at least 3 samples per window, got {w.shape[2]}")
    d1 = np.diff(w, axis=2)
    d2 = np.diff(d1, axis=2)
    v0, v1, v2 = np.var(w, axis=2), np.var(d1, axis=2), np.var(d2, axis=2)
    mobility = np.sqrt(_safe_ratio(v1, v0))
    complexity = _safe_ratio(np.sqrt(_safe_ratio(v2, v1)), mobility)
    return np.stack([v0, mobility, complexity], axis=2)


def ar(windows: np.ndarray, order: int = 4) -> np.ndarray:
    """Autoregressive coefficients (MATLAB ``lpc`` convention, leading 1 dropped).

    Autocorrelation method (biased, no mean removal) solved by Levinson–Durbin, vectorised
    over windows and channels. ``(n_windows, n_channels, n_samples)`` ->
    ``(n_windows, n_channels, order)``; a flat channel gives zeros.
    """
    w = _as_windows(windows)
    order = int(order)
    if not 1 <= order < w.shape[2]:
        raise ConfigError(
            f"order: {order!r} must be in 1..{w.shape[2] - 1} for {w.shape[2]}-sample windows"
        )
    n = w.shape[2]
    r = np.stack(
        [np.einsum("wcn,wcn->wc", w[:, :, :n - k], w[:, :, k:]) for k in range(order + 1)],
        axis=2,
    )  # (W, C, order + 1)
    shape = r.shape[:2]
    a = np.zeros((*shape, order + 1))
    a[..., 0] = 1.0
    err = r[..., 0].copy()
    live = err > 0
    for m in range(1, order + 1):
        acc = np.einsum("wck,wck->wc", a[..., :m], r[..., m:0:-1])
        k = _safe_ratio(-acc, np.where(live, err, 0.0))
        prev = a.copy()
        a[..., 1:m + 1] = prev[..., 1:m + 1] + k[..., None] * prev[..., m - 1::-1][..., :m]
        err = err * (1.0 - k * k)
        live &= err > 0
    a[~(r[..., 0] > 0)] = 0.0
    return a[..., 1:]


def ar4(windows: np.ndarray) -> np.ndarray:
    """AR(4) coefficients, -> (n_windows, n_channels, 4)."""
    return ar(windows, 4)


def _power_spectrum(w: np.ndarray, sampling_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    fs = float(sampling_rate_hz)
    if not (np.isfinite(fs) and fs > 0):
        raise ConfigError(f"sampling_rate_hz: {sampling_rate_hz!r} must be a positive number")
    n = w.shape[2]
    m = 1 << max(0, (n - 1).bit_length())  # next power of 2 >= n
    spec = np.fft.rfft(w, n=m, axis=2)[:, :, :m // 2]
    power = (spec.real ** 2 + spec.imag ** 2) / (n * n)
    return power, np.arange(m // 2) * (fs / m)


def spectral_moments(windows: np.ndarray, sampling_rate_hz: float,
                     orders: Sequence[int] = (0, 1, 2)) -> np.ndarray:
    """Spectral moments ``SM_k``, -> (n_windows, n_channels, len(orders)); V² Hz^k."""
    power, f = _power_spectrum(_as_windows(windows), sampling_rate_hz)
    return np.stack([power @ (f ** k) for k in orders], axis=2)


def sm(windows: np.ndarray, sampling_rate_hz: float) -> np.ndarray:
    """SM0, SM1, SM2, -> (n_windows, n_channels, 3)."""
    return spectral_moments(windows, sampling_rate_hz, (0, 1, 2))


def mnf(windows: np.ndarray, sampling_rate_hz: float) -> np.ndarray:
    """Mean frequency ``SM1 / SM0``, -> (n_windows, n_channels), Hz."""
    moments = spectral_moments(windows, sampling_rate_hz, (0, 1))
    return _safe_ratio(moments[..., 1], moments[..., 0])


#: Feature functions by standard name.
FEATURES: dict[str, FeatureFn] = {
    "MAV": mav, "WL": wl, "ZC": zc, "SSC": ssc, "RMS": rms, "VAR": var, "LOGVAR": logvar,
    "HJORTH": hjorth, "AR4": ar4, "SM": sm, "MNF": mnf,
}

#: Values per channel of each feature (1 unless listed).
FEATURE_WIDTH: dict[str, int] = {"HJORTH": 3, "AR4": 4, "SM": 3}

#: Labels of the values of multi-valued features.
FEATURE_PARTS: dict[str, tuple[str, ...]] = {
    "HJORTH": ("activity", "mobility", "complexity"),
    "AR4": ("1", "2", "3", "4"),
    "SM": ("0", "1", "2"),
}

#: Features that need ``sampling_rate_hz``.
SPECTRAL: frozenset[str] = frozenset({"SM", "MNF"})

#: Features that scale with the EMG amplitude, and the floor of their logarithm
#: (:func:`extract_features` with ``log_amplitude``): V for MAV, WL, RMS; V² for VAR.
AMPLITUDE_LOG_FLOOR: dict[str, float] = {"MAV": 1e-12, "WL": 1e-12, "RMS": 1e-12, "VAR": 1e-24}

#: The Hudgins time-domain set, in the conventional order.
HUDGINS: tuple[str, ...] = ("MAV", "WL", "ZC", "SSC")

#: Named feature sets (``--pipeline`` of ``mirrorvr emg evaluate``, ``emg.features``).
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "HTD": HUDGINS,
    "HTD+RMS": (*HUDGINS, "RMS"),
    "TDAR": (*HUDGINS, "RMS", "AR4"),
    "HJORTH": ("HJORTH",),
    "LOGVAR": ("LOGVAR",),
    "SPECTRAL": ("SM", "MNF"),
    "ALL": ("MAV", "WL", "ZC", "SSC", "RMS", "LOGVAR", "HJORTH", "AR4", "SM", "MNF"),
}


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


def feature_width(names: Sequence[str]) -> int:
    """Columns per channel of :func:`extract_features` for ``names``."""
    return sum(FEATURE_WIDTH.get(n, 1) for n in check_feature_names(names))


def extract_features(
    windows: np.ndarray,
    names: Sequence[str] = HUDGINS,
    *,
    zc_threshold_v: float = 0.0,
    ssc_threshold_v2: float = 0.0,
    sampling_rate_hz: float | None = None,
    log_amplitude: bool = False,
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
    sampling_rate_hz : float or None
        Sampling rate, Hz; required by the spectral features (:data:`SPECTRAL`).
    log_amplitude : bool
        Replace the amplitude features (:data:`AMPLITUDE_LOG_FLOOR`: MAV, WL, RMS, VAR) by
        their natural logarithm, floored (ln V, ln V²). A stronger contraction then shifts
        these columns by a constant instead of scaling them, which suits a linear
        classifier with one shared covariance (LDA) and carries a decoder trained at one
        contraction level over to others (``benchmarks/bench_emg_libemg.py``).

    Returns
    -------
    X : (n_windows, n_channels * feature_width(names)) float64
        Feature-major columns (see the module docstring).
    """
    names = check_feature_names(names)
    w = _as_windows(windows)
    if tuple(names) == HUDGINS:
        out = hudgins(w, zc_threshold_v, ssc_threshold_v2)
    else:
        out = _stacked_features(w, names, zc_threshold_v, ssc_threshold_v2, sampling_rate_hz)
    if log_amplitude:
        n_channels = w.shape[1]
        col = 0
        for name in names:
            width = FEATURE_WIDTH.get(name, 1) * n_channels
            if name in AMPLITUDE_LOG_FLOOR:
                block = out[:, col:col + width]
                np.log(np.maximum(block, AMPLITUDE_LOG_FLOOR[name], out=block), out=block)
            col += width
    return out


def _stacked_features(w: np.ndarray, names: Sequence[str], zc_threshold_v: float,
                      ssc_threshold_v2: float, sampling_rate_hz: float | None) -> np.ndarray:
    """Each feature of ``names`` by its own function, stacked feature-major."""
    n_windows, n_channels, _ = w.shape
    needs_fs = [n for n in names if n in SPECTRAL]
    if needs_fs and sampling_rate_hz is None:
        raise ConfigError(f"sampling_rate_hz: required by the spectral features {needs_fs}")
    out = np.empty((n_windows, n_channels * feature_width(names)), dtype=np.float64)
    col = 0
    for name in names:
        if name == "ZC":
            values = zc(w, zc_threshold_v)
        elif name == "SSC":
            values = ssc(w, ssc_threshold_v2)
        elif name in SPECTRAL:
            values = FEATURES[name](w, sampling_rate_hz)
        else:
            values = FEATURES[name](w)
        if values.ndim == 3:  # (W, C, k) -> value-major block (W, k * C)
            values = values.transpose(0, 2, 1).reshape(n_windows, -1)
        out[:, col:col + values.shape[1]] = values
        col += values.shape[1]
    return out


def feature_column_names(
    names: Sequence[str], channel_names: Sequence[str]
) -> list[str]:
    """Labels of the columns of :func:`extract_features`, e.g. ``"MAV:EMG1"``, ``"AR4.1:EMG1"``."""
    labels = []
    for f in check_feature_names(names):
        parts = FEATURE_PARTS.get(f)
        if parts is None:
            labels.extend(f"{f}:{c}" for c in channel_names)
        else:
            labels.extend(f"{f}.{p}:{c}" for p in parts for c in channel_names)
    return labels
