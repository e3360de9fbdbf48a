"""Property test over *scene values* and the session's stimulation path (SAFETY.md).

Where ``test_stim_properties`` drives the governor's API directly, this one drives the path
a session uses: scene settings (pulse shape, ramps, intensity, movement -> channel map) ->
``prescription.commands_for`` -> ``SyncScheduler`` -> ``SafetyGovernor`` -> driver, with
e-stops, re-arms, watchdog stalls, lost connections and device errors interleaved. Whatever
the values, every command that reaches the driver is re-checked independently, and none
arrives while stimulation is e-stopped, faulted or disarmed.
"""

import math

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from test_stim_properties import Rule6, devices, patients, violations

from mirrorvr.clock import FakeClock
from mirrorvr.config import DeviceLimits, SimulatedStimSettings, StimChannelProfile
from mirrorvr.errors import ConfigError, SafetyLimitError, StimulationError
from mirrorvr.movements import UPPER_LIMB_MOVEMENTS
from mirrorvr.stim import RampRule, SafetyGovernor, SyncScheduler, Watchdog
from mirrorvr.stim.prescription import commands_for, motor_thresholds_ma
from mirrorvr.stim.scheduler import command_latency

from profiles import patient_profile

MOVEMENTS = [m for m in UPPER_LIMB_MOVEMENTS if m != "rest"]


class LinkDriver:
    """Records what it receives and the governor state at that moment; can lose its link."""

    def __init__(self, n_channels, capabilities):
        self.n_channels = n_channels
        self.capabilities = capabilities
        self.received = []  # (cmd, governor state, model flags)
        self.connected = True
        self.fail_next = False
        self.governor = None
        self.flags = None
        self.stop_all_calls = 0

    def send(self, cmd, t_s):
        self.received.append((cmd, self.governor.state, dict(self.flags)))
        if not self.connected:
            raise OSError("port closed")
        if self.fail_next:
            self.fail_next = False
            raise OSError("device error reply")
        return t_s + 0.02

    def stop_channel(self, channel, t_s, reason):
        if not self.connected:
            raise OSError("port closed")

    def stop_all(self, t_s, reason):
        self.stop_all_calls += 1
        if not self.connected:
            raise OSError("port closed")

    def check(self, t_s):
        if not self.connected:
            raise OSError("port closed")

    def close(self):
        pass


POSITIVE = st.one_of(st.floats(1e-3, 1e4), st.sampled_from([1e-6, 0.05, 0.1, 0.5, 1.0, 1e6]))


@st.composite
def scene_settings(draw, device):
    """Scene values: mostly inside the device's ranges (so trains reach the driver), at times
    anywhere (so the governor must refuse them)."""

    def rarely(n):  # True about once in n draws (sampled_from shrinks to its first item)
        return draw(st.sampled_from([False] * (n - 1) + [True]))

    def value(lo, hi):
        if rarely(4):
            return draw(POSITIVE)
        return draw(st.floats(lo, max(lo, hi)))

    n = device.n_channels
    mapping = {m: () if rarely(8) else (n + 1 if rarely(8) else draw(st.integers(0, n - 1)),)
               for m in MOVEMENTS}
    ramps = [0.0 if rarely(10) else value(max(device.min_ramp_s, 0.01), 1.0) for _ in range(2)]
    values = dict(
        device=device,
        # the lower end of the device's ranges, where most patients' trains fit the charge,
        # r.m.s. and density limits
        pulse_width_us=value(max(device.min_pulse_width_us, 1.0),
                             min(device.max_pulse_width_us, 300.0)),
        frequency_hz=value(device.min_frequency_hz, min(device.max_frequency_hz, 50.0)),
        ramp_up_s=ramps[0],
        ramp_down_s=ramps[1],
        on_time_s=value(sum(ramps) + 0.2, device.max_on_time_s),
        intensity_fraction=draw(st.floats(0, 1)),
        fast_rise_below_motor_threshold=draw(st.booleans()),
        subthreshold_rise_s=draw(st.floats(0.05, 0.2)),
        movement_channels=mapping,
    )
    try:
        return SimulatedStimSettings(**values)
    except ValueError as err:  # refused by the configuration, before anything starts
        assert ("shorter than the two-slope envelope" in str(err)
                or "ramp" in str(err) and "greater than 0" in str(err))
        assume(False)


