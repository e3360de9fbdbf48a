"""Property test (SAFETY.md "Tests that must exist"): no sequence of API calls, profiles,
ramp settings or values makes a command outside the limits reach a driver.

Every command the recording driver receives is re-checked here, independently of the
governor's code, against the hard limits, the patient limits, the current density and the
envelope rule (SAFETY.md item 6: no step, 0 -> motor threshold in >= 50 ms, no faster than
the comfort ramp above it, the fall in reverse), and against an independent model of the
arming state and of which outputs are still on. The same rule re-statement checks what the
drivers actually put out (``test_stim_properties_devices.py``).
"""

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mirrorvr.clock import FakeClock
from mirrorvr.config import DeviceLimits, Screening, StimChannelProfile
from mirrorvr.errors import SafetyLimitError, StimulationError
from mirrorvr.stim import RampRule, SafetyGovernor, StimCommand

from profiles import patient_profile

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


# ---------------------------------------------------------------------------- SAFETY.md 6


@dataclass(frozen=True)
class Rule6:
    """SAFETY.md item 6 as these tests state it, independently of ``mirrorvr.stim``.

    Above the motor threshold the amplitude changes no faster than the comfort ramp allows
    (``amplitude / comfort`` mA/s); below it at most ``threshold / subthreshold`` mA/s (0 to
    the threshold in no less than ``subthreshold_s``), and, when the two-slope rise was not
    chosen, no faster than above it. Without a titrated threshold: the comfort rate
    throughout. The fall: the same in reverse, with the fall's comfort ramp.
    """

    comfort_up_s: float
    comfort_down_s: float
    subthreshold_s: float = 0.05
    two_slope: bool = False

    def governor_rule(self) -> RampRule:
        return RampRule(self.comfort_up_s, self.comfort_down_s, self.subthreshold_s,
                        self.two_slope)

    def rates(self, amplitude_ma, motor_ma, rising):
        """Fastest change, mA/s, (below, above) the motor threshold."""
        above = amplitude_ma / (self.comfort_up_s if rising else self.comfort_down_s)
        if motor_ma is None:
            return above, above
        below = motor_ma / self.subthreshold_s
        return (below if self.two_slope else min(below, above)), above

    def time_needed(self, lo, hi, amplitude_ma, motor_ma, rising):
        """Shortest time the rule allows from ``lo`` to ``hi`` mA (arrays), s."""
        below, above = self.rates(amplitude_ma, motor_ma, rising)
        knee = math.inf if motor_ma is None else motor_ma
        return (np.clip(np.minimum(hi, knee) - lo, 0, None) / below
                + np.clip(hi - np.maximum(lo, knee), 0, None) / above)


def envelope_violations(points, amplitude_ma, motor_ma, rule, *, fall=True, fall_slack_s=0.0,
                        level_slack_ma=0.0):
    """Where a train's output rises or falls faster than SAFETY.md item 6 allows.

    ``points`` are ``(t s, level mA)``: the output holds ``level`` from ``t`` until the next
    point; the first point is the train's start and the last its end (level 0). Every pair of
    levels on the rise (on the fall, read backwards from the end) must be at least the rule's
    time apart. A host-made staircase holds each level until its next step, so its fall may
    lag the envelope by one step (``fall_slack_s``), and its levels are whole device units
    (``level_slack_ma``, at each end of a pair).
    """
    out = []
    t = np.array([p[0] for p in points], float)
    level = np.array([p[1] for p in points], float)
    if level[0] != 0:
        out.append(f"starts at {level[0]} mA, not 0")
    if fall and level[-1] != 0:
        out.append(f"ends at {level[-1]} mA, not 0")
    top = level.max()
    first_top = int(np.argmax(level == top))
    last_top = len(level) - 1 - int(np.argmax(level[::-1] == top))
    sides = [("rise", t[:first_top + 1] - t[0], level[:first_top + 1], 0.0, True)]
    if fall and last_top < len(level) - 1:
        # read backwards: level k is left (towards 0) at t[k + 1]
        back_t = (t[-1] - t[last_top + 1:])[::-1]
        back_level = np.concatenate([[0.0], level[last_top:-1][::-1]])
        back_t = np.concatenate([[0.0], back_t[1:], [t[-1] - t[last_top + 1]]])[:len(back_level)]
        sides.append(("fall", back_t, back_level, fall_slack_s, False))
    for name, ts, ls, slack, rising in sides:
        lo, hi = ls[:, None] + level_slack_ma, ls[None, :] - level_slack_ma
        need = rule.time_needed(lo, np.maximum(hi, lo), amplitude_ma, motor_ma, rising)
        dt = ts[None, :] - ts[:, None]
        bad = np.triu(dt + slack < need - 1e-9, 1) & (hi > lo)
        for i, j in zip(*np.nonzero(bad), strict=True):
            out.append(f"{name}: {ls[i]:.3f} -> {ls[j]:.3f} mA in {dt[i, j] * 1000:.2f} ms "
                       f"(allowed >= {(need[i, j] - slack) * 1000:.2f} ms)")
            break
    return out


