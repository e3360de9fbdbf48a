"""Titration: step-wise search of sensory/motor thresholds and maximum tolerated amplitude,
saved in the profile; an untitrated channel cannot stimulate (SAFETY.md item 2)."""

import io
import sys

import pytest

from mirrorvr.cli import main
from mirrorvr.clock import FakeClock
from mirrorvr.config import DeviceLimits, Screening, load_config
from mirrorvr.errors import ConfigError, SafetyLimitError, StimulationError
from mirrorvr.stim import SafetyGovernor, SimulatedStimulator, StimCommand
from mirrorvr.stim.titration import (
    Titration,
    load_profile,
    save_profile,
    simulated_response,
    titration_governor,
)

from profiles import patient_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def setup(ceiling_ma=40.0, area=20.0, screening=None):
    clock = FakeClock(0.0)
    driver = SimulatedStimulator(clock)
    patient = patient_profile(stim_channels=(), screening=screening or Screening())
    gov = titration_governor(DeviceLimits(), patient, driver, clock, channel=0,
                             site="forearm flexors", electrode_area_cm2=area,
                             ceiling_ma=ceiling_ma)
    return gov, driver, clock, patient


def run(t, truth, clock):
    while not t.done:
        t.stimulate()
        clock.advance(2.0)
        t.respond(simulated_response(t.amplitude_ma, *truth))


def test_titration_finds_thresholds_and_the_last_tolerated_amplitude():
    gov, driver, clock, patient = setup()
    gov.arm()
    t = Titration(gov, 0, start_ma=2.0, step_ma=1.5)
    run(t, (6.0, 14.0, 26.0), clock)
    r = t.result()
    assert (r.sensory_threshold_ma, r.motor_threshold_ma, r.max_tolerated_ma) == (6.5, 14.0, 26.0)
    assert r.complete and r.steps[-1] == (27.5, "too_much")
    amplitudes = [tr.command.amplitude_ma for tr in driver.trains()]
    assert amplitudes == sorted(amplitudes) and max(amplitudes) == 27.5
    assert all(tr.command.ramp_up_s > 0 for tr in driver.trains())  # ramped, like every train


def test_ceiling_stops_the_search_and_is_never_exceeded():
    gov, driver, clock, _ = setup(ceiling_ma=10.0)
    gov.arm()
    t = Titration(gov, 0, start_ma=3.0, step_ma=3.0)
    run(t, (4.0, 8.0, 50.0), clock)
    assert t.result().max_tolerated_ma == 10.0
    assert max(tr.command.amplitude_ma for tr in driver.trains()) == 10.0


def test_ceiling_above_the_hard_limit_is_refused():
    with pytest.raises(SafetyLimitError, match="max_amplitude_ma"):
        setup(ceiling_ma=150.0)


def test_titration_obeys_screening_and_current_density():
    gov, _, _, _ = setup(screening=Screening(pacemaker_or_implanted_device=True))
    with pytest.raises(StimulationError, match="contraindications"):
        gov.arm()
    gov, driver, clock, _ = setup(area=1.0)
    gov.arm()
    t = Titration(gov, 0, start_ma=5.0, step_ma=5.0)
    for _ in range(2):
        t.stimulate()
        t.respond("nothing")
    with pytest.raises(SafetyLimitError, match="current_density"):
        t.stimulate()  # 15 mA on 1 cm² is 2.17 mA r.m.s./cm²


def test_stop_is_an_emergency_stop_and_saves_nothing():
    gov, driver, clock, _ = setup()
    gov.arm()
    t = Titration(gov, 0)
    t.stimulate()
    t.respond("felt")
    t.respond("stop")
    assert gov.state == "estopped" and t.done and t.result().max_tolerated_ma is None
    with pytest.raises(StimulationError, match="finished"):
        t.stimulate()


