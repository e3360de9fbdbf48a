"""The course logic: the instrument schedule and the seeded pain trajectory."""

import pytest

from mirrorvr.errors import InstrumentError
from mirrorvr.outcomes import load_instrument
from mirrorvr.outcomes.course import (
    DEFAULT_SCHEDULE,
    InstrumentSchedule,
    PainTrajectory,
    ScheduledInstrument,
    administer,
)


def test_the_schedule_says_what_runs_when():
    assert DEFAULT_SCHEDULE.due(1, 6, "before") == ["nrs", "vas", "sf_mpq_2",
                                                    "bpi_interference", "pain_diary"]
    assert DEFAULT_SCHEDULE.due(3, 6, "before") == ["nrs", "vas", "pain_diary"]
    assert DEFAULT_SCHEDULE.due(3, 6, "after") == ["nrs", "vas"]
    assert DEFAULT_SCHEDULE.due(6, 6, "after") == ["nrs", "vas", "pgic"]
    schedule = InstrumentSchedule(entries=(
        ScheduledInstrument(instrument="bpi_interference", when="after", sessions=(2, 4)),))
    assert [schedule.due(k, 6, "after") for k in range(1, 7)] == [
        [], ["bpi_interference"], [], ["bpi_interference"], [], []]


def test_the_trajectory_is_seeded_and_falls_over_the_course():
    a, b = PainTrajectory(6, seed=3), PainTrajectory(6, seed=3)
    levels = [a.level(k, "before") for k in range(1, 7)]
    assert levels == [b.level(k, "before") for k in range(1, 7)]
    assert levels != [PainTrajectory(6, seed=4).level(k, "before") for k in range(1, 7)]
    assert levels[-1] < 0.75 * levels[0]  # 45 % expected reduction, noise 0.4 points
    assert all(a.level(k, "after") < a.level(k, "before") for k in range(1, 7))
    with pytest.raises(InstrumentError, match="session_number 7"):
        a.level(7, "before")


def test_simulated_answers_are_valid_and_go_through_the_form():
    trajectory = PainTrajectory(6, seed=1)
    for name in ("nrs", "vas", "pgic", "pain_diary", "sf_mpq_2", "bpi_interference"):
        instrument = load_instrument(name)
        result = administer(instrument, trajectory, 6, "after", 12.0)
        assert result.answers == instrument.check_answers(result.answers)
        assert result.scores == instrument.score(result.answers)
    nrs = administer(load_instrument("nrs"), trajectory, 1, "before", 0.0)
    assert nrs.answers["pain"] == round(trajectory.level(1, "before"))
    # a patient whose pain fell by half or more calls it much or very much improved
    pgic = administer(load_instrument("pgic"), PainTrajectory(6, seed=1, final_reduction=0.8,
                                                              noise_sd=0.0), 6, "after", 0.0)
    assert pgic.scores["much_improved"] == 1.0
