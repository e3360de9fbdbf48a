"""Titration: step-wise search of sensory/motor thresholds and maximum tolerated amplitude,
saved in the profile; an untitrated channel cannot stimulate (SAFETY.md item 2)."""

import io
import itertools
import sys

import pytest

from mirrorvr.cli import main
from mirrorvr.clock import FakeClock
from mirrorvr.config import (
    DeviceLimits,
    Screening,
    SimulatedStimSettings,
    load_config,
)
from mirrorvr.errors import ConfigError, SafetyLimitError, StimulationError
from mirrorvr.stim import RampRule, SafetyGovernor, SimulatedStimulator, StimCommand
from mirrorvr.stim.titration import (
    Titration,
    TitrationResult,
    load_profile,
    save_titration,
    simulated_response,
    titration_governor,
)

from profiles import patient_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


#: A new profile's person, as the therapist gives it.
SIDE_AND_LEVEL = {"amputated_side": "right", "amputation_level": "transradial"}
NEW_PERSON_FLAGS = ("--amputated-side", "right", "--amputation-level", "transradial")
PERSON = 'amputated_side = "right"\namputation_level = "transradial"\n'


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
    # one train at a time: each starts once the one before has run out its on-time
    trains = driver.trains()
    assert all(b.sent_s >= a.sent_s + a.command.on_time_s for a, b in itertools.pairwise(trains))
    assert [tr.stop_reason for tr in trains[:-1]] == ["on_time_expired"] * (len(trains) - 1)


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


def test_titration_trains_have_the_session_shape():
    settings = SimulatedStimSettings(pulse_width_us=250.0, frequency_hz=40.0, on_time_s=2.0,
                            ramp_up_s=0.7, ramp_down_s=0.6)
    clock = FakeClock(0.0)
    driver = SimulatedStimulator(clock)
    gov = titration_governor(DeviceLimits(), patient_profile(), driver, clock, channel=0,
                             site="flexors", electrode_area_cm2=20, ceiling_ma=10,
                             ramps=RampRule.from_settings(settings))
    gov.arm()
    Titration(gov, 0, settings=settings).stimulate()
    cmd = driver.trains()[0].command
    assert (cmd.pulse_width_us, cmd.frequency_hz, cmd.on_time_s, cmd.ramp_up_s,
            cmd.ramp_down_s) == (250.0, 40.0, 2.0, 0.7, 0.6)
    assert not cmd.two_slope  # no titrated motor threshold yet: the plain comfort ramp


RESULT = TitrationResult(channel=0, site="forearm flexors", electrode_area_cm2=20.0,
                         sensory_threshold_ma=6.0, motor_threshold_ma=14.0,
                         max_tolerated_ma=26.0)


def test_save_writes_the_titrated_channel_and_nothing_else(tmp_path):
    path = tmp_path / "profile.toml"
    path.write_text(
        'seed = 7\n[protocol]\nduration_s = 90\n[patient]\npseudonym = "sub-07"\n'
        'amputated_side = "left"\namputation_level = "transradial"\n'
        '[[patient.stim_channels]]\nchannel = 0\nsite = "old"\nelectrode_area_cm2 = 10\n'
        '[[patient.stim_channels]]\nchannel = 2\nsite = "biceps"\nelectrode_area_cm2 = 25\n'
        'motor_threshold_ma = 9\nmax_tolerated_ma = 18\n')
    before = tomllib.loads(path.read_text())
    save_titration(path, RESULT)
    after = tomllib.loads(path.read_text())
    assert after["seed"] == 7 and after["protocol"] == before["protocol"]
    ch = after["patient"].pop("stim_channels")
    assert ch[1] == before["patient"]["stim_channels"][1]  # channel 2 untouched
    assert ch[0] == {"channel": 0, "site": "forearm flexors", "electrode_area_cm2": 20.0,
                     "sensory_threshold_ma": 6.0, "motor_threshold_ma": 14.0,
                     "max_tolerated_ma": 26.0}
    before["patient"].pop("stim_channels")
    assert after["patient"] == before["patient"]  # no defaults written (screening, skin, ...)
    config = load_config(path)  # the same file is a session configuration
    assert config.patient.stim_channel(0).motor_threshold_ma == 14.0


def test_a_new_profile_holds_the_pseudonym_the_screening_and_the_channel_only(tmp_path):
    path = tmp_path / "new.toml"
    with pytest.raises(ConfigError, match="holds no patient: a new profile needs its "
                       "pseudonym, amputated side and level"):
        save_titration(path, RESULT)
    assert not path.exists()
    save_titration(path, RESULT, new_person=dict(pseudonym="sub-11", **SIDE_AND_LEVEL),
                   screening=Screening())
    data = tomllib.loads(path.read_text())
    assert set(data) == {"patient"}
    assert set(data["patient"]) == {"pseudonym", *SIDE_AND_LEVEL, "screening", "stim_channels"}
    assert [c["channel"] for c in data["patient"]["stim_channels"]] == [0]
    assert load_profile(path).pseudonym == "sub-11"


def test_load_profile_never_stands_in_a_default_patient(tmp_path):
    path = tmp_path / "p.toml"
    with pytest.raises(ConfigError, match="holds no patient profile"):
        load_profile(path)
    path.write_text("[patient]\namputated_side = \"left\"\n")  # no pseudonym
    with pytest.raises(ConfigError, match="holds no patient profile"):
        load_profile(path)


