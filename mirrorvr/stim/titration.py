"""Titration: the therapist finds each channel's sensory threshold, motor threshold and
maximum tolerated amplitude by raising the amplitude in small steps (SAFETY.md item 2).

A channel without a titrated maximum cannot stimulate. Titration is therefore the one place
where an untitrated channel gets current, and only through a normal
:class:`~mirrorvr.stim.governor.SafetyGovernor` over a :func:`provisional_profile` in which
the channel's maximum is the therapist's *ceiling* for this titration (never above the hard
limits), every other check unchanged (screening, hard limits, current density, ramps).

Workflow (library)::

    patient = load_profile(path)                       # the patient's own profile
    gov = open_governor(settings, provisional_profile(patient, 0, "forearm flexors", 20,
                                                      ceiling_ma=40), clock)
    gov.arm()
    t = Titration(gov, channel=0, settings=settings, start_ma=2, step_ma=1)
    while not t.done:
        t.stimulate()                 # one ramped train at t.amplitude_ma (waits for the last)
        t.respond(answer)             # "nothing", "felt", "contraction", "too_much" or "stop"
    gov.close()
    save_titration(path, t.result())  # writes this channel only

The profile file is a session configuration TOML whose ``[patient]`` table holds the
patient; :func:`save_titration` changes only the titrated channel's entry in it (SAFETY.md
item 12: nothing of a person is a default, and nothing else of the file is rewritten).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mirrorvr.clock import Clock
from mirrorvr.config import (
    DeviceLimits,
    PatientProfile,
    Screening,
    SimulatedStimSettings,
    StimChannelProfile,
    StimSettings,
)
from mirrorvr.errors import ConfigError, StimulationError
from mirrorvr.stim.command import StimCommand
from mirrorvr.stim.driver import StimulatorDriver
from mirrorvr.stim.governor import SafetyGovernor
from mirrorvr.stim.ramp_rule import RampRule

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


def provisional_profile(patient: PatientProfile, channel: int, site: str,
                        electrode_area_cm2: float, ceiling_ma: float) -> PatientProfile:
    """``patient`` with ``channel`` as its only stimulation channel, allowed up to
    ``ceiling_ma`` and nothing else titrated: the profile a titration's governor checks.

    Raises
    ------
    ConfigError
        If the site, area or ceiling is invalid.
    """
    try:
        provisional = StimChannelProfile(
            channel=channel, site=site, electrode_area_cm2=electrode_area_cm2,
            max_tolerated_ma=ceiling_ma,
        )
    except ValueError as err:
        raise ConfigError(f"titration of channel {channel}: {err}") from None
    return patient.model_copy(update={"stim_channels": (provisional,)})


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
    ramps: RampRule | None = None,
) -> SafetyGovernor:
    """A governor over ``driver`` in which only ``channel`` may stimulate, up to
    ``ceiling_ma`` (:func:`provisional_profile`). A session's titration builds its driver
    and governor with :func:`~mirrorvr.stim.factory.open_governor` instead.

    Raises
    ------
    SafetyLimitError
        If ``ceiling_ma`` is above the device's hard limit or the channel does not exist.
    ConfigError
        If the site or area is invalid.
    """
    profile = provisional_profile(patient, channel, site, electrode_area_cm2, ceiling_ma)
    return SafetyGovernor(device, profile, driver, clock, on_event, ramps=ramps)


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
        Over a :func:`provisional_profile`, armed.
    channel : int
    settings : StimSettings, optional
        The session's train shape (pulse width, rate, on-time, comfort ramps): each test
        train is shaped like the trains the patient will get. Default: the default settings.
    start_ma, step_ma : float
        First amplitude and increment, mA.
    """

    def __init__(
        self,
        governor: SafetyGovernor,
        channel: int,
        *,
        settings: StimSettings | None = None,
        start_ma: float = 2.0,
        step_ma: float = 1.0,
    ) -> None:
        profile = governor.patient.stim_channel(channel)
        if profile is None or profile.max_tolerated_ma is None:
            raise StimulationError(
                f"titration of channel {channel}: use provisional_profile() for this channel"
            )
        if not (start_ma > 0 and step_ma > 0):
            raise StimulationError(
                f"titration: start_ma {start_ma!r} and step_ma {step_ma!r} must be > 0"
            )
        settings = settings or SimulatedStimSettings()
        self.governor = governor
        self.channel = channel
        self.site = profile.site
        self.electrode_area_cm2 = profile.electrode_area_cm2
        self.ceiling_ma = profile.max_tolerated_ma
        self.step_ma = float(step_ma)
        self.amplitude_ma = min(float(start_ma), self.ceiling_ma)
        # a plain envelope: the channel has no titrated motor threshold yet
        self.shape = dict(pulse_width_us=settings.pulse_width_us,
                          frequency_hz=settings.frequency_hz, on_time_s=settings.on_time_s,
                          ramp_up_s=settings.ramp_up_s, ramp_down_s=settings.ramp_down_s)
        self.sensory_threshold_ma: float | None = None
        self.motor_threshold_ma: float | None = None
        self.max_tolerated_ma: float | None = None
        self.done = False
        self.aborted = False
        self._last_tolerated_ma: float | None = None
        self._steps: list[tuple[float, str]] = []
        self._stimulated = False
        self._train_end_s = -float("inf")

    def command(self) -> StimCommand:
        """The test train at the current amplitude."""
        return StimCommand(channel=self.channel, amplitude_ma=self.amplitude_ma,
                           movement="titration", **self.shape)

    def stimulate(self) -> None:
        """Send one test train at :attr:`amplitude_ma` through the governor, once the
        previous train has ended.

        Raises
        ------
        SafetyLimitError, StimulationError
            Whatever the governor refuses (e.g. current density at this electrode area).
        """
        if self.done:
            raise StimulationError(f"titration of channel {self.channel} is finished")
        # one train at a time: the last one falls to 0 before the next rises
        self.governor.clock.sleep_until(self._train_end_s)
        receipt = self.governor.submit_receipt(self.command())
        self._train_end_s = receipt.sent_s + self.shape["on_time_s"]
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


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"profile {str(path)!r} is not valid TOML: {err}") from None


