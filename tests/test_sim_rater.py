"""What the simulated patient answers: a seeded pain trajectory over a course, fixed pain
levels for the demo, and answers every shipped instrument accepts through its own form."""

import pytest

from mirrorvr.errors import ConfigError, InstrumentError
from mirrorvr.outcomes import InstrumentForm, answer_form, available_instruments, load_instrument
from mirrorvr.session.protocol import limb_movements, parse_protocol, plan_protocol
from mirrorvr.sim.rater import FixedPain, PainTrajectory, planned_answers


def test_the_trajectory_is_seeded_and_falls_over_the_course():
    a, b = PainTrajectory(6, seed=3), PainTrajectory(6, seed=3)
    levels = [a.level(k, "pre") for k in range(1, 7)]
    assert levels == [b.level(k, "pre") for k in range(1, 7)]
    assert levels != [PainTrajectory(6, seed=4).level(k, "pre") for k in range(1, 7)]
    assert levels[-1] < 0.75 * levels[0]  # 45 % expected reduction, noise 0.4 points
    assert all(a.level(k, "post") < a.level(k, "pre") for k in range(1, 7))
    with pytest.raises(InstrumentError, match="session_number 7"):
        a.level(7, "pre")
    with pytest.raises(InstrumentError, match="timepoint 'mid'.*allowed: pre, post"):
        a.level(1, "mid")


@pytest.mark.parametrize("instrument", available_instruments())
def test_every_shipped_instrument_is_answered_through_its_form(instrument):
    trajectory = PainTrajectory(6, seed=1)
    definition = load_instrument(instrument)
    for rater in (trajectory, FixedPain({"pre": 7, "post": 3}, seed=2)):
        for session, timepoint in ((1, "pre"), (6, "post")):
            answers = rater.answers(definition, timepoint, session)
            result = answer_form(InstrumentForm(definition), answers, 0.0)
            assert result.answers == definition.check_answers(answers)
            assert result.scores == definition.score(answers)
            assert rater.answers(definition, timepoint, session) == answers  # seeded


def test_the_answers_follow_the_pain():
    nrs, pgic = load_instrument("nrs"), load_instrument("pgic")
    trajectory = PainTrajectory(6, seed=1)
    assert trajectory.answers(nrs, "pre", 1) == {"pain": round(trajectory.level(1, "pre"))}
    demo = FixedPain({"pre": 6, "post": 4})
    assert demo.answers(nrs, "pre", 1) == {"pain": 6}
    assert demo.answers(nrs, "post", 9) == {"pain": 4}
    # a patient whose pain fell by half or more calls it much or very much improved
    better = PainTrajectory(6, seed=1, final_reduction=0.8, noise_sd=0.0)
    assert pgic.score(better.answers(pgic, "post", 6))["much_improved"] == 1.0
    assert pgic.score(better.answers(pgic, "pre", 1))["much_improved"] == 0.0
    sf = load_instrument("sf_mpq_2")
    low, high = (FixedPain({"pre": p}).answers(sf, "pre", 1) for p in (2, 8))
    assert sf.score(low)["pri_sum"] < sf.score(high)["pri_sum"]


def test_a_rater_without_an_answer_is_refused_naming_the_block():
    protocol = parse_protocol({"name": "t", "limb": "upper", "blocks": [
        {"kind": "rating", "name": "rating_pre"},
        {"kind": "rating", "name": "mid", "instrument": "vas", "timepoint": "mid"}]})
    plans = plan_protocol(protocol, limb_movements("upper"))
    with pytest.raises(ConfigError, match="rating block 'mid'.*timepoint 'mid'.*given: pre"):
        planned_answers(FixedPain({"pre": 5}), plans, 1)
    answers = planned_answers(FixedPain({"pre": 5, "mid": 3}), plans, 1)
    assert answers["rating_pre"] == {"pain": 5} and set(answers["mid"]) == {"pain"}
    with pytest.raises(InstrumentError, match="rating block 'rating_pre'.*session_number 4"):
        planned_answers(PainTrajectory(3), plans[:1], 4)
