"""Titration through the command line drives the stimulator the configuration names (issue 9
item 1, SAFETY.md item 12): the openEMSstim and RehaStim 2 twins on a pty receive exactly the
titration's trains, the prompts name the device, and the profile gets that channel only.

Before the fix the same command ran against the simulated stimulator (the board received
nothing) and saved the demo patient's pseudonym and channel 1 (5/12/24 mA) with the result.
"""

import io
import math
import sys

import pytest

from mirrorvr.cli import main
from mirrorvr.config import load_config

from fakes import wait_for

# a device emulator on a pty answers in real time: run alone (./dev test)
pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="pty needs POSIX"),
              pytest.mark.serial]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: the titration's steps and the patient's answers to them (4, 8, 12, 16 mA)
START_MA, STEP_MA, ANSWERS = 4.0, 4.0, "n\nf\nc\nx\n"
TRAIN = "on_time_s = 0.3\nramp_up_s = 0.1\nramp_down_s = 0.1\n"


def titrate(tmp_path, monkeypatch, stim_table: str) -> tuple[int, str, object]:
    cfg = tmp_path / "C.toml"
    cfg.write_text(f"[stim]\n{TRAIN}{stim_table}")
    profile = tmp_path / "new.toml"
    monkeypatch.setattr(sys, "stdin", io.StringIO(ANSWERS))
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    code = main(["stim", "titrate", "--profile", str(profile), "--channel", "0", "--config",
                 str(cfg), "--site", "forearm flexors", "--area", "20", "--pseudonym",
                 "sub-21", "--amputated-side", "left", "--amputation-level", "transradial",
                 "--no-contraindications", "--start-ma", str(START_MA),
                 "--step-ma", str(STEP_MA)])
    return code, out.getvalue(), load_config(cfg).stim


def trains(levels: list[int]) -> list[list[int]]:
    """Split one channel's level updates into trains: each rises from 0 and ends at 0."""
    out: list[list[int]] = []
    for level in levels:
        if level == 0:
            if out and out[-1]:
                out.append([])
            elif not out:
                out.append([])
        else:
            out[-1].append(level)
    return [t for t in out if t]


def expected_rise(amplitude_ma: float, ramp_up_s: float, step_s: float, unit_ma: float):
    """The plain comfort ramp's levels, floored to the device's unit: A·t/ramp_up every
    step_s (computed here from SAFETY.md's envelope, not by the driver's code)."""
    times = [k * step_s for k in range(1, math.ceil(ramp_up_s / step_s - 1e-9))] + [ramp_up_s]
    levels = []
    for t in times:
        level = math.floor(amplitude_ma * t / ramp_up_s / unit_ma + 1e-9)
        if level and (not levels or levels[-1] != level):
            levels.append(level)
    return levels


def is_subsequence(part, whole) -> bool:
    it = iter(whole)
    return all(x in it for x in part)


def check_trains(received: list[list[int]], stim, unit_ma: float, step_s: float) -> None:
    """Trains 1-3 (nothing, felt, contraction) ran whole; train 4 (too much) was stopped at
    once, before or during its first steps."""
    amplitudes = [START_MA + k * STEP_MA for k in range(4)]
    assert len(received) in (3, 4), received
    for k, (levels, a) in enumerate(zip(received, amplitudes[:len(received)], strict=True)):
        rise = expected_rise(a, stim.ramp_up_s, step_s, unit_ma)
        peak = levels.index(max(levels))
        if k < 3:
            assert levels[:peak + 1] == rise  # every step of the rise, in order
            fall = expected_rise(a, stim.ramp_down_s, step_s, unit_ma)[::-1]
            assert is_subsequence(levels[peak + 1:], fall)  # the fall, never a higher level
        else:
            assert levels == rise[:len(levels)]  # cut short during its rise by "too much"


def check_profile(tmp_path) -> None:
    data = tomllib.loads((tmp_path / "new.toml").read_text())
    patient = data["patient"]
    assert patient["pseudonym"] == "sub-21"
    assert patient["stim_channels"] == [{
        "channel": 0, "site": "forearm flexors", "electrode_area_cm2": 20.0,
        "sensory_threshold_ma": 8.0, "motor_threshold_ma": 12.0, "max_tolerated_ma": 12.0}]
    # the person the therapist named, nothing of the demo patient
    assert set(patient) == {"pseudonym", "amputated_side", "amputation_level", "screening",
                            "stim_channels"}


def test_titration_drives_the_configured_openemsstim_board(tmp_path, monkeypatch):
    from emulators.openemsstim import OpenEMSStimEmulator
    from mirrorvr.stim.openemsstim import FIRMWARE_MAX_ON_TIME_MS

    board = OpenEMSStimEmulator()
    try:
        full_scale_ma = 40.0
        # the board gates a unit set to 300 µs at 35 Hz, 40 mA at 100 %: the hard limits
        # may not reach beyond what it can do
        code, out, stim = titrate(tmp_path, monkeypatch, f'driver = "openemsstim"\n'
                                  f'serial_port = "{board.port_name}"\n'
                                  f"full_scale_ma = {full_scale_ma}\n"
                                  "[stim.device]\nn_channels = 2\nmax_amplitude_ma = 40\n"
                                  "min_pulse_width_us = 300\nmax_pulse_width_us = 300\n"
                                  "min_frequency_hz = 35\nmax_frequency_hz = 35.000001\n")
        assert code == 0, out
        n_off = 1 + 2 + 2  # "too much" stops channel 0, then all off at the end and at close
        assert wait_for(lambda: sum(c.endswith("I0T1") for c in board.commands) >= n_off)
        commands = [c for c in board.commands if c.startswith("C0")]
    finally:
        board.stop()
    assert board.errors == []
    pcts = [int(c[c.index("I") + 1:c.index("T")]) for c in commands]
    on_times_ms = [int(c[c.index("T") + 1:]) for c in commands]
    assert max(on_times_ms) <= min(FIRMWARE_MAX_ON_TIME_MS, stim.on_time_s * 1000)
    starts = [c for c in commands if c == f"C0I0T{round(stim.on_time_s * 1000)}"]
    assert len(starts) == 4  # every train starts at 0 % with the whole on-time
    check_trains(trains(pcts), stim, full_scale_ma / 100, step_s=0.025)
    assert f"on openEMSstim on {board.port_name}" in out
    assert out.count(f"mA on openEMSstim on {board.port_name}") == 4  # every prompt
    check_profile(tmp_path)


def test_titration_drives_the_configured_rehastim2(tmp_path, monkeypatch):
    pytest.importorskip("pysciencemode")
    from emulators.rehastim2 import START_CLM, STOP_CLM, RehaStim2Emulator

    device = RehaStim2Emulator()
    try:
        code, out, stim = titrate(tmp_path, monkeypatch, f'driver = "rehastim2"\n'
                                  f'serial_port = "{device.port_name}"\n'
                                  "[stim.device]\nmin_pulse_width_us = 20\n")
        assert code == 0, out
        assert wait_for(lambda: device.commands(STOP_CLM))  # close() ends the channel list
        updates = device.commands(START_CLM)
    finally:
        device.stop()
    assert device.errors == []
    currents = [data[3] for data in updates]  # channel 1 (0-based 0): current mA
    assert all(data[4 * i + 3] == 0 for data in updates for i in range(1, 8))
    check_trains(trains(currents), stim, 1.0, step_s=0.025)
    assert all(data[1] * 256 + data[2] == stim.pulse_width_us for data in updates
               if data[3] > 0)
    assert out.count(f"mA on RehaStim 2 on {device.port_name}") == 4
    check_profile(tmp_path)
