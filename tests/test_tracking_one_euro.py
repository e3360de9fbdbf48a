"""The One Euro filter against its published definition (Casiez, Roussel & Vogel, CHI 2012)."""

import math

import numpy as np
import pytest

from mirrorvr.errors import ConfigError
from mirrorvr.tracking.one_euro import OneEuroFilter, smoothing_factor


def test_smoothing_factor_is_the_papers_alpha():
    # alpha = 1 / (1 + tau / Te), tau = 1 / (2 pi fc): fc = 1 Hz, Te = 0.1 s by hand
    assert smoothing_factor(0.1, 1.0) == pytest.approx(1 / (1 + 0.15915494309 / 0.1))
    assert smoothing_factor(0.1, 1.0) == pytest.approx(0.3858695450950375)


def test_first_sample_passes_and_then_values_computed_by_hand():
    # min_cutoff 1 Hz, beta 0.5, d_cutoff 1 Hz, 10 Hz sampling, a unit step after x0 = 0.
    # Step 1: dx = 10, edx = 0.38587 * 10 = 3.8587, fc = 1 + 0.5 * 3.8587 = 2.92935 Hz,
    #         alpha = 1 / (1 + 1 / (2 pi 2.92935) / 0.1) = 0.647957, xhat = 0.647957.
    # Step 2: dx = (1 - 0.647957) / 0.1 = 3.52043, edx = 0.38587 * 3.52043 + 0.61413 * 3.8587
    #         = 3.72817, fc = 2.86408 Hz, alpha = 0.642801, xhat = 0.642801 + 0.357199 * 0.647957
    #         = 0.874251.
    f = OneEuroFilter(1, min_cutoff_hz=1.0, beta=0.5, d_cutoff_hz=1.0)
    assert f(0.0, [0.0])[0] == 0.0
    assert f(0.1, [1.0])[0] == pytest.approx(0.6479571695923358, rel=1e-9)
    assert f(0.2, [1.0])[0] == pytest.approx(0.8742505311299689, rel=1e-9)


def _reference(ts, xs, min_cutoff, beta, d_cutoff):
    """The paper's pseudo-code, one scalar at a time."""
    out, xhat, dxhat, t_prev = [], None, 0.0, None
    for t, x in zip(ts, xs, strict=True):
        if xhat is None:
            xhat = x
        else:
            te = t - t_prev
            alpha_d = 1 / (1 + 1 / (2 * math.pi * d_cutoff) / te)
            dxhat = alpha_d * (x - xhat) / te + (1 - alpha_d) * dxhat
            fc = min_cutoff + beta * abs(dxhat)
            alpha = 1 / (1 + 1 / (2 * math.pi * fc) / te)
            xhat = alpha * x + (1 - alpha) * xhat
        t_prev = t
        out.append(xhat)
    return np.array(out)


def test_vectorised_filter_matches_the_scalar_definition_per_joint_with_irregular_timing():
    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.uniform(0.01, 0.05, 80))
    xs = np.stack([np.sin(3 * ts) + rng.normal(0, 0.05, ts.size), rng.normal(0, 0.1, ts.size)], 1)
    f = OneEuroFilter(2, min_cutoff_hz=[1.0, 0.5], beta=[0.3, 2.0], d_cutoff_hz=[1.0, 2.0])
    got = np.stack([f(t, x) for t, x in zip(ts, xs, strict=True)])
    np.testing.assert_allclose(got[:, 0], _reference(ts, xs[:, 0], 1.0, 0.3, 1.0), rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], _reference(ts, xs[:, 1], 0.5, 2.0, 2.0), rtol=1e-12)


def test_beta_zero_is_a_plain_first_order_low_pass_and_beta_cuts_lag():
    ts = np.arange(0, 1, 0.01)
    step = (ts >= 0.2).astype(float)
    slow = OneEuroFilter(1, 1.0, 0.0)
    fast = OneEuroFilter(1, 1.0, 1.0)
    y_slow = np.array([slow(t, [x])[0] for t, x in zip(ts, step, strict=True)])
    y_fast = np.array([fast(t, [x])[0] for t, x in zip(ts, step, strict=True)])
    i = int(np.searchsorted(ts, 0.3))
    assert y_fast[i] > y_slow[i] + 0.2  # the speed term opens the cut-off on the step
    # with beta = 0, alpha is constant: y_k = y_{k-1} + alpha (x_k - y_{k-1})
    a = smoothing_factor(0.01, 1.0)
    k = int(np.argmax(step))
    assert y_slow[k] == pytest.approx(a)
    assert y_slow[k + 1] == pytest.approx(a + a * (1 - a))


def test_nan_joints_pass_through_and_keep_their_state():
    f = OneEuroFilter(2, 1.0, 0.0)
    f(0.0, [0.0, 1.0])
    out = f(0.1, [np.nan, 1.0])
    assert np.isnan(out[0]) and out[1] == pytest.approx(1.0)
    # joint 0 resumes from its old estimate, not from scratch
    assert f(0.2, [1.0, 1.0])[0] < 1.0


def test_bad_parameters_are_refused_by_name():
    with pytest.raises(ConfigError, match="min_cutoff_hz"):
        OneEuroFilter(3, min_cutoff_hz=0.0)
    with pytest.raises(ConfigError, match="beta"):
        OneEuroFilter(3, beta=-1.0)
