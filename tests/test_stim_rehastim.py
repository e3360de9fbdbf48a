"""RehaStim 2 driver: the unchanged pysciencemode against a pty peer that parses ScienceMode 2
packets and answers like the device (SAFETY.md "Drivers"); host-made ramps and expiry; the
governor refusing what the device or the patient cannot take before it reaches the device;
device errors, silence, a stalled host and disconnects leaving every output off."""

import sys
import threading
import time

import pytest

from mirrorvr.clock import SessionClock
from mirrorvr.config import DeviceLimits, StimChannelProfile
from mirrorvr.errors import SafetyLimitError, StimulationError
from mirrorvr.stim import RampRule, SafetyGovernor, StimCommand
from mirrorvr.stim.rehastim import RehaStimDriver, _replies, period_ms_for, ramp_levels

from fakes import wait_for
from profiles import patient_profile

pytest.importorskip("pysciencemode")
# a device emulator on a pty answers in real time: run alone (./dev test)
pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="pty needs POSIX"),
              pytest.mark.serial]

from emulators.rehastim2 import (  # noqa: E402
    INIT_CLM,
    START_CLM,
    STOP_CLM,
    RehaStim2Emulator,
    decode_packet,
    encode_packet,
    split_frames,
)

PW_US, F_HZ = 300.0, 35.0
#: the comfort ramps of the trains below (shorter than the default to keep the tests short)
RAMPS = RampRule(comfort_up_s=0.2, comfort_down_s=0.1)


def profile():
    return patient_profile(stim_channels=(
        StimChannelProfile(channel=2, site="flexors", electrode_area_cm2=20.0,
                           sensory_threshold_ma=6.0, motor_threshold_ma=14.0,
                           max_tolerated_ma=26.0),
        StimChannelProfile(channel=5, site="extensors", electrode_area_cm2=20.0,
                           motor_threshold_ma=12.0, max_tolerated_ma=24.0),
    ))


def make(**kw):
    base = dict(channel=2, amplitude_ma=20.6, pulse_width_us=PW_US, frequency_hz=F_HZ,
                on_time_s=0.6, ramp_up_s=0.2, ramp_down_s=0.1)
    return StimCommand(**(base | kw))


@pytest.fixture
def rig():
    emulator = RehaStim2Emulator()
    clock = SessionClock()
    # an ack time-out that a loaded test machine's twin keeps to, and shorter than the
    # twin's 1 s link watchdog (a silent device is found by the host first)
    driver = RehaStimDriver(emulator.port_name, clock, F_HZ, ack_timeout_s=0.6,
                            motor_threshold_ma={2: 14.0, 5: 12.0})
    emulator.release_slave()
    gov = SafetyGovernor(driver.capabilities, profile(), driver, clock, ramps=RAMPS)
    gov.arm()
    yield emulator, driver, gov
    driver.close()
    emulator.stop()


# ---------------------------------------------------------------------------- pure


def test_period_rounds_up_so_the_rate_is_never_above_the_command():
    assert period_ms_for(35.0) == 29.0  # 28.57 ms -> 29.0 ms: 34.5 Hz
    assert period_ms_for(40.0) == 25.0
    assert period_ms_for(125.0) == 8.0
    assert 1000.0 / period_ms_for(33.3) <= 33.3
    for bad in (200.0, 0.5, 0.0, float("nan")):
        with pytest.raises(StimulationError, match="RehaStim 2 frequency_hz"):
            period_ms_for(bad)


def test_ramp_levels_floor_rise_fall_and_end_at_the_on_time():
    levels = ramp_levels(make(), 0.025)
    times = [t for t, _ in levels]
    mas = [ma for _, ma in levels]
    assert times == sorted(times) and times[0] == 0.0
    assert levels[-1] == (0.6, 0)
    assert mas[0] == 0 and max(mas) == 20  # 20.6 mA is never rounded up
    peak = mas.index(20)
    assert mas[:peak + 1] == sorted(mas[:peak + 1])
    assert mas[peak:] == sorted(mas[peak:], reverse=True)
    two_slope = ramp_levels(make(threshold_ma=14.0, threshold_ramp_s=0.05), 0.025)
    assert two_slope[:3] == [(0.0, 0), (0.025, 7), (0.05, 14)]  # the knee on time


