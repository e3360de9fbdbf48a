"""The optional TAC test block: the decoded movement drives the limb towards a ghost target on
the simulated patient; its trials are scored by the one TAC scoring path and recorded."""

import json
from pathlib import Path

import numpy as np
import pytest

from mirrorvr.cli import build_session
from mirrorvr.clock import FakeClock
from mirrorvr.config import EmgSettings, ProtocolSettings, build_config
from mirrorvr.errors import ConfigError
from mirrorvr.session.protocol import build_demo_protocol
from mirrorvr.session.runner import SessionRunner
from mirrorvr.session.summary import format_summary, write_summary

from fakes import ScriptedWindow

pyxdf = pytest.importorskip("pyxdf")

T0 = 1000.0
TAC = {"tac_test": True, "tac_test_timeout_s": 6.0, "tac_test_rest_s": 2.0}
# 40 s demo (rating_post ends at ~T0 + 40 s), then the TAC block: hand_open is its first
# cue, from ~T0 + 42 s to ~T0 + 48 s
WRONG_FROM_S, WRONG_UNTIL_S = T0 + 41.0, T0 + 48.5
ANTAGONIST = {"hand_open": "hand_close"}


class StateRenderer:
    """Keeps what each frame would show (time, cue, affected pose, ghost pose)."""

    def __init__(self, clock):
        self.clock = clock
        self.frames = []

    def draw(self, state):
        self.frames.append((self.clock.now(), state.cue_text, state.right_pose,
                            state.ghost_pose))


def test_tac_test_is_off_by_default_and_appended_after_the_motion_test():
    emg = EmgSettings()
    assert "tac_test" not in [b.kind for b in build_demo_protocol(ProtocolSettings(), emg)]
    blocks = build_demo_protocol(ProtocolSettings(motion_test=True, tac_test=True,
                                                  tac_test_repetitions=2), emg)
    assert [b.kind for b in blocks[-2:]] == ["motion_test", "tac_test"]
    test = blocks[-1]
    assert [c.movement for c in test.cues] == 2 * [m for m in emg.movements if m != "rest"]
    # REFERENCES.md: time-out 15-20 s, hold 1-2 s
    assert all(c.end_s - c.start_s == pytest.approx(15.0) for c in test.cues)
    assert test.duration_s == pytest.approx(8 * 17.0 + 2.0)
    assert ProtocolSettings().tac_test_dwell_s == 1.0


@pytest.mark.parametrize("bad, match", [
    ({"tac_test_allowance": 0.6}, "tac_test_allowance .0.6. must be smaller than "
                                  "tac_test_target_distance .0.6."),
    ({"tac_test_dwell_s": 5.0, "tac_test_timeout_s": 4.0}, "tac_test_dwell_s .5.0. must be "
                                                            "shorter than tac_test_timeout_s"),
    ({"tac_test_target_distance": 1.5}, "tac_test_target_distance = 1.5"),
])
def test_bad_tac_settings_are_refused_naming_the_field(bad, match):
    with pytest.raises(ConfigError, match=match):
        build_config({"protocol": bad})


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A 40 s demo + TAC block; in the first TAC trial (hand_open) the simulated patient
    attempts hand_close instead."""
    cfg = build_config({"protocol": {"duration_s": 40.0, **TAC},
                        "render": {"max_fps": 30.0, "saved_frames": 0}})
    clock = FakeClock(T0)
    renderer = StateRenderer(clock)
    parts = build_session(cfg, tmp_path_factory.mktemp("data"), clock=clock, realtime=False,
                          window=ScriptedWindow(clock, {}), renderer=renderer)
    patient = parts.simulated_patient
    attempt = patient.set_intent

    def confused(movement, level, t_s=None):
        if t_s is not None and WRONG_FROM_S <= t_s < WRONG_UNTIL_S:
            movement = ANTAGONIST.get(movement, movement)
        attempt(movement, level, t_s)

    patient.set_intent = confused
    summary = SessionRunner(parts).run()
    write_summary(summary, parts.session_dir)
    return summary, renderer.frames


def test_session_runs_and_records_the_tac_test(session):
    summary, _ = session
    assert summary["blocks"][-1] == "tac_test"
    tac = summary["tac_test"]
    assert tac["test"] == "tac" and len(tac["trials"]) == 4
    assert tac["settings"] == {"target_distance": 0.6, "allowance": 0.1, "dwell_s": 1.0,
                               "timeout_s": 6.0, "speed_per_s": 0.5}
    saved = json.loads((Path(summary["session_dir"]) / "summary.json").read_text())
    assert saved["tac_test"] == tac
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    markers = next(s for s in streams if s["info"]["name"][0] == "markers")
    texts = [m[0] for m in markers["time_series"]]
    recorded = [t for t in texts if t.startswith("tac_test {")]
    assert len(recorded) == 1 and json.loads(recorded[0].split(" ", 1)[1]) == tac["summary"]
    assert any(t.startswith("block_start tac_test") for t in texts)
    assert f"TAC test               {100 * tac['summary']['completion_rate']:.0f} % of 4 " \
        "trials completed" in format_summary(summary)


def test_the_simulated_patient_reaches_and_holds_the_targets(session):
    tac = session[0]["tac_test"]
    others = [t for t in tac["trials"] if t["movement"] != "hand_open"]
    # seed 0: hand_close and wrist_flexion complete (2.7 s, 2.8 s; path efficiency 91 %,
    # 85 %); wrist_extension times out 0.17 from the target (its half-level corrections are
    # decoded as rest)
    assert any(t["completed"] for t in others)
    for t in others:
        if t["completed"]:
            assert 1.0 + 0.2 < t["completion_time_s"] < 6.0  # reaction + travel + 1 s hold
            assert 30.0 < t["path_efficiency_pct"] <= 100.0
            # each of the 2 degrees of freedom (grip, wrist) within the allowance
            assert t["final_distance"] <= 0.1 * np.sqrt(2) + 1e-9
    per = tac["summary"]["per_movement"]
    assert per["hand_close"]["n_trials"] == 1


def test_the_wrong_movement_fails_the_trial(session):
    trial = session[0]["tac_test"]["trials"][0]
    assert trial["movement"] == "hand_open"
    assert not trial["completed"] and trial["completion_time_s"] is None
    assert trial["path_efficiency_pct"] is None
    assert trial["final_distance"] > 0.6  # it went the other way, past the start
    assert session[0]["tac_test"]["summary"]["completion_rate"] <= 0.75


def test_the_limb_moves_towards_the_ghost_target(session):
    summary, frames = session
    tac = [f for f in frames if f[0] >= T0 + 40.0]
    cued = [f for f in tac if "to the outline and hold" in f[1]]
    assert cued and all(f[3] is not None for f in cued)  # the target as a ghost limb
    assert all(f[3] is None for f in tac if f[1] == "Relax")  # none between trials
    reached = [f for f in tac if f[1] == "Target reached - relax"]
    assert reached and all(f[3] is not None for f in reached)

    def gap(frame):
        return float(np.abs(frame[2].angles - frame[3].angles).max())

    # a completed trial: far from the target at its cue, close to it when reached
    first_reached = reached[0]
    trial_cued = [f for f in cued if f[0] < first_reached[0] and
                  f[3] is not None and np.array_equal(f[3].angles, first_reached[3].angles)]
    assert gap(trial_cued[0]) > 3 * gap(first_reached)
