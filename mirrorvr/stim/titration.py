"""Titration: the therapist finds each channel's sensory threshold, motor threshold and
maximum tolerated amplitude by raising the amplitude in small steps (SAFETY.md item 2).

A channel without a titrated maximum cannot stimulate. Titration is therefore the one place
where an untitrated channel gets current, and only through :func:`titration_governor`: a
normal :class:`~mirrorvr.stim.governor.SafetyGovernor` over a provisional profile in which
the channel's maximum is the therapist's *ceiling* for this titration (never above the hard
limits), every other check unchanged (screening, hard limits, current density, ramps).

Workflow (library)::

    gov = titration_governor(device, patient, driver, clock, channel=0, site="forearm flexors",
                             electrode_area_cm2=20, ceiling_ma=40)
    gov.arm()
    t = Titration(gov, channel=0, start_ma=2, step_ma=1)
    while not t.done:
        t.stimulate()                 # one short ramped train at t.amplitude_ma
        t.respond(answer)             # "nothing", "felt", "contraction", "too_much" or "stop"
    patient = t.result().apply(patient)
    save_profile(path, patient)

The profile file is a session configuration TOML whose ``[patient]`` table is rewritten;
other tables in it are kept, so the same file can be given to ``mirrorvr demo --config``.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mirrorvr.clock import Clock
from mirrorvr.config import DeviceLimits, PatientProfile, StimChannelProfile
from mirrorvr.errors import ConfigError, StimulationError
from mirrorvr.stim.command import StimCommand
from mirrorvr.stim.driver import StimulatorDriver
from mirrorvr.stim.governor import SafetyGovernor

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

logger = logging.getLogger(__name__)

NOTHING = "nothing"
FELT = "felt"
CONTRACTION = "contraction"
TOO_MUCH = "too_much"
STOP = "stop"
RESPONSES = (NOTHING, FELT, CONTRACTION, TOO_MUCH, STOP)


def titration_governor(
    device: DeviceLimits,
    patient: PatientProfile,
    driver: StimulatorDriver,
    clock: Clock,
    *,
    channel: int,
    site: str,
    electrode_area_cm2: float,
    ceiling_ma: float,
    on_event=None,
) -> SafetyGovernor:
    """A governor in which only ``channel`` may stimulate, up to ``ceiling_ma``.

    Raises
    ------
    SafetyLimitError
        If ``ceiling_ma`` is above the device's hard limit or the channel does not exist.
    ConfigError
        If the site or area is invalid.
    """
    try:
        provisional = StimChannelProfile(
            channel=channel, site=site, electrode_area_cm2=electrode_area_cm2,
            max_tolerated_ma=ceiling_ma,
        )
    except ValueError as err:
        raise ConfigError(f"titration of channel {channel}: {err}") from None
    profile = patient.model_copy(update={"stim_channels": (provisional,)})
    return SafetyGovernor(device, profile, driver, clock, on_event)


@dataclass(frozen=True)
class TitrationResult:
    """What a titration found for one channel (mA; None: not reached)."""

    channel: int
    site: str
    electrode_area_cm2: float
    sensory_threshold_ma: float | None
    motor_threshold_ma: float | None
    max_tolerated_ma: float | None
    steps: tuple[tuple[float, str], ...] = field(default=())

    @property
    def complete(self) -> bool:
        """True when the channel can stimulate (motor threshold and maximum both found)."""
        return self.motor_threshold_ma is not None and self.max_tolerated_ma is not None

    def channel_profile(self) -> StimChannelProfile:
        return StimChannelProfile(
            channel=self.channel, site=self.site, electrode_area_cm2=self.electrode_area_cm2,
            sensory_threshold_ma=self.sensory_threshold_ma,
            motor_threshold_ma=self.motor_threshold_ma,
            max_tolerated_ma=self.max_tolerated_ma,
        )

    def apply(self, patient: PatientProfile) -> PatientProfile:
        """``patient`` with this channel's limits replaced (or added)."""
        others = tuple(c for c in patient.stim_channels if c.channel != self.channel)
        channels = tuple(sorted(others + (self.channel_profile(),), key=lambda c: c.channel))
        return patient.model_copy(update={"stim_channels": channels})