def corners(cmd):
    """The envelope's corners from the command's fields, as SAFETY.md item 6 describes the
    two shapes (plain; two-slope through ``threshold_ma``), without mirrorvr's code."""
    a, on, up, down = cmd.amplitude_ma, cmd.on_time_s, cmd.ramp_up_s, cmd.ramp_down_s
    k, s = cmd.threshold_ma, cmd.threshold_ramp_s
    if k == 0:
        return [(0.0, 0.0), (up, a), (on - down, a), (on, 0.0)]
    return [(0.0, 0.0), (s, k), (s + up, a), (on - down - s, a), (on - s, k), (on, 0.0)]


def command_envelope_violations(cmd, motor_ma, rule):
    """SAFETY.md item 6 on a command's own envelope: its corners in time order, and every
    segment no faster than the rule (exact: the envelope is piecewise linear)."""
    c = corners(cmd)
    if any(t1 < t0 for (t0, _), (t1, _) in zip(c, c[1:], strict=False)):
        return ["corners out of order (ramps longer than the on-time)"]
    if cmd.threshold_ma == 0 and cmd.threshold_ramp_s != 0:
        return ["a knee time without a knee"]
    out = []
    for (t0, a0), (t1, a1) in zip(c, c[1:], strict=False):
        rising = a1 > a0
        lo, hi = min(a0, a1), max(a0, a1)
        need = float(rule.time_needed(lo, hi, cmd.amplitude_ma, motor_ma, rising))
        if t1 - t0 < need - 1e-9:
            out.append(f"{a0}->{a1} mA in {t1 - t0} s (allowed >= {need} s)")
    return out


class RecordingDriver:
    """Records everything it receives; can be told to fail. It models its outputs: a train
    runs until its on-time ends or a stop, and a second train on a busy output is noted."""

    def __init__(self, n_channels, capabilities):
        self.n_channels = n_channels
        self.capabilities = capabilities
        self.received = []  # (cmd, t_s, model_armed)
        self.overlaps = []  # commands that arrived while their output was still on
        self.busy_until = {}
        self.fail_next = False
        self.model_armed = None  # set by the test: callable -> bool

    def send(self, cmd, t_s):
        self.received.append((cmd, t_s, self.model_armed()))
        if t_s < self.busy_until.get(cmd.channel, -math.inf):
            self.overlaps.append(cmd)
        if self.fail_next:
            self.fail_next = False
            raise OSError("write time-out")
        self.busy_until[cmd.channel] = t_s + cmd.on_time_s
        return None

    def stop_channel(self, channel, t_s, reason):
        self.busy_until.pop(channel, None)

    def stop_all(self, t_s, reason):
        self.busy_until.clear()

    def check(self, t_s):
        pass

    def close(self):
        pass


