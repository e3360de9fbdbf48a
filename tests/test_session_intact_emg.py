"""The session's watch over intact-side EMG: recorded, checked, trusted (SAFETY.md 14)."""

import numpy as np
import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.config import SimulatedEmgSettings
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.emg.source import EmgChunk
from mirrorvr.session.intact_emg import IntactEmgWatch
from mirrorvr.tracking.intact_emg import IntactEmgSource, calibrate_on_simulated_patient

SETTINGS = SimulatedEmgSettings(movements=("rest", "hand_open", "hand_close"), n_channels=4)


class _Session:
    """What the watch uses of the session context: streams, samples and markers kept."""

    def __init__(self, session_dir):
        self.session_dir, self.streams, self.samples, self.markers = session_dir, {}, [], []

    def shared_stream(self, name, kind, channels, rate_hz, fmt):
        return self.streams.setdefault(name, (name, kind, tuple(channels), rate_hz, fmt))

    def push(self, handle, t_s, samples):
        self.samples.append((handle[0], np.asarray(t_s), np.asarray(samples)))

    def marker(self, text, t_s=None):
        self.markers.append((t_s, text))


@pytest.fixture(scope="module")
def trained():
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, n_channels=4, movements=SETTINGS.movements, seed=2)
    patient.start()
    return calibrate_on_simulated_patient(patient, clock, SETTINGS, repetitions=2)


def _chunks(flat_channel=None, seconds=2.0, fs=2000.0, seed=0):
    rng = np.random.default_rng(seed)
    for k in range(int(seconds / 0.05)):
        t = k * 0.05 + np.arange(int(0.05 * fs)) / fs
        data = 20e-6 * rng.standard_normal((4, t.size))
        if flat_channel is not None:
            data[flat_channel] = 0.0
        yield EmgChunk(t, data)


def _source(decoder, accuracy):
    emg = SimulatedPatient(FakeClock(0.0), n_channels=4, movements=SETTINGS.movements)
    return IntactEmgSource(emg, "left", "upper", SETTINGS, decoder, accuracy=accuracy)


def test_a_trusted_decoder_on_good_emg_may_stimulate_and_its_emg_is_recorded(trained, tmp_path):
    decoder, report = trained
    session = _Session(tmp_path)
    source = _source(decoder, report.accuracy)
    watch = IntactEmgWatch(source, session, min_accuracy_for_stim=0.8)
    for chunk in _chunks():
        source.on_chunk(chunk)
    assert report.accuracy >= 0.8 and watch.stimulation_hold() == ""
    assert session.streams["EMG_intact"][2] == ("EMG1", "EMG2", "EMG3", "EMG4")
    recorded = np.concatenate([s for name, _, s in session.samples if name == "EMG_intact"])
    assert recorded.shape == (4000, 4)


def test_a_flat_intact_side_channel_holds_stimulation_and_is_marked(trained, tmp_path):
    decoder, report = trained
    session = _Session(tmp_path)
    source = _source(decoder, report.accuracy)
    watch = IntactEmgWatch(source, session, min_accuracy_for_stim=0.8)
    for chunk in _chunks(flat_channel=2):
        source.on_chunk(chunk)
    assert watch.stimulation_hold().startswith("intact-side EMG quality check failed (EMG3: flat")
    assert any(text.startswith("intact_signal_quality EMG3: flat") for _, text in session.markers)
    assert watch.results()["signal_quality"]["channels"]["EMG3"]["problems"]["flat"] == 1.0


@pytest.mark.parametrize("accuracy, reason", [
    (None, "intact-side decoder accuracy unknown (its model file holds no cross-validated"),
    (0.7, "intact-side decoder accuracy 70.0 % is below the 80 % needed to stimulate"),
])
def test_an_untrusted_decoder_holds_stimulation_saying_why(trained, tmp_path, accuracy, reason):
    watch = IntactEmgWatch(_source(trained[0], accuracy), _Session(tmp_path), 0.8)
    assert watch.stimulation_hold().startswith(reason)
