"""SafetyGovernor: limits, arming, emergency stop, faults, dose log (SAFETY.md)."""

import math

import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.config import DeviceLimits, Screening, StimChannelProfile
from mirrorvr.errors import ConfigError, SafetyLimitError, StimulationError
from mirrorvr.stim import RampRule, SafetyGovernor, SimulatedStimulator, StimCommand

from profiles import patient_profile


def patient(**screening):
    return patient_profile(
        stim_channels=(
            StimChannelProfile(channel=0, site="flexors", electrode_area_cm2=20.0,
                               motor_threshold_ma=14.0, max_tolerated_ma=26.0),
            StimChannelProfile(channel=1, site="extensors", electrode_area_cm2=2.0,
                               motor_threshold_ma=12.0, max_tolerated_ma=24.0),
            StimChannelProfile(channel=2, site="biceps", electrode_area_cm2=20.0,
                               sensory_threshold_ma=5.0),  # not titrated
        ),
        screening=Screening(**screening),
    )


def make(**kw):
    base = dict(channel=0, amplitude_ma=20.0, pulse_width_us=300.0, frequency_hz=35.0,
                on_time_s=1.5, ramp_up_s=0.5, ramp_down_s=0.5)
    return StimCommand(**(base | kw))


@pytest.fixture
def rig():
    clock = FakeClock(100.0)
    driver = SimulatedStimulator(clock, n_channels=4, motor_threshold_ma={0: 14.0})
    events = []
    gov = SafetyGovernor(DeviceLimits(), patient(), driver, clock, events.append)
    gov.arm()
    return gov, driver, clock, events


def test_valid_command_is_sent_and_logged(rig):
    gov, driver, clock, events = rig
    gov.submit(make())
    assert len(driver.trains()) == 1
    sent = [e for e in events if e.kind == "sent"]
    assert len(sent) == 1 and sent[0].channel == 0
    d = sent[0].detail
    assert d["amplitude_ma"] == 20.0 and d["pulse_width_us"] == 300.0
    assert d["frequency_hz"] == 35.0 and d["start_s"] == 100.0 and d["planned_stop_s"] == 101.5
    clock.advance(2.0)
    gov.poll()
    stopped = [e for e in events if e.kind == "stopped"]
    assert stopped[0].detail["reason"] == "on_time_expired" and stopped[0].t_s == 101.5


@pytest.mark.parametrize(
    "kw, limit",
    [
        (dict(amplitude_ma=150.0), "max_amplitude_ma"),
        (dict(amplitude_ma=0.0), "amplitude_ma"),
        (dict(amplitude_ma=-3.0), "amplitude_ma"),
        (dict(amplitude_ma=math.nan), "amplitude_ma"),
        (dict(pulse_width_us=600.0), "max_pulse_width_us"),
        (dict(pulse_width_us=-1.0), "pulse_width_us"),
        (dict(frequency_hz=0.5), "min_frequency_hz"),
        (dict(frequency_hz=150.0), "max_frequency_hz"),
        (dict(frequency_hz=math.inf), "frequency_hz"),
        (dict(amplitude_ma=25.0, pulse_width_us=500.0, frequency_hz=20.0), None),  # 12.5 uC ok
        (dict(on_time_s=6.0), "max_on_time_s"),
        (dict(on_time_s=0.0), "on_time_s"),
        (dict(ramp_up_s=0.0), "min_ramp_up_s"),
        (dict(ramp_up_s=0.05), "min_ramp_up_s"),
        (dict(ramp_down_s=0.01), "min_ramp_down_s"),
        (dict(ramp_up_s=1.0, ramp_down_s=1.0, on_time_s=1.5), "ramps_within_on_time"),
        (dict(channel=2), "not titrated"),
        (dict(channel=3), "not titrated"),
        (dict(channel=4), "channel"),
        (dict(channel=-1), "channel"),
        (dict(amplitude_ma=26.5), "max_tolerated_ma"),
        (dict(channel=1, amplitude_ma=24.0, pulse_width_us=400.0, frequency_hz=50.0),
         "max_current_density_ma_rms_per_cm2"),
    ],
)
def test_each_limit_is_refused_by_name_and_never_reaches_the_driver(rig, kw, limit):
    gov, driver, _, events = rig
    if limit is None:
        gov.submit(make(**kw))
        assert len(driver.trains()) == 1
        return
    with pytest.raises(SafetyLimitError, match=limit) as info:
        gov.submit(make(**kw))
    assert limit in info.value.limit
    assert driver.trains() == []
    refused = [e for e in events if e.kind == "refused"]
    assert len(refused) == 1 and limit in refused[0].detail["limit"]


