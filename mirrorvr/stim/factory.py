"""The one place a stimulator is built from the configuration: for a session and a titration.

:func:`open_governor` is what a session (or titration) calls: it builds the driver the
configuration names (:func:`build_stimulator`) and puts it behind a
:class:`~mirrorvr.stim.governor.SafetyGovernor` with the configured hard limits and ramp
rule, so nothing else ever holds the driver (SAFETY.md). The simulated stimulator is built
only when ``stim.driver = "simulated"``; a serial driver opens its port exclusively
(:mod:`~mirrorvr.stim.device_lock`) and a second owner is refused before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mirrorvr.clock import Clock
from mirrorvr.config import PatientProfile, StimSettings
from mirrorvr.stim.driver import StimulatorDriver
from mirrorvr.stim.governor import SafetyGovernor, StimEvent
from mirrorvr.stim.path import StimPath
from mirrorvr.stim.prescription import motor_thresholds_ma
from mirrorvr.stim.ramp_rule import RampRule

logger = logging.getLogger(__name__)


def describe_stimulator(settings: StimSettings) -> str:
    """The device the configuration names, in words (for prompts and messages)."""
    if settings.driver == "openemsstim":
        return (f"openEMSstim on {settings.serial_port} (full scale {settings.full_scale_ma} "
                "mA)")
    if settings.driver == "rehastim2":
        return f"RehaStim 2 on {settings.serial_port}"
    return "the SIMULATED stimulator (no current flows)"


def build_stimulator(settings: StimSettings, clock: Clock, patient: PatientProfile, *,
                     seed: int = 0, purpose: str = "") -> StimulatorDriver:
    """The stimulator driver ``settings.driver`` names, connected.

    Parameters
    ----------
    settings : StimSettings
        Driver, port, train shape, hard limits and the stimulation path.
    clock : Clock
        The session clock.
    patient : PatientProfile
        Its titrated motor thresholds predict contraction onsets; nothing else is used.
    seed : int
        Seed of the simulated stimulator's jitter.
    purpose : str
        What the device is opened for (e.g. "session of sub-07"), recorded in its owner
        lock so a second user is told who holds it.

    Raises
    ------
    StimulationError
        If the device cannot be opened or is held by another session or titration.
    """
    path = StimPath.from_settings(settings)
    thresholds = motor_thresholds_ma(patient)
    if settings.driver == "openemsstim":
        from mirrorvr.stim.openemsstim import OpenEMSStimDriver

        return OpenEMSStimDriver(
            settings.serial_port, clock, settings.full_scale_ma, settings.pulse_width_us,
            settings.frequency_hz, path=path, motor_threshold_ma=thresholds, purpose=purpose,
        )
    if settings.driver == "rehastim2":
        from mirrorvr.stim.rehastim import RehaStimDriver

        return RehaStimDriver(
            settings.serial_port, clock, settings.frequency_hz, path=path,
            motor_threshold_ma=thresholds, purpose=purpose,
        )
    from mirrorvr.stim.simulated import SimulatedStimulator

    return SimulatedStimulator(clock, path, seed=seed, motor_threshold_ma=thresholds,
                               capabilities=settings.device)


def open_governor(settings: StimSettings, patient: PatientProfile, clock: Clock, *,
                  seed: int = 0, purpose: str = "",
                  on_event: Callable[[StimEvent], None] | None = None) -> SafetyGovernor:
    """The configured stimulator behind a governor with the configured hard limits
    (``settings.device``) and ramp rule (:meth:`RampRule.from_settings`). Not armed.

    The driver is released again if the governor refuses it (e.g. hard limits beyond the
    device), so a refused start leaves the device free.
    """
    ramps = RampRule.from_settings(settings)  # a bad comfort ramp is refused before any I/O
    driver = build_stimulator(settings, clock, patient, seed=seed, purpose=purpose)
    try:
        return SafetyGovernor(settings.device, patient, driver, clock, on_event, ramps=ramps)
    except BaseException:
        driver.close()
        raise
