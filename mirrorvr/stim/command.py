"""One stimulation command: a biphasic, charge-balanced pulse train with ramps.

A command is plain data. It is *not* validated here: the
:class:`~mirrorvr.stim.governor.SafetyGovernor` is the one place that decides whether a
command may reach a device (SAFETY.md), so a command may hold any value, even NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mirrorvr.config import StimChannelProfile, StimSettings
from mirrorvr.errors import StimulationError


@dataclass(frozen=True)
class StimCommand:
    """A biphasic, charge-balanced pulse train on one channel.

    Each pulse is biphasic and charge-balanced: a phase of ``amplitude_ma`` for
    ``pulse_width_us`` followed by an equal phase of opposite sign, so the net charge of
    every pulse is zero.

    The train lasts ``on_time_s`` in total: the amplitude ramps linearly from
    ``ramp_start_ma`` (0 by default) to ``amplitude_ma`` over ``ramp_up_s``, holds, and ramps
    back to 0 over the last ``ramp_down_s``. The device stops by itself when ``on_time_s``
    runs out (SAFETY.md item 5). A non-zero ``ramp_start_ma`` may be at most the channel's
    titrated *sensory* threshold (the governor checks it): the train then starts where it is
    first felt, never with a step to a contracting amplitude (SAFETY.md item 6).

    Attributes
    ----------
    channel : int
        Stimulator output channel (0-based).
    amplitude_ma : float
        Peak current of each phase, mA.
    pulse_width_us : float
        Width of one phase, µs.
    frequency_hz : float
        Pulse rate, Hz.
    on_time_s : float
        Total duration of the train including ramps, s.
    ramp_up_s, ramp_down_s : float
        Durations of the linear amplitude ramps, s.
    ramp_start_ma : float
        Amplitude of the first pulse of the up-ramp, mA (0: the ramp starts from nothing).
    movement : str
        The movement class this train accompanies ("" if none).
    onset_s : float or None
        The presentation timestamp (session clock, s) at which the contraction is meant
        to start, if the command was scheduled.
    """

    channel: int
    amplitude_ma: float
    pulse_width_us: float
    frequency_hz: float
    on_time_s: float
    ramp_up_s: float
    ramp_down_s: float
    movement: str = ""
    onset_s: float | None = None
    ramp_start_ma: float = 0.0

    @property
    def charge_per_phase_uc(self) -> float:
        """Charge of one phase, µC (= mA × µs / 1000)."""
        return self.amplitude_ma * self.pulse_width_us / 1000.0

    @property
    def rms_current_ma(self) -> float:
        """R.m.s. current of the train at full amplitude, mA.

        For a symmetric biphasic train, I_rms = I_peak · sqrt(2 · phase_width · f)
        (REFERENCES.md, IEC 60601-2-10 section). NaN if the duty is negative.
        """
        duty = 2.0 * self.pulse_width_us * 1e-6 * self.frequency_hz
        if not duty >= 0:
            return math.nan
        return abs(self.amplitude_ma) * math.sqrt(duty)

    def current_density_ma_per_cm2(self, electrode_area_cm2: float) -> float:
        """R.m.s. current density under an electrode of ``electrode_area_cm2``, mA/cm²."""
        if not electrode_area_cm2 > 0:
            return math.inf
        return self.rms_current_ma / electrode_area_cm2

    def amplitude_at(self, t_s: float) -> float:
        """Amplitude of the envelope ``t_s`` after the train starts, mA: ramp up from
        ``ramp_start_ma``, plateau, ramp down to 0 at ``on_time_s``."""
        on_s, up_s, down_s = self.on_time_s, self.ramp_up_s, self.ramp_down_s
        if up_s > 0 and t_s < up_s:
            start_ma = max(self.ramp_start_ma, 0.0)
            return start_ma + (self.amplitude_ma - start_ma) * t_s / up_s
        if down_s > 0 and t_s > on_s - down_s:
            return self.amplitude_ma * max(on_s - t_s, 0.0) / down_s
        return self.amplitude_ma

    def time_to_reach_ma(self, level_ma: float) -> float:
        """Time from the first pulse until the ramp reaches ``level_ma``, s.

        0 if ``level_ma`` <= 0 or there is no ramp; ``inf`` if the train never reaches it.
        """
        if level_ma <= 0:
            return 0.0
        if not level_ma <= self.amplitude_ma:
            return math.inf
        start_ma = self.ramp_start_ma if self.ramp_start_ma > 0 else 0.0
        if self.ramp_up_s <= 0 or level_ma <= start_ma:
            return 0.0
        if not self.amplitude_ma > start_ma:
            return 0.0
        return self.ramp_up_s * (level_ma - start_ma) / (self.amplitude_ma - start_ma)

    def contraction_onset_s(self, output_start_s: float, motor_threshold_ma: float,
                            electromechanical_delay_s: float) -> float | None:
        """When the muscle starts to contract if the device's output starts at
        ``output_start_s`` (s): the ramp reaches ``motor_threshold_ma``, then the
        electromechanical delay. None if the train never reaches the threshold."""
        ramp_s = self.time_to_reach_ma(motor_threshold_ma)
        if not math.isfinite(ramp_s):
            return None
        return output_start_s + ramp_s + electromechanical_delay_s

    def to_dict(self) -> dict:
        """The command's fields as a plain dict (for events and recordings)."""
        return {
            "channel": self.channel,
            "amplitude_ma": self.amplitude_ma,
            "pulse_width_us": self.pulse_width_us,
            "frequency_hz": self.frequency_hz,
            "on_time_s": self.on_time_s,
            "ramp_up_s": self.ramp_up_s,
            "ramp_down_s": self.ramp_down_s,
            "movement": self.movement,
            "onset_s": self.onset_s,
            "ramp_start_ma": self.ramp_start_ma,
        }