def test_charge_and_rms_hard_limits():
    clock = FakeClock()
    device = DeviceLimits(max_charge_per_phase_uc=5.0, max_rms_current_ma=2.0)
    big = patient_profile(stim_channels=(StimChannelProfile(
        channel=0, site="x", electrode_area_cm2=200.0, motor_threshold_ma=10.0,
        max_tolerated_ma=90.0),))
    driver = SimulatedStimulator(clock)
    gov = SafetyGovernor(device, big, driver, clock)
    gov.arm()
    with pytest.raises(SafetyLimitError, match="max_charge_per_phase_uc"):
        gov.submit(make(amplitude_ma=20.0, pulse_width_us=300.0))  # 6 uC
    with pytest.raises(SafetyLimitError, match="max_rms_current_ma"):
        gov.submit(make(amplitude_ma=16.0, pulse_width_us=300.0, frequency_hz=35.0))  # 2.3 mA
    assert driver.trains() == []


def test_refusal_message_names_value_allowed_and_channel(rig):
    gov, *_ = rig
    with pytest.raises(SafetyLimitError) as info:
        gov.submit(make(amplitude_ma=26.5))
    err = info.value
    assert err.limit == "max_tolerated_ma" and err.value == 26.5 and err.channel == 0
    assert "26.0" in err.allowed and "channel 0" in str(err)


def test_patient_limits_above_hard_limits_refused_at_construction():
    clock = FakeClock()
    p = patient_profile(stim_channels=(StimChannelProfile(
        channel=0, site="x", electrode_area_cm2=20.0, max_tolerated_ma=60.0),))
    with pytest.raises(SafetyLimitError, match="max_tolerated_ma"):
        SafetyGovernor(DeviceLimits(max_amplitude_ma=50.0), p, SimulatedStimulator(clock), clock)
    p2 = patient_profile(stim_channels=(StimChannelProfile(
        channel=7, site="x", electrode_area_cm2=20.0, max_tolerated_ma=10.0),))
    with pytest.raises(SafetyLimitError, match="channel"):
        SafetyGovernor(DeviceLimits(n_channels=4), p2, SimulatedStimulator(clock), clock)


def test_not_armed_refuses():
    clock = FakeClock()
    driver = SimulatedStimulator(clock)
    gov = SafetyGovernor(DeviceLimits(), patient(), driver, clock)
    with pytest.raises(StimulationError, match="disarmed"):
        gov.submit(make())
    assert driver.trains() == []


def test_arm_refused_with_contraindications():
    clock = FakeClock()
    events = []
    gov = SafetyGovernor(DeviceLimits(), patient(pacemaker_or_implanted_device=True, epilepsy=True),
                         SimulatedStimulator(clock), clock, events.append)
    with pytest.raises(StimulationError, match="pacemaker_or_implanted_device, epilepsy"):
        gov.arm()
    with pytest.raises(StimulationError, match="contraindications"):
        gov.rearm()
    assert gov.state == "disarmed"
    assert events[-1].kind == "refused" and events[-1].detail["limit"] == "screening"


def test_emergency_stop_stops_everything_and_blocks_until_rearm(rig):
    gov, driver, clock, events = rig
    gov.submit(make(channel=0))
    gov.submit(make(channel=1, amplitude_ma=10.0))
    assert driver.active_channels() == [0, 1]
    clock.advance(0.3)
    gov.emergency_stop("patient pressed stop")
    assert driver.active_channels() == []
    assert gov.state == "estopped"
    assert {t.stop_reason for t in driver.trains()} == {"patient pressed stop"}
    stopped = [e for e in events if e.kind == "stopped"]
    assert sorted(e.channel for e in stopped) == [0, 1]
    assert all(e.t_s == pytest.approx(100.3) for e in stopped)
    with pytest.raises(StimulationError, match="estopped"):
        gov.submit(make())
    with pytest.raises(StimulationError, match="rearm"):
        gov.arm()
    assert len(driver.trains()) == 2
    gov.rearm()
    assert gov.state == "armed"
    gov.submit(make())
    assert len(driver.trains()) == 3