def test_packet_codec_round_trip_with_stuffing():
    frame = encode_packet(7, START_CLM, [0, 1, 0x0F, 0xF0])
    assert frame.count(0xF0) == 1 and frame.count(0x0F) == 1
    assert decode_packet(frame) == (7, START_CLM, [0, 1, 0x0F, 0xF0])
    with pytest.raises(ValueError, match="checksum"):
        decode_packet(frame[:2] + bytes([frame[2] ^ 1]) + frame[3:])


def test_framing_is_by_length_because_the_checksum_byte_can_be_a_stop_byte():
    # a packet whose XOR-stuffed checksum is a raw 0x0F (as pysciencemode sends it)
    count = next(c for c in range(256) if encode_packet(c, 32, [0])[2] == 0x0F)
    tricky = encode_packet(count, 32, [0])
    buf = bytearray(tricky + encode_packet(1, 4) + tricky[:6])
    assert split_frames(buf) == [tricky, encode_packet(1, 4)]
    assert bytes(buf) == tricky[:6]  # the incomplete packet waits for its rest
    error = encode_packet(count, 38, [-2])
    assert _replies(tricky + error) == [(32, 0), (38, -2)]


# ---------------------------------------------------------------------------- pty device


def test_connection_initialises_eight_channels_at_zero_with_the_session_rate(rig):
    emulator, driver, gov = rig
    assert emulator.connected
    init = emulator.commands(INIT_CLM)[-1]
    # low-frequency factor, channel mask (channels 1..8), low-frequency mask, inter-pulse
    # interval code, main interval MSB/LSB ((29 ms - 1) / 0.5 = 56), group time
    assert init == [0, 0xFF, 0, 1, 0, 56, 0]
    assert emulator.period_ms == 29.0
    assert not emulator.any_on()
    caps = driver.capabilities
    assert (caps.n_channels, caps.max_amplitude_ma) == (8, 130.0)
    assert (caps.min_pulse_width_us, caps.max_pulse_width_us) == (20.0, 500.0)
    assert caps.max_frequency_hz == 125.0 and caps.min_frequency_hz == pytest.approx(0.9756,
                                                                                      abs=1e-4)


def test_a_train_ramps_on_its_channel_and_ends_by_itself(rig):
    emulator, driver, gov = rig
    receipt = gov.submit_receipt(make())
    path = driver.path  # the configured stimulation path
    assert receipt.predicted_onset_s == pytest.approx(
        receipt.sent_s + path.output_delay_s + 0.2 * 14 / 20.6 + path.electromechanical_delay_s)
    assert wait_for(lambda: emulator.current_ma[2] == 20)
    # the bytes pysciencemode sent for the hold: every channel in order, channel 3 (0-based
    # 2) with mode single, pulse width 300 us as MSB 1 / LSB 44, current 20 mA
    hold = next(d for d in emulator.commands(START_CLM) if d[11] == 20)
    assert hold[8:12] == [0, 1, 44, 20]
    assert all(hold[4 * i + 3] == 0 for i in range(8) if i != 2)
    assert emulator.pulse_width_us[2] == 300
    assert wait_for(lambda: not emulator.any_on())
    levels = [ma for _, ch, ma, _ in emulator.timeline if ch == 2]
    assert max(levels) == 20 and levels[-1] == 0
    peak = levels.index(20)
    assert levels[:peak + 1] == sorted(levels[:peak + 1]) and len(levels) > 5
    # the host ended the train at its planned stop, not before (the log entry follows the ack)
    assert wait_for(lambda: driver.written[-1][1][2] == 0)
    last_t, last = driver.written[-1]
    assert last[2] == 0 and last_t >= receipt.sent_s + 0.6
    assert emulator.errors == []


