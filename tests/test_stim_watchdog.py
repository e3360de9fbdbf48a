"""Watchdog: all stimulation off when a loop stalls (SAFETY.md item 7)."""

import threading

import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.config import DeviceLimits, StimChannelProfile
from mirrorvr.errors import StimulationError
from mirrorvr.stim import SafetyGovernor, SimulatedStimulator, StimCommand, Watchdog

from fakes import wait_for
from profiles import patient_profile

PATIENT = patient_profile(stim_channels=(StimChannelProfile(
    channel=0, site="flexors", electrode_area_cm2=20.0, motor_threshold_ma=14.0,
    max_tolerated_ma=26.0),))
CMD = StimCommand(channel=0, amplitude_ma=20.0, pulse_width_us=300.0, frequency_hz=35.0,
                  on_time_s=5.0, ramp_up_s=0.5, ramp_down_s=0.5)


def test_check_fires_once_after_timeout_with_fake_clock():
    clock = FakeClock()
    reasons = []
    wd = Watchdog(clock, 0.1, reasons.append)
    for _ in range(5):
        clock.advance(0.05)
        wd.beat("control")
        wd.beat("render")
        assert wd.check() is None
    clock.advance(0.05)
    wd.beat("control")
    clock.advance(0.06)  # render silent 110 ms
    assert wd.check() is not None
    assert len(reasons) == 1 and "render" in reasons[0] and "control" not in reasons[0]
    clock.advance(0.5)
    assert wd.check() is None  # once per stall
    assert len(reasons) == 1
    wd.beat("control")
    wd.beat("render")
    assert wd.check() is None
    clock.advance(0.2)
    assert wd.check() is not None  # a new stall fires again
    assert len(reasons) == 2


def test_exactly_timeout_does_not_fire():
    clock = FakeClock()
    wd = Watchdog(clock, 0.1, lambda r: None, names=("control",))
    clock.advance(0.1)
    assert wd.check() is None
    clock.advance(0.001)
    assert wd.check() is not None


def test_unknown_loop_name_is_an_error():
    wd = Watchdog(FakeClock(), 0.1, lambda r: None)
    with pytest.raises(StimulationError, match="unknown loop"):
        wd.beat("audio")


def test_watchdog_wired_to_governor_stops_stimulation_fake_clock():
    clock = FakeClock()
    driver = SimulatedStimulator(clock)
    gov = SafetyGovernor(DeviceLimits(), PATIENT, driver, clock)
    gov.arm()
    wd = Watchdog(clock, 0.1, gov.all_off)
    gov.submit(CMD)
    clock.advance(0.15)
    wd.check()
    assert driver.active_channels() == []
    assert driver.trains()[0].stop_reason.startswith("watchdog")


def test_handler_failure_is_logged_and_watching_goes_on(caplog):
    clock = FakeClock()

    def bad(reason):
        raise StimulationError("driver gone")

    wd = Watchdog(clock, 0.1, bad, names=("control",))
    clock.advance(0.2)
    assert wd.check() is not None
    assert "on_timeout handler failed" in caplog.text


def test_the_watchdog_thread_switches_everything_off_once_a_stall_passes_the_timeout():
    """The real watchdog thread on a fake clock: healthy loops never trip it; a stall of
    exactly the timeout does not; one tick past it switches every channel off, and the
    train's stop time on the session clock is that tick."""
    clock = FakeClock(0.0)
    driver = SimulatedStimulator(clock)
    gov = SafetyGovernor(DeviceLimits(), PATIENT, driver, clock)
    gov.arm()
    timeout_s, tick_s = 0.1, 0.001
    fired = threading.Event()

    def on_timeout(reason):
        gov.all_off(reason)
        fired.set()

    wd = Watchdog(clock, timeout_s, on_timeout, poll_interval_s=0.0005)

    def checked_now():
        return wd.last_check_s == clock.now()

    wd.start()
    try:
        gov.submit(CMD)
        for _ in range(10):  # both loops healthy for 200 ms of session time
            clock.advance(0.02)
            wd.beat("control")
            wd.beat("render")
            assert wait_for(checked_now)
        assert not fired.is_set()
        stall_start = clock.now()  # then both loops stall
        clock.advance(timeout_s)
        assert wait_for(checked_now) and not fired.is_set()
        clock.advance(tick_s)
        assert fired.wait(5.0)
    finally:
        wd.stop()
    train = driver.trains()[0]
    assert train.stop_reason.startswith("watchdog") and "control" in train.stop_reason
    assert train.stopped_s - stall_start == pytest.approx(timeout_s + tick_s)
    assert wd.fired_at_s == [pytest.approx(stall_start + timeout_s + tick_s)]
