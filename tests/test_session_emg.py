"""EMG in a session: the decoder saved with it, signal quality, stimulation-artefact blanking.

Fake clock, scripted window and null renderer (no GL), as in test_session_runner.
"""

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from test_session_runner import CONFIG, T0

from mirrorvr.cli import build_session, run_demo
from mirrorvr.cli.compose import DEMO_RATINGS
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.emg.decoder import Decoder
from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import DecoderError
from mirrorvr.session.quality import PROBLEM_BITS
from mirrorvr.session.runner import SessionRunner
from mirrorvr.session.summary import format_summary, write_summary

from fakes import NullRenderer, ScriptedWindow, block_spans, planned_starts, protocol

pyxdf = pytest.importorskip("pyxdf")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    clock = FakeClock(T0)
    return run_demo(CONFIG, tmp_path_factory.mktemp("data"), clock=clock, realtime=False,
                    window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))


def test_the_trained_decoder_is_saved_with_the_session_and_refuses_another_layout(demo):
    dec = demo["decoder"]
    on_disk = json.loads(Path(demo["session_dir"], "summary.json").read_text())
    assert on_disk["decoder"]["model_file"] == dec["model_file"]
    assert dec["model_file"].startswith(demo["session_dir"])
    names = dec["channel_names"]
    assert len(names) == CONFIG.emg.n_channels
    model = Decoder.load(dec["model_file"], channel_names=names,
                         sampling_rate_hz=CONFIG.emg.sampling_rate_hz)
    assert set(model.model.classes_) == set(dec["classes"])
    assert model.model.training_data_sha256_ == dec["training_data_sha256"]
    with pytest.raises(DecoderError, match="channel layout"):
        Decoder.load(dec["model_file"], channel_names=names[::-1])
    with pytest.raises(DecoderError, match="channel layout"):
        Decoder.load(dec["model_file"], channel_names=names[:4])
    with pytest.raises(DecoderError, match="sampling_rate_hz"):
        Decoder.load(dec["model_file"], channel_names=names, sampling_rate_hz=1000.0)
    streams, _ = pyxdf.load_xdf(demo["recording"], dejitter_timestamps=False)
    markers = [m[0] for s in streams if s["info"]["name"][0] == "markers"
               for m in s["time_series"]]
    assert any(m.startswith("decoder_saved decoder.npz") for m in markers)


def test_the_simulated_patient_s_emg_has_no_quality_problem(demo):
    quality = demo["signal_quality"]
    assert quality["checks"] > 140 and quality["channels"] == {}


# ---------------------------------------------------------------------- signal quality

_STARTS = planned_starts(CONFIG, T0)
FLAT_CH, FLAT_FROM_S = 2, _STARTS["phantom"] + 2.0  # EMG3 reads 0 V from 2 s into phantom
NAN_CH, NAN_FROM_S = 5, _STARTS["mirror"] + 2.0  # EMG6 reads NaN from 2 s into the mirror


class DefectiveSource:
    """Wraps an EMG source; one channel goes flat (0 V), another NaN, from given times."""

    def __init__(self, source):
        self._source = source

    def __getattr__(self, name):
        return getattr(self._source, name)

    def read(self):
        chunk = self._source.read()
        if chunk is None:
            return None
        data = chunk.data.copy()
        data[FLAT_CH, chunk.t_s >= FLAT_FROM_S] = 0.0
        data[NAN_CH, chunk.t_s >= NAN_FROM_S] = np.nan
        return EmgChunk(chunk.t_s, data)


class StatusRenderer(NullRenderer):
    def __init__(self):
        super().__init__()
        self.status = []

    def draw(self, state):
        self.status.append(state.status_text)


@pytest.fixture(scope="module")
def defective(tmp_path_factory):
    clock = FakeClock(T0)
    renderer = StatusRenderer()
    parts = build_session(CONFIG, tmp_path_factory.mktemp("data"), clock=clock,
                          realtime=False, window=ScriptedWindow(clock, {}), renderer=renderer)
    parts.emg_source = DefectiveSource(parts.emg_source)
    summary = SessionRunner(parts).run()
    write_summary(summary, parts.session_dir)
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    return summary, {s["info"]["name"][0]: s for s in streams}, renderer.status


