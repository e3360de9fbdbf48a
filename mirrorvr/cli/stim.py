"""``mirrorvr stim ...``: the therapist's stimulation commands (titration).

``mirrorvr stim titrate --profile P.toml --config C.toml --channel 0 --site "forearm flexors"
--area 20`` raises the amplitude on one channel of the stimulator C.toml names (``[stim]
driver``) in small steps; after each test train the therapist types what the patient reports
(n: nothing, f: felt, c: contraction, x: too much, q: stop). The sensory threshold, motor
threshold and maximum tolerated amplitude of that channel are saved in the profile's
``[patient]`` table, and nothing else (SAFETY.md items 2 and 12).

A new profile needs ``--pseudonym``, ``--amputated-side`` and ``--amputation-level`` (nothing
of a person is a default); screening comes from the profile (``[patient.screening]``)
or, for a profile without one, from the therapist's ``--no-contraindications``; a
contraindicated patient is not titrated. ``--simulate S,M,X`` rehearses on the simulated
stimulator with a simulated patient (true thresholds S, M, X mA) on simulated time.
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
                   help="the patient's profile; only the titrated channel is written into it")
    t.add_argument("--channel", type=int, required=True)
    t.add_argument("--pseudonym", help="the patient's pseudonym: needed for a new profile")
    t.add_argument("--amputated-side", choices=["left", "right"],
                   help="the amputated side: needed for a new profile")
    t.add_argument("--amputation-level",
                   choices=["transradial", "transhumeral", "transtibial", "transfemoral"],
                   help="the amputation level: needed for a new profile")
    t.add_argument("--no-contraindications", action="store_true",
                   help="the therapist confirms the patient was screened and has none of "
                   "SAFETY.md item 10's contraindications (recorded in a profile without "
                   "screening)")
    t.add_argument("--site", help="muscle group under the electrodes (default: from profile)")
    t.add_argument("--area", type=float, metavar="CM2",
                   help="electrode area, cm² (default: from profile)")
    t.add_argument("--ceiling-ma", type=float, default=40.0,
                   help="highest amplitude this titration may reach, mA (default 40)")
    t.add_argument("--start-ma", type=float, default=2.0, help="first amplitude, mA")
    t.add_argument("--step-ma", type=float, default=1.0, help="increment, mA")
    t.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="session configuration: the stimulator ([stim] driver, port), its "
                   "hard limits and the train shape")
    t.add_argument("--simulate", metavar="S,M,X",
                   help="rehearsal: the simulated stimulator, and a simulated patient with "
                   "these true thresholds in mA answers")
    t.set_defaults(handler=titrate)
    stim.set_defaults(handler=lambda args: (stim.print_help(), 2)[1])


def _simulated_truth(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        truth = tuple(float(v) for v in text.split(","))
    except ValueError:
        truth = ()
    if len(truth) != 3:
        raise ConfigError(f"--simulate: {text!r} is not S,M,X in mA")
    return truth


def _stim_settings(args: argparse.Namespace, simulated: bool):
    """The configured stimulator; the simulated one only when asked for by name."""
    from mirrorvr.config import SessionConfig, load_config, read_toml, variant_from

    config = load_config(args.config) if args.config else SessionConfig()
    settings = config.stim
    if simulated:  # the configured train shape, on the simulated stimulator
        return variant_from("stim", {**settings.model_dump(), "driver": "simulated"})
    # named in the file itself: a [stim] table without a driver is the simulated one
    stim_table = read_toml(Path(args.config), "config file").get("stim") if args.config else {}
    if not (isinstance(stim_table, dict) and "driver" in stim_table):
        where = f"{args.config} names no [stim] driver" if args.config else "no --config given"
        raise ConfigError(
            f"titration needs the stimulator to drive ({where}): give --config with [stim] "
            "driver = \"openemsstim\", \"rehastim2\" or \"simulated\" (and its port), or "
            "--simulate S,M,X for a rehearsal"
        )
    return settings


def _patient(args: argparse.Namespace):
    """The patient of ``--profile`` (or a new one from ``--pseudonym``, ``--amputated-side``
    and ``--amputation-level``), the screening to record (None: the profile has its own) and
    the new person's facts to write (None: the profile has them)."""
    from mirrorvr.config import PatientProfile, Screening
    from mirrorvr.stim.titration import load_profile, patient_table

    table = patient_table(args.profile)
    new_person = None
    if table is None:
        given = {"--pseudonym": args.pseudonym, "--amputated-side": args.amputated_side,
                 "--amputation-level": args.amputation_level}
        missing = [flag for flag, value in given.items() if not value]
        if missing:
            raise ConfigError(
                f"{args.profile} holds no patient profile: a new profile needs "
                f"{', '.join(missing)} (nothing of a person is a default, SAFETY.md 12)"
            )
        new_person = {"pseudonym": args.pseudonym, "amputated_side": args.amputated_side,
                      "amputation_level": args.amputation_level}
        try:
            patient = PatientProfile(**new_person)
        except ValueError as err:
            raise ConfigError(f"--pseudonym {args.pseudonym!r}: {err}") from None
        screened = False
    else:
        patient = load_profile(args.profile)
        if args.pseudonym and args.pseudonym != patient.pseudonym:
            raise ConfigError(f"{args.profile} is the profile of {patient.pseudonym}, not "
                              f"--pseudonym {args.pseudonym}")
        screened = "screening" in table
    contraindications = patient.screening.contraindications() if patient.screening else []
    if contraindications:
        raise ConfigError(f"{patient.pseudonym} must not be stimulated: contraindications "
                          f"{', '.join(contraindications)} in {args.profile} (SAFETY.md 10)")
    if screened:
        return patient, None, new_person
    if not args.no_contraindications:
        raise ConfigError(
            f"{args.profile} records no screening for {patient.pseudonym}: add "
            "[patient.screening] (SAFETY.md item 10), or confirm with --no-contraindications "
            "that the patient was screened and has none"
        )
    return patient, Screening(), new_person