def patient_table(path: str | Path) -> dict | None:
    """The ``[patient]`` table of ``path`` as written, or None when the file holds no patient
    (no file, no table, or no ``pseudonym`` in it)."""
    table = _read_toml(Path(path)).get("patient")
    if not isinstance(table, dict) or "pseudonym" not in table:
        return None
    return table


def load_profile(path: str | Path) -> PatientProfile:
    """The patient of ``path`` (its ``[patient]`` table); never a default patient.

    Raises
    ------
    ConfigError
        If the file holds no patient (no ``[patient]`` with a ``pseudonym``) or an invalid one.
    """
    table = patient_table(path)
    if table is None:
        raise ConfigError(f"{str(path)!r} holds no patient profile ([patient] with a "
                          "pseudonym)")
    try:
        return PatientProfile.model_validate(table)
    except ValueError as err:
        raise ConfigError(f"profile {str(path)!r}: {err}") from None


def save_titration(path: str | Path, result: TitrationResult, *,
                   new_person: dict | None = None, screening: Screening | None = None) -> Path:
    """Write the titrated channel into the profile ``path``; nothing else of the file changes.

    The channel's entry in ``[[patient.stim_channels]]`` is replaced (or added); other
    channels and tables stay as they are. ``new_person`` (pseudonym, amputated side and
    level) starts a new profile (the file has no patient yet); ``screening`` records the
    therapist's screening where the profile has none. The result is validated as a profile
    before the file is (atomically) replaced.

    Raises
    ------
    ConfigError
        If the file is not valid TOML, has no patient and no ``new_person`` is given, or the
        profile would be invalid.
    """
    import tomli_w

    path = Path(path)
    data = _read_toml(path)
    table = data.setdefault("patient", {})
    if "pseudonym" not in table:
        if new_person is None:
            raise ConfigError(f"{str(path)!r} holds no patient: a new profile needs its "
                              "pseudonym, amputated side and level")
        table.update(new_person)
    if screening is not None and "screening" not in table:
        table["screening"] = screening.model_dump(mode="json")
    entry = _drop_none(result.channel_profile().model_dump(mode="json"))
    channels = [c for c in table.get("stim_channels", []) if c.get("channel") != result.channel]
    table["stim_channels"] = sorted([*channels, entry], key=lambda c: c["channel"])
    try:
        PatientProfile.model_validate(table)
    except ValueError as err:
        raise ConfigError(f"profile {str(path)!r} after titration: {err}") from None
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