def test_stop_channel_and_emergency_stop_switch_off_at_once(rig):
    emulator, driver, gov = rig
    gov.submit(make(on_time_s=4.0))
    gov.submit(make(channel=5, amplitude_ma=15.0, on_time_s=4.0))
    assert wait_for(lambda: emulator.is_on(2) and emulator.is_on(5))
    gov.stop_channel(2, "test")
    assert not emulator.is_on(2) and emulator.is_on(5)  # acknowledged: already applied
    assert gov.emergency_stop("test")
    assert not emulator.any_on()
    time.sleep(0.1)  # ramp steps of the stopped trains must not come back
    assert not emulator.any_on()


def test_out_of_limit_commands_are_refused_before_they_reach_the_device(rig):
    emulator, driver, gov = rig
    n_sent = len(emulator.commands(START_CLM))
    for cmd, limit in [
        (make(pulse_width_us=600.0), "max_pulse_width_us"),
        (make(pulse_width_us=10.0), "min_pulse_width_us"),
        (make(frequency_hz=200.0), "max_frequency_hz"),
        (make(channel=8), "channel"),
        (make(amplitude_ma=30.0), "max_tolerated_ma"),
        (make(on_time_s=6.0, ramp_up_s=0.5, ramp_down_s=0.5), "max_on_time_s"),
        (make(channel=0), "not titrated"),
    ]:
        with pytest.raises(SafetyLimitError, match=limit):
            gov.submit(cmd)
    assert len(emulator.commands(START_CLM)) == n_sent
    assert not emulator.any_on() and gov.state == "armed"


def test_hard_limits_beyond_the_device_are_refused_when_the_governor_is_built(rig):
    emulator, driver, gov = rig
    with pytest.raises(SafetyLimitError, match="max_amplitude_ma"):
        SafetyGovernor(DeviceLimits(max_amplitude_ma=150.0, min_pulse_width_us=20.0),
                       profile(), driver, SessionClock())
    with pytest.raises(SafetyLimitError, match="min_pulse_width_us"):
        SafetyGovernor(DeviceLimits(), profile(), driver, SessionClock())
    SafetyGovernor(DeviceLimits(n_channels=8, min_pulse_width_us=20.0), profile(), driver,
                   SessionClock())


def test_a_rate_other_than_the_channel_lists_faults_and_nothing_is_on(rig):
    emulator, driver, gov = rig
    with pytest.raises(StimulationError, match="fault.*35.0 Hz"):
        gov.submit(make(frequency_hz=50.0))
    assert gov.state == "faulted" and not emulator.any_on()


def test_a_refused_update_faults_and_switches_all_off(rig):
    emulator, driver, gov = rig
    gov.submit(make(channel=5, amplitude_ma=15.0, on_time_s=4.0))
    assert wait_for(lambda: emulator.is_on(5))
    emulator.refuse_next_start = True
    with pytest.raises(StimulationError, match="fault"):
        gov.submit(make())
    assert gov.state == "faulted" and "result -2" in gov.last_fault
    assert not emulator.any_on()


def test_a_device_error_reply_mid_train_faults_the_governor(rig):
    emulator, driver, gov = rig
    events = []
    gov.set_event_listener(events.append)
    gov.submit(make(on_time_s=4.0))
    assert wait_for(lambda: emulator.current_ma[2] == 20)
    emulator.inject_stimulation_error(-2)
    assert not emulator.any_on()
    # read by the next health check, or already with the ack of a ramp update in flight
    assert wait_for(lambda: driver._dev.port.in_waiting > 0 or driver._error)
    gov.poll()
    assert gov.state == "faulted" and "Electrode error" in gov.last_fault
    assert [e.detail["all_off_ok"] for e in events if e.kind == "fault"] == [True]
    (stopped,) = [e.detail for e in events if e.kind == "stopped"]  # SAFETY.md item 9
    assert stopped["cut_short"] and stopped["reason"] == "fault"
    assert 0 < stopped["duration_s"] < stopped["on_time_s"]
    time.sleep(0.1)
    assert not emulator.any_on()


