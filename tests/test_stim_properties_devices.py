"""Property test of what the drivers actually put out (SAFETY.md items 5 and 6).

Whatever commands, patients and ramp settings the governor is given, and whatever stops come
in between, the output of every driver -- the simulated stimulator's record, the byte stream
the openEMSstim twin receives, the channel-list updates the RehaStim 2 twin receives -- must
never step, never reach the motor threshold in less than the subthreshold time, never rise
above it faster than the comfort ramp allows, fall likewise in reverse (unless the train was
stopped), never exceed the commanded amplitude and be off by the train's planned stop. The
rule is re-stated independently in ``test_stim_properties.Rule6``.

The serial drivers run on a fake clock: each host ramp step is written exactly when due, and
the twins' received commands are compared with the drivers' own write logs (same bytes, same
order), so the timing checked is the drivers' and the content the devices'.
"""

import math
import sys

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from test_stim_properties import Rule6, envelope_violations

from mirrorvr.clock import FakeClock
from mirrorvr.config import DeviceLimits, StimChannelProfile
from mirrorvr.errors import SafetyLimitError, StimulationError
from mirrorvr.stim import SafetyGovernor, SimulatedStimulator, StimCommand

from fakes import wait_for
from profiles import patient_profile

# a device emulator on a pty answers in real time: run alone (./dev test)
pytestmark = pytest.mark.serial

PW_US, F_HZ = 300.0, 35.0
FULL_SCALE_MA = 40.0  # the openEMSstim's unit at 100 %
STEP_S = 0.025  # the serial drivers' host ramp step (their default)
posix = pytest.mark.skipif(sys.platform == "win32", reason="pty needs POSIX")


def rarely(draw, n):
    """True about once in ``n`` draws (``sampled_from`` shrinks to its first item)."""
    return draw(st.sampled_from([False] * (n - 1) + [True]))


@st.composite
def scenarios(draw):
    """A ramp rule, a patient on channels 0 and 1, and what the session does with them."""
    rule = Rule6(draw(st.floats(0.1, 0.6)), draw(st.floats(0.1, 0.6)),
                 draw(st.floats(0.05, 0.12)), draw(st.booleans()))
    channels = []
    for ch in (0, 1):
        motor = None if rarely(draw, 6) else draw(st.floats(2.0, 20.0))
        top = draw(st.floats(motor or 2.0, 30.0))
        channels.append(StimChannelProfile(channel=ch, site="site", electrode_area_cm2=20.0,
                                           motor_threshold_ma=motor, max_tolerated_ma=top))
    patient = patient_profile(stim_channels=tuple(channels))
    ops = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["submit", "submit", "advance", "advance", "stop",
                                     "all_off"]))
        if kind == "submit":
            ops.append(("submit", draw(command(rule, draw(st.sampled_from(channels))))))
        elif kind == "advance":
            ops.append(("advance", draw(st.floats(0.0, 1.5))))
        elif kind == "stop":
            ops.append(("stop", draw(st.sampled_from([0, 1]))))
        else:
            ops.append(("all_off", None))
    return rule, patient, ops


@st.composite
def command(draw, rule, prof):
    """A train at (or just past) the rule's limits for this channel: plain or two-slope."""
    motor, top = prof.motor_threshold_ma, prof.max_tolerated_ma
    amplitude = draw(st.floats(min(motor or top, top) * 0.5, top))
    two_slope = motor is not None and motor <= amplitude and draw(st.booleans())
    slack = st.floats(1.0, 1.5)
    up = rule.comfort_up_s * draw(slack)
    down = rule.comfort_down_s * draw(slack)
    knee, knee_s = (motor, rule.subthreshold_s * draw(slack)) if two_slope else (0.0, 0.0)
    if motor is not None and not two_slope:  # a plain ramp's 0 -> motor threshold time
        up = max(up, rule.subthreshold_s * amplitude / motor * draw(slack))
        down = max(down, rule.subthreshold_s * amplitude / motor * draw(slack))
    on = up + down + 2 * knee_s + draw(st.floats(0.0, 0.4))
    values = dict(amplitude_ma=amplitude, on_time_s=on, ramp_up_s=up, ramp_down_s=down,
                  threshold_ma=knee, threshold_ramp_s=knee_s)
    if rarely(draw, 3):  # one field just across a limit (the governor must refuse it)
        name = draw(st.sampled_from(sorted(values)))
        values[name] *= draw(st.sampled_from([0.9, 0.99, 1.05]))
    return StimCommand(channel=prof.channel, pulse_width_us=PW_US, frequency_hz=F_HZ,
                       **values)


