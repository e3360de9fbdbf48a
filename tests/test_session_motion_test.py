"""The optional Motion Test block: run on the live decoder, its metrics in summary.json."""

import json
from pathlib import Path

import pytest

from mirrorvr.cli import run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.config import EmgSettings, ProtocolSettings, build_config
from mirrorvr.session.protocol import build_demo_protocol
from mirrorvr.session.summary import format_summary

from fakes import NullRenderer, ScriptedWindow

pyxdf = pytest.importorskip("pyxdf")


def test_motion_test_is_off_by_default_and_appended_when_asked():
    emg = EmgSettings()
    assert [b.name for b in build_demo_protocol(ProtocolSettings(), emg)][-1] == "rating_post"
    blocks = build_demo_protocol(ProtocolSettings(motion_test=True,
                                                  motion_test_repetitions=2), emg)
    test = blocks[-1]
    assert test.kind == "motion_test"
    assert [c.movement for c in test.cues] == 2 * [m for m in emg.movements if m != "rest"]
    assert all(c.end_s - c.start_s == pytest.approx(5.0) for c in test.cues)
    assert test.duration_s == pytest.approx(8 * 7.0 + 2.0)


def test_session_records_motion_test_metrics(tmp_path):
    cfg = build_config({"protocol": {"duration_s": 40.0, "motion_test": True},
                        "render": {"max_fps": 30.0, "saved_frames": 0}})
    clock = FakeClock(1000.0)
    summary = run_demo(cfg, tmp_path, clock=clock, realtime=False,
                       window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))
    mt = summary["motion_test"]
    assert summary["blocks"][-1] == "motion_test"
    assert len(mt["trials"]) == 4 and mt["correct_needed"] == 20
    s = mt["summary"]
    # seed 0: completion 1.0, response 0.44 s, completion 0.99 s, accuracy 0.97
    assert s["n_trials"] == 4
    assert s["completion_rate"] >= 0.5
    assert 0.2 < s["response_time_s"] < 1.0  # reaction 0.2 s + onset + decoder
    assert 0.5 < s["realtime_accuracy"] <= 1.0
    saved = json.loads((Path(summary["session_dir"]) / "summary.json").read_text())
    assert saved["motion_test"]["summary"]["n_trials"] == 4
    assert f"{100 * s['completion_rate']:.0f} % of 4 trials completed" in format_summary(summary)
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    markers = next(s for s in streams if s["info"]["name"][0] == "markers")
    texts = [m[0] for m in markers["time_series"]]
    assert any(t.startswith("motion_test {") for t in texts)
