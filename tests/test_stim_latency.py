"""Photodiode/aux-trace latency analysis on synthetic traces with known delays."""

import numpy as np
import pytest

from mirrorvr.errors import ConfigError
from mirrorvr.stim.latency import detect_onsets, measured_latencies


def synthetic(flash_s, fs=2000.0, duration_s=10.0, noise=0.02, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(0, duration_s, 1 / fs)
    x = np.zeros_like(t)
    for f in flash_s:  # a screen patch goes white for 50 ms; the diode rises in ~1 ms
        x = np.maximum(x, np.clip((t - f) / 0.001, 0, 1) * (t < f + 0.05))
    return t, 3.0 * x + noise * rng.standard_normal(t.size) + 0.4


def test_latencies_are_recovered_within_a_sample():
    predicted = np.arange(0.5, 9.5, 0.7)
    true_latency = np.random.default_rng(1).uniform(0.005, 0.03, predicted.size)
    t, x = synthetic(predicted + true_latency)
    onsets = detect_onsets(t, x)
    lat = measured_latencies(predicted, onsets)
    # the crossing is at half height of a 1 ms rise: +0.5 ms, within one 0.5 ms sample
    assert np.allclose(lat, true_latency + 0.0005, atol=0.0006)


def test_missed_flashes_are_nan_and_flicker_is_ignored():
    predicted = np.array([1.0, 2.0, 3.0])
    t, x = synthetic([1.01, 1.07, 3.02])  # 2.0 missed; a flicker right after the first
    onsets = detect_onsets(t, x, min_gap_s=0.1)
    assert onsets.size == 2
    lat = measured_latencies(predicted, onsets)
    assert lat[0] == pytest.approx(0.0105, abs=0.001) and np.isnan(lat[1])


def test_bad_shapes_are_refused():
    with pytest.raises(ConfigError, match="1-D"):
        detect_onsets(np.arange(3), np.arange(4))