class Session:
    """The governor over one driver on a fake clock; ``ramp`` is the driver's host ramp (None
    for the simulated stimulator)."""

    def __init__(self, driver, clock, patient, rule, ramp=None):
        self.driver, self.clock, self.ramp = driver, clock, ramp
        device = DeviceLimits(model=driver.capabilities.model, n_channels=2,
                              max_amplitude_ma=FULL_SCALE_MA, min_pulse_width_us=PW_US,
                              max_pulse_width_us=PW_US, min_frequency_hz=F_HZ,
                              max_frequency_hz=F_HZ + 1e-6, min_ramp_s=0.0)
        self.gov = SafetyGovernor(device, patient, driver, clock, ramps=rule.governor_rule())
        self.gov.arm()

    def advance(self, dt_s):
        target = self.clock.now() + dt_s
        while self.ramp is not None:
            due = self.ramp.next_due_s()
            if due is None or due > target:
                break
            self.clock.sleep_until(due)  # every step written exactly when due
            assert self.ramp.caught_up()
        self.clock.sleep_until(target)
        if self.ramp is not None:
            assert self.ramp.caught_up()

    def play(self, ops):
        self.first_writes = []  # per train sent, in order: index of its first write
        for op, arg in ops:
            if op == "submit":
                n_written = len(getattr(self.driver, "written", ()))
                try:
                    self.gov.submit(arg)
                except SafetyLimitError:
                    pass
                except StimulationError as err:  # a fault (e.g. a write time-out on a loaded
                    event(f"fault: {err}"[:60])  # machine): every rule still holds
                else:
                    self.first_writes.append(n_written)
            elif op == "advance":
                self.advance(arg)
            elif op == "stop":
                self.gov.stop_channel(arg, "test")
            else:
                self.gov.all_off("test")
        self.advance(5.0)  # every train runs out
        self.gov.poll()

    def trains(self):
        """``(command, start_s, stop_s, cut_short, first write)`` of every train sent
        (``stop_s`` inf when a fault's stop was not confirmed by the device)."""
        events = self.gov.events()
        stops = [e.detail for e in events if e.kind == "stopped"]
        sent = [e for e in events if e.kind == "sent"]
        out = []
        for k, e in enumerate(sent):
            d = e.detail
            # a channel's trains stop in the order they were sent
            stop = next(s for s in stops if s["channel"] == e.channel
                        and s["start_s"] == d["start_s"])
            stops.remove(stop)
            cmd = StimCommand(**{f: d[f] for f in StimCommand.__dataclass_fields__})
            first = self.first_writes[k] if self.first_writes else None
            # a stop the device did not confirm (a fault) leaves it to the device's expiry
            stop_s = math.inf if stop["reason"].endswith("unconfirmed)") else stop["stop_s"]
            out.append((cmd, d["start_s"], stop_s, stop["cut_short"], first))
        return out


def check_output(cmd, start_s, points, cut_short, rule, motor, fall_slack_s, level_slack_ma,
                 planned_stop_s):
    """Every rule on one train's output, ``points`` (t, mA) from its start to its end."""
    assert points[0][0] == pytest.approx(start_s, abs=1e-9)
    assert max(level for _, level in points) <= cmd.amplitude_ma + 1e-9
    assert points[-1][1] == 0 and points[-1][0] <= planned_stop_s + 1e-6
    bad = envelope_violations(points, cmd.amplitude_ma, motor, rule, fall=not cut_short,
                              fall_slack_s=fall_slack_s, level_slack_ma=level_slack_ma)
    assert bad == [], (cmd, points)


def staircase(updates):
    """``(t, level)`` updates of one train, equal levels merged."""
    points = []
    for t, level in updates:
        if not points or points[-1][1] != level:
            points.append((t, level))
    return points


def by_train(session):
    """Each train with the slice of the driver's write log from its first write up to the
    next train's on the same channel (two trains can start at one fake-clock instant)."""
    trains = session.trains()
    out = []
    for k, (cmd, start, stop, cut, first) in enumerate(trains):
        later = [f for c, _, _, _, f in trains[k + 1:] if c.channel == cmd.channel]
        out.append((cmd, start, stop, cut, slice(first, min(later, default=None))))
    return out


PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    max_examples=150)


@PROPERTY
@given(scenarios())
def test_the_simulated_stimulators_trains_follow_the_envelope_rule(scenario):
    rule, patient, ops = scenario
    clock = FakeClock(0.0)
    motors = {c.channel: c.motor_threshold_ma for c in patient.stim_channels}
    driver = SimulatedStimulator(clock, capabilities=DeviceLimits(n_channels=2))
    session = Session(driver, clock, patient, rule)
    session.play(ops)
    event(f"trains: {min(len(driver.trains()), 3)}")
    grid_s = 0.002
    for train in driver.trains():
        cmd, start = train.command, train.device_start_s
        if train.stopped_s <= start:
            continue  # stopped before its first pulse left the device
        cut = train.stop_reason != "on_time_expired"
        n = math.ceil((train.stopped_s - start) / grid_s)  # samples before the stop
        points = [(start + k * grid_s, cmd.amplitude_at(k * grid_s)) for k in range(n)]
        points.append((train.stopped_s, 0.0))
        # sampled every 2 ms and held: the fall may lag by one sample
        check_output(cmd, start, points, cut, rule, motors[cmd.channel], grid_s, 0.0,
                     start + cmd.on_time_s)


