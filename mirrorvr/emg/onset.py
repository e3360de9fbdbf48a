"""When a contraction began: the EMG onset, estimated from the envelope after the session.

A session keeps an :class:`EnvelopeTrace` of every EMG chunk it received: the mean over
channels of the band-passed signal's absolute value in short bins (5 ms; an hour is ~6 MB).
After the session, :func:`estimate_onset` looks back from each decoded movement's detection
for where the envelope, smoothed over 20 ms (centred: offline), last rose through a
threshold between the calibrated rest level and the movement's maximum (10 % of that range
by default, a percent-of-maximum criterion as in the EMG onset literature). The simulated
patient knows its true onsets; with a real patient this estimate is what the session reports.
"""

from __future__ import annotations

import math

import numpy as np

from mirrorvr.emg.filters import EmgFilter
from mirrorvr.errors import ConfigError

#: Envelope bin, s.
BIN_S = 0.005
#: Centred smoothing of the envelope before the threshold test, s.
SMOOTH_S = 0.02
#: How far before the detection an onset is looked for, s.
SEARCH_S = 0.6
#: Threshold as a fraction of the way from the rest level to the movement's maximum.
THRESHOLD_FRACTION = 0.1


class EnvelopeTrace:
    """Binned EMG envelope of a whole session (control thread appends, anyone reads after).

    Parameters
    ----------
    n_channels : int
    sampling_rate_hz : float
    bandpass_hz : (low, high) Hz
    mains_hz : 50 or 60
        The same filter as the decoder's (so levels compare with its calibration), V.
    bin_s : float
        Bin length, s.
    """

    def __init__(self, n_channels: int, sampling_rate_hz: float, bandpass_hz, mains_hz: int,
                 bin_s: float = BIN_S) -> None:
        if not bin_s > 0:
            raise ConfigError(f"bin_s: {bin_s!r} must be > 0 s")
        self.bin_s = float(bin_s)
        self._filter = EmgFilter(int(n_channels), float(sampling_rate_hz), tuple(bandpass_hz),
                                 mains_hz)
        self._bins: list[float] = []  # mean |x| per bin, V
        self._first_bin: int | None = None  # index of bin 0 on the session clock
        self._sum = 0.0
        self._count = 0
        self._bin: int | None = None  # the bin being filled

    def push(self, t_s: np.ndarray, data: np.ndarray) -> None:
        """Add a chunk: sample times ``(n,)`` s and raw EMG ``(n_channels, n)`` V."""
        if len(t_s) == 0:
            return
        level = np.abs(self._filter.process(np.asarray(data, dtype=np.float64))).mean(axis=0)
        bins = np.floor(np.asarray(t_s, dtype=np.float64) / self.bin_s).astype(np.int64)
        if self._first_bin is None:
            self._first_bin = self._bin = int(bins[0])
        for b, lv in zip(bins.tolist(), level.tolist(), strict=True):
            if b != self._bin:
                self._close_bins_until(b)
            self._sum += lv
            self._count += 1

    def _close_bins_until(self, b: int) -> None:
        """Close the bin being filled; bins with no sample (a gap) repeat the last level."""
        value = self._sum / self._count if self._count else (
            self._bins[-1] if self._bins else 0.0)
        self._bins.append(value)
        missing = b - self._bin - 1
        if missing > 0:
            self._bins.extend([value] * missing)
        self._bin, self._sum, self._count = b, 0.0, 0

    def envelope(self) -> tuple[np.ndarray, np.ndarray]:
        """Bin start times ``(n,)`` s and mean |band-passed EMG| ``(n,)`` V (closed bins)."""
        if self._first_bin is None:
            return np.zeros(0), np.zeros(0)
        values = np.asarray(self._bins, dtype=np.float64)
        return (self._first_bin + np.arange(values.size)) * self.bin_s, values

    @property
    def nbytes(self) -> int:
        return 8 * len(self._bins)


def onset_threshold_v(rest_v: float, max_v: float,
                      fraction: float = THRESHOLD_FRACTION) -> float:
    """The envelope level that counts as contracting: ``rest + fraction * (max - rest)``, V."""
    return rest_v + fraction * max(max_v - rest_v, 0.0)


def estimate_onset(times_s: np.ndarray, envelope_v: np.ndarray, detected_s: float,
                   threshold_v: float, search_s: float = SEARCH_S,
                   smooth_s: float = SMOOTH_S) -> float | None:
    """The EMG onset of a movement detected at ``detected_s``, s; None when the envelope did
    not rise through ``threshold_v`` in the ``search_s`` before it (or was above it all the
    while: a movement that had already begun).

    ``times_s`` and ``envelope_v`` as :meth:`EnvelopeTrace.envelope` returns them.
    """
    if times_s.size < 2 or not math.isfinite(threshold_v):
        return None
    bin_s = float(times_s[1] - times_s[0])
    lo = int(np.searchsorted(times_s, detected_s - search_s))
    hi = int(np.searchsorted(times_s, detected_s, side="right"))
    half = max(1, int(round(smooth_s / bin_s / 2)))
    a, b = max(0, lo - half), min(times_s.size, hi + half)
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    smooth = np.convolve(envelope_v[a:b], kernel, mode="same")[lo - a:hi - a]
    above = smooth > threshold_v
    if above.size == 0 or not above[-1] or above.all():
        return None
    last_below = int(np.flatnonzero(~above)[-1])
    return float(times_s[lo + last_below + 1])


def first_rise(envelope_v: np.ndarray, threshold_v: float, hold: int) -> int | None:
    """Index of the first sample from which ``envelope_v`` stays above ``threshold_v`` for
    ``hold`` samples (a contraction, not a spike), or None. ``envelope_v`` ``(n,)``."""
    above = np.asarray(envelope_v) > threshold_v
    hold = max(1, int(hold))
    if above.size < hold:
        return None
    runs = np.convolve(above.astype(np.int64), np.ones(hold, dtype=np.int64), mode="valid")
    hits = np.flatnonzero(runs == hold)
    return int(hits[0]) if hits.size else None


def smoothed_envelope(filtered: np.ndarray, sampling_rate_hz: float,
                      smooth_s: float = SMOOTH_S) -> np.ndarray:
    """Mean over channels of |band-passed EMG|, centred moving average of ``smooth_s``:
    ``(n_channels, n)`` V -> ``(n,)`` V (offline)."""
    level = np.abs(np.asarray(filtered, dtype=np.float64)).mean(axis=0)
    n = max(1, int(round(smooth_s * sampling_rate_hz)))
    return np.convolve(level, np.ones(n) / n, mode="same")
