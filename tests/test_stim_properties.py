"""Property test (SAFETY.md "Tests that must exist"): no sequence of API calls, profiles or
values makes a command outside the limits reach a driver.

Every command the recording driver receives is re-checked here, independently of the
governor's code, against the hard limits, the patient limits and the current density, and
against an independent model of the arming state.
"""

import math

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mirrorvr.clock import FakeClock
from mirrorvr.config import DeviceLimits, Screening, StimChannelProfile
from mirrorvr.errors import SafetyLimitError, StimulationError
from mirrorvr.stim import SafetyGovernor, StimCommand

from profiles import patient_profile

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


class RecordingDriver:
    """Records everything it receives; can be told to fail."""

    def __init__(self, n_channels):
        self.n_channels = n_channels
        self.received = []  # (cmd, t_s, model_armed)
        self.fail_next = False
        self.model_armed = None  # set by the test: callable -> bool

    def send(self, cmd, t_s):
        self.received.append((cmd, t_s, self.model_armed()))
        if self.fail_next:
            self.fail_next = False
            raise OSError("write time-out")
        return None

    def stop_channel(self, channel, t_s, reason):
        pass

    def stop_all(self, t_s, reason):
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
    channels = draw(st.lists(st.integers(0, device.n_channels - 1), unique=True, min_size=1,
                                max_size=4))
    if draw(st.integers(0, 19)) == 0:
        channels.append(device.n_channels)  # a profiled channel the device lacks
    top_ma = device.max_amplitude_ma * draw(st.sampled_from([1.0] * 8 + [0.3, 1.02]))
    profiles = []
    for ch in channels:
        levels = sorted(draw(st.lists(st.floats(0.1, top_ma), min_size=2, max_size=2)))
        levels.append(draw(st.one_of(st.just(top_ma), st.floats(levels[-1], top_ma))))
        keep = draw(st.lists(st.booleans(), min_size=3, max_size=3).map(lambda k: k[:2] + [
            k[2] or draw(st.integers(0, 3)) > 0]))
        sens, motor, top = (v if k else None for v, k in zip(levels, keep, strict=True))
        profiles.append(StimChannelProfile(
            channel=ch, site="site", electrode_area_cm2=draw(AREA),
            sensory_threshold_ma=sens, motor_threshold_ma=motor, max_tolerated_ma=top,
        ))
    screening = Screening(epilepsy=draw(st.integers(0, 7)) == 0)
    return patient_profile(stim_channels=tuple(profiles), screening=screening)


wild = st.builds(
    StimCommand,
    channel=st.one_of(st.integers(-5, 70), st.just(True)),
    amplitude_ma=ANY_FLOAT, pulse_width_us=ANY_FLOAT, frequency_hz=ANY_FLOAT,
    on_time_s=ANY_FLOAT, ramp_up_s=ANY_FLOAT, ramp_down_s=ANY_FLOAT,
    ramp_start_ma=st.one_of(st.just(0.0), ANY_FLOAT),
)
UNIT = st.floats(0.0, 1.0)
UNDER = 1 - 1e-9  # just inside a limit (exactly at it may round across)
EDGE = st.one_of(st.just(UNDER), st.just(UNDER), st.floats(0.0, UNDER))
PERTURB = st.sampled_from([1.001, 1.01, 1.5, 0.0, -1.0, math.nan, math.inf])
FIELDS = ("amplitude_ma", "pulse_width_us", "frequency_hz", "on_time_s", "ramp_up_s",
          "ramp_down_s", "ramp_start_ma")