@st.composite
def devices(draw):
    lo = draw(st.floats(0.5, 20))
    return DeviceLimits(
        n_channels=draw(st.integers(1, 6)),
        max_amplitude_ma=draw(st.floats(5, 200)),
        max_pulse_width_us=draw(st.floats(50, 1000)),
        min_pulse_width_us=draw(st.sampled_from([0.0, 0.0, 20.0])),
        min_frequency_hz=lo,
        max_frequency_hz=draw(st.floats(lo + 1, 1000)),
        max_charge_per_phase_uc=draw(st.floats(1, 60)),
        max_rms_current_ma=draw(st.floats(1, 50)),
        max_on_time_s=draw(st.floats(0.5, 60)),
        min_ramp_s=draw(st.floats(0, 1)),
    )


AREA = st.one_of(st.just(200.0), st.floats(0.5, 200))


@st.composite
def patients(draw, device):
    def rarely(n):  # True about once in n draws (sampled_from shrinks to its first item)
        return draw(st.sampled_from([False] * (n - 1) + [True]))

    channels = draw(st.lists(st.integers(0, device.n_channels - 1), unique=True, min_size=1,
                             max_size=4))
    if rarely(20):
        channels.append(device.n_channels)  # a profiled channel the device lacks
    top_ma = device.max_amplitude_ma * draw(st.sampled_from([1.0] * 8 + [0.3, 1.02]))
    profiles = []
    for ch in channels:
        low = 0.1 if rarely(4) else 0.2 * top_ma  # mostly thresholds of a plausible order
        levels = sorted(draw(st.lists(st.floats(min(low, top_ma), top_ma), min_size=2,
                                      max_size=2)))
        levels.append(draw(st.one_of(st.just(top_ma), st.floats(levels[-1], top_ma))))
        keep = (not rarely(4), not rarely(4), not rarely(8))  # sensory, motor, max tolerated
        sens, motor, top = (v if k else None for v, k in zip(levels, keep, strict=True))
        profiles.append(StimChannelProfile(
            channel=ch, site="site", electrode_area_cm2=draw(AREA),
            sensory_threshold_ma=sens, motor_threshold_ma=motor, max_tolerated_ma=top,
        ))
    screening = Screening(epilepsy=rarely(8))
    return patient_profile(stim_channels=tuple(profiles), screening=screening)


wild = st.builds(
    StimCommand,
    channel=st.one_of(st.integers(-5, 70), st.just(True)),
    amplitude_ma=ANY_FLOAT, pulse_width_us=ANY_FLOAT, frequency_hz=ANY_FLOAT,
    on_time_s=ANY_FLOAT, ramp_up_s=ANY_FLOAT, ramp_down_s=ANY_FLOAT,
    threshold_ma=st.one_of(st.just(0.0), ANY_FLOAT),
    threshold_ramp_s=st.one_of(st.just(0.0), ANY_FLOAT),
)
UNIT = st.floats(0.0, 1.0)
UNDER = 1 - 1e-9  # just inside a limit (exactly at it may round across)
EDGE = st.one_of(st.just(UNDER), st.just(UNDER), st.floats(0.0, UNDER))
PERTURB = st.sampled_from([0.999, 0.99, 0.5, 1.001, 1.5, 0.0, -1.0, math.nan, math.inf])
FIELDS = ("amplitude_ma", "pulse_width_us", "frequency_hz", "on_time_s", "ramp_up_s",
          "ramp_down_s", "threshold_ma", "threshold_ramp_s")


@st.composite
def rules(draw, device):
    """A therapist's ramp settings that fit the device's on-time cap."""
    floor = max(device.min_ramp_s, 0.01)
    room = device.max_on_time_s / 2 - 0.2
    comfort = st.floats(floor, max(floor, min(1.0, room)))
    return Rule6(draw(comfort), draw(comfort), draw(st.floats(0.05, 0.15)),
                 draw(st.booleans()))


