"""Saved decoder models: round trip, training-data hash, refusal of another channel layout."""

from __future__ import annotations

import numpy as np
import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.config import SimulatedEmgSettings
from mirrorvr.emg.calibration import cue_schedule, simulate_calibration, train_decoder
from mirrorvr.emg.decoder import Decoder
from mirrorvr.emg.model import DecoderModel, training_hash
from mirrorvr.emg.model_io import load_model, read_model_meta, save_model
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import ConfigError, DecoderError

SETTINGS = SimulatedEmgSettings(features=("MAV", "WL", "ZC", "SSC", "AR4"), level_map="logistic")


@pytest.fixture(scope="module")
def trained():
    clock = FakeClock(10.0)
    patient = SimulatedPatient(clock, n_channels=4, seed=3)
    patient.start()
    cues = cue_schedule(SETTINGS.movements, repetitions=2, contract_s=2.0, rest_s=2.0)
    recording = simulate_calibration(patient, clock, cues)
    decoder, report = train_decoder(recording, SETTINGS)
    patient.set_intent("hand_close", 0.6)
    clock.advance(1.0)
    live = patient.read()
    return decoder, report, live


def _decode(decoder, chunk: EmgChunk):
    decoder.reset()
    return decoder.process(chunk)


def test_round_trip_decodes_identically(trained, tmp_path):
    decoder, report, live = trained
    path = tmp_path / "model.npz"
    decoder.save(path, report)
    loaded = Decoder.load(path, channel_names=("EMG1", "EMG2", "EMG3", "EMG4"),
                          sampling_rate_hz=2000.0)
    assert _decode(loaded, live) == _decode(decoder, live)
    assert loaded.model.training_data_sha256_ == decoder.model.training_data_sha256_
    assert len(decoder.model.training_data_sha256_) == 64
    assert loaded.model.settings.level_map == "logistic"
    meta = read_model_meta(path)
    assert meta["features"] == ["MAV", "WL", "ZC", "SSC", "AR4"]
    assert meta["classes"] == sorted(SETTINGS.movements)
    assert meta["channel_names"] == ["EMG1", "EMG2", "EMG3", "EMG4"]
    assert meta["sampling_rate_hz"] == 2000.0
    assert meta["calibration"]["accuracy"] == pytest.approx(report.accuracy)
    assert np.array(meta["calibration"]["confusion"]).sum() == report.confusion.sum()


LEARNED = {"classifier_", "classes_", "feature_names_", "channel_names_", "rest_mav_v_",
           "max_mav_v_", "training_data_sha256_"}


def test_model_init_only_stores_its_hyper_parameters():
    model = DecoderModel(SETTINGS, 0.0, 0, level_percentile=-1.0, channel_names=("A", "A"))
    assert (model.settings, model.sampling_rate_hz, model.n_channels, model.level_percentile,
            model.channel_names) == (SETTINGS, 0.0, 0, -1.0, ("A", "A"))
    assert not model.is_fitted
    assert not [k for k in vars(model) if k.endswith("_")]  # nothing learned yet


def test_fit_and_load_set_the_same_learned_attributes(trained, tmp_path):
    decoder, _, _ = trained
    fitted = decoder.model
    assert LEARNED <= {k for k in vars(fitted) if k.endswith("_")}
    save_model(fitted, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert isinstance(loaded, DecoderModel) and loaded.is_fitted
    for name in LEARNED - {"classifier_"}:
        assert getattr(loaded, name) == getattr(fitted, name), name
    assert loaded.classes_ == tuple(sorted(SETTINGS.movements))
    assert loaded.channel_names_ == ("EMG1", "EMG2", "EMG3", "EMG4")


def test_refuses_another_channel_layout_or_rate(trained, tmp_path):
    decoder, _, _ = trained
    path = tmp_path / "model.npz"
    decoder.save(path)
    with pytest.raises(DecoderError, match="channel layout .* does not match"):
        Decoder.load(path, channel_names=("EMG2", "EMG1", "EMG3", "EMG4"))  # swapped leads
    with pytest.raises(DecoderError, match="channel layout"):
        Decoder.load(path, channel_names=("EMG1", "EMG2", "EMG3"))
    with pytest.raises(DecoderError, match="sampling_rate_hz 1000"):
        Decoder.load(path, sampling_rate_hz=1000.0)
    Decoder.load(path)  # no layout given: accepted as saved


def test_training_hash_tracks_the_data():
    w = np.random.default_rng(0).standard_normal((4, 2, 10))
    y = np.array(["rest", "rest", "hand_open", "hand_open"])
    h = training_hash(w, y)
    assert h == training_hash(w.copy(), y.copy())
    w2 = w.copy()
    w2[0, 0, 0] += 1e-12
    assert training_hash(w2, y) != h
    assert training_hash(w, y[::-1]) != h


def test_bad_files_and_untrained(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(DecoderError, match="not a mirrorvr decoder model"):
        Decoder.load(bad)
    np.savez(tmp_path / "other.npz", meta=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    with pytest.raises(DecoderError, match="format 'x'"):
        Decoder.load(tmp_path / "other.npz")
    with pytest.raises(DecoderError, match="not trained"):
        save_model(DecoderModel(SETTINGS, 2000.0, 2), tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    with pytest.raises(ConfigError, match="channel_names"):
        DecoderModel(SETTINGS, 2000.0, 2, channel_names=("A", "A")).fit(
            np.zeros((1, 2, 300)), ["rest"])


def test_log_amplitude_is_saved_and_old_versions_are_refused(tmp_path):
    import json

    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, n_channels=2, seed=4)
    patient.start()
    settings = SimulatedEmgSettings(log_amplitude=False)
    cues = cue_schedule(settings.movements, repetitions=2, contract_s=1.0, rest_s=1.0)
    decoder, _ = train_decoder(simulate_calibration(patient, clock, cues), settings)
    decoder.save(tmp_path / "m.npz")
    assert read_model_meta(tmp_path / "m.npz")["settings"]["log_amplitude"] is False
    assert Decoder.load(tmp_path / "m.npz").model.settings.log_amplitude is False
    with np.load(tmp_path / "m.npz") as z:
        meta = json.loads(bytes(z["meta"]).decode())
        estimator = z["estimator"]
    meta["version"] = 1
    np.savez(tmp_path / "v1.npz", meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
             estimator=estimator)
    with pytest.raises(DecoderError, match="version 1; expected .* version 2"):
        Decoder.load(tmp_path / "v1.npz")
