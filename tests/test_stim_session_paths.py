"""The stimulator-side rules through the public interfaces: a configuration file, the command
line, a session (SAFETY.md items 6 and 9).

The session runs on the fake clock without GL (``test_session_runner``'s scripted window and
null renderer); its dose log is read back from the recording with pyxdf.
"""

import json

import pytest
from test_session_runner import FPS, T0
from test_stim_properties import Rule6, command_envelope_violations

from mirrorvr.cli import main, run_demo
from mirrorvr.cli.compose import resolve_patient, with_limb_defaults
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config, load_config
from mirrorvr.errors import ConfigError
from mirrorvr.sim.demo import demo_patient
from mirrorvr.stim import StimCommand
from mirrorvr.stim.prescription import slowest_path_latency_s

from fakes import NullRenderer, ScriptedWindow, planned_starts

pyxdf = pytest.importorskip("pyxdf")


def refused(tmp_path, capsys, toml: str) -> str:
    """Run ``mirrorvr demo --config`` on ``toml``; it must be refused before anything starts."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    data_dir = tmp_path / "data"
    assert main(["demo", "--config", str(cfg), "--data-dir", str(data_dir), "--headless"]) == 2
    assert not data_dir.exists()
    return capsys.readouterr().err


def test_the_retired_sensory_threshold_start_is_refused_pointing_to_the_new_setting(
        tmp_path, capsys):
    err = refused(tmp_path, capsys, "[stim]\nramp_from_sensory_threshold = true\n")
    assert "stim.ramp_from_sensory_threshold = True: retired" in err
    assert "a step from zero" in err
    assert "fast_rise_below_motor_threshold = true" in err


def test_ramp_settings_that_break_rule_6_are_refused_before_the_session_starts(
        tmp_path, capsys):
    err = refused(tmp_path, capsys, "[stim]\nsubthreshold_rise_s = 0.04\n")
    assert "stim.subthreshold_rise_s = 0.04" in err and "0.05" in err
    err = refused(tmp_path, capsys, "[stim]\nfast_rise_below_motor_threshold = true\n"
                                    "on_time_s = 1.05\n")
    assert "shorter than the two-slope envelope" in err and "1.1 s" in err
    err = refused(tmp_path, capsys, "[stim]\nramp_down_s = 0\n")
    assert "stim.ramp_down_s = 0" in err and "greater than 0" in err


FAST = """\
[protocol]
duration_s = 40.0
[render]
max_fps = {fps}
saved_frames = 0
[stim]
fast_rise_below_motor_threshold = true
subthreshold_rise_s = 0.06
"""


@pytest.fixture(scope="module")
def fast_session(tmp_path_factory):
    """A demo session configured (TOML) for the two-slope envelope, an e-stop mid-train in
    its mirror block."""
    tmp = tmp_path_factory.mktemp("fast")
    path = tmp / "fast.toml"
    path.write_text(FAST.format(fps=FPS))
    config = load_config(path)
    clock = FakeClock(T0)
    estop_s = planned_starts(config, T0)["mirror"] + 1.0  # in the mirror block, mid-train
    summary = run_demo(config, tmp, clock=clock, realtime=False,
                       window=ScriptedWindow(clock, {estop_s: "space"}),
                       renderer=NullRenderer(clock))
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    events = [json.loads(e[0]) for e in by_name["stimulation"]["time_series"]]
    return config, summary, events


def test_a_two_slope_session_sends_every_train_through_its_channels_motor_threshold(
        fast_session):
    config, summary, events = fast_session
    stim = config.stim
    sent = [e for e in events if e["kind"] == "sent"]
    assert len(sent) >= 2
    rule = Rule6(stim.ramp_up_s, stim.ramp_down_s, stim.subthreshold_rise_s, True)
    for e in sent:
        d = e["detail"]
        motor = demo_patient().stim_channel(e["channel"]).motor_threshold_ma
        assert d["threshold_ma"] == motor and d["threshold_ramp_s"] == stim.subthreshold_rise_s
        cmd = StimCommand(**{k: d[k] for k in StimCommand.__dataclass_fields__})
        assert command_envelope_violations(cmd, motor, rule) == []
    # the contraction starts at the knee, so reactive movements wait far less than with the
    # plain comfort ramp
    plain, _ = resolve_patient(build_config({"stim": {"fast_rise_below_motor_threshold": False}}))
    plain = with_limb_defaults(plain)
    assert summary["presentation_delay_s"] < slowest_path_latency_s(plain.stim, plain.patient)


def test_every_stop_in_the_dose_log_says_whether_the_train_was_cut_short(fast_session):
    """SAFETY.md item 9: a train the e-stop ended is cut short, with its actual duration; one
    that ran out its on-time is not."""
    config, summary, events = fast_session
    stopped = [e["detail"] for e in events if e["kind"] == "stopped"]
    assert len(stopped) == len([e for e in events if e["kind"] == "sent"])
    cut = [d for d in stopped if d["cut_short"]]
    whole = [d for d in stopped if not d["cut_short"]]
    assert whole and all(d["reason"] == "on_time_expired" for d in whole)
    assert all(d["duration_s"] == pytest.approx(d["on_time_s"]) for d in whole)
    assert [d["reason"] for d in cut] == ["emergency stop key"]
    assert 0 < cut[0]["duration_s"] < cut[0]["on_time_s"]
    assert cut[0]["stop_s"] == pytest.approx(cut[0]["start_s"] + cut[0]["duration_s"])


def test_config_toml_sets_the_two_slope_envelope_and_refuses_a_too_short_knee(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[stim]\nfast_rise_below_motor_threshold = true\nsubthreshold_rise_s = 0.08\n")
    stim = load_config(path).stim
    assert stim.fast_rise_below_motor_threshold and stim.subthreshold_rise_s == 0.08
    path.write_text("[stim]\nsubthreshold_rise_s = 0.01\n")
    with pytest.raises(ConfigError, match="stim.subthreshold_rise_s = 0.01"):
        load_config(path)
