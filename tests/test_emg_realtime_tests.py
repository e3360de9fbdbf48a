"""Motion Test and TAC test: exact metrics with a scripted decoder on a fake clock, and a
run on the simulated patient."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.emg.intent import Intent
from mirrorvr.emg.realtime_tests import (
    TacTrialScorer,
    VirtualPosture,
    run_motion_test,
    run_tac_test,
    score_motion_trial,
)
from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import ConfigError

MOVES = ("rest", "hand_open", "hand_close")


class TickSource:
    """One sample per read at the clock's time (the decoder below ignores the data)."""

    def __init__(self, clock):
        self.clock = clock

    def read(self):
        return EmgChunk(np.array([self.clock.now()]), np.zeros((1, 1)))


class ScriptedDecoder:
    """Decides ``script(t - cue_s, cued)`` at each chunk; learns the cue from on_cue."""

    def __init__(self, script):
        self.script = script
        self.cue = ("rest", 0.0)

    def on_cue(self, movement, t_s):
        if movement != "rest":
            self.cue = (movement, t_s)

    def reset(self):
        pass

    def process(self, chunk):
        t = float(chunk.t_s[-1])
        movement, cue_s = self.cue
        decided, level = self.script(round(t - cue_s, 6), movement)
        return [Intent(t, decided, level, 1.0)]


def test_motion_metrics_exact():
    # rest for 0.4 s, then 0.1 s of the wrong class, then the cued one
    def script(dt, cued):
        if dt <= 0.4 + 1e-9:
            return "rest", 0.0
        if dt <= 0.5 + 1e-9:
            return ("hand_close" if cued == "hand_open" else "hand_open"), 0.5
        return cued, 0.5

    clock = FakeClock(10.0)
    dec = ScriptedDecoder(script)
    result = run_motion_test(dec, TickSource(clock), clock, MOVES, repetitions=2,
                             on_cue=dec.on_cue, rest_s=1.0, timeout_s=5.0)
    assert len(result.trials) == 4
    for trial in result.trials:
        assert trial.completed
        assert trial.response_time_s == pytest.approx(0.45)  # first movement decision
        assert trial.selection_time_s == pytest.approx(0.10)  # 2 wrong, then right
        assert trial.completion_time_s == pytest.approx(0.10 + 19 * 0.05)
        assert trial.accuracy == pytest.approx(20 / 22)
    s = result.summary
    assert s["completion_rate"] == 1.0 and s["realtime_accuracy"] == pytest.approx(20 / 22)
    assert set(s["per_movement"]) == {"hand_open", "hand_close"}


def test_motion_trial_that_never_completes():
    decisions = [Intent(1.0 + 0.05 * k, "hand_close", 0.5, 1.0) for k in range(200)]
    trial = score_motion_trial("hand_open", 1.0, decisions, timeout_s=5.0)
    assert not trial.completed and trial.selection_time_s is None
    assert trial.accuracy == 0.0 and trial.n_decisions == 101  # up to the time-out
    silent = score_motion_trial("hand_open", 1.0, [Intent(1.1, "rest", 0.0, 1.0)])
    assert silent.response_time_s is None and not silent.completed


def test_tac_metrics_exact(tmp_path):
    # the cued movement at level 0.6 for 2.0 s (0.5/s · 0.6 · 2 s = 0.6 = the target), then rest
    def script(dt, cued):
        return (cued, 0.6) if 0 < dt <= 2.0 + 1e-9 else ("rest", 0.0)

    clock = FakeClock(0.0)
    dec = ScriptedDecoder(script)
    result = run_tac_test(dec, TickSource(clock), clock, MOVES, repetitions=1,
                          on_cue=dec.on_cue, rest_s=1.0)
    for trial in result.trials:
        assert trial.completed
        # inside the allowance (>= 0.5) from 0.5/0.3 s = 1.667 s: first decision at 1.70 s,
        # held 1 s
        assert trial.completion_time_s == pytest.approx(2.70)
        assert trial.path_length == pytest.approx(0.6)
        assert trial.path_efficiency_pct == pytest.approx(100 * 0.5 / 0.6)
        assert trial.final_distance == pytest.approx(0.0, abs=1e-9)
    saved = result.save_json(tmp_path / "tac.json")
    data = json.loads(saved.read_text())
    assert data["test"] == "tac" and data["summary"]["completion_rate"] == 1.0
    assert len(data["trials"]) == 2


def test_tac_times_out_when_the_limb_goes_elsewhere():
    def script(dt, cued):
        return ("hand_close" if cued == "hand_open" else "hand_open"), 0.6

    clock = FakeClock(0.0)
    dec = ScriptedDecoder(script)
    result = run_tac_test(dec, TickSource(clock), clock, MOVES, repetitions=1,
                          on_cue=dec.on_cue, rest_s=0.5, timeout_s=3.0)
    assert result.summary["completion_rate"] == 0.0
    assert all(t.completion_time_s is None and t.final_distance > 0.6 for t in result.trials)


