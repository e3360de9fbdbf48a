"""SAFETY.md item 6 as the governor applies it: how fast a train may rise and fall.

No step from zero to a contraction: every train rises and falls. Above the channel's
titrated motor threshold the amplitude changes no faster than the comfort ramp; below it,
where the stimulation is felt but moves nothing, the rise may be faster but takes at least
50 ms from zero to the threshold. Without a titrated motor threshold the whole rise is the
comfort ramp from zero. The fall follows the same rule in reverse.

Two envelopes meet the rule (:class:`~mirrorvr.stim.command.StimCommand`): the *plain*
comfort ramp from zero, always allowed, and the *two-slope* one (0 -> the motor threshold
in ``subthreshold_rise_s``, then the comfort ramp), allowed only when the therapist chose it
(``stim.fast_rise_below_motor_threshold``) and only on a channel with a titrated motor
threshold, whose knee must be that threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mirrorvr.config import MIN_SUBTHRESHOLD_RISE_S, StimSettings
from mirrorvr.errors import ConfigError, SafetyLimitError
from mirrorvr.stim.command import StimCommand


@dataclass(frozen=True)
class RampRule:
    """How fast trains may rise and fall.

    Attributes
    ----------
    comfort_up_s, comfort_down_s : float
        The comfort ramps, s: the shortest rise (fall) between 0 (plain) or the motor
        threshold (two-slope) and the train's amplitude.
    subthreshold_rise_s : float
        The shortest time from 0 to the motor threshold (and back), s; never below
        :data:`~mirrorvr.config.MIN_SUBTHRESHOLD_RISE_S` (50 ms).
    two_slope : bool
        Whether the two-slope envelope is allowed at all.
    """

    comfort_up_s: float
    comfort_down_s: float
    subthreshold_rise_s: float = MIN_SUBTHRESHOLD_RISE_S
    two_slope: bool = False

    def __post_init__(self) -> None:
        for name in ("comfort_up_s", "comfort_down_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"comfort ramp {name}: {value!r} (allowed: > 0 s; every "
                                  "train rises and falls, SAFETY.md item 6)")
        if not self.subthreshold_rise_s >= MIN_SUBTHRESHOLD_RISE_S:
            raise ConfigError(f"subthreshold_rise_s: {self.subthreshold_rise_s!r} (allowed: "
                              f">= {MIN_SUBTHRESHOLD_RISE_S} s, SAFETY.md item 6)")

    @classmethod
    def from_settings(cls, settings: StimSettings) -> RampRule:
        """The rule the therapist configured: comfort ramps ``ramp_up_s``/``ramp_down_s``,
        ``subthreshold_rise_s``, two-slope only with ``fast_rise_below_motor_threshold``."""
        return cls(settings.ramp_up_s, settings.ramp_down_s, settings.subthreshold_rise_s,
                   settings.fast_rise_below_motor_threshold)

    def check(self, cmd: StimCommand, motor_threshold_ma: float | None,
              min_ramp_s: float) -> None:
        """Raise :class:`SafetyLimitError` if ``cmd``'s envelope breaks the rule.

        ``motor_threshold_ma`` is the channel's titrated motor threshold (None if not
        titrated); ``min_ramp_s`` the device's hard floor for any ramp. The command's
        numbers must already be known finite.
        """
        ch = cmd.channel
        a = cmd.amplitude_ma

        def need(ok: bool, limit: str, value, allowed: str) -> None:
            if not ok:
                raise SafetyLimitError(limit, value, allowed, ch)

        for name, value, comfort in (("ramp_up_s", cmd.ramp_up_s, self.comfort_up_s),
                                     ("ramp_down_s", cmd.ramp_down_s, self.comfort_down_s)):
            side = name.removesuffix("_s")
            need(value > 0 and value >= min_ramp_s, f"min_{side}_s", value,
                 f">= {min_ramp_s} s and > 0 (device)")
            need(value >= comfort, f"comfort_{side}_s", value,
                 f">= {comfort} s (the comfort ramp)")
        k, s = cmd.threshold_ma, cmd.threshold_ramp_s
        need(k >= 0, "threshold_ma", k, ">= 0 mA")
        need(s >= 0, "threshold_ramp_s", s, ">= 0 s")
        if k == 0:
            need(s == 0, "threshold_ramp_s", s, "0 s for a plain envelope (threshold_ma 0)")
            if motor_threshold_ma is not None:
                # below the motor threshold a plain ramp is no faster than 0 -> threshold in
                # subthreshold_rise_s (whether or not the train reaches the threshold)
                for side, ramp_s in (("rise", cmd.ramp_up_s), ("fall", cmd.ramp_down_s)):
                    below_s = ramp_s * motor_threshold_ma / a
                    need(below_s >= self.subthreshold_rise_s,
                         f"subthreshold_{side}_s", below_s,
                         f">= {self.subthreshold_rise_s} s between 0 and the motor "
                         f"threshold ({motor_threshold_ma} mA)")
        else:
            need(self.two_slope, "two_slope_envelope", k,
                 "a plain envelope (threshold_ma 0): stim.fast_rise_below_motor_threshold "
                 "is off")
            need(motor_threshold_ma is not None,
                 "two_slope_envelope (no titrated motor threshold)", k,
                 "a plain envelope on a channel without a titrated motor threshold")
            need(k == motor_threshold_ma, "threshold_ma", k,
                 f"the channel's motor threshold, {motor_threshold_ma} mA")
            need(k <= a, "threshold_ma", k, f"<= amplitude_ma ({a} mA)")
            need(s >= self.subthreshold_rise_s, "subthreshold_rise_s", s,
                 f">= {self.subthreshold_rise_s} s from 0 to the motor threshold")
        need(cmd.rise_s + cmd.fall_s <= cmd.on_time_s, "ramps_within_on_time",
             cmd.rise_s + cmd.fall_s, f"<= on_time_s ({cmd.on_time_s} s)")