OPS = ["onset"] * 8 + ["advance"] * 5 + ["rearm", "reconnect"] * 2 + [
    "estop", "stall", "disconnect", "fault_next", "all_off",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_scene_value_or_session_event_lets_an_unsafe_command_through(data):
    device = data.draw(devices())
    patient = data.draw(patients(device))
    stim = data.draw(scene_settings(device))
    caps = data.draw(st.sampled_from([device] * 7 + [DeviceLimits(
        model="tight", max_amplitude_ma=10.0, max_pulse_width_us=200.0, max_on_time_s=5.0)]))
    driver = LinkDriver(device.n_channels, caps)
    clock = FakeClock(10.0)
    try:
        ramps = RampRule.from_settings(stim)
    except ConfigError:
        assert stim.ramp_up_s == 0 or stim.ramp_down_s == 0  # every train rises and falls
        event("refused: a ramp of 0 s")
        return  # refused before anything starts
    try:
        gov = SafetyGovernor(device, patient, driver, clock, ramps=ramps)
    except SafetyLimitError as err:
        event(f"refused at construction: {err.limit}")
        return  # refused at construction: nothing can reach the driver
    rule = Rule6(stim.ramp_up_s, stim.ramp_down_s, stim.subthreshold_rise_s,
                 stim.fast_rise_below_motor_threshold)
    flags = {"estopped": False, "faulted": False}
    driver.governor, driver.flags = gov, flags
    scheduler = SyncScheduler(
        gov, clock, command_latency(stim, motor_thresholds_ma(patient)), late_tolerance_s=0.005
    )
    watchdog = Watchdog(clock, 0.1, on_timeout=gov.all_off)
    try:
        gov.arm()
    except StimulationError:
        assert patient.screening.contraindications()

    def run_for(dt_s, beat):
        end = clock.now() + dt_s
        while clock.now() < end:
            nxt = scheduler.next_send_s()
            step_end = min(end, clock.now() + 0.02)
            if nxt is not None and nxt <= step_end:
                clock.sleep_until(nxt)
                scheduler.fire_due()
            else:
                clock.sleep_until(step_end)
            if beat:
                watchdog.beat("control")
                watchdog.beat("render")
            gov.poll()
            watchdog.check()

    for op in data.draw(st.lists(st.sampled_from(OPS), min_size=5, max_size=30)):
        if op == "onset":
            movement = data.draw(st.sampled_from(MOVEMENTS))
            # mostly far enough ahead for the path's latency, at times already too late
            onset_s = (clock.now() + data.draw(st.sampled_from([1.5, 0.6, 2.5, -0.5, 0.1]))
                       + data.draw(st.floats(-0.1, 0.1)))
            cmds, _untitrated = commands_for(movement, onset_s, stim, patient)
            scheduler.schedule(onset_s, cmds)
        elif op == "advance":
            run_for(data.draw(st.floats(0.0, 2.0)), beat=True)
        elif op == "stall":  # the loops stop beating: the watchdog must switch all off
            n_before = driver.stop_all_calls
            run_for(0.25, beat=False)
            assert driver.stop_all_calls > n_before
            watchdog.reset()
        elif op == "estop":
            gov.emergency_stop("test")
            flags["estopped"] = True
        elif op == "rearm":
            if not driver.connected:
                continue
            try:
                gov.rearm()
            except StimulationError:
                assert patient.screening.contraindications()
            else:
                flags["estopped"] = flags["faulted"] = False
        elif op == "disconnect":
            driver.connected = False
            gov.poll()  # the health check notices the lost link
            assert gov.state in ("faulted", "estopped")
            flags["faulted"] = True
        elif op == "reconnect":
            driver.connected = True
        elif op == "fault_next":
            driver.fail_next = True
        elif op == "all_off":
            try:
                gov.all_off("test")
            except StimulationError:
                assert not driver.connected
        if gov.state == "faulted":
            flags["faulted"] = True

    run_for(5.0, beat=True)  # whatever is still scheduled comes due
    two_slope = sum(cmd.threshold_ma > 0 for cmd, _, _ in driver.received)
    event(f"trains at the driver: {min(len(driver.received), 3)}, two-slope: {min(two_slope, 3)}")
    for cmd, state, flags_then in driver.received:
        assert state == "armed", cmd
        assert not flags_then["estopped"] and not flags_then["faulted"], cmd
        assert violations(cmd, device, patient, device.n_channels, rule) == [], cmd
        assert math.isfinite(cmd.onset_s)


def test_a_second_lost_link_after_reconnect_and_rearm_faults_again():
    # found by the property test above: estop, disconnect, reconnect, rearm, disconnect
    device = DeviceLimits()
    patient = patient_profile(stim_channels=(StimChannelProfile(
        channel=0, site="flexors", electrode_area_cm2=20.0,
        motor_threshold_ma=10.0, max_tolerated_ma=20.0),))
    driver = LinkDriver(device.n_channels, device)
    gov = SafetyGovernor(device, patient, driver, FakeClock(0.0))
    driver.governor, driver.flags = gov, {}
    gov.arm()
    gov.emergency_stop("test")
    driver.connected = False
    gov.poll()
    with pytest.raises(StimulationError, match="does not answer"):
        gov.rearm()  # never armed on a link that is down
    assert gov.state != "armed"
    driver.connected = True
    gov.rearm()
    assert gov.state == "armed"
    driver.connected = False
    gov.poll()
    assert gov.state == "faulted"