@st.composite
def plausible(draw, device, patient, rule):
    """A command inside (or at) every limit, then maybe one field pushed across one."""
    titrated = [c for c in patient.stim_channels if c.max_tolerated_ma is not None]
    if not titrated:
        return draw(wild)
    prof = draw(st.sampled_from(titrated))
    pw = device.min_pulse_width_us + (device.max_pulse_width_us - device.min_pulse_width_us) * (
        max(draw(EDGE), 0.01))
    f = device.min_frequency_hz + draw(EDGE) * (device.max_frequency_hz - device.min_frequency_hz)
    root = math.sqrt(2 * pw * 1e-6 * f)
    cap = min(prof.max_tolerated_ma, device.max_amplitude_ma,
              device.max_charge_per_phase_uc * 1000 / pw, device.max_rms_current_ma / root,
              2.0 * prof.electrode_area_cm2 / root)
    amplitude_ma = cap * UNDER * max(draw(EDGE), 1e-3)
    motor = prof.motor_threshold_ma
    two_slope = motor is not None and motor <= amplitude_ma and draw(st.booleans())
    knee, knee_s = (motor, rule.subthreshold_s / UNDER) if two_slope else (0.0, 0.0)
    up = rule.comfort_up_s / UNDER / max(draw(EDGE), 0.3)
    down = rule.comfort_down_s / UNDER / max(draw(EDGE), 0.3)
    if motor is not None and not two_slope and amplitude_ma > motor:
        # a plain ramp is 0 -> motor threshold in no less than the subthreshold time
        up = max(up, rule.subthreshold_s * amplitude_ma / motor / UNDER)
        down = max(down, rule.subthreshold_s * amplitude_ma / motor / UNDER)
    on = (up + down + 2 * knee_s) / UNDER / max(draw(EDGE), 0.5)
    values = dict(zip(FIELDS, (amplitude_ma, pw, f, on, up, down, knee, knee_s), strict=True))
    if draw(st.booleans()):
        name = draw(st.sampled_from(FIELDS))
        values[name] *= draw(PERTURB)
    return StimCommand(channel=prof.channel, **values)


OPS = ["submit"] * 8 + ["submit_wild", "estop", "rearm", "arm", "disarm", "all_off",
                        "fault_next", "advance", "stop"]


