"""Per-channel EMG signal quality over the last second.

Checks (each on the most recent ``window_s`` = 1 s of raw EMG, V, per channel):

``nan``        any non-finite sample (NaN from a board, or inf); ``nan_fraction`` reported.
``dropout``    samples missing: a gap between consecutive sample times above 1.5 sample
               periods (streaming only; also counted when a chunk repeats a time).
``flat``       standard deviation below ``flat_v`` (default 0.1 µV): a disconnected lead
               with a digital zero, or an amplifier stuck at one value. A flat channel is
               not also reported saturated or mains-contaminated.
``saturated``  at least ``saturation_fraction`` (1 %) of the samples within 0.5 % of the
               rail (``rail_v``; when not known: of the window's own largest ``|x|``, counted
               only if that value repeats, as it does at a clipping ADC).
``mains``      power within ±2 Hz of the mains frequency and its 2nd and 3rd harmonics is more
               than ``mains_ratio_max`` (0.5) of the power above 10 Hz — the EMG is mostly
               hum — and the hum is larger than ``mains_min_v`` (25 µV r.m.s.). Without the
               floor a well-set-up channel at rest (a few µV of EMG, ~10 µV of hum, which the
               decoder's notch removes) would be reported.
``pop``        electrode pop: a sample-to-sample jump more than ``pop_z`` (30) robust
               standard deviations of the differences around it (±25 ms; mean absolute
               deviation × 1.2533) and larger than ``pop_min_v`` (0.5 mV). The scale is
               local so that the onset of a contraction after rest is not taken for a pop.

A channel is ``ok`` when no check fires. :class:`SignalQualityMonitor` keeps the last second
of a stream; :func:`assess_quality` checks one block.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from mirrorvr.emg.source import chunk_arrays
from mirrorvr.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelQuality:
    """Quality of one channel over the last window. Amplitudes in V."""

    channel: str
    rms_v: float
    nan_fraction: float
    nan: bool
    dropout: bool
    flat: bool
    saturated: bool
    mains_ratio: float
    mains: bool
    pop: bool

    @property
    def ok(self) -> bool:
        return not (self.nan or self.dropout or self.flat or self.saturated or self.mains
                    or self.pop)

    @property
    def problems(self) -> list[str]:
        return [name for name in ("nan", "dropout", "flat", "saturated", "mains", "pop")
                if getattr(self, name)]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def _mains_ratio(x: np.ndarray, fs: float, mains_hz: float | None) -> np.ndarray:
    """Share of power above 10 Hz within ±2 Hz of mains and harmonics, per channel."""
    return _mains_power(x, fs, mains_hz)[0]


def _mains_power(x: np.ndarray, fs: float, mains_hz: float | None):
    """(share of power above 10 Hz that is hum, hum r.m.s. V), each ``(n_channels,)``."""
    if mains_hz is None or x.shape[1] < 8:
        return np.zeros(x.shape[0]), np.zeros(x.shape[0])
    spec = np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    f = np.fft.rfftfreq(x.shape[1], 1.0 / fs)
    band = f > 10.0
    hum = np.zeros_like(f, dtype=bool)
    for h in (1, 2, 3):
        if h * mains_hz < fs / 2:
            hum |= np.abs(f - h * mains_hz) <= 2.0
    total = power[:, band].sum(axis=1)
    hum_power = power[:, hum & band].sum(axis=1)
    out = np.zeros(x.shape[0])
    np.divide(hum_power, total, out=out, where=total > 0)
    # Parseval for the one-sided spectrum (no DC/Nyquist bins in the hum band): r.m.s. of the hum
    n = x.shape[1]
    hum_rms = np.sqrt(2.0 * hum_power) / n
    return out, hum_rms


def _local_jump(d: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Largest |difference - median| per channel and the SD of the differences within ±25 ms
    of it, from their mean absolute deviation × 1.2533 (the jump itself left out). The mean,
    not the median: around a clipped stretch most differences are 0, yet the signal jumps
    from rail to rail, which is saturation, not a pop."""
    dev = np.abs(d - np.median(d, axis=1, keepdims=True))
    at = np.argmax(dev, axis=1)
    jump = dev[np.arange(d.shape[0]), at]
    half = max(8, int(round(0.025 * fs)))
    scale = np.empty(d.shape[0])
    for c, i in enumerate(at):
        near = np.concatenate([dev[c, max(0, i - half):i], dev[c, i + 1:i + 1 + half]])
        scale[c] = 1.2533 * np.mean(near) if near.size else 0.0
    return jump, scale