def command_for(
    settings: StimSettings,
    channel: StimChannelProfile,
    movement: str = "",
    onset_s: float | None = None,
) -> StimCommand:
    """Build the session's standard train for one titrated channel.

    The amplitude lies between the motor threshold (``intensity_fraction`` 0) and the
    maximum tolerated amplitude (1), as REFERENCES.md recommends for NMES. With
    ``settings.ramp_from_sensory_threshold`` the up-ramp starts at the channel's sensory
    threshold (when titrated) instead of 0, which brings the contraction onset earlier.

    Raises
    ------
    StimulationError
        If the channel has no titrated motor threshold or maximum.
    """
    if channel.max_tolerated_ma is None or channel.motor_threshold_ma is None:
        raise StimulationError(
            f"channel {channel.channel} ({channel.site}) is not titrated: motor threshold "
            f"{channel.motor_threshold_ma!r} mA, max tolerated {channel.max_tolerated_ma!r} mA"
        )
    low, high = channel.motor_threshold_ma, channel.max_tolerated_ma
    amplitude_ma = low + settings.intensity_fraction * (high - low)
    ramp_start_ma = 0.0
    if settings.ramp_from_sensory_threshold and channel.sensory_threshold_ma is not None:
        ramp_start_ma = min(channel.sensory_threshold_ma, amplitude_ma)
    return StimCommand(
        channel=channel.channel,
        amplitude_ma=amplitude_ma,
        pulse_width_us=settings.pulse_width_us,
        frequency_hz=settings.frequency_hz,
        on_time_s=settings.on_time_s,
        ramp_up_s=settings.ramp_up_s,
        ramp_down_s=settings.ramp_down_s,
        movement=movement,
        onset_s=onset_s,
        ramp_start_ma=ramp_start_ma,
    )


def ramp_step_times(cmd: StimCommand, step_s: float) -> list[float]:
    """Times from the train's start, s, at which a host-ramped device is updated: every
    ``step_s`` along the up-ramp, its end, then every ``step_s`` along the down-ramp.

    Drivers of devices without ramps of their own (openEMSstim, RehaStim 2) sample
    :meth:`StimCommand.amplitude_at` at these times.
    """
    on_s, up_s, down_s = cmd.on_time_s, cmd.ramp_up_s, cmd.ramp_down_s
    times = [0.0]
    t = step_s
    while t < up_s:
        times.append(t)
        t += step_s
    times.append(min(up_s, on_s))
    t = on_s - down_s
    while t < on_s - 1e-9:
        if t > times[-1]:
            times.append(t)
        t += step_s
    return times
