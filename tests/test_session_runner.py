"""The session runner's safety behaviour, without GL: a scripted window and a null renderer.

SAFETY.md item 8 (one key stops all stimulation; the session goes on without it until the
therapist re-arms) and item 9 (an exception anywhere leaves every channel off and the
recording readable).
"""

import json

import numpy as np
import pytest

from mirrorvr.cli import run_demo
from mirrorvr.cli.compose import DEMO_RATINGS
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config

from fakes import NullRenderer, ScriptedWindow, block_spans, planned_starts, protocol

pyxdf = pytest.importorskip("pyxdf")

FPS = 30.0


T0 = 1000.0
CONFIG = build_config(
    {"protocol": {"duration_s": 40.0}, "render": {"max_fps": FPS, "saved_frames": 0}}
)
# when the keys are pressed: the blocks' planned starts (the recording has the true ones)
PHANTOM_S, MIRROR_S = (planned_starts(CONFIG, T0)[b] for b in ("phantom", "mirror"))


def _run(tmp_path, keys, fail_at_s=None):
    clock = FakeClock(T0)
    return run_demo(
        CONFIG, tmp_path, clock=clock, realtime=False,
        window=ScriptedWindow(clock, keys), renderer=NullRenderer(clock, fail_at_s),
    )


def _stim_events(summary):
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    events = [json.loads(e[0]) for e in by_name["stimulation"]["time_series"]]
    markers = [m[0] for m in by_name["markers"]["time_series"]]
    return events, markers


def test_without_keys_stimulation_runs_in_both_movement_blocks(tmp_path):
    summary = _run(tmp_path, {})
    events, _ = _stim_events(summary)
    spans = block_spans(summary["recording"])
    sent_t = [e["t_s"] for e in events if e["kind"] == "sent"]
    for block in ("phantom", "mirror"):
        assert any(spans[block][0] < t < spans[block][1] for t in sent_t), block


def test_emergency_stop_key_stops_stimulation_for_the_rest_of_the_session(tmp_path):
    estop_s = PHANTOM_S + 0.5
    summary = _run(tmp_path, {estop_s: "space"})
    events, markers = _stim_events(summary)
    assert "emergency_stop key" in markers
    assert summary["ems"]["emergency_stops"] == 1
    assert not [e for e in events if e["kind"] == "sent" and e["t_s"] > estop_s]
    assert summary["ems"]["blocked"] >= 1  # movements were still seen, EMS was not given
    assert summary["ratings"] == DEMO_RATINGS  # the session went on to the end
    assert summary["movements_seen"] >= 4


def test_therapist_rearm_restores_stimulation(tmp_path):
    summary = _run(tmp_path, {PHANTOM_S + 0.5: "space", MIRROR_S: "f9"})
    events, markers = _stim_events(summary)
    assert "stimulation_rearmed" in markers
    assert [e for e in events if e["kind"] == "sent" and e["t_s"] > MIRROR_S]


def test_a_crash_mid_train_leaves_every_channel_off_and_the_recording_readable(tmp_path):
    # the first phantom-block train runs from about 0.5 s to 2 s into the block
    with pytest.raises(RuntimeError, match="GPU lost"):
        _run(tmp_path, {}, fail_at_s=PHANTOM_S + 1.3)
    recording = next(tmp_path.rglob("recording.xdf"))
    streams, _ = pyxdf.load_xdf(str(recording), dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    markers = [m[0] for m in by_name["markers"]["time_series"]]
    assert any(m.startswith("session_error RuntimeError") for m in markers)
    events = [json.loads(e[0]) for e in by_name["stimulation"]["time_series"]]
    sent = [e for e in events if e["kind"] == "sent"]
    stopped = [e for e in events if e["kind"] == "stopped"]
    assert sent and len(stopped) == len(sent)  # every train that started has stopped
    assert any("session error" in e["detail"]["reason"] for e in stopped)


def _plan_entries(summary):
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    return [json.loads(e[0]) for e in by_name["movement_plan"]["time_series"]]


def test_guided_calibration_stimulation_is_configurable_and_exact(tmp_path):
    clock = FakeClock(T0)
    summary = run_demo(CONFIG, tmp_path, clock=clock, realtime=False,
                       protocol=protocol(calibration={"stimulation": True}),
                       window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))
    entries = _plan_entries(summary)
    guided = [e for e in entries if e["source"] == "cue" and e["stim"]]
    assert guided, "guided calibration movements were stimulated"
    for e in guided:
        sent = [s for s in e["stim"] if s["status"] == "sent"]
        assert sent
        for s in sent:  # every time of the chain is recorded
            assert s["planned_send_s"] <= e["onset_s"] and s["actual_send_s"] is not None
            assert s["predicted_contraction_s"] is not None
        assert e["photon_s"] == pytest.approx(e["onset_s"], abs=1e-9)  # the frame was held
        # exact up to the simulated transport jitter (uniform in [0, 1 ms])
        assert 0.0 <= e["asynchrony_s"] <= 0.001 + 1e-9