def titrate(args: argparse.Namespace, stdin=None, out=None) -> int:
    """Run an interactive (or rehearsed) titration and save the channel; return an exit code.

    Everything is checked (configuration, profile, screening, site and area) before the
    stimulator is opened.
    """
    from mirrorvr.clock import FakeClock, SessionClock
    from mirrorvr.stim.factory import describe_stimulator, open_governor
    from mirrorvr.stim.titration import (
        Titration,
        provisional_profile,
        save_titration,
        simulated_response,
    )

    stdin = stdin or sys.stdin
    out = out or sys.stdout
    truth = _simulated_truth(args.simulate)
    settings = _stim_settings(args, simulated=truth is not None)
    patient, screening, new_person = _patient(args)
    known = patient.stim_channel(args.channel)
    site = args.site or (known.site if known else None)
    area = args.area or (known.electrode_area_cm2 if known else None)
    if not site or not area:
        raise ConfigError(
            f"channel {args.channel} is not in {args.profile}: give --site and --area"
        )
    if screening is not None:  # the therapist's confirmation, recorded with the result
        patient = patient.model_copy(update={"screening": screening})
    profile = provisional_profile(patient, args.channel, site, area, args.ceiling_ma)
    # a rehearsal has no device to wait for: it runs on simulated time
    clock = FakeClock() if truth is not None else SessionClock()
    device = describe_stimulator(settings)
    gov = open_governor(settings, profile, clock,
                        purpose=f"titration of channel {args.channel} for {patient.pseudonym}")
    try:
        gov.arm()
        t = Titration(gov, args.channel, settings=settings, start_ma=args.start_ma,
                      step_ma=args.step_ma)
        print(f"titrating channel {args.channel} ({site}, {area} cm²) of {patient.pseudonym} "
              f"on {device}, up to {args.ceiling_ma} mA", file=out)
        print("answers: n nothing, f felt, c contraction, x too much, q stop", file=out)
        while not t.done:
            t.stimulate()
            if truth is not None:
                answer = simulated_response(t.amplitude_ma, *truth)
                print(f"  {t.amplitude_ma:6.2f} mA on {device} -> {answer}", file=out)
            else:
                print(f"  {t.amplitude_ma:6.2f} mA on {device}: ", end="", file=out, flush=True)
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
    finally:
        gov.close("titration end")
    result = t.result()
    print(f"sensory threshold   {result.sensory_threshold_ma} mA", file=out)
    print(f"motor threshold     {result.motor_threshold_ma} mA", file=out)
    print(f"max tolerated       {result.max_tolerated_ma} mA", file=out)
    if t.aborted:
        print("stopped: nothing saved", file=out)
        return 1
    save_titration(args.profile, result, new_person=new_person, screening=screening)
    note = "" if result.complete else " (incomplete: this channel cannot stimulate yet)"
    print(f"saved channel {args.channel} to {args.profile}{note}", file=out)
    return 0