def test_a_defect_on_one_channel_is_recorded_shown_and_summarised_for_that_channel_only(
        defective):
    summary, streams, status = defective
    q = streams["signal_quality"]
    names = [c["label"][0] for c in q["info"]["desc"][0]["channels"][0]["channel"]]
    assert names == [f"EMG{i + 1}" for i in range(8)]
    t, codes = q["time_stamps"], q["time_series"].astype(int)
    # a check every 250 ms of EMG, from the first full second on
    assert np.median(np.diff(t)) == pytest.approx(0.25, abs=0.005) and len(t) > 140
    assert np.diff(t).max() < 0.3  # (a frame held for an onset may delay one check)
    flat, nan = PROBLEM_BITS["flat"], PROBLEM_BITS["nan"]
    others = [c for c in range(8) if c not in (FLAT_CH, NAN_CH)]
    assert not codes[:, others].any()  # the other channels are clean throughout
    assert not codes[t < FLAT_FROM_S, FLAT_CH].any()
    assert (codes[t > FLAT_FROM_S + 1.01, FLAT_CH] == flat).all()  # within 1 s, for good
    assert not codes[t < NAN_FROM_S, NAN_CH].any()
    assert (codes[t > NAN_FROM_S + 1.01, NAN_CH] & nan).all()
    assert (codes[t >= NAN_FROM_S + 0.25, NAN_CH] & nan).all()  # NaN: the next check
    markers = [m[0] for m in streams["markers"]["time_series"]]
    quality_markers = [m for m in markers if m.startswith("signal_quality ")]
    assert quality_markers[0].startswith("signal_quality EMG3: flat (")
    assert any(m.startswith("signal_quality EMG6: nan (") for m in quality_markers)
    assert all(m.split()[1] in ("EMG3:", "EMG6:") for m in quality_markers)
    assert any(m.startswith("signal_quality_bits ") for m in markers)
    # the therapist sees the worst channel: flat first, then NaN (more severe) takes over
    assert any("EMG3: flat" in s for s in status)
    assert any("EMG6: nan (+1 more)" in s for s in status)
    assert not any("EMG" in s for s in status[:30])
    # the summary lists the problems of those two channels, and only theirs
    channels = summary["signal_quality"]["channels"]
    assert set(channels) == {"EMG3", "EMG6"}
    assert list(channels["EMG3"]["problems"]) == ["flat"]
    assert list(channels["EMG6"]["problems"]) == ["nan"]
    # flat once the whole checked second is: found at the first check after that
    assert FLAT_FROM_S + 1.0 <= channels["EMG3"]["first_found_s"] <= FLAT_FROM_S + 1.3
    assert "EMG3 flat" in format_summary(summary)
    # NaN reached the recording as it came, but not the decoder: the session went on
    emg = streams["EMG"]
    assert np.isnan(emg["time_series"][emg["time_stamps"] > NAN_FROM_S + 0.1, NAN_CH]).all()
    assert np.isfinite(streams["decoder"]["time_series"]).all()
    assert summary["ratings"] == DEMO_RATINGS


# ---------------------------------------------------------------------- stimulation artefacts


def _decisions_and_trains(summary):
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    intents = by_name["decoder"]
    decisions = dict(zip(np.round(intents["time_stamps"], 4),
                         intents["time_series"][:, 0].astype(int), strict=True))
    events = [json.loads(e[0]) for e in by_name["stimulation"]["time_series"]]
    mirror_s = block_spans(summary["recording"])["mirror"][0]
    trains = [(e["detail"]["start_s"], e["detail"]["start_s"] + e["detail"]["on_time_s"])
              for e in events if e["kind"] == "sent" and e["t_s"] < mirror_s]
    return decisions, trains, by_name["EMG"]["time_series"]


def _run(tmp_path, artefacts: bool, blanking: bool):
    data = CONFIG.model_dump(mode="json")
    data["stim"]["blank_emg"] = blanking
    clock = FakeClock(T0)
    parts = build_session(build_config(data), tmp_path, clock=clock, realtime=False,
                          window=ScriptedWindow(clock, {}), renderer=NullRenderer())
    if not artefacts:
        parts.emg_source.stim_artefact_v_per_ma = 0.0
    runner = SessionRunner(parts)
    summary = runner.run()
    return (*_decisions_and_trains(summary), summary, runner)


def _during(decisions, trains, window_s):
    """Decision times whose window overlaps a train."""
    return [t for t in decisions
            if any(a < t and t - window_s < b for a, b in trains)]