def violations(cmd, device, patient, n_channels, rule):
    """Independent re-statement of SAFETY.md items 1, 2, 3, 5, 6."""
    out = []
    ch = cmd.channel
    if type(ch) is not int or not 0 <= ch < min(device.n_channels, n_channels):
        return ["channel"]
    vals = [cmd.amplitude_ma, cmd.pulse_width_us, cmd.frequency_hz, cmd.on_time_s,
            cmd.ramp_up_s, cmd.ramp_down_s, cmd.threshold_ma, cmd.threshold_ramp_s]
    if not all(isinstance(v, float | int) and math.isfinite(v) for v in vals):
        return ["non-finite"]
    a, pw, f = cmd.amplitude_ma, cmd.pulse_width_us, cmd.frequency_hz
    rms = a * math.sqrt(2 * pw * 1e-6 * f) if pw > 0 and f > 0 else math.nan
    checks = {
        "amplitude": 0 < a <= device.max_amplitude_ma,
        "pulse width": 0 < pw <= device.max_pulse_width_us and pw >= device.min_pulse_width_us,
        "frequency": device.min_frequency_hz <= f <= device.max_frequency_hz,
        "charge": a * pw / 1000 <= device.max_charge_per_phase_uc + 1e-12,
        "rms": rms <= device.max_rms_current_ma + 1e-12,
        "on time": 0 < cmd.on_time_s <= device.max_on_time_s,
        "ramp up": cmd.ramp_up_s > 0 and cmd.ramp_up_s >= device.min_ramp_s,
        "ramp down": cmd.ramp_down_s > 0 and cmd.ramp_down_s >= device.min_ramp_s,
        "knee": cmd.threshold_ma >= 0 and cmd.threshold_ramp_s >= 0,
    }
    out += [k for k, ok in checks.items() if not ok]
    prof = patient.stim_channel(ch)
    if prof is None or prof.max_tolerated_ma is None:
        out.append("untitrated")
        return out
    if not a <= prof.max_tolerated_ma:
        out.append("max tolerated")
    if not rms / prof.electrode_area_cm2 <= 2.0 + 1e-12:
        out.append("current density")
    if not out:
        out += command_envelope_violations(cmd, prof.motor_threshold_ma, rule)
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_out_of_limit_command_reaches_the_driver(data):
    device = data.draw(devices())
    patient = data.draw(patients(device))
    rule = data.draw(rules(device))
    n_driver = data.draw(st.sampled_from([device.n_channels] * 8 + [1, 8]))
    driver = RecordingDriver(n_driver, device.model_copy(update={"n_channels": n_driver}))
    clock = FakeClock(0.0)
    over_hard = any(
        c.channel >= min(device.n_channels, n_driver)
        or any(v is not None and v > device.max_amplitude_ma
               for v in (c.sensory_threshold_ma, c.motor_threshold_ma, c.max_tolerated_ma))
        for c in patient.stim_channels
    )
    try:
        gov = SafetyGovernor(device, patient, driver, clock, ramps=rule.governor_rule())
    except SafetyLimitError:
        assert over_hard  # refused at construction only when patient limits exceed hard ones
        return
    assert not over_hard
    screened_ok = not patient.screening.contraindications()
    model = {"armed": False, "estopped_or_faulted": False}
    driver.model_armed = lambda: model["armed"]

    names = ["arm"] + data.draw(st.lists(st.sampled_from(OPS), min_size=8, max_size=40))
    for op in names:
        if op == "submit_wild":
            op, arg = "submit", data.draw(wild)
        elif op == "submit":
            arg = data.draw(plausible(device, patient, rule))
        elif op == "advance":
            arg = data.draw(st.floats(0, 3))
        elif op == "stop":
            arg = data.draw(st.integers(0, device.n_channels - 1))
        if op == "submit":
            fails = driver.fail_next
            n_before = len(driver.received)
            try:
                gov.submit(arg)
            except SafetyLimitError:
                assert len(driver.received) == n_before
            except StimulationError:
                if len(driver.received) > n_before:  # the send reached the driver and failed
                    assert fails
                    model["armed"] = False
                    model["estopped_or_faulted"] = True
                    assert gov.state == "faulted"
            else:
                assert len(driver.received) == n_before + 1
        elif op == "estop":
            gov.emergency_stop("test")
            model["armed"] = False
            model["estopped_or_faulted"] = True
        elif op == "rearm":
            try:
                gov.rearm()
            except StimulationError:
                assert not screened_ok
            else:
                assert screened_ok
                model["armed"] = True
                model["estopped_or_faulted"] = False
        elif op == "arm":
            try:
                gov.arm()
            except StimulationError:
                assert not screened_ok or model["estopped_or_faulted"]
            else:
                assert screened_ok and not model["estopped_or_faulted"]
                model["armed"] = True
        elif op == "disarm":
            gov.disarm()
            if not model["estopped_or_faulted"]:
                model["armed"] = False
        elif op == "all_off":
            gov.all_off("test")
        elif op == "fault_next":
            driver.fail_next = True
        elif op == "advance":
            clock.advance(arg)
        elif op == "stop":
            gov.stop_channel(arg, "test")
        assert (gov.state == "armed") == model["armed"]

    event(f"commands that reached the driver: {min(len(driver.received), 5)}")
    for cmd, _t_s, armed in driver.received:
        assert armed, f"{cmd} reached the driver while not armed"
        assert violations(cmd, device, patient, n_driver, rule) == [], cmd
    assert driver.overlaps == []  # a running train was never replaced mid-envelope
