"""Feature golden values: hand-computed tiny arrays, and LibEMG's MATLAB reference values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mirrorvr.emg.features import (
    AMPLITUDE_LOG_FLOOR,
    FEATURE_SETS,
    FEATURE_WIDTH,
    FEATURES,
    SPECTRAL,
    ar,
    extract_features,
    feature_column_names,
    feature_width,
    hjorth,
    logvar,
    mav,
    mnf,
    rms,
    sm,
    ssc,
    var,
    wl,
    zc,
)
from mirrorvr.emg.windowing import sliding_windows
from mirrorvr.errors import ConfigError

LIBEMG = Path(__file__).parent / "data" / "libemg"

# One window, two channels: a worked example and a flat (all-zero) channel.
X = np.array([[[1.0, -2.0, 3.0, 3.0, -1.0, 0.0, 2.0],
               [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]])


def test_mav_by_hand():
    # (1 + 2 + 3 + 3 + 1 + 0 + 2) / 7
    np.testing.assert_allclose(mav(X), [[12 / 7, 0.0]])


def test_wl_by_hand():
    # |-3| + |5| + |0| + |-4| + |1| + |2| = 15
    np.testing.assert_allclose(wl(X), [[15.0, 0.0]])


def test_zc_by_hand():
    # products of neighbours: -2, -6, 9, -3, 0, 0 -> three strictly negative;
    # "-1, 0" and "0, 2" are not crossings (an exact zero breaks a crossing).
    np.testing.assert_array_equal(zc(X), [[3.0, 0.0]])
    # jumps of the three crossings: 3, 5, 4 -> only 5 reaches a 4.5 threshold
    np.testing.assert_array_equal(zc(X, threshold_v=4.5), [[1.0, 0.0]])


def test_ssc_by_hand():
    # (x_i - x_{i-1})(x_i - x_{i+1}) for i = 1..5: 15, 0, 0, 4, -2
    # threshold 0 counts >= 0 -> 4 (the flat 3, 3 counts twice); flat zeros: all 5 count.
    np.testing.assert_array_equal(ssc(X), [[4.0, 5.0]])
    np.testing.assert_array_equal(ssc(X, threshold_v2=5.0), [[1.0, 0.0]])


def test_rms_by_hand():
    # sqrt((1 + 4 + 9 + 9 + 1 + 0 + 4) / 7) = sqrt(4)
    np.testing.assert_allclose(rms(X), [[2.0, 0.0]])


def test_extract_features_column_order():
    out = extract_features(X, ("MAV", "WL", "ZC", "SSC"))
    np.testing.assert_allclose(out, [[12 / 7, 0, 15, 0, 3, 0, 4, 5]])
    assert feature_column_names(("MAV", "ZC"), ("EMG1", "EMG2")) == [
        "MAV:EMG1", "MAV:EMG2", "ZC:EMG1", "ZC:EMG2"]
    thr = extract_features(X, ("ZC", "SSC"), zc_threshold_v=4.5, ssc_threshold_v2=5.0)
    np.testing.assert_allclose(thr, [[1, 0, 1, 0]])


def test_features_vectorised_shapes():
    w = np.random.default_rng(0).standard_normal((5, 3, 40))
    for name, fn in FEATURES.items():
        out = fn(w, 1000.0) if name in SPECTRAL else fn(w)
        width = FEATURE_WIDTH.get(name, 1)
        assert out.shape == ((5, 3) if width == 1 else (5, 3, width)), name
    assert extract_features(w).shape == (5, 12)
    every = FEATURE_SETS["ALL"]
    X = extract_features(w, every, sampling_rate_hz=1000.0)
    assert X.shape == (5, 3 * feature_width(every)) == (5, 3 * 17)
    assert len(feature_column_names(every, ("a", "b", "c"))) == X.shape[1]


def test_batch_equals_one_window_at_a_time():
    w = np.random.default_rng(1).standard_normal((6, 2, 64))
    names = FEATURE_SETS["ALL"]
    whole = extract_features(w, names, sampling_rate_hz=500.0)
    single = np.vstack([extract_features(w[i:i + 1], names, sampling_rate_hz=500.0)
                        for i in range(6)])
    np.testing.assert_allclose(whole, single, rtol=1e-12, atol=1e-15)


def test_multi_valued_column_layout():
    w = np.random.default_rng(2).standard_normal((4, 2, 50))
    X = extract_features(w, ("RMS", "AR4"))
    coefs = ar(w, 4)
    np.testing.assert_allclose(X[:, :2], rms(w))
    # AR4 block: value j of channel c at 2 + j * 2 + c
    for j in range(4):
        for c in range(2):
            np.testing.assert_allclose(X[:, 2 + 2 * j + c], coefs[:, c, j])
    assert feature_column_names(("RMS", "AR4"), ("A", "B"))[2:5] == [
        "AR4.1:A", "AR4.1:B", "AR4.2:A"]


def test_var_logvar_by_hand():
    # sum of squares 28 over 7 samples
    np.testing.assert_allclose(var(X), [[4.0, 0.0]])
    np.testing.assert_allclose(logvar(X), [[np.log(4.0), np.log(1e-24)]])


def test_hjorth_of_a_sine_is_analytic():
    """A sampled sine of w rad/sample: mobility 2 sin(w/2), complexity 1, activity A²/2."""
    n = np.arange(4000)
    omega = 2 * np.pi * 37.0 / 1000.0
    x = 3.0 * np.sin(omega * n)
    h = hjorth(x[None, None, :])[0, 0]
    assert h[0] == pytest.approx(4.5, rel=1e-3)
    assert h[1] == pytest.approx(2 * np.sin(omega / 2), rel=1e-3)
    assert h[2] == pytest.approx(1.0, rel=1e-3)
    # white noise: var(dx) = 2 var(x) -> mobility sqrt(2); flat channel -> zeros
    noise = np.random.default_rng(3).standard_normal((1, 1, 200000))
    assert hjorth(noise)[0, 0, 1] == pytest.approx(np.sqrt(2), rel=1e-2)
    np.testing.assert_array_equal(hjorth(np.zeros((1, 1, 10))), np.zeros((1, 1, 3)))


def test_ar_recovers_a_known_process_and_flat_is_zero():
    """x_n = 0.6 x_{n-1} - 0.3 x_{n-2} + e_n has lpc coefficients (-0.6, 0.3, 0, 0)."""
    rng = np.random.default_rng(4)
    e = rng.standard_normal(100000)
    x = np.zeros_like(e)
    for i in range(2, e.size):
        x[i] = 0.6 * x[i - 1] - 0.3 * x[i - 2] + e[i]
    np.testing.assert_allclose(ar(x[None, None, :], 4)[0, 0], [-0.6, 0.3, 0.0, 0.0], atol=0.02)
    np.testing.assert_array_equal(ar(np.zeros((2, 3, 20)), 4), np.zeros((2, 3, 4)))
    with pytest.raises(ConfigError, match="order"):
        ar(np.zeros((1, 1, 4)), 4)


def test_spectral_moments_of_a_tone():
    """A bin-centred tone at f0: SM0 = A²/4 (one-sided, /N²), SM1/SM0 = f0, SM2/SM0 = f0²."""
    fs, n = 1000.0, 256
    f0 = 40 * fs / n
    x = 2.0 * np.cos(2 * np.pi * f0 * np.arange(n) / fs)
    moments = sm(x[None, None, :], fs)[0, 0]
    assert moments[0] == pytest.approx(1.0, rel=1e-9)
    assert moments[1] / moments[0] == pytest.approx(f0, rel=1e-9)
    assert moments[2] / moments[0] == pytest.approx(f0 ** 2, rel=1e-9)
    assert mnf(x[None, None, :], fs)[0, 0] == pytest.approx(f0, rel=1e-9)
    with pytest.raises(ConfigError, match="sampling_rate_hz: required"):
        extract_features(x[None, None, :], ("SM",))


def test_unknown_feature_names_field():
    with pytest.raises(ConfigError, match=r"features: \['FOO'\] not known"):
        extract_features(X, ("MAV", "FOO"))
    with pytest.raises(ConfigError, match="windows"):
        extract_features(np.zeros((3, 4)))


@pytest.mark.parametrize("name", ["MAV", "WL", "ZC", "SSC"])
def test_against_libemg_matlab_reference(name):
    """LibEMG 2.0.3 tests/data: a Myo recording (500 samples × 8 channels, raw ADC units)
    and MATLAB-computed features with 200-sample windows every 25 samples."""
    data = np.loadtxt(LIBEMG / "emg_data_myo.csv", delimiter=",")  # (n, channels)
    expected = np.loadtxt(LIBEMG / f"matlab_{name}.csv", delimiter=",")
    windows = sliding_windows(data.T, 200, 25)
    assert windows.shape == (13, 8, 200)
    np.testing.assert_allclose(FEATURES[name](windows), expected, rtol=1e-12, atol=1e-12)


def _myo_windows():
    data = np.loadtxt(LIBEMG / "emg_data_myo.csv", delimiter=",")
    return sliding_windows(data.T, 200, 25)


# The remaining MATLAB reference files hold 5 significant digits.
@pytest.mark.parametrize("name", ["RMS", "VAR"])
def test_amplitude_against_libemg_matlab_reference(name):
    expected = np.loadtxt(LIBEMG / f"matlab_{name}.csv", delimiter=",")
    np.testing.assert_allclose(FEATURES[name](_myo_windows()), expected, rtol=1e-4)


def test_ar4_against_libemg_matlab_reference():
    """MATLAB's lpc(x, 4) per channel, columns channel-major (c0 a1..a4, c1 a1..a4, ...).
    LibEMG's own Python AR (librosa's Burg lpc) does not match these; ours does."""
    expected = np.loadtxt(LIBEMG / "matlab_AR.csv", delimiter=",")
    got = ar(_myo_windows(), 4).reshape(13, 32)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_spectral_against_libemg_matlab_reference():
    """MATLAB's SM (order 2) and MNF at fs = 1000 Hz use the axis linspace(0, fs/2, M/2):
    bin j at j fs/(M-2) rather than j fs/M (M = 256), i.e. SM2 × (M/(M-2))², MNF × M/(M-2)."""
    w = _myo_windows()
    scale = 256 / 254
    expected_sm = np.loadtxt(LIBEMG / "matlab_SM.csv", delimiter=",")
    np.testing.assert_allclose(sm(w, 1000.0)[..., 2] * scale ** 2, expected_sm, rtol=1e-4)
    expected_mnf = np.loadtxt(LIBEMG / "matlab_MNF.csv", delimiter=",")
    np.testing.assert_allclose(mnf(w, 1000.0) * scale, expected_mnf, rtol=1e-4)


@pytest.mark.parametrize("n_windows", [0, 1, 7, 8, 19])
def test_fused_hudgins_equals_the_four_features(n_windows):
    from mirrorvr.emg.features import hudgins, mav, ssc, wl, zc

    rng = np.random.default_rng(11)
    w = rng.standard_normal((max(n_windows, 2), 3, 200))[:n_windows] * 1e-4
    if n_windows >= 2:
        w[0, 0, 20:40] = 0.0  # exact zeros and a flat run
        w[1, 2] = np.round(w[1, 2], 5)  # repeated values
    for zt, st in ((0.0, 0.0), (2e-5, 1e-10)):
        ref = np.hstack([mav(w), wl(w), zc(w, zt), ssc(w, st)])
        for got in (hudgins(w, zt, st),
                    extract_features(w, ("MAV", "WL", "ZC", "SSC"), zc_threshold_v=zt,
                                     ssc_threshold_v2=st)):
            assert got.shape == (n_windows, 12)
            # counts exactly; sums of 200 terms to float rounding
            np.testing.assert_array_equal(got[:, 6:], ref[:, 6:])
            np.testing.assert_allclose(got[:, :6], ref[:, :6], rtol=1e-13, atol=0)


def test_log_amplitude_logs_exactly_the_amplitude_features():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((6, 3, 100)) * 1e-4
    w[0, 1] = 0.0  # a dead channel: floored, stays finite
    names = ("ZC", "MAV", "AR4", "VAR", "WL", "RMS", "SSC")
    plain = extract_features(w, names)
    logged = extract_features(w, names, log_amplitude=True)
    assert np.all(np.isfinite(logged))
    logged_columns = 0
    for j, label in enumerate(feature_column_names(names, ["a", "b", "c"])):
        feature = label.split(":")[0].split(".")[0]
        if feature in AMPLITUDE_LOG_FLOOR:
            floor = AMPLITUDE_LOG_FLOOR[feature]
            np.testing.assert_allclose(logged[:, j], np.log(np.maximum(plain[:, j], floor)))
            logged_columns += 1
        else:
            np.testing.assert_array_equal(logged[:, j], plain[:, j])
    assert logged_columns == 4 * 3
    # The Hudgins fast path: MAV and WL logged, ZC and SSC untouched; a signal k times
    # stronger shifts the logged amplitude columns by ln k.
    h = extract_features(w[1:], log_amplitude=True)
    np.testing.assert_array_equal(h[:, 6:], extract_features(w[1:])[:, 6:])
    np.testing.assert_allclose(extract_features(3.0 * w[1:], log_amplitude=True)[:, :6] - h[:, :6],
                               np.log(3.0), rtol=1e-9)
