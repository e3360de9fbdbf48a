"""Causal, stateful EMG filters: band-pass plus a mains notch.

The filter keeps one state per channel and per second-order section, so feeding a signal
in chunks gives exactly the same output as feeding it whole (``sosfilt`` with ``zi``).
scipy designs the sections; the recursion itself runs in a small compiled kernel
(:func:`_sosfilt_kernel`, checked against ``scipy.signal.sosfilt`` in the tests) because
``sosfilt``'s per-call argument handling costs more than filtering a 50 ms chunk.
That is what the live decoder needs, and calibration uses the same filter so training and
live features see the same transfer function.

Defaults: 20–450 Hz band (REFERENCES.md, "Myoelectric pattern recognition": sEMG band),
4th-order Butterworth, notch at the mains frequency with Q = 30.
"""

from __future__ import annotations

import logging

import numba
import numpy as np
from scipy import signal

from mirrorvr.errors import ConfigError

logger = logging.getLogger(__name__)

#: Highest band-pass edge used, as a fraction of the sampling rate (Nyquist is 0.5).
MAX_EDGE_FRACTION = 0.45


def design_emg_sos(
    sampling_rate_hz: float,
    bandpass_hz: tuple[float, float] = (20.0, 450.0),
    mains_hz: float | None = 50.0,
    order: int = 4,
    notch_q: float = 30.0,
) -> np.ndarray:
    """Second-order sections of the EMG band-pass followed by the mains notch.

    Parameters
    ----------
    sampling_rate_hz : float
        Sampling rate, Hz.
    bandpass_hz : (2,) float
        Low and high edge, Hz. A high edge above ``0.45 * sampling_rate_hz`` is clipped
        to that value (logged at INFO).
    mains_hz : float or None
        Mains frequency to notch out, Hz; None (or at/above Nyquist) skips the notch.
    order : int
        Butterworth order of the band-pass (the band-pass has ``order`` sections).
    notch_q : float
        Quality factor of the notch.

    Returns
    -------
    sos : (n_sections, 6) float64
    """
    fs = float(sampling_rate_hz)
    if not np.isfinite(fs) or fs <= 0:
        raise ConfigError(f"sampling_rate_hz: {sampling_rate_hz!r} must be a positive number")
    try:
        low, high = (float(v) for v in bandpass_hz)
    except (TypeError, ValueError):
        raise ConfigError(
            f"bandpass_hz: {bandpass_hz!r} must be a (low, high) pair of numbers, Hz"
        ) from None
    if not 0 < low < high:
        raise ConfigError(f"bandpass_hz: {bandpass_hz!r} must satisfy 0 < low < high")
    max_high = MAX_EDGE_FRACTION * fs
    if high > max_high:
        logger.info(
            "band-pass high edge %.1f Hz is too close to Nyquist at %.1f Hz; clipped to %.1f Hz",
            high, fs / 2, max_high,
        )
        high = max_high
    if low >= high:
        raise ConfigError(
            f"bandpass_hz: low edge {low} Hz is not below the usable high edge {high:.1f} Hz "
            f"at sampling_rate_hz={fs}"
        )
    if order < 1:
        raise ConfigError(f"order: {order!r} must be >= 1")
    sos = signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    if mains_hz is not None:
        if 0 < mains_hz < fs / 2:
            b, a = signal.iirnotch(float(mains_hz), notch_q, fs=fs)
            sos = np.vstack([sos, signal.tf2sos(b, a)])
        else:
            logger.info("mains notch at %s Hz skipped: not below Nyquist (%.1f Hz)",
                        mains_hz, fs / 2)
    return np.ascontiguousarray(sos, dtype=np.float64)


@numba.njit(nogil=True, cache=True)
def _sosfilt_kernel(sos, x, zi, y):  # pragma: no cover - compiled
    """Cascade of biquads, transposed direct form II (as ``scipy.signal.sosfilt``).

    ``sos (n_sections, 6)`` normalised (a0 = 1), ``x`` and ``y (n_channels, n)``,
    ``zi (n_sections, 2, n_channels)`` updated in place. Channels are the inner loop: they
    are independent, so the compiler runs them side by side.
    """
    n_sections = sos.shape[0]
    n_channels, n = x.shape
    v = np.empty(n_channels)
    for i in range(n):
        for c in range(n_channels):
            v[c] = x[c, i]
        for s in range(n_sections):
            b0, b1, b2, a1, a2 = sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5]
            z0, z1 = zi[s, 0], zi[s, 1]
            for c in range(n_channels):
                out = b0 * v[c] + z0[c]
                z0[c] = b1 * v[c] - a1 * out + z1[c]
                z1[c] = b2 * v[c] - a2 * out
                v[c] = out
        for c in range(n_channels):
            y[c, i] = v[c]


class EmgFilter:
    """Causal band-pass + mains notch with per-channel state.

    Parameters
    ----------
    n_channels : int
        Number of channels the filter expects.
    sampling_rate_hz : float
        Sampling rate, Hz.
    bandpass_hz : (2,) float
        Band edges, Hz (high edge clipped to 0.45·fs when needed).
    mains_hz : float or None
        Mains frequency to notch, Hz, or None.

    The state starts at the steady state for a constant input equal to the first sample
    (so a DC offset does not ring), then carries over between calls.
    """

    def __init__(
        self,
        n_channels: int,
        sampling_rate_hz: float,
        bandpass_hz: tuple[float, float] = (20.0, 450.0),
        mains_hz: float | None = 50.0,
        order: int = 4,
    ) -> None:
        if int(n_channels) != n_channels or n_channels < 1:
            raise ConfigError(f"n_channels: {n_channels!r} must be a positive integer")
        self.n_channels = int(n_channels)
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.sos = design_emg_sos(sampling_rate_hz, bandpass_hz, mains_hz, order)
        self._zi_unit = signal.sosfilt_zi(self.sos)  # (n_sections, 2), steady state for input 1
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the filter state; the next call starts afresh."""
        self._zi = None

    def process(self, data: np.ndarray) -> np.ndarray:
        """Filter the next block of samples.

        Parameters
        ----------
        data : (n_channels, n) float
            EMG, V.

        Returns
        -------
        filtered : (n_channels, n) float64
            Filtered EMG, V.
        """
        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ConfigError(
                f"data: shape {x.shape} does not match (n_channels={self.n_channels}, n)"
            )
        if x.shape[1] == 0:
            return x.copy()
        if self._zi is None:
            # (n_sections, 2, n_channels): steady state scaled by each channel's first sample.
            self._zi = self._zi_unit[:, :, None] * x[None, None, :, 0]
        y = np.empty_like(x)
        # one kernel type only (see features.hudgins)
        _sosfilt_kernel(self.sos, np.require(x, requirements=("C", "W")), self._zi, y)
        return y