def test_posture_degrees_of_freedom():
    limb = VirtualPosture(("rest", "hand_open", "hand_close", "wrist_flexion", "point"))
    assert set(limb.dof_index) == {"grip", "wrist_flexion_extension", "point"}
    np.testing.assert_array_equal(limb.direction("hand_open"), -limb.direction("hand_close"))
    assert limb.move("hand_close", 5.0) == pytest.approx(1.0)  # clipped at 1
    with pytest.raises(ConfigError, match="allowance"):
        run_tac_test(None, None, FakeClock(), MOVES, allowance=0.7)
    with pytest.raises(ConfigError, match="correct_needed"):
        run_motion_test(None, None, FakeClock(), MOVES, correct_needed=0)


def test_tac_scorer_ignores_decisions_outside_the_trial_and_after_completion():
    scorer = TacTrialScorer("hand_close", MOVES, cue_s=10.0, timeout_s=3.0, dwell_s=0.2)
    assert scorer.end_s == pytest.approx(13.0)
    before = [Intent(9.9, "hand_close", 1.0, 1.0)]  # before the cue: no movement
    assert not scorer.add(before) and scorer.path_length == 0.0
    # level 1 at 0.5/s: 0.05 per 0.1 s up to 0.55 at 11.1 s; inside [0.5, 0.7] from 11.0 s,
    # held 0.2 s at 11.2 s
    decisions = [Intent(10.0 + 0.1 * k, "hand_close" if k <= 11 else "rest", 1.0, 1.0)
                 for k in range(1, 20)]
    assert scorer.add(decisions)
    trial = scorer.trial()
    assert trial.completion_time_s == pytest.approx(1.2)
    assert trial.path_length == pytest.approx(0.55)
    assert trial.path_efficiency_pct == pytest.approx(100 * 0.5 / 0.55)
    scorer.add([Intent(11.9, "hand_open", 1.0, 1.0)])  # after completion: ignored
    assert scorer.trial() == trial
    late = TacTrialScorer("hand_close", MOVES, cue_s=0.0, timeout_s=1.0)
    late.add([Intent(1.05, "hand_close", 1.0, 1.0)])  # after the time-out
    assert late.path_length == 0.0 and not late.trial().completed
    with pytest.raises(ConfigError, match="movement: 'wrist_flexion'"):
        TacTrialScorer("wrist_flexion", MOVES, cue_s=0.0)
    with pytest.raises(ConfigError, match="target_distance"):
        TacTrialScorer("hand_open", MOVES, cue_s=0.0, target_distance=1.5)


def test_tac_attempt_relaxes_near_the_target_and_corrects_an_overshoot():
    scorer = TacTrialScorer("hand_open", MOVES, cue_s=0.0)  # target grip -0.6, allowance 0.1
    assert scorer.attempt("hand_open", lead=0.05) == ("hand_open", 1.0)
    assert scorer.attempt("hand_open", 0.05, position=np.array([-0.46])) == ("rest", 0.0)
    assert scorer.attempt("rest", 0.05, position=np.array([-0.9])) == ("hand_close", 0.5)
    assert scorer.attempt("rest", 0.05, position=np.array([-0.65])) == ("rest", 0.0)


def test_posture_shows_as_movement_levels():
    limb = VirtualPosture(("rest", "hand_open", "hand_close", "wrist_flexion"))
    assert limb.movement_levels() == {}
    limb.move("hand_open", 0.4)
    limb.move("wrist_flexion", 2.0)
    assert limb.movement_levels() == pytest.approx({"hand_open": 0.4, "wrist_flexion": 1.0})
    assert limb.movement_levels(np.array([0.3, 0.0])) == pytest.approx({"hand_close": 0.3})
    with pytest.raises(ConfigError, match="position"):
        limb.movement_levels(np.zeros(3))


def test_on_the_simulated_patient_and_cli(tmp_path, capsys):
    from mirrorvr.cli import main

    out = tmp_path / "motion.json"
    assert main(["emg", "motion-test", "--movements", "rest,hand_open,wrist_flexion",
                 "--channels", "4", "--repetitions", "2", "--calibration-repetitions", "2",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "completion_rate" in text and "hand_open" in text
    data = json.loads(out.read_text())
    s = data["summary"]
    assert data["test"] == "motion" and len(data["trials"]) == 4
    assert s["completion_rate"] >= 0.5 and 0.5 <= s["realtime_accuracy"] <= 1.0
    assert 0.2 < s["response_time_s"] < 1.5  # reaction 0.3 s + onset + window + vote
    assert main(["emg", "tac-test", "--movements", "rest,hand_open,hand_close",
                 "--channels", "4", "--repetitions", "1", "--calibration-repetitions", "2",
                 "--json", str(tmp_path / "tac.json")]) == 0
    tac = json.loads((tmp_path / "tac.json").read_text())
    assert tac["test"] == "tac" and len(tac["trials"]) == 2
