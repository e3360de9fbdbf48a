"""Stimulation that must not happen, tried through the public paths (issue 9, SAFETY.md 9-14).

Each test goes in the way a user would — a TOML file, the command line, a whole session on
the fake clock — not through the governor's API.
"""

import json

import numpy as np
import pytest
import tomli_w

from mirrorvr.cli import main, run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.config import load_config
from mirrorvr.record.recorder import Recorder
from mirrorvr.session.summary import format_summary

from fakes import NullRenderer, ScriptedWindow

pyxdf = pytest.importorskip("pyxdf")

T0 = 1000.0
FAST = {"render": {"max_fps": 30.0, "saved_frames": 0}}


def _write(path, data: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def _session(tmp_path, data: dict, *, renderer=None, duration_s=40.0):
    """Run a session from ``data`` written as a TOML file, on the fake clock, no GL."""
    data = {**FAST, **data, "protocol": {"duration_s": duration_s, **data.get("protocol", {})}}
    config = load_config(_write(tmp_path / "session.toml", data))
    clock = FakeClock(T0)
    renderer = renderer or NullRenderer(clock)
    if getattr(renderer, "clock", None) is None:
        renderer.clock = clock
    return run_demo(config, tmp_path / "data", clock=clock, realtime=False,
                    window=ScriptedWindow(clock, {}), renderer=renderer)


def _streams(summary):
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


def _events(streams):
    return [json.loads(e[0]) for e in streams["stimulation"]["time_series"]]


def _markers(streams):
    return [(t, m[0]) for t, m in zip(streams["markers"]["time_stamps"],
                                      streams["markers"]["time_series"], strict=True)]


def _block_span(markers, name):
    start = next(t for t, m in markers if m == f"block_start {name}")
    end = next(t for t, m in markers if m == f"block_end {name}")
    return start, end


# ---------------------------------------------------------------- SAFETY.md 12

#: An openEMSstim board (on pyserial's loopback) gating a unit set to 300 us at 35 Hz, with
#: the hard limits a clinic would configure for it.
OPENEMSSTIM_ON_LOOPBACK = {
    "driver": "openemsstim", "serial_port": "loop://", "full_scale_ma": 100.0,
    "pulse_width_us": 300.0, "frequency_hz": 35.0,
    "device": {"model": "openEMSstim", "n_channels": 2, "min_pulse_width_us": 300.0,
               "max_pulse_width_us": 300.0, "min_frequency_hz": 35.0,
               "max_frequency_hz": 35.0000005},
}


def test_a_real_stimulator_without_a_profile_never_arms(tmp_path):
    # before: the demo patient's thresholds stood in and trains of 18 mA went out
    summary = _session(tmp_path, {"stim": OPENEMSSTIM_ON_LOOPBACK})
    assert summary["ems"]["state"].startswith("not armed: no patient profile")
    assert "SAFETY.md 12" in summary["ems"]["state"]
    events = _events(_streams(summary))
    assert not [e for e in events if e["kind"] in ("sent", "armed")]
    assert "/no-profile/" in summary["session_dir"]  # not filed under the demo's pseudonym


def test_a_profile_without_titrated_channels_says_why_it_does_not_arm(tmp_path):
    patient = {"pseudonym": "sub-31", "amputated_side": "left",
               "amputation_level": "transradial", "screening": {}}
    summary = _session(tmp_path, {"patient": patient})
    state = summary["ems"]["state"]
    assert state.startswith("not armed: patient sub-31 has no titrated channel")
    assert summary["ems"]["sent"] == 0 and summary["ems"]["skipped"] == 0


def test_a_profile_without_screening_cannot_arm(tmp_path):
    from mirrorvr.sim.demo import demo_patient

    patient = demo_patient().model_dump(mode="json", exclude={"screening"}, exclude_none=True)
    summary = _session(tmp_path, {"patient": patient})
    assert "no screening" in summary["ems"]["state"]
    assert summary["ems"]["sent"] == 0


TITRATED_CHANNEL = {"channel": 0, "site": "forearm flexors", "electrode_area_cm2": 20.0,
                    "sensory_threshold_ma": 5.0, "motor_threshold_ma": 10.0,
                    "max_tolerated_ma": 15.0}


@pytest.mark.parametrize("screening, channels, says", [
    ({}, [], "patient sub-31 has no titrated channel among the mapped channels [0, 1]"),
    (None, [TITRATED_CHANNEL], "the profile of sub-31 has no screening"),
    ({"epilepsy": True}, [TITRATED_CHANNEL], "patient sub-31 has contraindications epilepsy"),
], ids=["no channels", "no screening", "contraindicated"])
def test_check_says_why_a_profile_would_not_arm(tmp_path, capsys, screening, channels, says):
    # before: "mirrorvr check" said "stimulation  simulated" and the session then skipped
    # every train; check now gives the reason the session gives when it starts
    patient = {"pseudonym": "sub-31", "amputated_side": "left",
               "amputation_level": "transradial", "stim_channels": channels}
    if screening is not None:
        patient["screening"] = screening
    config = _write(tmp_path / "c.toml", {"patient": patient})
    assert main(["check", "--config", str(config), "--data-dir", str(tmp_path / "d")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "stimulation" in x)
    assert line.split(None, 1)[1].startswith(f"simulated, would not arm: {says}")


# ---------------------------------------------------------------- SAFETY.md 14


@pytest.mark.parametrize("emg, says", [
    ({}, ["emg.sampling_rate_hz = 2000", "streams at 250 Hz"]),
    ({"sampling_rate_hz": 250, "bandpass_hz": [20, 110]},
     ["emg.n_channels = 8", "has 16 EMG channels", "set emg.n_channels = 16"]),
], ids=["rate", "channels"])
def test_a_board_streaming_at_another_rate_is_refused_before_anything_starts(tmp_path, capsys,
                                                                           emg, says):
    # the README's old example: SYNTHETIC_BOARD streams 16 channels at 250 Hz
    config = _write(tmp_path / "c.toml", {"emg": {"source": "brainflow",
                                                  "board": "SYNTHETIC_BOARD", **emg}})
    data = tmp_path / "data"
    assert main(["demo", "--config", str(config), "--data-dir", str(data), "--headless"]) == 2
    err = capsys.readouterr().err
    for fragment in says:
        assert fragment in err
    assert not list(data.rglob("recording.xdf"))


def _noise_recording(path_dir, duration_s: float, fs: float = 2000.0, n: int = 8):
    """An XDF recording of 8 channels of white noise: EMG no decoder can read."""
    clock = FakeClock(0.0)
    rec = Recorder(path_dir, clock)
    emg = rec.add_stream("EMG", "EMG", [f"EMG{i + 1}" for i in range(n)], fs, "float32")
    rec.start()
    rng = np.random.default_rng(3)
    t = np.arange(int(duration_s * fs)) / fs
    rec.push(emg, t, 20e-6 * rng.standard_normal((t.size, n)))
    rec.close()
    return rec.path


def test_a_decoder_below_the_threshold_never_triggers_stimulation(tmp_path):
    # before: a decoder at 11.7 % (chance 20 %) sent trains of 18-20 mA in the phantom block
    recording = _noise_recording(tmp_path / "noise", 45.0)
    summary = _session(tmp_path, {"emg": {"source": "playback",
                                          "playback_file": str(recording)}})
    accuracy = summary["decoder"]["cv_accuracy"]
    assert accuracy < 0.8
    streams = _streams(summary)
    markers = _markers(streams)
    start, end = _block_span(markers, "phantom")
    sent = [e for e in _events(streams) if e["kind"] == "sent"]
    assert not [e for e in sent if start <= e["t_s"] <= end]
    held = summary["ems"]["held_by_safety_gate"]
    assert sum(held.values()) >= 1 and all("below the 80 % needed" in k for k in held)
    assert any(m.startswith("stimulation_from_decoder_off decoder accuracy")
               for _, m in markers)
    # the mirror block's trains follow the (scripted) intact hand, not the decoder
    assert [e for e in sent if e["t_s"] > end]


# ---------------------------------------------------------------- the end of the EMG


class StatusRecorder(NullRenderer):
    """Keeps each frame's status line and photon-time-free session time."""

    def __init__(self):
        super().__init__()
        self.status: list[tuple[float, str]] = []

    def draw(self, state):
        self.status.append((self.clock.now(), state.status_text))


@pytest.fixture(scope="module")
def demo_recording(tmp_path_factory):
    """A real 40 s demo session's recording (simulated patient), to replay cut short."""
    tmp = tmp_path_factory.mktemp("demo")
    return _session(tmp, {})


def _cut_recording(recording: str, out_dir, keep_s: float):
    """The EMG of ``recording``, its first ``keep_s`` seconds only, as a new XDF."""
    emg = _streams({"recording": recording})["EMG"]
    t = emg["time_stamps"]
    keep = t < t[0] + keep_s
    clock = FakeClock(0.0)
    rec = Recorder(out_dir, clock)
    labels = [c["label"][0] for c in emg["info"]["desc"][0]["channels"][0]["channel"]]
    handle = rec.add_stream("EMG", "EMG", labels, float(emg["info"]["nominal_srate"][0]),
                            "float32")
    rec.start()
    rec.push(handle, t[keep] - t[0], emg["time_series"][keep])
    rec.close()
    return rec.path


def test_emg_that_ends_is_a_recorded_shown_gap_and_stimulation_stops(tmp_path, demo_recording):
    # before: EMG stopped at 12.75 s of 26 s with no marker, no gap, "every channel ok"
    phantom_start, phantom_end = _block_span(_markers(_streams(demo_recording)), "phantom")
    first_sample = _streams(demo_recording)["EMG"]["time_stamps"][0]
    cut_s = (phantom_start + phantom_end) / 2 - first_sample
    replay = _cut_recording(demo_recording["recording"], tmp_path / "cut", cut_s)
    hud = StatusRecorder()
    summary = _session(tmp_path, {"emg": {"source": "playback", "playback_file": str(replay)}},
                       renderer=hud)
    gaps = summary["acquisition_gaps"]
    assert len(gaps) == 1 and gaps[0]["end_s"] is None
    assert gaps[0]["reason"] == "the playback file ended"
    streams = _streams(summary)
    last_sample = streams["EMG"]["time_stamps"][-1]
    assert gaps[0]["start_s"] == pytest.approx(last_sample, abs=1e-6)
    markers = _markers(streams)
    stopped_at = next(t for t, m in markers if m.startswith("emg_stream_stopped"))
    assert stopped_at - last_sample <= 0.5 + 0.05  # emg.silence_s, checked every 5 ms
    events = _events(streams)
    assert summary["ems"]["sent"] >= 1  # the phantom block stimulated while EMG came
    decoded = [e for e in events if e["kind"] == "sent" and e["t_s"] > stopped_at
               and e["detail"]["movement"] and e["t_s"] < _block_span(markers, "phantom")[1]]
    assert not decoded
    assert any(e["kind"] == "all_off" and "EMG stream stopped" in e["detail"]["reason"]
               for e in events)
    shown = [text for t, text in hud.status if t > stopped_at + 0.1]
    assert shown and all("EMG: NO SIGNAL" in text for text in shown)
    assert "the playback file ended from" in format_summary(summary)


# ---------------------------------------------------------------- SAFETY.md 9


def test_trains_cut_by_the_watchdog_are_reported_cut_short_and_not_in_sync(tmp_path):
    # before: the watchdog cut every train after 46-79 ms, the summary said "3 sent,
    # asynchrony +0.3 ms (n = 3)"
    base = _session(tmp_path / "base", {})
    stream = _streams(base)
    phantom_start, _ = _block_span(_markers(stream), "phantom")
    trains = [e for e in _events(stream) if e["kind"] == "sent" and e["t_s"] > phantom_start]
    stall_at = trains[0]["t_s"] + 0.3  # mid-train: 0.3 s after the first phantom send
    summary = _session(tmp_path / "stalled", {},
                       renderer=NullRenderer(stalls_s={stall_at: 0.15}))
    assert summary["watchdog"]["trips"] >= 1
    ems = summary["ems"]
    cut = ems["cut_short_trains"]
    assert ems["cut_short"] == len(cut) >= 1
    assert all(c["actual_s"] < c["planned_s"] for c in cut)
    assert any(c["reason"].startswith("watchdog") for c in cut)
    assert ems["delivered"] + ems["cut_short"] == ems["sent"]
    # a movement whose train was cut is not counted in the asynchrony statistics
    cut_starts = {(c["channel"], c["start_s"]) for c in cut}
    plan = [json.loads(v[0]) for v in _streams(summary)["movement_plan"]["time_series"]]
    stimulated = [m for m in plan if m["asynchrony_s"] is not None]
    in_sync = [m for m in stimulated
               if not {(r["channel"], r["actual_send_s"]) for r in m["stim"]} & cut_starts]
    assert len(in_sync) < len(stimulated)
    assert summary["asynchrony"]["n"] == len(in_sync)