def assess_quality(
    data: np.ndarray,
    sampling_rate_hz: float,
    channel_names: tuple[str, ...] | None = None,
    *,
    mains_hz: float | None = 50.0,
    rail_v: float | None = None,
    flat_v: float = 1e-7,
    saturation_fraction: float = 0.01,
    mains_ratio_max: float = 0.5,
    mains_min_v: float = 25e-6,
    pop_z: float = 30.0,
    pop_min_v: float = 0.5e-3,
    dropout: np.ndarray | None = None,
) -> list[ChannelQuality]:
    """Quality of each channel of ``data (n_channels, n)`` raw EMG, V.

    ``dropout (n_channels,) bool`` marks channels whose stream lost samples (from sample
    times; see :class:`SignalQualityMonitor`).
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ConfigError(f"data: expected shape (n_channels, n >= 2), got {x.shape}")
    fs = float(sampling_rate_hz)
    if not (math.isfinite(fs) and fs > 0):
        raise ConfigError(f"sampling_rate_hz: {sampling_rate_hz!r} must be positive")
    n_ch = x.shape[0]
    names = channel_names or tuple(f"EMG{i + 1}" for i in range(n_ch))
    if len(names) != n_ch:
        raise ConfigError(f"channel_names: {len(names)} names for {n_ch} channels")
    finite = np.isfinite(x)
    nan_fraction = 1.0 - finite.mean(axis=1)
    clean = np.where(finite, x, 0.0)
    std = np.array([np.std(row[ok]) if ok.any() else 0.0 for row, ok in zip(clean, finite,
                                                                              strict=True)])
    rms = np.sqrt(np.mean(clean ** 2, axis=1))
    peak = np.max(np.abs(clean), axis=1)
    if rail_v is not None:
        near = np.abs(clean) >= 0.995 * rail_v
    else:
        near = (np.abs(clean) >= 0.995 * peak[:, None]) & (peak[:, None] > 0)
    # Without a known rail, a clipping ADC shows as its extreme value repeated exactly.
    repeats = np.array([np.count_nonzero(np.abs(row) == p) for row, p in zip(clean, peak,
                                                                            strict=True)])
    saturated = near.mean(axis=1) >= saturation_fraction
    if rail_v is None:
        saturated &= repeats >= max(3, int(saturation_fraction * x.shape[1]))
    ratio, hum_rms = _mains_power(clean, fs, mains_hz)
    jump, scale = _local_jump(np.diff(clean, axis=1), fs)
    pop = (jump > pop_min_v) & (jump > pop_z * np.maximum(scale, 1e-12))
    flat = (std < flat_v) & finite.any(axis=1)  # no finite sample: that is "nan" alone
    saturated &= ~flat  # a flat channel has nothing to clip or to hum: report it as flat
    mains = (ratio > mains_ratio_max) & (hum_rms > mains_min_v) & ~flat
    drop = np.zeros(n_ch, dtype=bool) if dropout is None else np.asarray(dropout, bool)
    return [
        ChannelQuality(
            channel=str(names[c]), rms_v=float(rms[c]), nan_fraction=float(nan_fraction[c]),
            nan=bool(nan_fraction[c] > 0), dropout=bool(drop[c]),
            flat=bool(flat[c]), saturated=bool(saturated[c]),
            mains_ratio=float(ratio[c]), mains=bool(mains[c]),
            pop=bool(pop[c]),
        )
        for c in range(n_ch)
    ]


class SignalQualityMonitor:
    """Keeps the last ``window_s`` of a stream and reports :func:`assess_quality` on it.

    Parameters
    ----------
    n_channels : int
    sampling_rate_hz : float
    channel_names : tuple of str or None
    window_s : float
        Length assessed, s (1 s: an electrode pop is reported within 1 s).
    **thresholds
        Passed to :func:`assess_quality` (``mains_hz``, ``rail_v``, ...).
    """

    def __init__(self, n_channels: int, sampling_rate_hz: float,
                 channel_names: tuple[str, ...] | None = None, window_s: float = 1.0,
                 **thresholds) -> None:
        if int(n_channels) != n_channels or n_channels < 1:
            raise ConfigError(f"n_channels: {n_channels!r} must be a positive integer")
        if not window_s > 0:
            raise ConfigError(f"window_s: {window_s!r} must be > 0 s")
        self.n_channels = int(n_channels)
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.channel_names = channel_names
        self.window_samples = max(2, int(round(window_s * self.sampling_rate_hz)))
        self.thresholds = thresholds
        self._buf = np.empty((self.n_channels, 0))
        self._t = np.empty(0)
        self._last_t: float | None = None
        self._gap_until_s = -math.inf

    def push(self, t_s: np.ndarray, data: np.ndarray) -> None:
        """Add samples ``data (n_channels, n)`` V at times ``t_s (n,)`` s."""
        t, x = chunk_arrays(t_s, data, self.n_channels)
        if t.size == 0:
            return
        dt = np.diff(t if self._last_t is None else np.concatenate([[self._last_t], t]))
        period = 1.0 / self.sampling_rate_hz
        if dt.size and (np.any(dt > 1.5 * period) or np.any(dt <= 0)):
            self._gap_until_s = float(t[-1]) + self.window_samples * period
            logger.warning("EMG stream: %d sample time gap(s); largest %.3f s",
                           int(np.sum((dt > 1.5 * period) | (dt <= 0))), float(dt.max()))
        self._last_t = float(t[-1])
        self._buf = np.concatenate([self._buf, x], axis=1)[:, -self.window_samples:]
        self._t = np.concatenate([self._t, t])[-self.window_samples:]

    def report(self) -> list[ChannelQuality] | None:
        """Quality of every channel over the last window; None before 2 samples arrived."""
        if self._buf.shape[1] < 2:
            return None
        dropout = np.full(self.n_channels, self._last_t is not None
                          and self._last_t <= self._gap_until_s)
        return assess_quality(self._buf, self.sampling_rate_hz, self.channel_names,
                              dropout=dropout, **self.thresholds)
