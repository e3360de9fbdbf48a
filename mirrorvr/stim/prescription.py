"""From a seen movement to the stimulation that should accompany it.

The scene maps movement classes to channels (hand close -> forearm flexors); the patient
profile gives each channel's titrated thresholds, from which :func:`command_for` builds the
train. Whatever this proposes still goes through the safety governor, which may refuse it.
"""

from __future__ import annotations

import logging

from mirrorvr.config import PatientProfile, StimSettings
from mirrorvr.stim.command import StimCommand, command_for
from mirrorvr.stim.scheduler import command_latency

log = logging.getLogger(__name__)


def motor_thresholds_ma(patient: PatientProfile | None) -> dict[int, float]:
    """Titrated motor threshold per channel, mA (channels without one are left out; none
    without a profile)."""
    if patient is None:
        return {}
    return {
        c.channel: c.motor_threshold_ma
        for c in patient.stim_channels
        if c.motor_threshold_ma is not None
    }


def commands_for(
    movement: str, onset_s: float, settings: StimSettings, patient: PatientProfile
) -> tuple[list[StimCommand], list[int]]:
    """The trains that should make ``movement``'s contraction begin at ``onset_s``.

    Returns
    -------
    commands : list of StimCommand
        One per mapped, titrated channel.
    untitrated : list of int
        Mapped channels that cannot stimulate because titration has not set their motor
        threshold and maximum (SAFETY.md item 2); they are left out, never guessed.
    """
    commands, untitrated = [], []
    for channel in settings.movement_channels.get(movement, ()):
        profile = patient.stim_channel(channel)
        if (
            profile is None
            or profile.max_tolerated_ma is None
            or profile.motor_threshold_ma is None
        ):
            untitrated.append(channel)
            continue
        commands.append(command_for(settings, profile, movement=movement, onset_s=onset_s))
    return commands, untitrated


def slowest_path_latency_s(settings: StimSettings, patient: PatientProfile) -> float:
    """The longest send-to-contraction latency over every mapped, titrated channel, s."""
    latency = command_latency(settings, motor_thresholds_ma(patient))
    worst = 0.0
    for movement in settings.movement_channels:
        for cmd in commands_for(movement, 0.0, settings, patient)[0]:
            worst = max(worst, latency(cmd))
    return worst


#: Which stimulation channel accompanies which movement, by residual limb: the channel over
#: the muscles that would perform it (the profile's sites name them). Upper: forearm flexors
#: (0) and extensors (1). Transtibial: anterior-lateral compartment (tibialis anterior,
#: peronei; 0) and posterior (gastrocnemius, soleus; 1). Transfemoral: quadriceps (0) and
#: hamstrings (1).
DEFAULT_MOVEMENT_CHANNELS: dict[str, dict[str, tuple[int, ...]]] = {
    "transradial": {"hand_close": (0,), "wrist_flexion": (0,), "power_grasp": (0,),
                    "hand_open": (1,), "wrist_extension": (1,)},
    "transtibial": {"ankle_dorsiflexion": (0,), "toe_extension": (0,), "ankle_eversion": (0,),
                    "ankle_plantarflexion": (1,), "toe_flexion": (1,), "ankle_inversion": (1,)},
    "transfemoral": {"knee_extension": (0,), "ankle_dorsiflexion": (0,),
                     "knee_flexion": (1,), "ankle_plantarflexion": (1,)},
}


def default_movement_channels(amputation_level: str) -> dict[str, tuple[int, ...]]:
    """The default movement -> channels map of a residual limb (see the table above)."""
    return dict(DEFAULT_MOVEMENT_CHANNELS.get(amputation_level,
                                              DEFAULT_MOVEMENT_CHANNELS["transradial"]))