def rehearse(tmp_path, *extra, profile="p.toml"):
    path = tmp_path / profile
    code = main(["stim", "titrate", "--profile", str(path), "--channel", "1", "--site",
                 "forearm extensors", "--area", "20", "--simulate", "5,12,24", *extra])
    return code, path


def test_cli_rehearses_on_the_simulated_stimulator_and_patient(tmp_path, capsys):
    code, path = rehearse(tmp_path, "--pseudonym", "sub-03", *NEW_PERSON_FLAGS,
                          "--no-contraindications")
    assert code == 0
    out = capsys.readouterr().out
    assert "SIMULATED stimulator" in out and "saved channel 1 to" in out
    profile = load_profile(path)
    assert profile.pseudonym == "sub-03" and [c.channel for c in profile.stim_channels] == [1]
    ch = profile.stim_channel(1)
    assert (ch.sensory_threshold_ma, ch.motor_threshold_ma, ch.max_tolerated_ma) == (
        5.0, 12.0, 24.0)


def test_cli_refuses_a_new_profile_without_pseudonym_or_screening(tmp_path, capsys):
    assert rehearse(tmp_path)[0] == 2
    assert "a new profile needs --pseudonym, --amputated-side, --amputation-level" in (
        capsys.readouterr().err)
    code, path = rehearse(tmp_path, "--pseudonym", "sub-03", *NEW_PERSON_FLAGS)
    assert code == 2 and not path.exists()
    assert "records no screening" in capsys.readouterr().err


def test_cli_refuses_a_contraindicated_patient_before_stimulating(tmp_path, capsys):
    path = tmp_path / "p.toml"
    path.write_text('[patient]\npseudonym = "sub-04"\n' + PERSON + '[patient.screening]\n'
                    'epilepsy = true\n')
    before = path.read_text()
    code, _ = rehearse(tmp_path, "--no-contraindications")
    assert code == 2 and path.read_text() == before
    err = capsys.readouterr().err
    assert "sub-04 must not be stimulated: contraindications epilepsy" in err


def test_cli_keeps_the_profiles_pseudonym_and_refuses_another(tmp_path, capsys):
    path = tmp_path / "p.toml"
    path.write_text('[patient]\npseudonym = "sub-05"\n' + PERSON + '[patient.screening]\n')
    assert rehearse(tmp_path, "--pseudonym", "sub-06")[0] == 2
    assert "is the profile of sub-05, not --pseudonym sub-06" in capsys.readouterr().err
    assert rehearse(tmp_path)[0] == 0
    assert load_profile(path).pseudonym == "sub-05"


def test_cli_needs_the_stimulator_named_unless_rehearsing(tmp_path, capsys):
    """SAFETY.md item 12: titration talks to the configured device; the simulated one only
    when asked for by name (--simulate or driver = "simulated")."""
    path = tmp_path / "p.toml"
    args = ["stim", "titrate", "--profile", str(path), "--channel", "0", "--site", "x",
            "--area", "20", "--pseudonym", "sub-08", *NEW_PERSON_FLAGS,
            "--no-contraindications"]
    assert main(args) == 2
    assert "titration needs the stimulator to drive (no --config given)" in (
        capsys.readouterr().err)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[stim]\npulse_width_us = 250\n")
    assert main([*args, "--config", str(cfg)]) == 2
    assert "names no [stim] driver" in capsys.readouterr().err
    assert not path.exists()


def test_cli_reads_the_therapists_answers_on_a_named_simulated_stimulator(tmp_path,
                                                                           monkeypatch):
    import argparse

    from mirrorvr.cli.stim import titrate

    cfg = tmp_path / "c.toml"
    cfg.write_text('[stim]\ndriver = "simulated"\non_time_s = 0.35\nramp_up_s = 0.1\n'
                   'ramp_down_s = 0.1\n')
    path = tmp_path / "p.toml"
    args = argparse.Namespace(
        profile=path, channel=0, site="flexors", area=20.0, ceiling_ma=40.0, start_ma=2.0,
        step_ma=2.0, config=cfg, simulate=None, pseudonym="sub-09", no_contraindications=True,
        amputated_side="right", amputation_level="transradial",
    )
    out = io.StringIO()
    assert titrate(args, stdin=io.StringIO("n\nf\n?\nc\nc\nx\n"), out=out) == 0
    assert "on the SIMULATED stimulator (no current flows)" in out.getvalue()
    ch = load_profile(path).stim_channel(0)
    assert (ch.sensory_threshold_ma, ch.motor_threshold_ma, ch.max_tolerated_ma) == (
        4.0, 6.0, 8.0)
    args.profile = tmp_path / "q.toml"
    assert titrate(args, stdin=io.StringIO("f\n"), out=out) == 1  # end of input: stop
    assert not args.profile.exists()


def test_cli_needs_site_and_area_for_a_new_channel(tmp_path):
    import argparse

    from mirrorvr.cli.stim import titrate

    args = argparse.Namespace(profile=tmp_path / "p.toml", channel=3, site=None, area=None,
                              ceiling_ma=40.0, start_ma=2.0, step_ma=1.0, config=None,
                              simulate="5,12,24", pseudonym="sub-10",
                              no_contraindications=True, amputated_side="right",
                              amputation_level="transradial")
    with pytest.raises(ConfigError, match="--site and --area"):
        titrate(args)