def test_a_silent_device_mid_train_faults_and_every_output_goes_off(rig):
    emulator, driver, gov = rig
    gov.submit(make(on_time_s=4.0, ramp_up_s=0.5))
    assert wait_for(lambda: emulator.is_on(2))
    emulator.answer = False  # the next ramp update is not acknowledged
    assert wait_for(lambda: bool(driver._error))
    assert "no ack" in driver._error
    gov.poll()
    assert gov.state == "faulted"
    assert wait_for(lambda: not emulator.any_on())  # the port closed: the device is off
    assert emulator.off_reasons[-1] == "host disconnected"


def test_the_host_unplugged_mid_train_leaves_every_output_off(rig):
    emulator, driver, gov = rig
    gov.submit(make(on_time_s=4.0))
    assert wait_for(lambda: emulator.current_ma[2] == 20)
    driver._dev.port.close()  # cable pulled: no stop command is sent
    assert wait_for(lambda: emulator.disconnected)
    assert not emulator.any_on()
    gov.poll()
    assert gov.state == "faulted"


def test_a_stalled_host_is_not_kept_alive_by_the_library():
    """With the driver's thread stopped, nothing keeps the link alive: the device's watchdog
    (modelled at 0.3 s) switches the output off and the health check reports the stall."""
    emulator = RehaStim2Emulator(watchdog_timeout_s=0.3)
    clock = SessionClock()
    driver = RehaStimDriver(emulator.port_name, clock, F_HZ, ack_timeout_s=1.0)
    emulator.release_slave()
    try:
        gov = SafetyGovernor(driver.capabilities, profile(), driver, clock, ramps=RAMPS)
        gov.arm()
        gov.submit(make(on_time_s=4.0))
        assert wait_for(lambda: emulator.current_ma[2] == 20)
        driver.ramp.close()  # the host's ramp and keep-alive thread stalls
        assert wait_for(lambda: not emulator.any_on())
        assert emulator.off_reasons == ["watchdog"]
        gov.poll()
        assert gov.state == "faulted" and "thread stopped" in gov.last_fault
    finally:
        driver.close()
        emulator.stop()


def test_keepalive_holds_an_idle_link_past_the_device_watchdog():
    emulator = RehaStim2Emulator(watchdog_timeout_s=0.3)
    clock = SessionClock()
    driver = RehaStimDriver(emulator.port_name, clock, F_HZ, keepalive_s=0.1)
    emulator.release_slave()
    try:
        assert wait_for(lambda: len(emulator.commands(4)) >= 3)  # Watchdog packets
        gov = SafetyGovernor(driver.capabilities, profile(), driver, clock, ramps=RAMPS)
        gov.arm()
        gov.submit(make(on_time_s=1.2, ramp_up_s=0.3, ramp_down_s=0.3))
        assert wait_for(lambda: emulator.current_ma[2] == 20)
        assert wait_for(lambda: not emulator.any_on())
        assert emulator.off_reasons == []  # ended by the host's 0 mA, not by the watchdog
    finally:
        driver.close()
        emulator.stop()


def test_close_switches_off_stops_the_list_and_leaves_no_library_thread(rig):
    emulator, driver, gov = rig
    gov.submit(make(on_time_s=4.0))
    assert wait_for(lambda: emulator.is_on(2))
    driver.close()
    assert not emulator.any_on()
    assert emulator.commands(STOP_CLM)
    assert wait_for(lambda: all(t.daemon for t in threading.enumerate()
                                if t is not threading.main_thread()))
    with pytest.raises(StimulationError, match="closed"):
        driver.check(0.0)


def test_no_device_on_the_port_is_refused_within_the_time_out():
    emulator = RehaStim2Emulator()
    emulator.answer = False
    try:
        with pytest.raises(StimulationError, match="no device answered"):
            RehaStimDriver(emulator.port_name, SessionClock(), F_HZ, ack_timeout_s=0.2)
    finally:
        emulator.stop()
    with pytest.raises(StimulationError, match="no device answered on '/nonexistent/tty'"):
        RehaStimDriver("/nonexistent/tty", SessionClock(), F_HZ)