def test_driver_fault_on_send_switches_all_off_and_faults(rig):
    gov, driver, _, events = rig
    gov.submit(make(channel=0))
    driver.inject_fault(ConnectionError("usb unplugged"))
    with pytest.raises(StimulationError, match="fault") as info:
        gov.submit(make(channel=1, amplitude_ma=10.0))
    assert isinstance(info.value.__cause__, ConnectionError)
    assert gov.state == "faulted"
    assert driver.active_channels() == []
    assert any(e.kind == "fault" and e.detail["all_off_ok"] for e in events)
    assert [e.detail["reason"] for e in events if e.kind == "stopped"] == ["fault"]
    with pytest.raises(StimulationError, match="faulted"):
        gov.submit(make())
    gov.rearm()
    gov.submit(make())
    assert driver.active_channels() == [0]


def test_persistent_disconnect_mid_train_leaves_every_channel_off(rig):
    gov, driver, clock, events = rig
    gov.submit(make(channel=0, on_time_s=2.0))
    driver.inject_fault(ConnectionError("lost"), persistent=True,
                        on=("send", "stop_all", "stop_channel"))
    with pytest.raises(StimulationError):
        gov.submit(make(channel=1, amplitude_ma=10.0))
    assert gov.state == "faulted"
    assert any(e.kind == "fault" and not e.detail["all_off_ok"] for e in events)
    # the device could not be told to stop: its own on-time expiry must end the train
    clock.advance(2.1)
    assert driver.active_channels() == []
    assert [t.stop_reason for t in driver.trains()] == ["on_time_expired"]


def test_all_off_stays_armed(rig):
    gov, driver, _, events = rig
    gov.submit(make())
    gov.all_off("watchdog")
    assert driver.active_channels() == [] and gov.state == "armed"
    assert [e.detail["reason"] for e in events if e.kind == "stopped"] == ["watchdog"]
    gov.submit(make())


def test_a_running_train_is_never_replaced_mid_envelope(rig):
    """Replacing a running train would cut it off at its amplitude (a fall faster than
    SAFETY.md item 6 allows): the new one is refused until the first ends or is stopped."""
    gov, driver, clock, events = rig
    gov.submit(make())
    clock.advance(0.5)
    with pytest.raises(SafetyLimitError, match="train_running") as info:
        gov.submit(make(amplitude_ma=18.0))
    assert info.value.channel == 0 and info.value.value == pytest.approx(101.5)
    assert len(driver.trains()) == 1 and [e.kind for e in events][-1] == "refused"
    clock.advance(1.0)  # the first train's on-time ran out
    gov.submit(make(amplitude_ma=18.0))
    gov.stop_channel(0, "therapist")
    gov.submit(make(amplitude_ma=16.0))
    assert [t.command.amplitude_ma for t in driver.trains()] == [20.0, 18.0, 16.0]


def test_stopped_events_say_whether_the_train_was_cut_short_and_how_long_it_ran(rig):
    """SAFETY.md item 9: a train stopped early (watchdog, e-stop, fault, stop) is cut short,
    with its actual duration; one that ran out its on-time is not."""
    gov, driver, clock, events = rig
    gov.submit(make(channel=0))
    clock.advance(2.0)
    gov.poll()
    gov.submit(make(channel=0))
    gov.submit(make(channel=1, amplitude_ma=10.0))
    clock.advance(0.4)
    gov.all_off("watchdog: render loop silent")
    gov.submit(make(channel=0))
    clock.advance(0.25)
    driver.inject_fault(OSError("device error reply"), on=("check",))
    gov.poll()
    stopped = [e.detail for e in events if e.kind == "stopped"]
    assert [(d["reason"], d["cut_short"]) for d in stopped] == [
        ("on_time_expired", False), ("watchdog: render loop silent", True),
        ("watchdog: render loop silent", True), ("fault", True)]
    assert [d["duration_s"] for d in stopped] == [
        pytest.approx(v) for v in (make().on_time_s, 0.4, 0.4, 0.25)]
    assert all(d["planned_stop_s"] == d["start_s"] + d["on_time_s"] for d in stopped)


