"""Feature golden values: hand-computed tiny arrays, and LibEMG's MATLAB reference values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mirrorvr.emg.features import (
    FEATURES,
    extract_features,
    feature_column_names,
    mav,
    rms,
    ssc,
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
        assert fn(w).shape == (5, 3), name
    assert extract_features(w).shape == (5, 12)


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
