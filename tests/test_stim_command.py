"""StimCommand helpers: charge, r.m.s. current, density, ramp timing."""

import math

import pytest

from mirrorvr.config import SimulatedStimSettings, StimChannelProfile
from mirrorvr.errors import StimulationError
from mirrorvr.stim import StimCommand, command_for


def make(**kw):
    base = dict(channel=0, amplitude_ma=20.0, pulse_width_us=300.0, frequency_hz=35.0,
                on_time_s=1.5, ramp_up_s=0.5, ramp_down_s=0.5)
    return StimCommand(**(base | kw))


def test_charge_per_phase_is_ma_times_us_over_1000():
    assert make().charge_per_phase_uc == pytest.approx(6.0)


def test_rms_current_symmetric_biphasic():
    # I_rms = I_peak * sqrt(2 * pw * f)  (REFERENCES.md)
    assert make().rms_current_ma == pytest.approx(20.0 * math.sqrt(2 * 300e-6 * 35))
    # continuous square wave: duty 1 -> rms == peak
    assert make(pulse_width_us=500.0, frequency_hz=1000.0).rms_current_ma == pytest.approx(20.0)


def test_current_density():
    cmd = make()
    assert cmd.current_density_ma_per_cm2(10.0) == pytest.approx(cmd.rms_current_ma / 10.0)
    assert cmd.current_density_ma_per_cm2(0.0) == math.inf


def test_time_to_reach_along_the_ramp():
    cmd = make(amplitude_ma=20.0, ramp_up_s=0.5)
    assert cmd.time_to_reach_ma(10.0) == pytest.approx(0.25)
    assert cmd.time_to_reach_ma(20.0) == pytest.approx(0.5)
    assert cmd.time_to_reach_ma(0.0) == 0.0
    assert cmd.time_to_reach_ma(25.0) == math.inf
    # output at 2 s, threshold after 0.25 s of ramp, then 17 ms of electromechanical delay
    assert cmd.contraction_onset_s(2.0, 10.0, 0.017) == pytest.approx(2.267)
    assert cmd.contraction_onset_s(2.0, 25.0, 0.017) is None


def test_command_for_uses_intensity_between_motor_and_max():
    ch = StimChannelProfile(channel=1, site="x", electrode_area_cm2=20, motor_threshold_ma=10,
                            max_tolerated_ma=20)
    cmd = command_for(SimulatedStimSettings(intensity_fraction=0.25), ch, "hand_open", onset_s=3.0)
    assert cmd.channel == 1 and cmd.amplitude_ma == pytest.approx(12.5)
    assert cmd.movement == "hand_open" and cmd.onset_s == 3.0


def test_command_for_untitrated_channel_raises():
    ch = StimChannelProfile(channel=1, site="x", electrode_area_cm2=20)
    with pytest.raises(StimulationError, match="not titrated"):
        command_for(SimulatedStimSettings(), ch)


def test_plain_envelope_rises_from_zero_holds_and_falls_to_zero():
    cmd = make(amplitude_ma=20.0, on_time_s=1.5, ramp_up_s=0.5, ramp_down_s=0.25)
    assert cmd.envelope() == ((0.0, 0.0), (0.5, 20.0), (1.25, 20.0), (1.5, 0.0))
    assert [cmd.amplitude_at(t) for t in (0.0, 0.25, 0.5, 1.0, 1.375, 1.5, 1.6, -0.1)] == [
        pytest.approx(v) for v in (0.0, 10.0, 20.0, 20.0, 10.0, 0.0, 0.0, 0.0)]
    assert (cmd.rise_s, cmd.fall_s) == (0.5, 0.25) and not cmd.two_slope


def test_two_slope_envelope_reaches_the_threshold_fast_and_the_amplitude_over_the_comfort_ramp():
    cmd = make(amplitude_ma=20.0, on_time_s=1.5, ramp_up_s=0.5, ramp_down_s=0.4,
               threshold_ma=14.0, threshold_ramp_s=0.05)
    assert cmd.two_slope and cmd.rise_s == pytest.approx(0.55) and cmd.fall_s == pytest.approx(0.45)
    assert cmd.envelope() == ((0.0, 0.0), (0.05, 14.0), (0.55, 20.0), (1.05, 20.0),
                              (1.45, 14.0), (1.5, 0.0))
    assert cmd.amplitude_at(0.025) == pytest.approx(7.0)
    assert cmd.amplitude_at(0.3) == pytest.approx(14.0 + 6.0 * 0.25 / 0.5)
    assert cmd.amplitude_at(1.25) == pytest.approx(14.0 + 6.0 * 0.2 / 0.4)
    assert cmd.amplitude_at(1.475) == pytest.approx(7.0)
    # the motor threshold is reached at the knee; above it along the comfort ramp
    assert cmd.time_to_reach_ma(14.0) == pytest.approx(0.05)
    assert cmd.time_to_reach_ma(7.0) == pytest.approx(0.025)
    assert cmd.time_to_reach_ma(17.0) == pytest.approx(0.05 + 0.5 * 3.0 / 6.0)
    assert cmd.time_to_reach_ma(21.0) == math.inf
    assert cmd.contraction_onset_s(2.0, 14.0, 0.017) == pytest.approx(2.0 + 0.05 + 0.017)
    plain = make(amplitude_ma=20.0, on_time_s=1.5, ramp_up_s=0.5, ramp_down_s=0.4)
    assert plain.contraction_onset_s(2.0, 14.0, 0.017) == pytest.approx(2.0 + 0.35 + 0.017)


def test_command_for_shapes_the_envelope_the_settings_ask_for():
    ch = StimChannelProfile(channel=0, site="x", electrode_area_cm2=20, motor_threshold_ma=10,
                            max_tolerated_ma=20)
    plain = command_for(SimulatedStimSettings(fast_rise_below_motor_threshold=False), ch)
    assert (plain.threshold_ma, plain.threshold_ramp_s) == (0.0, 0.0)
    settings = SimulatedStimSettings(fast_rise_below_motor_threshold=True, subthreshold_rise_s=0.08)
    fast = command_for(settings, ch)
    assert fast.threshold_ma == ch.motor_threshold_ma
    assert fast.threshold_ramp_s == settings.subthreshold_rise_s
    assert fast.ramp_up_s == settings.ramp_up_s and fast.ramp_down_s == settings.ramp_down_s
    assert fast.to_dict()["threshold_ma"] == ch.motor_threshold_ma
