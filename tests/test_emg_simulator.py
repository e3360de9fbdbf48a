"""The simulated patient: reproducible, movement- and level-dependent, with mains hum."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from mirrorvr.clock import FakeClock
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.errors import AcquisitionError, ConfigError

FS = 2000.0


def _run(seed=0, steps=(0.5, 0.5), script=(("hand_close", 0.8, 0.3),), n_channels=8):
    clock = FakeClock(5.0)
    p = SimulatedPatient(clock, n_channels=n_channels, seed=seed)
    p.start()
    for movement, level, t in script:
        p.set_intent(movement, level, 5.0 + t)
    chunks = []
    for dt in steps:
        clock.advance(dt)
        chunks.append(p.read())
    return np.concatenate([c.data for c in chunks], axis=1), np.concatenate([c.t_s for c in chunks])


def _rms(x):
    return np.sqrt(np.mean(x ** 2, axis=-1))


def test_reproducible_and_chunking_invariant():
    a, ta = _run(seed=3, steps=(1.0,))
    b, tb = _run(seed=3, steps=(0.013, 0.2, 0.3871, 0.3999))
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(ta, tb)
    c, _ = _run(seed=4, steps=(1.0,))
    assert not np.allclose(a, c)


def test_sample_times_on_the_exact_grid():
    clock = FakeClock(2.0)
    p = SimulatedPatient(clock)
    p.start()
    assert p.channel_names == tuple(f"EMG{i}" for i in range(1, 9))
    first = p.read()
    assert first.n_samples == 1 and first.t_s[0] == 2.0  # sample 0 at start
    assert p.read() is None  # no time passed
    clock.advance(0.1004)
    chunk = p.read()
    assert chunk.data.shape == (8, 200)
    np.testing.assert_allclose(chunk.t_s, 2.0 + np.arange(1, 201) / FS, rtol=0, atol=1e-12)
    assert chunk.t_s[-1] <= clock.now()


def test_amplitude_depends_on_movement_and_level():
    clock = FakeClock(0.0)
    p = SimulatedPatient(clock, seed=1, variability=0.0)
    p.start()
    rms = {}
    for movement, level in [("rest", 0.0), ("hand_open", 1.0), ("wrist_flexion", 1.0),
                            ("wrist_flexion", 0.3)]:
        p.set_intent(movement, level)
        p.read()
        clock.advance(0.2)  # let the onset settle
        p.read()
        clock.advance(1.0)
        rms[movement, level] = _rms(p.read().data)
    rest = rms["rest", 0.0]
    assert np.all(rest < 50e-6) and np.all(rest > 3e-6)  # tens of µV at rest
    for key in [("hand_open", 1.0), ("wrist_flexion", 1.0)]:
        assert 0.2e-3 < rms[key].max() < 1e-3  # ~0.1-1 mV in contraction
        assert np.argmax(rms[key]) == np.argmax(p.activation_patterns[key[0]])
    assert np.argmax(rms["hand_open", 1.0]) != np.argmax(rms["wrist_flexion", 1.0])
    ratio = rms["wrist_flexion", 0.3].max() / rms["wrist_flexion", 1.0].max()
    assert 0.2 < ratio < 0.45


def test_onset_is_smooth():
    clock = FakeClock(0.0)
    p = SimulatedPatient(clock, seed=2, variability=0.0, mains_hz=None, noise_v=0.0)
    p.start()
    p.set_intent("hand_close", 1.0, 0.5)
    clock.advance(1.0)
    x = p.read().data
    ch = int(np.argmax(p.activation_patterns["hand_close"]))
    env = np.sqrt(signal.lfilter(np.ones(20) / 20, 1, x[ch] ** 2))  # 10 ms running RMS
    early = env[int(0.505 * FS):int(0.515 * FS)].mean()
    late = env[int(0.8 * FS):].mean()
    assert early < 0.5 * late  # not a step: still rising 5-15 ms after onset


def test_mains_hum_peak():
    clock = FakeClock(0.0)
    p = SimulatedPatient(clock, mains_hz=60)
    p.start()
    clock.advance(4.0)
    x = p.read().data
    f, pxx = signal.welch(x, fs=FS, nperseg=2000)
    hum = pxx[:, f == 60.0][:, 0]
    around = np.median(pxx[:, (f >= 70) & (f <= 120)], axis=1)
    assert np.all(hum > 20 * around)


def test_errors():
    clock = FakeClock()
    p = SimulatedPatient(clock, movements=("rest", "hand_open"))
    with pytest.raises(ConfigError, match="movement: 'wrist_flexion'"):
        p.set_intent("wrist_flexion", 0.5)
    with pytest.raises(ConfigError, match="movement: 'jump'"):
        p.set_intent("jump", 0.5)
    with pytest.raises(ConfigError, match="level"):
        p.set_intent("hand_open", 1.5)
    with pytest.raises(AcquisitionError, match="before start"):
        p.read()
    with pytest.raises(ConfigError, match="n_channels"):
        SimulatedPatient(clock, n_channels=0)
    with pytest.raises(ConfigError, match="mains_hz"):
        SimulatedPatient(clock, mains_hz=5000)
