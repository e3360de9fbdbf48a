"""Signal quality: each defect injected into one channel is found there and only there."""

from __future__ import annotations

import numpy as np
import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.emg.quality import SignalQualityMonitor, assess_quality
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.errors import ConfigError

FS = 2000.0


def _clean(seconds=1.0, level=0.5, seed=0):
    clock = FakeClock(0.0)
    p = SimulatedPatient(clock, n_channels=4, sampling_rate_hz=FS, seed=seed, mains_v=5e-6)
    p.start()
    p.set_intent("hand_close", level, 0.0)
    clock.advance(seconds - 1 / FS)
    chunk = p.read()
    return chunk.t_s, chunk.data


def _problems(data, **kw):
    return {q.channel: q.problems for q in assess_quality(data, FS, **kw)}


def test_clean_emg_is_ok_at_rest_and_in_contraction():
    for level in (0.0, 0.8):
        _, x = _clean(level=level)
        report = assess_quality(x, FS)
        assert all(q.ok for q in report), [q.to_dict() for q in report]
        assert all(q.mains_ratio < 0.5 for q in report)


@pytest.mark.parametrize("defect", ["nan", "flat", "saturated", "mains", "pop"])
def test_each_defect_is_found_on_its_channel(defect):
    _, x = _clean(level=0.3)
    x = x.copy()
    n = x.shape[1]
    t = np.arange(n) / FS
    if defect == "nan":
        x[2, 100:110] = np.nan
    elif defect == "flat":
        x[2] = 1e-3  # DC offset, no signal
    elif defect == "saturated":
        x[2] = np.clip(x[2] * 50, -2e-3, 2e-3)
    elif defect == "mains":
        x[2] += 1e-3 * np.sin(2 * np.pi * 50 * t)
    elif defect == "pop":
        x[2, 1200:] += 5e-3 * np.exp(-(t[1200:] - t[1200]) / 0.2)  # step then slow decay
    problems = _problems(x)
    assert problems["EMG3"] == [defect]
    assert problems["EMG1"] == problems["EMG2"] == problems["EMG4"] == []


def test_saturation_against_a_known_rail():
    _, x = _clean(level=0.8)  # peaks of a strong contraction reach ~1-2 mV
    assert _problems(x, rail_v=5e-3)["EMG1"] == []
    clipped = np.clip(x * 20, -5e-3, 5e-3)
    assert "saturated" in _problems(clipped, rail_v=5e-3)["EMG1"]


def test_monitor_reports_a_pop_within_one_second_and_dropouts():
    t, x = _clean(seconds=3.0, level=0.2)
    mon = SignalQualityMonitor(4, FS, window_s=1.0)
    step = int(0.05 * FS)
    pop_at = int(1.5 * FS)
    x = x.copy()
    x[0, pop_at:] += 4e-3
    seen_at = None
    for i in range(0, x.shape[1], step):
        mon.push(t[i:i + step], x[:, i:i + step])
        rep = mon.report()
        if seen_at is None and rep is not None and rep[0].pop:
            seen_at = t[min(i + step, x.shape[1]) - 1]
    assert seen_at is not None and seen_at - t[pop_at] < 1.0
    assert not mon.report()[0].pop  # gone once the step left the last second
    # dropout: skip 20 samples
    mon.push(t[-1] + (np.arange(100) + 21) / FS, x[:, :100])
    assert all(q.dropout for q in mon.report())
    mon.push(t[-1] + (np.arange(2100) + 121) / FS, np.tile(x[:, :700], 3))
    assert not any(q.dropout for q in mon.report())


def test_errors():
    with pytest.raises(ConfigError, match="data"):
        assess_quality(np.zeros(5), FS)
    with pytest.raises(ConfigError, match="channel_names"):
        assess_quality(np.zeros((2, 10)), FS, ("a",))
    with pytest.raises(ConfigError, match="n_channels"):
        SignalQualityMonitor(0, FS)


def test_contraction_onsets_and_the_hum_of_a_channel_at_rest_are_not_defects():
    # default simulator: ~10 µV of hum is most of a resting channel's power above 10 Hz, and
    # a contraction starts within the window; neither is a pop nor mains contamination
    clock = FakeClock(0.0)
    p = SimulatedPatient(clock, n_channels=8, sampling_rate_hz=FS, seed=0)
    p.start()
    moves = ["hand_close", "hand_open", "wrist_flexion", "wrist_extension", "rest"]
    for k, m in enumerate(moves * 2):
        p.set_intent(m, 0.0 if m == "rest" else 0.9, 0.5 + k)
    mon = SignalQualityMonitor(8, FS, p.channel_names, mains_hz=50)
    found = set()
    for _ in range(int(10.5 / 0.25)):
        clock.advance(0.25)
        chunk = p.read()
        mon.push(chunk.t_s, chunk.data)
        found |= {(q.channel, x) for q in mon.report() for x in q.problems}
    assert found == set()


def test_a_channel_of_nothing_but_nan_is_nan_not_flat():
    _, x = _clean(level=0.3)
    x = x.copy()
    x[1] = np.nan
    assert _problems(x)["EMG2"] == ["nan"]
