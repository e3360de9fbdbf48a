"""From a movement to the photon that shows it: onsets decided in the first sure windows, D
per block, frames that only count onsets they drew, and every reactive movement's path in the
summary — checked on the simulated patient, whose true onsets are known."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirrorvr.cli import run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.emg.classifier import MajorityVote, OnsetVote
from mirrorvr.emg.onset import EnvelopeTrace, estimate_onset, onset_threshold_v
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.session.plan import MovementPlan
from mirrorvr.session.protocol import parse_protocol
from mirrorvr.session.summary import format_summary

from fakes import NullRenderer, ScriptedWindow

pyxdf = pytest.importorskip("pyxdf")

DRAW_S = 0.02  # every frame takes 20 ms of the fake clock, as on a slow rasteriser
MAX_FPS = 30.0

# ---------------------------------------------------------------- the onset vote


def test_a_sure_window_at_rest_is_an_onset_at_once():
    vote = OnsetVote(5, 0.95)
    assert vote.update_sure("rest", 1.0) == "rest"
    assert vote.update_sure("hand_open", 0.97) == "hand_open"  # no vote to fill first
    # the vote now holds it: two windows of another movement do not turn it
    assert [vote.update_sure("hand_close", 0.99) for _ in range(2)] == ["hand_open"] * 2
    # the third does: a wrong onset is corrected after n // 2 + 1 windows
    assert vote.update_sure("hand_close", 0.99) == "hand_close"


def test_an_unsure_window_waits_for_the_vote():
    vote = OnsetVote(5, 0.95)
    out = [vote.update_sure("hand_open", 0.9) for _ in range(3)]
    assert out == ["hand_open"] * 3  # the vote's own tie rule: the newest label wins ties
    vote.reset()
    for _ in range(4):
        vote.update_sure("rest", 1.0)
    # 4 rests in the history: an unsure movement needs 3 windows to win
    assert [vote.update_sure("hand_open", 0.5) for _ in range(3)] == ["rest", "rest",
                                                                        "hand_open"]


def test_stimulating_onsets_need_sure_windows_in_a_row():
    vote = OnsetVote(5, 0.95, onset_windows=2)
    for _ in range(5):
        vote.update_sure("rest", 1.0)
    assert vote.update_sure("hand_open", 0.99) == "rest"
    assert vote.update_sure("hand_close", 0.99) == "rest"  # not the same movement: no run
    assert vote.update_sure("hand_close", 0.99) == "hand_close"  # two in a row


def test_an_onset_check_between_increments_does_not_vote():
    """Windows between two increments only ever make an onset: an unsure one, or one while
    a movement is shown, leaves the vote as it was."""
    vote = OnsetVote(5, 0.95)
    for _ in range(4):
        vote.update_sure("rest", 1.0)
    assert not vote.check_onset("hand_open", 0.9)  # unsure: not counted by the vote
    assert vote.output == "rest"
    assert [vote.update_sure("hand_open", 0.5) for _ in range(2)] == ["rest", "rest"]
    assert vote.check_onset("hand_open", 0.97) and vote.output == "hand_open"
    assert not vote.check_onset("hand_close", 0.99)  # not at rest: no onset
    assert vote.output == "hand_open"
    # the onset filled the history: two windows of another movement do not turn it
    assert [vote.update_sure("hand_close", 0.99) for _ in range(2)] == ["hand_open"] * 2


def test_a_new_onset_rule_counts_sure_windows_anew():
    """A block that stimulates (2 sure windows at the increments) after one that looked for
    onsets between them: a sure window seen before the change does not count."""
    vote = OnsetVote(5, 0.95, onset_windows=2)
    for _ in range(5):
        vote.update_sure("rest", 1.0)
    assert not vote.check_onset("hand_open", 0.99)  # between two increments
    vote.set_onset_windows(2)
    assert vote.update_sure("hand_open", 0.99) == "rest"
    assert vote.update_sure("hand_open", 0.99) == "hand_open"


@given(st.lists(st.tuples(st.sampled_from(["rest", "a", "b", "c"]),
                          st.floats(0.0, 1.0)), max_size=60),
       st.integers(1, 7))
def test_above_one_confidence_is_the_plain_vote(decisions, n):
    labels = [label for label, _ in decisions]
    onset = OnsetVote(n, 1.01).process_sure(labels, [p for _, p in decisions])
    assert onset == MajorityVote(n).process(labels)


# ---------------------------------------------------------------- the EMG onset estimate


def _envelope_of(patient, clock, seconds, chunk_s=0.005, trace=None):
    trace = trace or EnvelopeTrace(patient.n_channels, patient.sampling_rate_hz,
                                   (20.0, 450.0), 50)
    for _ in range(int(round(seconds / chunk_s))):
        clock.advance(chunk_s)
        chunk = patient.read()
        trace.push(chunk.t_s, chunk.data)
    return trace


def test_the_estimated_emg_onset_finds_the_true_one():
    """Attempts at different efforts start at known times; looking back from a detection
    80 ms later finds each within a few bins (weak ones cross the threshold later), and a
    stretch of rest has none."""
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, seed=4)
    patient.start()
    trace = _envelope_of(patient, clock, 2.0)  # rest: the level to compare with
    rng = np.random.default_rng(4)
    truth = []
    for movement in ("hand_open", "hand_close", "wrist_flexion", "wrist_extension") * 2:
        onset = clock.now() + rng.uniform(0.3, 0.6)
        level = float(rng.uniform(0.3, 0.9))
        patient.set_intent(movement, level, onset)
        patient.set_intent("rest", 0.0, onset + 1.0)
        truth.append(onset)
        _envelope_of(patient, clock, 2.0, trace=trace)
    times, envelope = trace.envelope()
    rest_v = float(np.median(envelope[times < 1.9]))
    top_v = float(np.percentile(envelope, 99))
    threshold = onset_threshold_v(rest_v, top_v)
    errors = np.array([estimate_onset(times, envelope, t + 0.08, threshold) - t
                       for t in truth])
    # never before the truth; late by the time a weak attempt takes to cross the threshold
    assert np.all(errors >= -0.005) and np.max(errors) <= 0.03, errors
    assert np.median(errors) <= 0.02
    assert estimate_onset(times, envelope, 1.5, threshold) is None  # nothing rose at rest


def test_the_envelope_does_not_depend_on_chunking():
    def run(chunk_s):
        clock = FakeClock(0.0)
        patient = SimulatedPatient(clock, seed=2)
        patient.start()
        patient.set_intent("hand_close", 0.6, 0.5)
        return _envelope_of(patient, clock, 1.0, chunk_s=chunk_s).envelope()

    (t1, e1), (t2, e2) = run(0.005), run(0.0237)
    n = min(t1.size, t2.size) - 1  # the last bin may still be filling
    np.testing.assert_allclose(t1[:n], t2[:n])
    np.testing.assert_allclose(e1[:n], e2[:n], rtol=1e-9)


# ---------------------------------------------------------------- frames and the plan


def test_a_frame_only_counts_onsets_planned_before_it_was_drawn():
    plan = MovementPlan()
    drawn_with = plan.known()  # the render thread reads the plan ...
    late = plan.add_onset(1.00, "hand_open", "decoder", detected_s=1.00)  # ... control adds
    assert plan.mark_presented(1.02, drawn_with) == []  # that frame did not show it
    assert late.photon_s is None
    assert plan.mark_presented(1.05, plan.known()) == [late]
    assert late.photon_s == 1.05


# ---------------------------------------------------------------- whole sessions


def _protocol():
    return parse_protocol({
        "name": "latency-test", "limb": "upper", "title": "calibration and PME",
        "blocks": [
            {"kind": "calibration", "repetitions": 3, "contraction_s": 2.0, "rest_s": 1.0,
             "movements": ["rest", "hand_open", "hand_close", "wrist_flexion",
                           "wrist_extension"]},
            {"kind": "phantom", "duration_s": 20.0, "cue_s": 2.5, "attempt_fraction": 0.5},
        ]}, "test")


def _session(tmp_path_factory, **stim):
    clock = FakeClock(1000.0)
    config = build_config({"stim": stim, "render": {"max_fps": MAX_FPS, "headless": True}})
    summary = run_demo(config, tmp_path_factory.mktemp("data"), protocol=_protocol(),
                       clock=clock, realtime=False, window=ScriptedWindow(clock, {}),
                       renderer=NullRenderer(clock, draw_s=DRAW_S))
    return config, summary


@pytest.fixture(scope="module")
def two_slope(tmp_path_factory):
    return _session(tmp_path_factory)


@pytest.fixture(scope="module")
def ems_off(tmp_path_factory):
    return _session(tmp_path_factory, enabled=False)


@pytest.fixture(scope="module")
def plain_ramp(tmp_path_factory):
    return _session(tmp_path_factory, fast_rise_below_motor_threshold=False)


def _decoded(summary):
    return [p for p in summary["latency"]["movements"] if p["source"] == "decoder"]


@pytest.mark.parametrize("name", ["two_slope", "ems_off", "plain_ramp"])
def test_every_decoded_movement_has_its_path(name, request):
    config, summary = request.getfixturevalue(name)
    latency = summary["latency"]
    delay_s = latency["presentation_delay_s"]
    assert delay_s["calibration"] == config.protocol.presentation_delay_s  # no stimulation
    paths = _decoded(summary)
    assert len(paths) >= 6  # 8 cues in 20 s
    firsts = [p for p in paths if p["first_decision"]]
    assert {p["onset_from"] for p in firsts} == {"true onset (simulated patient)"}
    assert all(p["onset_s"] is None for p in paths if p["first_decision"] is False)
    frame_s = 1.0 / MAX_FPS
    for p in paths:
        assert p["planned_s"] == pytest.approx(p["detected_s"] + delay_s["phantom"])
        assert p["decision_to_planned_ms"] == pytest.approx(1000 * delay_s["phantom"], abs=1e-3)
        # the first frame drawn after the onset was planned shows it: at worst the rest of
        # the frame being drawn, the next one's drawing and the display's latency later
        worst_s = frame_s + DRAW_S + config.render.display_latency_s
        assert 0.0 <= p["planned_to_photon_ms"] <= 1000 * worst_s + 1.0
        if p["correct"] and p["first_decision"]:
            assert 0.0 < p["onset_to_decision_ms"] < 600.0
            assert p["onset_to_photon_ms"] == pytest.approx(
                p["onset_to_decision_ms"] + p["decision_to_planned_ms"]
                + p["planned_to_photon_ms"], abs=0.01)
    # most first decisions are the movement the patient attempted
    assert sum(p["correct"] is True for p in firsts) >= 0.7 * len(firsts)
    by = latency["by_source"]["decoder"]
    assert by["n"] == len(paths)
    # the estimate a real patient's session would report lands near the truth
    assert abs(by["emg_onset_estimate_error_ms"]["median"]) <= 20.0


def test_d_is_the_stimulation_path_where_onsets_stimulate(two_slope, plain_ramp, ems_off):
    for _, summary in (two_slope, plain_ramp):
        latency = summary["latency"]
        assert latency["presentation_delay_s"]["phantom"] == pytest.approx(
            latency["stimulation_path_ms"] / 1000, abs=1e-4)
    fast, plain = two_slope[1]["latency"], plain_ramp[1]["latency"]
    # the plain ramp waits for its rise to the motor threshold; each summary says what the
    # other rise would make it
    assert plain["stimulation_path_ms"] > fast["stimulation_path_ms"] + 100
    assert plain["stimulation_path_other_rise_ms"] == fast["stimulation_path_ms"]
    assert fast["stimulation_path_other_rise_ms"] == plain["stimulation_path_ms"]
    saved = plain["stimulation_path_ms"] - fast["stimulation_path_ms"]
    assert f"the two-slope rise would need {saved:.0f} ms less" in format_summary(
        plain_ramp[1])
    assert f"the plain ramp would add {saved:.0f} ms" in format_summary(two_slope[1])
    off = ems_off[1]["latency"]
    assert off["presentation_delay_s"]["phantom"] == ems_off[0].protocol.presentation_delay_s
    assert "stimulation_rise" not in off


def test_the_movement_is_seen_inside_the_agency_window(two_slope, ems_off):
    """Design targets on the fake clock (frames take 20 ms, 30 frames/s): median true EMG
    onset -> photon <= 200 ms with stimulation, <= 100 ms without; stimulation and the seen
    movement meet within 10 ms."""
    on = two_slope[1]["latency"]["by_source"]["decoder"]["onset_to_photon_ms"]["median"]
    off = ems_off[1]["latency"]["by_source"]["decoder"]["onset_to_photon_ms"]["median"]
    assert on <= 200.0 and off <= 100.0
    assert two_slope[1]["asynchrony"]["n"] >= 3
    assert two_slope[1]["asynchrony"]["p99_abs_ms"] <= 10.0


def _phantom_intent_times(summary) -> np.ndarray:
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    markers = next(s for s in streams if s["info"]["name"][0] == "markers")
    at = {row[0]: t for row, t in zip(markers["time_series"], markers["time_stamps"],
                                      strict=True)}
    intents = next(s for s in streams if s["info"]["name"][0] == "decoder")
    t = np.asarray(intents["time_stamps"])
    return t[(t > at["block_start phantom"]) & (t < at["block_end phantom"])]


def test_onsets_that_stimulate_are_looked_for_at_the_increments_only(two_slope, ems_off):
    """Where an onset stimulates, the decoder decides at its increments only (stim.onset_windows
    sure windows in a row); without stimulation it also looks for an onset between two
    increments, every emg.onset_step_s."""
    for (config, summary), between in ((two_slope, False), (ems_off, True)):
        t = _phantom_intent_times(summary)
        assert t.size > 100
        k = np.diff(t) / config.emg.increment_s
        off_grid = np.abs(k - np.round(k)) > 1e-3
        assert off_grid.any() == between
        if between:
            steps = np.diff(t)[off_grid] / config.emg.onset_step_s
            assert np.allclose(steps, np.round(steps), atol=1e-3)


def test_the_recording_has_each_movements_times(two_slope):
    _, summary = two_slope
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    plan = next(s for s in streams if s["info"]["name"][0] == "movement_plan")
    records = [json.loads(row[0]) for row in plan["time_series"]]
    decoded = [r for r in records if r["source"] == "decoder"]
    assert decoded and all("source_onset_s" in r and r["detected_s"] <= r["onset_s"]
                           <= r["photon_s"] for r in decoded)
    markers = next(s for s in streams if s["info"]["name"][0] == "markers")
    texts = [row[0] for row in markers["time_series"]]
    d_ms = summary["latency"]["presentation_delay_s"]["phantom"]
    assert f"presentation_delay_s {d_ms:.4f} block=phantom" in texts