def _stopped_just_before_its_end():
    """A train stopped 0.7 ms before its own end: the stop's off command holds 1 ms (found
    by hypothesis)."""
    def cmd(on_s, up_s, down_s):
        return StimCommand(channel=0, amplitude_ma=1.0, pulse_width_us=PW_US, frequency_hz=F_HZ,
                           on_time_s=on_s, ramp_up_s=up_s, ramp_down_s=down_s)

    channels = (StimChannelProfile(channel=0, site="site", electrode_area_cm2=20.0,
                                   max_tolerated_ma=2.0),
                StimChannelProfile(channel=1, site="site", electrode_area_cm2=20.0,
                                   motor_threshold_ma=2.0, max_tolerated_ma=2.0))
    return (Rule6(0.4955, 0.584, 0.0625, False), patient_profile(stim_channels=channels),
            [("submit", cmd(1.5221, 0.6852, 0.7616)), ("advance", 0.0),
             ("submit", cmd(1.0795, 0.4955, 0.584)), ("advance", 1.0518),
             ("advance", 0.4696), ("stop", 0)])


@posix
@settings(PROPERTY, max_examples=30)
@given(scenarios())
@example(_stopped_just_before_its_end())
def test_the_openemsstim_boards_byte_stream_follows_the_envelope_rule(scenario):
    from emulators.openemsstim import OpenEMSStimEmulator
    from mirrorvr.stim.openemsstim import OpenEMSStimDriver

    rule, patient, ops = scenario
    motors = {c.channel: c.motor_threshold_ma for c in patient.stim_channels}
    board = OpenEMSStimEmulator()
    clock = FakeClock(0.0)
    driver = OpenEMSStimDriver(board.port_name, clock, FULL_SCALE_MA, PW_US, F_HZ,
                               ramp_step_s=STEP_S)
    try:
        session = Session(driver, clock, patient, rule, driver.ramp)
        session.play(ops)
        written = [(t, data.decode("ascii")) for t, data in driver.written]
        assert wait_for(lambda: len(board.commands) >= len(written))
        # what the board received is exactly what the driver wrote, in order
        assert board.commands == [text[:-1] for _, text in written] and board.errors == []
    finally:
        driver.close()
        board.stop()
    event(f"trains: {min(len(session.trains()), 3)}")
    writes = []  # (t, level mA, on-time s, channel) of every command, in order
    for t, text in written:
        ch = int(text[1:text.index("I")])
        pct, ms = (int(v) for v in text[text.index("I") + 1:-1].split("T"))
        writes.append((t, pct * FULL_SCALE_MA / 100, ms / 1000, ch))
    for ch in (0, 1):
        for cmd, start, stop, cut, train_writes in by_train(session):
            if cmd.channel != ch:
                continue
            # this channel's commands from the train's start to its stop (a later all-off
            # belongs to no train)
            mine = [w for w in writes[train_writes] if w[3] == ch and w[0] <= stop + 1e-9]
            # the board holds a level until the next command or its on-time ends: no current
            # past the train's end (an off command's own hold, >= 1 ms, carries none)
            assert all(t + on_s <= start + cmd.on_time_s + 1e-6
                       for t, level, on_s, _ in mine if level > 0)
            points = staircase([(t, level) for t, level, _, _ in mine])
            t_last, level_last, on_last, _ = mine[-1]
            if level_last > 0:
                points.append((t_last + on_last, 0.0))  # the board's own expiry
            if cut:
                assert points[-1][1] == 0 and points[-1][0] <= stop + 1e-9  # off by the stop
            check_output(cmd, start, points, cut, rule, motors[ch], STEP_S + 0.001,
                         FULL_SCALE_MA / 100, start + cmd.on_time_s)


@posix
@settings(PROPERTY, max_examples=12)
@given(scenarios())
def test_the_rehastim2s_channel_list_updates_follow_the_envelope_rule(scenario):
    pytest.importorskip("pysciencemode")
    from emulators.rehastim2 import START_CLM, RehaStim2Emulator
    from mirrorvr.stim.rehastim import RehaStimDriver

    rule, patient, ops = scenario
    motors = {c.channel: c.motor_threshold_ma for c in patient.stim_channels}
    device = RehaStim2Emulator()
    clock = FakeClock(0.0)
    driver = RehaStimDriver(device.port_name, clock, F_HZ, ramp_step_s=STEP_S, ack_timeout_s=1.0)
    try:
        session = Session(driver, clock, patient, rule, driver.ramp)
        session.play(ops)
        written = list(driver.written)
        assert wait_for(lambda: len(device.commands(START_CLM)) >= len(written))
        received = device.commands(START_CLM)
    finally:
        driver.close()
        device.stop()
    # what the device received is exactly what the driver sent, in order
    assert [tuple(data[4 * i + 3] for i in range(8)) for data in received[:len(written)]] == [
        currents for _, currents in written]
    assert device.errors == []
    event(f"trains: {min(len(session.trains()), 3)}")
    for cmd, start, stop, cut, train_writes in by_train(session):
        ch = cmd.channel
        points = staircase([(t, float(c[ch])) for t, c in written[train_writes]
                            if t <= stop + 1e-9])
        if cut:
            assert points[-1][1] == 0 and points[-1][0] <= stop + 1e-9  # off by the stop
        check_output(cmd, start, points, cut, rule, motors[ch], STEP_S, 1.0,
                     start + cmd.on_time_s)