def test_blanking_keeps_stimulation_artefacts_from_poisoning_the_decisions(tmp_path, demo):
    # the same seed, cues and calibration (no stimulation in it): the same decoder each time
    clean_dec, _, clean_emg, *_ = _run(tmp_path / "clean", artefacts=False, blanking=False)
    bad_dec, bad_trains, bad_emg, bad, runner = _run(tmp_path / "raw", artefacts=True,
                                                     blanking=False)
    ok_dec, ok_trains, _ = _decisions_and_trains(demo)  # the default: artefacts, blanked
    # stim.blank_emg: on by default, off blanks nothing from the decoder's EMG
    assert CONFIG.stim.blank_emg
    assert demo["ems"]["pulses_blanked_from_decoder"] > 100
    assert bad["ems"]["sent"] > 0 and bad["ems"]["pulses_blanked_from_decoder"] == 0
    assert runner.ctx.decoder.blanker.blanked_samples == 0
    # the artefacts are in the recorded EMG (spikes of several mV)
    assert np.abs(bad_emg).max() > 3 * np.abs(clean_emg).max()
    w = CONFIG.emg.window_s

    def agreement(dec, trains):
        times = _during(dec, trains, w)
        assert len(times) > 50
        return np.mean([dec[t] == clean_dec[t] for t in times]), len(times)

    (without, n_without), (blanked, n_blanked) = agreement(bad_dec, bad_trains), agreement(
        ok_dec, ok_trains)
    logging.getLogger(__name__).info(
          f"decisions during stimulation equal to the artefact-free ones: "
          f"{100 * without:.1f} % of {n_without} without blanking, "
          f"{100 * blanked:.1f} % of {n_blanked} with")
    assert without < 0.6
    assert blanked > 0.9 and blanked > without + 0.3


# ------------------------------------------------------------ stimulation during calibration


def _calibrate_with_stimulation(tmp_path, monkeypatch, artefacts: bool, blanking: bool):
    """Rating and a calibration block that stimulates, ended with Esc once the phantom block
    has begun; returns the summary and the recording the decoder trained on."""
    import mirrorvr.session.blocks.calibration as runner_module

    data = CONFIG.model_dump(mode="json")
    data["stim"].update(blank_emg=blanking)
    config, stimulating = build_config(data), protocol(calibration={"stimulation": True})
    clock = FakeClock(T0)
    phantom_s = planned_starts(config, T0, stimulating)["phantom"]
    parts = build_session(config, tmp_path, clock=clock, realtime=False, protocol=stimulating,
                          window=ScriptedWindow(clock, {phantom_s + 0.1: "escape"}),
                          renderer=NullRenderer())
    if not artefacts:
        parts.emg_source.stim_artefact_v_per_ma = 0.0
    trained_on = []
    train = runner_module.train_decoder

    def spy(recording, *args, **kwargs):
        trained_on.append(recording)
        return train(recording, *args, **kwargs)

    monkeypatch.setattr(runner_module, "train_decoder", spy)
    summary = SessionRunner(parts).run()
    assert len(trained_on) == 1
    return summary, trained_on[0]


def test_calibration_stimulation_is_blanked_from_the_training_emg(tmp_path, monkeypatch):
    blanked, on = _calibrate_with_stimulation(tmp_path / "on", monkeypatch, True, True)
    raw, off = _calibrate_with_stimulation(tmp_path / "off", monkeypatch, True, False)
    clean, free = _calibrate_with_stimulation(tmp_path / "free", monkeypatch, False, True)
    # the guided calibration stimulated (35 Hz trains of 1.5 s)
    assert blanked["ems"]["sent"] >= 3 and raw["ems"]["sent"] >= 3
    assert blanked["ems"]["pulses_blanked_from_calibration"] > 100
    assert raw["ems"]["pulses_blanked_from_calibration"] == 0
    streams, _ = pyxdf.load_xdf(blanked["recording"], dejitter_timestamps=False)
    markers = [m[0] for s in streams if s["info"]["name"][0] == "markers"
               for m in s["time_series"]]
    n = blanked["ems"]["pulses_blanked_from_calibration"]
    assert any(m.startswith(f"calibration_emg_blanked pulses={n} samples=") for m in markers)
    # unblanked, the artefacts (~20 mV spikes) are in the training EMG; blanked, nothing
    # is larger than the artefact-free EMG (measured: 21.2 mV, 2.33 mV, 2.33 mV)
    peak = np.abs(free.data).max()
    assert np.abs(off.data).max() > 5 * peak
    assert np.abs(on.data).max() <= 1.01 * peak
    # ... and the proportional level's full scale is not poisoned (measured, stimulated
    # classes: 2.7-3.3x the artefact-free value unblanked, within 0.2 % blanked)
    stimulated = ["hand_open", "hand_close", "wrist_extension"]
    for c in stimulated:
        full_scale = clean["decoder"]["max_mav_v"][c]
        assert blanked["decoder"]["max_mav_v"][c] == pytest.approx(full_scale, rel=0.05)
        assert raw["decoder"]["max_mav_v"][c] > 2 * full_scale
