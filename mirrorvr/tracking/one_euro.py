"""The One Euro filter (Casiez, Roussel & Vogel, CHI 2012), one independent filter per joint.

A first-order low-pass whose cut-off rises with the signal's speed: at rest the cut-off is
``min_cutoff_hz`` (little jitter), when the joint moves it grows by ``beta`` per unit of
speed (little lag). With the sampling period ``Te`` of each step (from the timestamps):

    alpha(fc)  = 1 / (1 + tau / Te),   tau = 1 / (2 pi fc)
    dx_i       = (x_i - xhat_{i-1}) / Te
    dxhat_i    = alpha(d_cutoff) dx_i + (1 - alpha(d_cutoff)) dxhat_{i-1}
    fc_i       = min_cutoff + beta |dxhat_i|
    xhat_i     = alpha(fc_i) x_i + (1 - alpha(fc_i)) xhat_{i-1}

and for the first sample ``xhat_0 = x_0``, ``dxhat_0 = 0`` (the paper's pseudo-code, its
Fig. / appendix). Units here: angles in rad, speeds in rad/s, so ``beta`` is in
Hz per (rad/s).
"""

from __future__ import annotations

import math

import numpy as np

from mirrorvr.errors import ConfigError


def smoothing_factor(te_s, cutoff_hz):
    """``alpha = 1 / (1 + tau / Te)`` with ``tau = 1 / (2 pi cutoff)`` (scalar or array)."""
    tau_s = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=float))
    return 1.0 / (1.0 + tau_s / te_s)


class OneEuroFilter:
    """One Euro filters for ``n`` channels sharing timestamps.

    Parameters
    ----------
    n : int
        Number of channels (joints).
    min_cutoff_hz : float or (n,) float
        Cut-off at rest, Hz (> 0).
    beta : float or (n,) float
        Speed coefficient, Hz per (unit/s) (>= 0).
    d_cutoff_hz : float or (n,) float
        Cut-off of the speed estimate, Hz (> 0).

    NaN inputs pass through as NaN and leave that channel's state untouched.
    """

    def __init__(self, n: int, min_cutoff_hz=1.0, beta=0.0, d_cutoff_hz=1.0) -> None:
        if int(n) != n or n < 1:
            raise ConfigError(f"n: {n!r} must be a positive integer")
        self.n = int(n)
        self.min_cutoff_hz = self._param("min_cutoff_hz", min_cutoff_hz, positive=True)
        self.beta = self._param("beta", beta, positive=False)
        self.d_cutoff_hz = self._param("d_cutoff_hz", d_cutoff_hz, positive=True)
        self.reset()

    def _param(self, name: str, value, positive: bool) -> np.ndarray:
        arr = np.broadcast_to(np.asarray(value, dtype=float), (self.n,)).copy()
        bad = ~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0))
        if bad.any():
            allowed = "> 0" if positive else ">= 0"
            raise ConfigError(f"{name}: {value!r} must be finite and {allowed}")
        return arr

    def reset(self) -> None:
        """Forget the history: the next sample passes unfiltered."""
        self._t_s: float | None = None
        self._x = np.full(self.n, np.nan)
        self._dx = np.zeros(self.n)

    def __call__(self, t_s: float, x) -> np.ndarray:
        """Filter one sample ``x`` (n,) taken at ``t_s`` (s); returns the filtered (n,)."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.n,):
            raise ConfigError(f"x: shape {x.shape} given, expected ({self.n},)")
        valid = np.isfinite(x)
        fresh = valid & ~np.isfinite(self._x)
        out = np.where(valid, x, np.nan)
        if self._t_s is not None:
            te_s = float(t_s) - self._t_s
            if te_s <= 0:  # a repeated or out-of-order timestamp: keep the last estimate
                return np.where(valid & np.isfinite(self._x), self._x, out)
            old = valid & ~fresh
            dx = (x - self._x) / te_s
            a_d = smoothing_factor(te_s, self.d_cutoff_hz)
            edx = a_d * dx + (1.0 - a_d) * self._dx
            a = smoothing_factor(te_s, self.min_cutoff_hz + self.beta * np.abs(edx))
            filtered = a * x + (1.0 - a) * self._x
            out = np.where(old, filtered, out)
            self._dx = np.where(old, edx, self._dx)
        self._dx = np.where(fresh, 0.0, self._dx)
        self._x = np.where(valid, out, self._x)
        self._t_s = float(t_s)
        return out
