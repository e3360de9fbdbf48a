"""``mirrorvr stim ...``: the therapist's stimulation commands (titration).

``mirrorvr stim titrate --profile P.toml --channel 0 --site "forearm flexors" --area 20``
raises the amplitude on one channel in small steps; after each test train the therapist
types what the patient reports (n: nothing, f: felt, c: contraction, x: too much, q: stop).
The sensory threshold, motor threshold and maximum tolerated amplitude are saved in the
profile's ``[patient]`` table (SAFETY.md item 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mirrorvr.errors import ConfigError

KEYS = {"n": "nothing", "f": "felt", "c": "contraction", "x": "too_much", "q": "stop"}


def add_commands(subparsers) -> None:
    """Register ``stim`` and its subcommands on the top-level parser's ``subparsers``."""
    stim = subparsers.add_parser("stim", help="stimulation set-up: titration")
    sub = stim.add_subparsers(dest="stim_command")
    t = sub.add_parser(
        "titrate",
        help="find a channel's sensory/motor thresholds and maximum tolerated amplitude",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("--profile", type=Path, required=True, metavar="FILE.toml",
                   help="profile (session config) whose [patient] table is updated")
    t.add_argument("--channel", type=int, required=True)
    t.add_argument("--site", help="muscle group under the electrodes (default: from profile)")
    t.add_argument("--area", type=float, metavar="CM2",
                   help="electrode area, cm² (default: from profile)")
    t.add_argument("--ceiling-ma", type=float, default=40.0,
                   help="highest amplitude this titration may reach, mA (default 40)")
    t.add_argument("--start-ma", type=float, default=2.0, help="first amplitude, mA")
    t.add_argument("--step-ma", type=float, default=1.0, help="increment, mA")
    t.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="session configuration for the device limits and train shape")
    t.add_argument("--simulate", metavar="S,M,X",
                   help="a simulated patient answers, with these true thresholds in mA")
    t.set_defaults(handler=titrate)
    stim.set_defaults(handler=lambda args: (stim.print_help(), 2)[1])


def titrate(args: argparse.Namespace, stdin=None, out=None) -> int:
    """Run an interactive (or simulated) titration and save the result; return an exit code."""
    from mirrorvr.clock import SessionClock
    from mirrorvr.config import SessionConfig, load_config
    from mirrorvr.stim.simulated import SimulatedStimulator
    from mirrorvr.stim.titration import (
        Titration,
        load_profile,
        save_profile,
        simulated_response,
        titration_governor,
    )

    stdin = stdin or sys.stdin
    out = out or sys.stdout
    config = load_config(args.config) if args.config else SessionConfig()
    patient = load_profile(args.profile) if args.profile.exists() else config.patient
    if patient is None:  # SAFETY.md 12: nothing of a person is a default
        raise ConfigError(
            f"--profile: {str(args.profile)!r} does not exist and the configuration has no "
            "[patient]: write the patient's [patient] table (pseudonym, amputated_side, "
            "amputation_level) and [patient.screening] first")
    known = patient.stim_channel(args.channel)
    site = args.site or (known.site if known else None)
    area = args.area or (known.electrode_area_cm2 if known else None)
    if not site or not area:
        raise ConfigError(
            f"channel {args.channel} is not in {args.profile}: give --site and --area"
        )
    truth = None
    if args.simulate:
        try:
            truth = tuple(float(v) for v in args.simulate.split(","))
            if len(truth) != 3:
                raise ValueError
        except ValueError:
            raise ConfigError(f"--simulate: {args.simulate!r} is not S,M,X in mA") from None
    stim = config.stim
    clock = SessionClock()
    driver = SimulatedStimulator(clock, n_channels=stim.device.n_channels)
    gov = titration_governor(stim.device, patient, driver, clock, channel=args.channel,
                             site=site, electrode_area_cm2=area, ceiling_ma=args.ceiling_ma)
    gov.arm()
    t = Titration(gov, args.channel, start_ma=args.start_ma, step_ma=args.step_ma,
                  pulse_width_us=stim.pulse_width_us, frequency_hz=stim.frequency_hz)
    print(f"titrating channel {args.channel} ({site}, {area} cm²), up to {args.ceiling_ma} mA",
          file=out)
    print("answers: n nothing, f felt, c contraction, x too much, q stop", file=out)
    while not t.done:
        t.stimulate()
        if truth is not None:
            answer = simulated_response(t.amplitude_ma, *truth)
            print(f"  {t.amplitude_ma:6.2f} mA -> {answer}", file=out)
        else:
            print(f"  {t.amplitude_ma:6.2f} mA: ", end="", file=out, flush=True)
            line = stdin.readline()
            if not line:
                answer = "stop"
            else:
                answer = KEYS.get(line.strip().lower()[:1], "")
                if not answer:
                    print("  answer n, f, c, x or q", file=out)
                    gov.stop_channel(args.channel, "unclear answer")
                    continue
        t.respond(answer)
    gov.all_off("titration finished")
    result = t.result()
    print(f"sensory threshold   {result.sensory_threshold_ma} mA", file=out)
    print(f"motor threshold     {result.motor_threshold_ma} mA", file=out)
    print(f"max tolerated       {result.max_tolerated_ma} mA", file=out)
    if t.aborted:
        print("stopped: nothing saved", file=out)
        return 1
    save_profile(args.profile, result.apply(patient))
    note = "" if result.complete else " (incomplete: this channel cannot stimulate yet)"
    print(f"saved to {args.profile}{note}", file=out)
    return 0
