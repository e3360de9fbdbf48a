"""openEMSstim driver: protocol strings, host-made ramps, faults, over pyserial ``loop://``
and against a pty peer that behaves like the board's firmware (SAFETY.md "Drivers")."""

import re
import sys

import pytest

from mirrorvr.clock import FakeClock, SessionClock
from mirrorvr.config import StimChannelProfile
from mirrorvr.errors import SafetyLimitError, StimulationError
from mirrorvr.stim import RampRule, SafetyGovernor, StimCommand
from mirrorvr.stim.openemsstim import OpenEMSStimDriver, encode_command, ramp_steps

from fakes import wait_for
from profiles import patient_profile

# a device emulator on a pty answers in real time: run alone (./dev test)
pytestmark = pytest.mark.serial

serial = pytest.importorskip("serial")

FULL_SCALE_MA = 40.0
PW_US, F_HZ = 300.0, 35.0
COMMAND = re.compile(rb"C(\d+)I(\d+)T(\d+)G")


def profile():
    return patient_profile(stim_channels=(
        StimChannelProfile(channel=0, site="flexors", electrode_area_cm2=20.0,
                           sensory_threshold_ma=6.0, motor_threshold_ma=14.0,
                           max_tolerated_ma=26.0),
        StimChannelProfile(channel=1, site="extensors", electrode_area_cm2=20.0,
                           motor_threshold_ma=12.0, max_tolerated_ma=24.0),
    ))


def make(**kw):
    base = dict(channel=0, amplitude_ma=20.0, pulse_width_us=PW_US, frequency_hz=F_HZ,
                on_time_s=1.0, ramp_up_s=0.5, ramp_down_s=0.2)
    return StimCommand(**(base | kw))


#: the comfort ramps of the trains below (shorter than the default to keep the tests short)
RAMPS = RampRule(comfort_up_s=0.2, comfort_down_s=0.1)


def rig(port, clock):
    driver = OpenEMSStimDriver(port, clock, FULL_SCALE_MA, PW_US, F_HZ,
                               motor_threshold_ma={0: 14.0, 1: 12.0})
    gov = SafetyGovernor(driver.capabilities, profile(), driver, clock, ramps=RAMPS)
    gov.arm()
    return driver, gov


def test_protocol_strings():
    assert encode_command(0, 100, 1000) == b"C0I100T1000G"
    assert encode_command(1, 0, 1) == b"C1I0T1G"
    for args in [(2, 10, 10), (-1, 10, 10), (0, 101, 10), (0, 10, 0), (0, 10, 5001)]:
        with pytest.raises(StimulationError, match="openEMSstim"):
            encode_command(*args)


def test_ramp_steps_floor_rise_and_fall():
    steps = ramp_steps(make(), FULL_SCALE_MA, 0.025)
    times = [t for t, _ in steps]
    pcts = [p for _, p in steps]
    assert times == sorted(times) and times[0] == 0.0 and steps[-1] == (1.0, 0)
    assert pcts[0] == 0 and max(pcts) == 50  # 20 mA of 40 mA, never rounded up
    peak = pcts.index(50)
    assert pcts[:peak + 1] == sorted(pcts[:peak + 1])
    assert pcts[peak:] == sorted(pcts[peak:], reverse=True)
    assert max(p for _, p in ramp_steps(make(amplitude_ma=19.99), FULL_SCALE_MA, 0.05)) == 49


def test_two_slope_steps_meet_the_knee_on_time_and_never_exceed_the_envelope():
    cmd = make(threshold_ma=14.0, threshold_ramp_s=0.05, on_time_s=1.2)
    steps = ramp_steps(cmd, FULL_SCALE_MA, 0.025)
    assert steps[:3] == [(0.0, 0), (0.025, 17), (0.05, 35)]  # 14 mA = 35 % at the knee
    for t, pct in steps:
        assert pct * FULL_SCALE_MA / 100 <= cmd.amplitude_at(t) + 1e-9
    assert (1.15, 35) in steps and steps[-1] == (1.2, 0)


def test_loop_sends_the_ramp_with_shrinking_on_time():
    clock = FakeClock(0.0)
    driver, gov = rig("loop://", clock)
    onset = gov.submit_receipt(make()).predicted_onset_s
    path = driver.path  # the configured stimulation path
    assert onset == pytest.approx(path.output_delay_s + 0.5 * 14 / 20
                                  + path.electromechanical_delay_s)
    for _ in range(60):
        clock.advance(0.02)
        assert driver.ramp.caught_up()
    echoed = driver._port.read(driver._port.in_waiting)
    cmds = [tuple(int(v) for v in m.groups()) for m in COMMAND.finditer(echoed)]
    assert len(cmds) == len(driver.written) > 10
    assert all(ch == 0 for ch, _, _ in cmds)
    pcts = [p for _, p, _ in cmds]
    assert max(pcts) == 50 and pcts[0] == 0
    on_times = [t for _, _, t in cmds]
    assert on_times[0] == 1000 and on_times == sorted(on_times, reverse=True)
    # every step expires at the train's planned stop, never later
    for (t_s, _), (_, _, ms) in zip(driver.written, cmds, strict=True):
        assert t_s + ms / 1000 <= 1.0 + 1e-9
    driver.close()


