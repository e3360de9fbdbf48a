"""Measured latency from a recorded photodiode (or any auxiliary) trace.

A photodiode taped to a corner of the screen that each movement onset flashes, recorded on
a spare auxiliary channel of the EMG board (same clock as the session), turns predicted
photon times into measured ones; the same analysis applies to a stimulation-artefact or
accelerometer trace for the contraction side. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.errors import ConfigError


def detect_onsets(
    t_s: np.ndarray, trace: np.ndarray, threshold: float | None = None, min_gap_s: float = 0.1
) -> np.ndarray:
    """Times of rising crossings of ``threshold``, s, interpolated between samples.

    Parameters
    ----------
    t_s : (n_samples,) float
        Sample times on the session clock, s (increasing).
    trace : (n_samples,) float
        The recorded signal (any unit).
    threshold : float, optional
        Crossing level; default halfway between the median (the dark screen: flashes are
        short) and the maximum.
    min_gap_s : float
        Crossings closer than this to the previous onset are ignored (flicker, noise).
    """
    t_s = np.asarray(t_s, float)
    x = np.asarray(trace, float)
    if t_s.shape != x.shape or t_s.ndim != 1 or t_s.size < 2:
        raise ConfigError(f"t_s {t_s.shape} and trace {x.shape} must be equal 1-D arrays (>= 2)")
    if threshold is None:
        threshold = 0.5 * (float(np.median(x)) + float(np.max(x)))
    above = x >= threshold
    idx = np.flatnonzero(~above[:-1] & above[1:])
    onsets = []
    for i in idx:
        frac = (threshold - x[i]) / (x[i + 1] - x[i])
        t = t_s[i] + frac * (t_s[i + 1] - t_s[i])
        if not onsets or t - onsets[-1] >= min_gap_s:
            onsets.append(t)
    return np.asarray(onsets)


def measured_latencies(
    predicted_s: np.ndarray, measured_s: np.ndarray, max_latency_s: float = 0.2
) -> np.ndarray:
    """For each predicted time, the first measured onset within ``[-max, +max]``, minus it, s.

    NaN where nothing was measured nearby (a missed flash is reported, never guessed).
    """
    predicted_s = np.asarray(predicted_s, float)
    measured_s = np.sort(np.asarray(measured_s, float))
    out = np.full(predicted_s.shape, np.nan)
    for k, p in enumerate(predicted_s):
        i = np.searchsorted(measured_s, p - max_latency_s)
        if i < measured_s.size and measured_s[i] <= p + max_latency_s:
            out[k] = measured_s[i] - p
    return out