def test_event_handler_errors_do_not_break_safety(caplog):
    clock = FakeClock()
    driver = SimulatedStimulator(clock)

    def bad(event):
        raise RuntimeError("disk full")

    gov = SafetyGovernor(DeviceLimits(), patient(), driver, clock, bad)
    gov.arm()
    gov.submit(make())
    gov.emergency_stop()
    assert driver.active_channels() == [] and gov.state == "estopped"
    assert "on_event handler failed" in caplog.text


def test_events_serialise_to_strict_json(rig):
    import json

    gov, _, _, events = rig
    gov.submit(make())
    try:
        gov.submit(make(amplitude_ma=math.nan))
    except SafetyLimitError:
        pass
    for e in events:
        d = json.loads(e.to_json())
        assert d["kind"] == e.kind
    assert json.loads(events[-1].to_json())["detail"]["value"] == "nan"


def two_slope_rig(rule):
    clock = FakeClock(0.0)
    driver = SimulatedStimulator(clock)
    gov = SafetyGovernor(DeviceLimits(), patient(), driver, clock, ramps=rule)
    gov.arm()
    return gov, driver


def test_two_slope_envelopes_need_the_setting_and_the_channels_motor_threshold():
    """SAFETY.md item 6: 0 -> motor threshold in >= 50 ms, then the comfort ramp; only when
    the therapist chose it, only at the channel's titrated motor threshold."""
    fast = dict(threshold_ma=14.0, threshold_ramp_s=0.05)
    gov, driver = two_slope_rig(RampRule(0.5, 0.5))  # fast rise not chosen
    with pytest.raises(SafetyLimitError, match="two_slope_envelope"):
        gov.submit(make(**fast))
    rule = RampRule(0.5, 0.5, subthreshold_rise_s=0.08, two_slope=True)
    gov, driver = two_slope_rig(rule)
    for kw, limit in [
        (dict(threshold_ma=14.0, threshold_ramp_s=0.05), "subthreshold_rise_s"),  # < 80 ms
        (dict(threshold_ma=13.0, threshold_ramp_s=0.08), "threshold_ma"),  # not the threshold
        (dict(threshold_ma=14.0, threshold_ramp_s=0.08, amplitude_ma=13.5), "threshold_ma"),
        (dict(threshold_ma=14.0, threshold_ramp_s=0.08, ramp_up_s=0.4), "comfort_ramp_up_s"),
        (dict(threshold_ma=14.0, threshold_ramp_s=0.08, ramp_down_s=0.3),
         "comfort_ramp_down_s"),
        (dict(threshold_ma=14.0, threshold_ramp_s=0.3), "ramps_within_on_time"),
        (dict(threshold_ramp_s=0.08), "threshold_ramp_s"),  # a knee time without a knee
        (dict(threshold_ma=-1.0, threshold_ramp_s=0.08), "threshold_ma"),
        (dict(threshold_ma=math.inf, threshold_ramp_s=0.08), "threshold_ma"),
        (dict(channel=2, amplitude_ma=4.0, threshold_ma=4.0, threshold_ramp_s=0.08),
         "not titrated"),
    ]:
        with pytest.raises(SafetyLimitError, match=limit) as info:
            gov.submit(make(**kw))
        assert info.value.channel == kw.get("channel", 0)
    assert driver.trains() == []
    gov.submit(make(threshold_ma=14.0, threshold_ramp_s=0.08))
    assert driver.trains()[0].command.threshold_ma == 14.0