def test_a_stimulating_guided_block_meets_every_cue_also_its_first(tmp_path):
    """A guided timeline plays each cue D after it appears; D covers the stimulation path,
    so the cue at the block's very start is stimulated in step like the others."""
    from mirrorvr.session.protocol import parse_protocol

    clock = FakeClock(T0)
    guided = parse_protocol({"name": "guided-test", "limb": "upper", "title": "guided",
                             "blocks": [{"kind": "guided", "duration_s": 6.0, "cue_s": 2.0,
                                         "attempt_fraction": 0.5, "stimulation": True}]})
    config = build_config({"render": {"max_fps": FPS, "saved_frames": 0}})
    summary = run_demo(config, tmp_path, clock=clock, realtime=False, protocol=guided,
                       window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))
    start_s = block_spans(summary["recording"])["guided"][0]
    delay_s = summary["latency"]["presentation_delay_s"]["guided"]
    assert delay_s > 0.05  # the stimulation path (a rise to the motor threshold, EMD, ...)
    played = [e for e in _plan_entries(summary) if e["source"] == "cue"
              and start_s <= e["onset_s"] <= start_s + 6.0 + delay_s]
    assert [round(e["onset_s"] - start_s - delay_s, 6) for e in played] == [0.0, 2.0, 4.0]
    for e in played:
        assert e["stim"] and all(s["status"] == "sent" for s in e["stim"]), e["stim"]
        assert 0.0 <= e["asynchrony_s"] <= 0.001 + 1e-9


def test_calibration_sends_no_stimulation_by_default(tmp_path):
    summary = _run(tmp_path, {})
    entries = _plan_entries(summary)
    assert not [e for e in entries if e["source"] == "cue" and e["stim"]]
    assert [e for e in entries if e["source"] != "cue" and e["stim"]]


def test_on_screen_stop_button_is_an_emergency_stop(tmp_path):
    from mirrorvr.session.estop_control import EStopButton, parse_click

    button = EStopButton()
    w, h = CONFIG.render.width, CONFIG.render.height
    assert button.hit(w - 5, 5, w, h) and not button.hit(w / 2, h / 2, w, h)
    assert parse_click("click 10 20") == (10.0, 20.0) and parse_click("space") is None
    assert parse_click("click a b") is None
    click_s = PHANTOM_S + 0.5
    summary = _run(tmp_path, {PHANTOM_S + 0.2: "click 640 360", click_s: f"click {w - 10} 10"})
    events, markers = _stim_events(summary)
    assert markers.count("emergency_stop button") == 1  # the click off the button did nothing
    assert summary["ems"]["emergency_stops"] == 1
    assert not [e for e in events if e["kind"] == "sent" and e["t_s"] > click_s]


def test_a_recorded_session_replays_through_the_playback_source(tmp_path):
    first = _run(tmp_path / "first", {})
    replay_cfg = build_config({
        "protocol": {"duration_s": 40.0}, "render": {"max_fps": FPS, "saved_frames": 0},
        "emg": {"source": "playback", "playback_file": first["recording"]},
    })
    clock = FakeClock(T0)
    second = run_demo(replay_cfg, tmp_path / "second", clock=clock, realtime=False,
                      window=ScriptedWindow(clock, {}), renderer=NullRenderer())
    recorded = [pyxdf.load_xdf(s["recording"], dejitter_timestamps=False)[0]
                for s in (first, second)]
    emg = [next(s for s in streams if s["info"]["name"][0] == "EMG")["time_series"]
           for streams in recorded]
    n = min(len(emg[0]), len(emg[1]))
    assert n > 0.95 * len(emg[0])
    np.testing.assert_array_equal(emg[1][:n], emg[0][:n])  # the same EMG, sample for sample
    # same EMG against the same cue times: the decoder is trained on the same windows
    assert second["decoder"]["cv_accuracy"] == pytest.approx(first["decoder"]["cv_accuracy"],
                                                             abs=0.02)
    assert second["acquisition_gaps"] == []
