"""Causal filters (chunked == whole, band edges, notch) and sliding windows."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mirrorvr.emg.filters import EmgFilter, design_emg_sos
from mirrorvr.emg.windowing import SlidingWindower, sliding_windows
from mirrorvr.errors import ConfigError

FS = 2000.0


def _gain(freq_hz: float, mains_hz=50) -> float:
    t = np.arange(int(2 * FS)) / FS
    x = np.sin(2 * np.pi * freq_hz * t)[None, :]
    y = EmgFilter(1, FS, (20, 450), mains_hz).process(x)
    half = slice(x.shape[1] // 2, None)  # steady state
    return float(np.sqrt(np.mean(y[0, half] ** 2)) / np.sqrt(np.mean(x[0, half] ** 2)))


def test_chunked_equals_whole():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5000)) * 1e-4 + 1e-3  # with a DC offset
    whole = EmgFilter(4, FS).process(x)
    f = EmgFilter(4, FS)
    cuts = np.sort(rng.choice(np.arange(1, 5000), size=30, replace=False))
    parts = [f.process(p) for p in np.split(x, cuts, axis=1)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-12, atol=1e-18)
    f.reset()
    np.testing.assert_allclose(f.process(x), whole, rtol=1e-12, atol=1e-18)


def test_compiled_recursion_equals_scipy_sosfilt():
    from scipy import signal

    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2000)) * 1e-4 + 2e-3
    f = EmgFilter(3, FS, (20, 450), 60.0)
    zi = f._zi_unit[:, None, :] * x[None, :, 0, None]
    expected, _ = signal.sosfilt(f.sos, x, axis=-1, zi=zi)
    got = np.concatenate([f.process(x[:, :700]), f.process(x[:, 700:])], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-18)


def test_passband_and_stopband():
    for f_hz in (80.0, 150.0, 300.0):
        assert 0.9 < _gain(f_hz) < 1.1, f_hz
    assert _gain(5.0) < 0.02
    assert _gain(850.0) < 0.1


def test_notch_at_mains():
    assert _gain(50.0, mains_hz=50) < 0.05
    assert _gain(60.0, mains_hz=60) < 0.05
    assert _gain(50.0, mains_hz=None) > 0.8


def test_dc_offset_does_not_ring():
    y = EmgFilter(2, FS).process(np.full((2, 400), 5e-3))
    assert np.max(np.abs(y)) < 1e-9


def test_high_edge_clipped_at_low_rate(caplog):
    with caplog.at_level(logging.INFO, logger="mirrorvr.emg.filters"):
        f = EmgFilter(2, 250.0, (20, 450), 50)
    assert "clipped to 112.5 Hz" in caplog.text
    y = f.process(np.random.default_rng(0).standard_normal((2, 500)))
    assert np.all(np.isfinite(y))


def test_filter_errors_name_the_field():
    with pytest.raises(ConfigError, match="bandpass_hz"):
        design_emg_sos(FS, (450, 20))
    with pytest.raises(ConfigError, match="sampling_rate_hz"):
        EmgFilter(2, -1.0)
    with pytest.raises(ConfigError, match="n_channels"):
        EmgFilter(2, FS).process(np.zeros((3, 10)))


def test_sliding_windows_is_a_view_with_the_right_shape():
    x = np.arange(2 * 10, dtype=float).reshape(2, 10)
    w = sliding_windows(x, 4, 3)  # starts 0, 3, 6
    assert w.shape == (3, 2, 4)
    assert np.shares_memory(w, x)
    np.testing.assert_array_equal(w[1, 0], [3, 4, 5, 6])
    np.testing.assert_array_equal(w[2, 1], [16, 17, 18, 19])
    assert sliding_windows(x, 11, 1).shape == (0, 2, 11)
    with pytest.raises(ConfigError, match="increment_samples"):
        sliding_windows(x, 4, 0)


def test_windower_streaming_equals_offline():
    rng = np.random.default_rng(2)
    n = 1003
    x = rng.standard_normal((3, n))
    t = 10.0 + np.arange(n) / FS
    offline = sliding_windows(x, 400, 100)
    win = SlidingWindower(3, 400, 100)
    got, t_end = [], []
    for part_t, part_x in zip(np.array_split(t, 17), np.array_split(x, 17, axis=1), strict=True):
        w, te = win.push(part_t, part_x)
        got.append(np.array(w))
        t_end.append(te)
    got = np.concatenate(got)
    t_end = np.concatenate(t_end)
    assert got.shape == offline.shape == (7, 3, 400)
    np.testing.assert_array_equal(got, offline)
    np.testing.assert_allclose(t_end, t[399 + 100 * np.arange(7)])


def test_windower_rejects_mismatched_input():
    win = SlidingWindower(2, 4, 2)
    with pytest.raises(ConfigError, match="t_s"):
        win.push(np.zeros(3), np.zeros((2, 4)))
    with pytest.raises(ConfigError, match="n_channels"):
        win.push(np.zeros(4), np.zeros((3, 4)))