def test_untitrated_result_cannot_stimulate_in_a_session():
    gov, driver, clock, patient = setup()
    gov.arm()
    t = Titration(gov, 0, start_ma=2.0, step_ma=2.0)
    t.stimulate()
    t.respond("felt")
    t.stimulate()
    t.respond("too_much")  # before any contraction: no motor threshold
    r = t.result()
    assert not r.complete and r.max_tolerated_ma == 2.0 and r.motor_threshold_ma is None
    session = SafetyGovernor(DeviceLimits(), patient, SimulatedStimulator(clock), clock)
    session.arm()
    cmd = StimCommand(0, 2.0, 300.0, 35.0, 1.5, 0.5, 0.5)
    with pytest.raises(SafetyLimitError, match="not titrated"):
        session.submit(cmd)


#: A therapist's new profile before titration: the person stated, no channel yet.
NEW_PROFILE = ('[patient]\npseudonym = "sub-08"\namputated_side = "right"\n'
               'amputation_level = "transradial"\n[patient.screening]\n')


def test_profile_round_trip_keeps_other_tables(tmp_path):
    path = tmp_path / "profile.toml"
    path.write_text('seed = 7\n[protocol]\nduration_s = 90\n[patient]\npseudonym = "sub-07"\n'
                    'amputated_side = "left"\namputation_level = "transradial"\n')
    gov, _, clock, _ = setup()
    gov.arm()
    t = Titration(gov, 0, start_ma=4.0, step_ma=2.0)
    run(t, (6.0, 14.0, 26.0), clock)
    patient = t.result().apply(load_profile(path))
    save_profile(path, patient)
    data = tomllib.loads(path.read_text())
    assert data["seed"] == 7 and data["protocol"]["duration_s"] == 90
    assert load_profile(path) == patient and patient.pseudonym == "sub-07"
    config = load_config(path)  # the same file is a session configuration
    assert config.patient.stim_channel(0).motor_threshold_ma == 14.0


def test_cli_titrates_with_a_simulated_patient(tmp_path, capsys):
    path = tmp_path / "p.toml"
    path.write_text(NEW_PROFILE)
    code = main(["stim", "titrate", "--profile", str(path), "--channel", "1", "--site",
                 "forearm extensors", "--area", "20", "--simulate", "5,12,24"])
    assert code == 0
    ch = load_profile(path).stim_channel(1)
    assert (ch.sensory_threshold_ma, ch.motor_threshold_ma, ch.max_tolerated_ma) == (
        5.0, 12.0, 24.0)
    assert "saved to" in capsys.readouterr().out


def test_cli_reads_the_therapists_answers(tmp_path):
    import argparse

    from mirrorvr.cli.stim import titrate

    path = tmp_path / "p.toml"
    path.write_text(NEW_PROFILE)
    args = argparse.Namespace(
        profile=path, channel=0, site="flexors", area=20.0, ceiling_ma=40.0, start_ma=2.0,
        step_ma=2.0, config=None, simulate=None,
    )
    out = io.StringIO()
    assert titrate(args, stdin=io.StringIO("n\nf\n?\nc\nc\nx\n"), out=out) == 0
    ch = load_profile(path).stim_channel(0)
    assert (ch.sensory_threshold_ma, ch.motor_threshold_ma, ch.max_tolerated_ma) == (
        4.0, 6.0, 8.0)
    args.profile = tmp_path / "q.toml"
    args.profile.write_text(NEW_PROFILE)
    assert titrate(args, stdin=io.StringIO("f\n"), out=out) == 1  # end of input: stop
    assert load_profile(args.profile).stim_channel(0) is None  # nothing saved


def test_cli_needs_site_and_area_for_a_new_channel(tmp_path):
    import argparse

    from mirrorvr.cli.stim import titrate

    (tmp_path / "p.toml").write_text(NEW_PROFILE)
    args = argparse.Namespace(profile=tmp_path / "p.toml", channel=3, site=None, area=None,
                              ceiling_ma=40.0, start_ma=2.0, step_ma=1.0, config=None,
                              simulate=None)
    with pytest.raises(ConfigError, match="--site and --area"):
        titrate(args)
