"""From a seen movement to the stimulation that should accompany it.

The scene maps movement classes to channels (hand close -> forearm flexors); the patient
profile gives each channel's titrated thresholds. The amplitude sits between the motor
threshold and the maximum tolerated (``intensity_fraction``). Whatever this proposes still
goes through the safety governor, which may refuse it.
"""

from __future__ import annotations

from mirrorvr.config import PatientProfile, StimSettings
from mirrorvr.stim.command import StimCommand


def train_amplitude_ma(settings: StimSettings, patient: PatientProfile, channel: int) -> float | None:
    """Amplitude for ``channel``, mA, or None when the channel is not titrated."""
    profile = patient.stim_channel(channel)
    if profile is None or profile.max_tolerated_ma is None:
        return None
    low = profile.motor_threshold_ma or profile.max_tolerated_ma
    return low + settings.intensity_fraction * (profile.max_tolerated_ma - low)


def ramp_to_threshold_s(settings: StimSettings, patient: PatientProfile, channel: int) -> float:
    """Time for the ramp to reach the motor threshold, s: when the contraction can begin.

    REFERENCES.md: with a ramped NMES train the visible movement follows the ramp, not the
    first pulse.
    """
    amplitude = train_amplitude_ma(settings, patient, channel)
    profile = patient.stim_channel(channel)
    if amplitude is None or profile is None or profile.motor_threshold_ma is None:
        return 0.0
    return settings.ramp_up_s * min(1.0, profile.motor_threshold_ma / amplitude)


def commands_for(
    movement: str, onset_s: float, settings: StimSettings, patient: PatientProfile
) -> list[StimCommand]:
    """The pulse trains that should make the contraction of ``movement`` begin at ``onset_s``.

    Channels without a titrated maximum are still proposed (with amplitude 0 mA is never
    sent): the governor refuses them, so the refusal is logged where a therapist sees it.
    """
    commands = []
    for channel in settings.movement_channels.get(movement, ()):
        amplitude = train_amplitude_ma(settings, patient, channel)
        commands.append(
            StimCommand(
                channel=channel,
                amplitude_ma=amplitude if amplitude is not None else float("nan"),
                pulse_width_us=settings.pulse_width_us,
                frequency_hz=settings.frequency_hz,
                on_time_s=settings.on_time_s,
                ramp_up_s=settings.ramp_up_s,
                ramp_down_s=settings.ramp_down_s,
                movement=movement,
                onset_s=onset_s,
            )
        )
    return commands