class Titration:
    """Step-wise amplitude search on one channel, driven by the patient's answers.

    Parameters
    ----------
    governor : SafetyGovernor
        From :func:`titration_governor`, armed.
    channel : int
    start_ma, step_ma : float
        First amplitude and increment, mA.
    pulse_width_us, frequency_hz : float
        The train's shape (use the session's).
    on_time_s, ramp_up_s, ramp_down_s : float
        Each test train, s (ramped, like every train).
    """

    def __init__(
        self,
        governor: SafetyGovernor,
        channel: int,
        *,
        start_ma: float = 2.0,
        step_ma: float = 1.0,
        pulse_width_us: float = 300.0,
        frequency_hz: float = 35.0,
        on_time_s: float = 1.0,
        ramp_up_s: float = 0.3,
        ramp_down_s: float = 0.3,
    ) -> None:
        profile = governor.patient.stim_channel(channel)
        if profile is None or profile.max_tolerated_ma is None:
            raise StimulationError(
                f"titration of channel {channel}: use titration_governor() for this channel"
            )
        if not (start_ma > 0 and step_ma > 0):
            raise StimulationError(
                f"titration: start_ma {start_ma!r} and step_ma {step_ma!r} must be > 0"
            )
        self.governor = governor
        self.channel = channel
        self.site = profile.site
        self.electrode_area_cm2 = profile.electrode_area_cm2
        self.ceiling_ma = profile.max_tolerated_ma
        self.step_ma = float(step_ma)
        self.amplitude_ma = min(float(start_ma), self.ceiling_ma)
        self.shape = dict(pulse_width_us=pulse_width_us, frequency_hz=frequency_hz,
                          on_time_s=on_time_s, ramp_up_s=ramp_up_s, ramp_down_s=ramp_down_s)
        self.sensory_threshold_ma: float | None = None
        self.motor_threshold_ma: float | None = None
        self.max_tolerated_ma: float | None = None
        self.done = False
        self.aborted = False
        self._last_tolerated_ma: float | None = None
        self._steps: list[tuple[float, str]] = []
        self._stimulated = False

    def command(self) -> StimCommand:
        """The test train at the current amplitude."""
        return StimCommand(channel=self.channel, amplitude_ma=self.amplitude_ma,
                           movement="titration", **self.shape)

    def stimulate(self) -> None:
        """Send one test train at :attr:`amplitude_ma` through the governor.

        Raises
        ------
        SafetyLimitError, StimulationError
            Whatever the governor refuses (e.g. current density at this electrode area).
        """
        if self.done:
            raise StimulationError(f"titration of channel {self.channel} is finished")
        self.governor.submit(self.command())
        self._stimulated = True
        logger.info("titration ch%d: %.2f mA", self.channel, self.amplitude_ma)

    def respond(self, response: str) -> None:
        """The patient's answer to the last train; moves to the next amplitude or finishes."""
        if response not in RESPONSES:
            raise StimulationError(
                f"titration response: {response!r} (allowed: {', '.join(RESPONSES)})"
            )
        if self.done:
            raise StimulationError(f"titration of channel {self.channel} is finished")
        if response == STOP:
            self.governor.emergency_stop("titration stopped by the therapist")
            self._steps.append((self.amplitude_ma, STOP))
            self.done = self.aborted = True
            return
        if not self._stimulated:
            raise StimulationError("titration: respond() before stimulate()")
        self._stimulated = False
        a = self.amplitude_ma
        self._steps.append((a, response))
        if response == TOO_MUCH:
            self.governor.stop_channel(self.channel, "titration: too much")
            self.max_tolerated_ma = self._last_tolerated_ma
            self.done = True
            return
        self._last_tolerated_ma = a
        if response in (FELT, CONTRACTION) and self.sensory_threshold_ma is None:
            self.sensory_threshold_ma = a
        if response == CONTRACTION and self.motor_threshold_ma is None:
            self.motor_threshold_ma = a
        if a >= self.ceiling_ma - 1e-9:
            self.max_tolerated_ma = a  # the ceiling was tolerated: it is the maximum
            self.done = True
            return
        self.amplitude_ma = min(a + self.step_ma, self.ceiling_ma)

    def result(self) -> TitrationResult:
        """What was found so far; the maximum is only set when it was reached."""
        sensory, motor, top = self.sensory_threshold_ma, self.motor_threshold_ma, None
        if not self.aborted:
            top = self.max_tolerated_ma
        if top is not None:  # keep the profile's order (sensory <= motor <= max)
            motor = None if motor is not None and motor > top else motor
            sensory = None if sensory is not None and sensory > top else sensory
        return TitrationResult(
            self.channel, self.site, self.electrode_area_cm2, sensory, motor, top,
            tuple(self._steps),
        )


def _drop_none(x):
    if isinstance(x, dict):
        return {k: _drop_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list | tuple):
        return [_drop_none(v) for v in x]
    return x


def load_profile(path: str | Path) -> PatientProfile:
    """The ``[patient]`` table of a profile file (a session configuration TOML).

    Raises
    ------
    ConfigError
        If the file is not a valid configuration or has no ``[patient]`` table.
    """
    from mirrorvr.config import load_config

    patient = load_config(path).patient
    if patient is None:
        raise ConfigError(f"profile {str(path)!r} has no [patient] table")
    return patient


def save_profile(path: str | Path, patient: PatientProfile) -> Path:
    """Write ``patient`` as the ``[patient]`` table of ``path`` (other tables are kept)."""
    import tomli_w

    path = Path(path)
    data = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"profile {str(path)!r} is not valid TOML: {err}") from None
    data["patient"] = _drop_none(patient.model_dump(mode="json"))
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    tmp.replace(path)
    return path


def simulated_response(
    amplitude_ma: float, sensory_ma: float, motor_ma: float, max_tolerated_ma: float
) -> str:
    """How a simulated patient with these true thresholds answers a train (demo, tests)."""
    if amplitude_ma > max_tolerated_ma:
        return TOO_MUCH
    if amplitude_ma >= motor_ma:
        return CONTRACTION
    if amplitude_ma >= sensory_ma:
        return FELT
    return NOTHING
