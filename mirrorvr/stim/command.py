"""One stimulation command: a biphasic, charge-balanced pulse train with ramps.

A command is plain data. It is *not* validated here: the
:class:`~mirrorvr.stim.governor.SafetyGovernor` is the one place that decides whether a
command may reach a device (SAFETY.md), so a command may hold any value, even NaN.
"""

from __future__ import annotations

import itertools
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

    The train lasts ``on_time_s`` in total and its amplitude follows a piecewise-linear
    envelope that starts and ends at 0 (SAFETY.md item 6; :meth:`envelope` gives its
    corners). Two shapes exist:

    - *plain* (``threshold_ma`` 0): 0 -> ``amplitude_ma`` over ``ramp_up_s``, hold, back to
      0 over the last ``ramp_down_s``;
    - *two-slope* (``threshold_ma`` > 0, the channel's titrated motor threshold): 0 ->
      ``threshold_ma`` over ``threshold_ramp_s`` (below the motor threshold nothing moves,
      so this may be fast, never a step), then -> ``amplitude_ma`` over the comfort ramp
      ``ramp_up_s``; the fall in reverse (``ramp_down_s`` down to the threshold, then
      ``threshold_ramp_s`` to 0).

    The device stops by itself when ``on_time_s`` runs out (SAFETY.md item 5). Whether a
    shape is allowed for a channel is the governor's decision
    (:class:`~mirrorvr.stim.ramp_rule.RampRule`).

    Attributes
    ----------
    channel : int
        Stimulator output channel (0-based).
    amplitude_ma : float
        Peak current of each phase at the envelope's top, mA.
    pulse_width_us : float
        Width of one phase, µs.
    frequency_hz : float
        Pulse rate, Hz.
    on_time_s : float
        Total duration of the train including the rise and the fall, s.
    ramp_up_s, ramp_down_s : float
        The comfort ramps, s: the whole rise (fall) of a plain envelope, the part above the
        threshold of a two-slope one.
    movement : str
        The movement class this train accompanies ("" if none).
    onset_s : float or None
        The presentation timestamp (session clock, s) at which the contraction is meant
        to start, if the command was scheduled.
    threshold_ma : float
        The knee of a two-slope envelope, mA (0: plain).
    threshold_ramp_s : float
        Time from 0 to ``threshold_ma`` on the rise, and back on the fall, s (0: plain).
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
    threshold_ma: float = 0.0
    threshold_ramp_s: float = 0.0

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

    @property
    def two_slope(self) -> bool:
        """True for a two-slope envelope (a knee at ``threshold_ma``)."""
        return self.threshold_ma > 0

    @property
    def rise_s(self) -> float:
        """Duration of the whole rise, 0 -> ``amplitude_ma``, s."""
        return self.ramp_up_s + (self.threshold_ramp_s if self.two_slope else 0.0)

    @property
    def fall_s(self) -> float:
        """Duration of the whole fall, ``amplitude_ma`` -> 0, s."""
        return self.ramp_down_s + (self.threshold_ramp_s if self.two_slope else 0.0)

    def _rise(self, comfort_s: float) -> tuple[tuple[float, float], ...]:
        """Corners ``(time from 0 s, mA)`` of a rise with this comfort ramp (the fall is
        the rise with ``ramp_down_s``, read backwards from the end)."""
        a = self.amplitude_ma
        if not self.two_slope:
            return ((0.0, 0.0), (comfort_s, a))
        k, s = self.threshold_ma, self.threshold_ramp_s
        return ((0.0, 0.0), (s, k), (s + comfort_s, a))

    def envelope(self) -> tuple[tuple[float, float], ...]:
        """Corners ``(time from the train's start s, amplitude mA)`` of the envelope, from
        ``(0, 0)`` to ``(on_time_s, 0)``; the amplitude is linear between them."""
        on = self.on_time_s
        fall = tuple((on - t, a) for t, a in reversed(self._rise(self.ramp_down_s)))
        return self._rise(self.ramp_up_s) + fall

    def amplitude_at(self, t_s: float) -> float:
        """Amplitude of the envelope ``t_s`` after the train starts, mA (0 outside it)."""
        if not 0.0 <= t_s <= self.on_time_s:
            return 0.0
        if t_s < self.rise_s:
            return _along(self._rise(self.ramp_up_s), t_s)
        to_end_s = self.on_time_s - t_s
        if to_end_s < self.fall_s:
            return _along(self._rise(self.ramp_down_s), to_end_s)
        return self.amplitude_ma

    def time_to_reach_ma(self, level_ma: float) -> float:
        """Time from the first pulse until the rise reaches ``level_ma``, s.

        0 if ``level_ma`` <= 0 or there is no rise; ``inf`` if the train never reaches it.
        """
        if level_ma <= 0:
            return 0.0
        if not level_ma <= self.amplitude_ma:
            return math.inf
        for (t0, a0), (t1, a1) in itertools.pairwise(self._rise(self.ramp_up_s)):
            if a1 >= level_ma:
                if a1 <= a0:
                    return t0
                return t0 + (t1 - t0) * max(level_ma - a0, 0.0) / (a1 - a0)
        return self.rise_s

    def contraction_onset_s(self, output_start_s: float, motor_threshold_ma: float,
                            electromechanical_delay_s: float) -> float | None:
        """When the muscle starts to contract if the device's output starts at
        ``output_start_s`` (s): the envelope reaches ``motor_threshold_ma``, then the
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
            "threshold_ma": self.threshold_ma,
            "threshold_ramp_s": self.threshold_ramp_s,
        }


def _along(corners: tuple[tuple[float, float], ...], t_s: float) -> float:
    """The piecewise-linear curve through ``corners`` (times increasing) at ``t_s``."""
    for (t0, a0), (t1, a1) in itertools.pairwise(corners):
        if t_s < t1:
            return a0 + (a1 - a0) * (t_s - t0) / (t1 - t0)
    return corners[-1][1]


def command_for(
    settings: StimSettings,
    channel: StimChannelProfile,
    movement: str = "",
    onset_s: float | None = None,
) -> StimCommand:
    """Build the session's standard train for one titrated channel.

    The amplitude lies between the motor threshold (``intensity_fraction`` 0) and the
    maximum tolerated amplitude (1), as REFERENCES.md recommends for NMES. The envelope is
    the plain comfort ramp, or with ``settings.fast_rise_below_motor_threshold`` the
    two-slope one: 0 -> the channel's motor threshold in ``settings.subthreshold_rise_s``,
    then the comfort ramp (SAFETY.md item 6).

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
    knee = {}
    if settings.fast_rise_below_motor_threshold:
        knee = {"threshold_ma": low, "threshold_ramp_s": settings.subthreshold_rise_s}
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
        **knee,
    )
