"""The optional Motion Test block: run on the live decoder, its metrics in summary.json."""

import json
from pathlib import Path

import pytest

from mirrorvr.cli import run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.session.protocol import limb_movements, plan_protocol
from mirrorvr.session.summary import format_summary

from fakes import NullRenderer, ScriptedWindow, protocol

pyxdf = pytest.importorskip("pyxdf")

SPEC = {"kind": "motion_test", "repetitions": 2, "timeout_s": 5.0, "rest_s": 2.0}


def test_a_motion_test_block_cues_every_calibrated_movement_per_repetition():
    blocks = plan_protocol(protocol(blocks=[SPEC]), limb_movements("upper"))
    test, calibration = blocks[-1], blocks[1]
    assert test.kind == "motion_test"
    active = [m for m in calibration.movements if m != "rest"]
    assert [c.movement for c in test.cues] == SPEC["repetitions"] * active
    assert all(c.end_s - c.start_s == pytest.approx(SPEC["timeout_s"]) for c in test.cues)
    trial_s = SPEC["timeout_s"] + SPEC["rest_s"]
    assert test.duration_s == pytest.approx(len(test.cues) * trial_s + SPEC["rest_s"])


def test_session_records_motion_test_metrics(tmp_path):
    cfg = build_config({
                        "render": {"max_fps": 30.0, "saved_frames": 0}})
    clock = FakeClock(1000.0)
    summary = run_demo(cfg, tmp_path, clock=clock, realtime=False,
                       protocol=protocol(blocks=[SPEC]),
                       window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))
    mt = summary["motion_test"]
    assert summary["blocks"][-1] == "motion_test"
    assert len(mt["trials"]) == 4 * SPEC["repetitions"] and mt["correct_needed"] == 20
    s = mt["summary"]
    # seed 0: completion 1.0, response 0.44 s, completion 0.99 s, accuracy 0.97
    assert s["n_trials"] == len(mt["trials"])
    assert s["completion_rate"] >= 0.5
    assert 0.2 < s["response_time_s"] < 1.0  # reaction 0.2 s + onset + decoder
    assert 0.5 < s["realtime_accuracy"] <= 1.0
    saved = json.loads((Path(summary["session_dir"]) / "summary.json").read_text())
    assert saved["motion_test"]["summary"]["n_trials"] == s["n_trials"]
    assert (f"{100 * s['completion_rate']:.0f} % of {s['n_trials']} trials completed"
            in format_summary(summary))
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    markers = next(s for s in streams if s["info"]["name"][0] == "markers")
    texts = [m[0] for m in markers["time_series"]]
    assert any(t.startswith("motion_test {") for t in texts)