@st.composite
def plausible(draw, device, patient):
    """A command inside (or at) every limit, then maybe one field pushed across one."""
    titrated = [c for c in patient.stim_channels if c.max_tolerated_ma is not None]
    if not titrated:
        return draw(wild)
    prof = draw(st.sampled_from(titrated))
    pw = device.min_pulse_width_us + (device.max_pulse_width_us - device.min_pulse_width_us) * (
        max(draw(EDGE), 0.01))
    f = device.min_frequency_hz + draw(EDGE) * (device.max_frequency_hz - device.min_frequency_hz)
    r_min = max(device.min_ramp_s, 0.001)
    on = 2 * r_min + draw(EDGE) * max(device.max_on_time_s - 2 * r_min, 0.0)
    up = r_min + UNDER * (1 - draw(EDGE)) * max(on / 2 - r_min, 0.0)
    down = r_min + UNDER * (1 - draw(EDGE)) * max(on / 2 - r_min, 0.0)
    root = math.sqrt(2 * pw * 1e-6 * f)
    cap = min(prof.max_tolerated_ma, device.max_amplitude_ma,
              device.max_charge_per_phase_uc * 1000 / pw, device.max_rms_current_ma / root,
              2.0 * prof.electrode_area_cm2 / root)
    amplitude_ma = cap * UNDER * max(draw(EDGE), 1e-3)
    start = 0.0
    if prof.sensory_threshold_ma is not None and draw(st.booleans()):
        start = min(prof.sensory_threshold_ma, amplitude_ma * UNDER) * draw(EDGE)
    values = dict(zip(FIELDS, (amplitude_ma, pw, f, on, up, down, start), strict=True))
    if draw(st.booleans()):
        name = draw(st.sampled_from(FIELDS))
        values[name] *= draw(PERTURB)
    return StimCommand(channel=prof.channel, **values)


OPS = ["submit"] * 8 + ["submit_wild", "estop", "rearm", "arm", "disarm", "all_off",
                        "fault_next", "advance"]

def violations(cmd, device, patient, n_channels):
    """Independent re-statement of SAFETY.md items 1, 2, 3, 5, 6."""
    out = []
    ch = cmd.channel
    if type(ch) is not int or not 0 <= ch < min(device.n_channels, n_channels):
        return ["channel"]
    vals = [cmd.amplitude_ma, cmd.pulse_width_us, cmd.frequency_hz, cmd.on_time_s,
            cmd.ramp_up_s, cmd.ramp_down_s]
    vals.append(cmd.ramp_start_ma)
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
        "ramp down": cmd.ramp_down_s >= device.min_ramp_s,
        "ramps fit": cmd.ramp_up_s + cmd.ramp_down_s <= cmd.on_time_s + 1e-12,
    }
    out += [k for k, ok in checks.items() if not ok]
    prof = patient.stim_channel(ch)
    if prof is None or prof.max_tolerated_ma is None:
        out.append("untitrated")
    else:
        if not a <= prof.max_tolerated_ma:
            out.append("max tolerated")
        if not rms / prof.electrode_area_cm2 <= 2.0 + 1e-12:
            out.append("current density")
        start = cmd.ramp_start_ma
        if start < 0 or (start > 0 and (prof.sensory_threshold_ma is None
                                        or start > prof.sensory_threshold_ma or start >= a)):
            out.append("ramp start")
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_out_of_limit_command_reaches_the_driver(data):
    device = data.draw(devices())
    patient = data.draw(patients(device))
    n_driver = data.draw(st.sampled_from([device.n_channels] * 8 + [1, 8]))
    driver = RecordingDriver(n_driver)
    clock = FakeClock(0.0)
    over_hard = any(
        c.channel >= min(device.n_channels, n_driver)
        or any(v is not None and v > device.max_amplitude_ma
               for v in (c.sensory_threshold_ma, c.motor_threshold_ma, c.max_tolerated_ma))
        for c in patient.stim_channels
    )
    try:
        gov = SafetyGovernor(device, patient, driver, clock)
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
            arg = data.draw(plausible(device, patient))
        elif op == "advance":
            arg = data.draw(st.floats(0, 3))
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
        assert (gov.state == "armed") == model["armed"]

    event(f"commands that reached the driver: {min(len(driver.received), 5)}")
    for cmd, _t_s, armed in driver.received:
        assert armed, f"{cmd} reached the driver while not armed"
        assert violations(cmd, device, patient, n_driver) == [], cmd