def test_commands_the_unit_cannot_give_are_refused_by_the_governor():
    clock = FakeClock(0.0)
    driver, gov = rig("loop://", clock)
    with pytest.raises(SafetyLimitError, match="pulse_width"):
        gov.submit(make(pulse_width_us=200.0))
    with pytest.raises(SafetyLimitError, match="channel"):
        gov.submit(make(channel=2))
    assert driver.written == []
    driver.close()


class TimingOutPort:
    """A serial port whose writes time out after the first ``ok_writes``."""

    is_open = True
    in_waiting = 0

    def __init__(self, ok_writes):
        self.ok_writes = ok_writes

    def write(self, data):
        if self.ok_writes <= 0:
            raise serial.SerialTimeoutException("Write timeout")
        self.ok_writes -= 1
        return len(data)

    def flush(self):
        pass

    def read(self, n):
        return b""

    def close(self):
        self.is_open = False


def test_write_timeout_on_send_faults_and_switches_all_off():
    clock = FakeClock(0.0)
    driver, gov = rig(TimingOutPort(0), clock)
    events = []
    gov.set_event_listener(events.append)
    with pytest.raises(StimulationError, match="fault"):
        gov.submit(make())
    assert gov.state == "faulted"
    assert any(e.kind == "fault" for e in events)
    driver.close()


def test_write_timeout_mid_ramp_is_found_by_the_health_check():
    clock = FakeClock(0.0)
    driver, gov = rig(TimingOutPort(1), clock)
    gov.submit(make())
    clock.advance(0.1)
    assert wait_for(lambda: bool(driver._error))
    gov.poll()
    assert gov.state == "faulted" and "write failed" in gov.last_fault
    driver.close()


posix = pytest.mark.skipif(sys.platform == "win32", reason="pty needs POSIX")


@pytest.fixture
def board():
    from emulators.openemsstim import OpenEMSStimEmulator

    emulator = OpenEMSStimEmulator()
    clock = SessionClock()
    driver, gov = rig(emulator.port_name, clock)
    emulator.release_slave()
    yield emulator, driver, gov
    driver.close()
    emulator.stop()


@posix
def test_pty_board_ramps_up_and_stops_by_itself(board):
    emulator, driver, gov = board
    gov.submit(make(on_time_s=0.6, ramp_up_s=0.2, ramp_down_s=0.1))
    assert wait_for(lambda: emulator.intensity_pct[0] == 50)
    assert wait_for(lambda: not emulator.any_on())
    levels = [p for _, ch, p in emulator.timeline if ch == 0]
    assert max(levels) == 50 and levels[-1] == 0 and emulator.errors == []
    assert emulator.commands[0] == "C0I0T600"


@posix
def test_pty_board_caps_on_time_at_5_s(board):
    emulator, driver, gov = board
    driver._write(b"C1I10T20000G", 0.0)  # bypasses the governor: the board's own cap
    assert wait_for(lambda: emulator.is_on(1))
    assert emulator.on_time_ms[1] == 5000
    driver._write(encode_command(1, 0, 1), 0.0)
    assert wait_for(lambda: not emulator.is_on(1))


@posix
def test_pty_board_shuts_down_on_an_invalid_channel_and_the_governor_faults(board):
    emulator, driver, gov = board
    gov.submit(make(on_time_s=4.0, ramp_up_s=0.2, ramp_down_s=0.2))
    assert wait_for(lambda: emulator.is_on(0))
    driver._write(b"C7I50T1000G", 0.0)
    assert wait_for(lambda: not emulator.any_on())
    assert emulator.errors == ["invalid channel 7"]
    assert wait_for(lambda: driver._port.in_waiting > 0)
    gov.poll()
    assert gov.state == "faulted" and "ERR" in gov.last_fault


@posix
def test_pty_board_shuts_down_when_the_host_disconnects_mid_train(board):
    emulator, driver, gov = board
    events = []
    gov.set_event_listener(events.append)
    gov.submit(make(on_time_s=4.0, ramp_up_s=0.2, ramp_down_s=0.2))
    assert wait_for(lambda: emulator.intensity_pct[0] == 50)
    driver._port.close()  # cable pulled: no stop command is sent
    assert wait_for(lambda: emulator.disconnected)
    assert not emulator.any_on()
    gov.poll()
    assert gov.state == "faulted"
    # the dose log reports the train as cut short, with how long it ran (SAFETY.md item 9)
    (stopped,) = [e.detail for e in events if e.kind == "stopped"]
    assert stopped["cut_short"] and stopped["reason"].startswith("fault")
    assert 0 < stopped["duration_s"] < 4.0