def test_a_plain_ramp_must_not_reach_the_motor_threshold_in_under_50_ms():
    gov, driver = two_slope_rig(RampRule(0.1, 0.1))
    # 0 -> 14 mA along a 0.1 s ramp to 26 mA takes 54 ms: allowed
    gov.submit(make(amplitude_ma=26.0, ramp_up_s=0.1, ramp_down_s=0.1))
    prof = patient().stim_channels[0]
    low = patient_profile(stim_channels=(prof.model_copy(update={"motor_threshold_ma": 6.0}),))
    clock = FakeClock(0.0)
    gov = SafetyGovernor(DeviceLimits(), low, SimulatedStimulator(clock), clock,
                         ramps=RampRule(0.1, 0.1))
    gov.arm()
    with pytest.raises(SafetyLimitError, match="subthreshold_rise_s") as info:
        gov.submit(make(amplitude_ma=20.0, ramp_up_s=0.1, ramp_down_s=0.2))
    assert info.value.value == pytest.approx(0.1 * 6.0 / 20.0)
    with pytest.raises(SafetyLimitError, match="subthreshold_fall_s"):
        gov.submit(make(amplitude_ma=20.0, ramp_up_s=0.2, ramp_down_s=0.1))
    gov.submit(make(amplitude_ma=20.0, ramp_up_s=0.2, ramp_down_s=0.2))


def test_the_comfort_ramp_is_the_configured_one_and_never_below_50_ms_subthreshold():
    from mirrorvr.config import SimulatedStimSettings

    settings = SimulatedStimSettings(ramp_up_s=0.8, ramp_down_s=0.6)
    gov, driver = two_slope_rig(RampRule.from_settings(settings))
    with pytest.raises(SafetyLimitError, match="comfort_ramp_up_s"):
        gov.submit(make(ramp_up_s=0.5, ramp_down_s=0.6, on_time_s=2.0))
    gov.submit(make(ramp_up_s=0.8, ramp_down_s=0.6, on_time_s=2.0))
    with pytest.raises(ConfigError, match="subthreshold_rise_s"):
        RampRule(0.5, 0.5, subthreshold_rise_s=0.049)
    with pytest.raises(ConfigError, match="comfort ramp comfort_up_s"):
        RampRule(0.0, 0.5)


class _Capable(SimulatedStimulator):
    def __init__(self, clock):
        super().__init__(clock, capabilities=DeviceLimits(
            model="rehastim2", max_amplitude_ma=130.0, min_pulse_width_us=20.0,
            max_pulse_width_us=500.0))


def test_lost_link_found_by_poll_faults_once_and_switches_all_off(rig):
    gov, driver, clock, events = rig
    lost = {"on": False}

    def check(t_s):
        if lost["on"]:
            raise OSError("port closed")

    driver.check = check
    gov.submit(make())
    lost["on"] = True
    gov.poll()
    gov.poll()
    assert gov.state == "faulted" and "port closed" in gov.last_fault
    assert sum(e.kind == "fault" for e in events) == 1
    assert driver.active_channels() == []
    with pytest.raises(StimulationError, match="faulted"):
        gov.submit(make())


def test_emergency_stop_never_raises_even_when_the_device_is_gone(rig):
    gov, driver, clock, events = rig
    gov.submit(make())
    driver.inject_fault(OSError("port closed"), persistent=True, on=("stop_all", "send"))
    assert gov.emergency_stop("key") is False
    assert gov.state == "estopped"
    assert [e.detail.get("all_off_ok") for e in events if e.kind == "fault"] == [False]


class _Releasable(SimulatedStimulator):
    """A simulated device with a port to release, that can fail to switch off."""

    def __init__(self, clock, fail_stop=False):
        super().__init__(clock, n_channels=4, motor_threshold_ma={0: 14.0})
        self.released = 0
        self.fail_stop = fail_stop

    def stop_all(self, t_s, reason):
        if self.fail_stop:
            raise OSError("port gone")
        super().stop_all(t_s, reason)

    def close(self):
        self.released += 1


def test_close_switches_everything_off_disarms_and_releases_the_device_once():
    clock = FakeClock(100.0)
    driver = _Releasable(clock)
    gov = SafetyGovernor(DeviceLimits(), patient(), driver, clock)
    gov.arm()
    gov.submit(make())
    assert driver.active_channels() == [0]
    gov.close("session end")
    gov.close("again")
    assert driver.active_channels() == [] and driver.released == 1
    with pytest.raises(StimulationError):
        gov.submit(make())


def test_close_releases_the_device_even_when_switching_off_fails():
    clock = FakeClock(100.0)
    driver = _Releasable(clock, fail_stop=True)
    gov = SafetyGovernor(DeviceLimits(), patient(), driver, clock)
    gov.arm()
    with pytest.raises(StimulationError, match="port gone"):
        gov.close()
    assert driver.released == 1 and gov.state == "faulted"
