"""``mirrorvr demo``, ``mirrorvr session`` and ``mirrorvr check``: running sessions.

``demo`` is the one-command demo (the ``demo`` protocol on the simulated patient and
stimulator); ``session`` runs a patient's session from their profile and a protocol (with
``--simulate`` every hardware part is swapped for its simulated twin); ``check`` makes every
check a session makes before it starts, and runs nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mirrorvr.cli.common import positive_float, session_exit_code
from mirrorvr.config import (
    SessionConfig,
    as_variant,
    build_config,
    config_to_toml_dict,
    load_config,
    read_toml,
)
from mirrorvr.errors import ConfigError

DEFAULT_DATA_DIR = "data"


def add_commands(subparsers) -> None:
    """Register ``demo``, ``session`` and ``check``."""
    demo = subparsers.add_parser(
        "demo",
        help="run a short complete session on the simulated patient and stimulator (default)",
        description="A complete short session: NRS rating, cued calibration of the EMG "
        "decoder, a phantom motor execution block, a mirror block, NRS rating. Everything is "
        "recorded under the data directory.")
    _session_arguments(demo)
    demo.add_argument("--protocol", metavar="NAME_OR_FILE",
                      help="another protocol for the demo (default: demo)")
    demo.set_defaults(handler=run_demo_command)

    session = subparsers.add_parser(
        "session",
        help="run a patient's session: their profile, a protocol",
        description="Runs PROTOCOL for the patient of PROFILE (a TOML file with their "
        "[patient] table and, optionally, their devices: [emg], [stim], ...). The EMG source, "
        "the stimulator and the intact-limb source come from the profile and --config; "
        "--simulate swaps each for its simulated twin (the simulated patient then follows "
        "the cues the screen shows).")
    session.add_argument("--profile", type=Path, required=True, metavar="PATIENT.toml",
                         help="the patient's profile (their [patient] table)")
    session.add_argument("--protocol", required=True, metavar="NAME_OR_FILE",
                         help="a built-in protocol (mirrorvr protocols) or a protocol file")
    session.add_argument("--simulate", action="store_true",
                         help="simulated EMG, stimulator and intact limb (a rehearsal)")
    _session_arguments(session)
    session.set_defaults(handler=run_session_command)

    check = subparsers.add_parser(
        "check",
        help="check a configuration as a session would before it starts; run nothing",
        description="Every check a session makes before it starts (patient profile, "
        "protocol, data folder, EMG source, stimulation limits), without running it.")
    _session_arguments(check)
    check.add_argument("--profile", type=Path, metavar="PATIENT.toml")
    check.add_argument("--protocol", metavar="NAME_OR_FILE")
    check.add_argument("--simulate", action="store_true")
    check.set_defaults(handler=run_check_command)


def _session_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--headless", action="store_true", default=None,
                   help="render offscreen (automatic when there is no display)")
    p.add_argument("--window", dest="headless", action="store_false",
                   help="open a window even if no display was detected")
    p.add_argument("--duration", type=positive_float, metavar="SECONDS",
                   help="shrink the protocol to a rehearsal of this length (the demo's own "
                   "length is 60 s)")
    p.add_argument("--data-dir", type=Path,
                   default=Path(os.environ.get("MIRRORVR_DATA", DEFAULT_DATA_DIR)),
                   metavar="DIR", help="where sessions are recorded (default ./data)")
    p.add_argument("--seed", type=int, help="seed of the simulated patient and devices (default 0)")
    p.add_argument("--config", type=Path, metavar="FILE.toml", help="session configuration (TOML)")
    p.add_argument("--size", metavar="WxH", help="window size, e.g. 1280x720")
    p.add_argument("--no-stim", action="store_true", help="run without stimulation")
    p.add_argument("--view", choices=["mono", "stereo-sbs", "mirror-box"],
                   help="mono (default), stereo side by side for headsets, or mirror box")
    p.add_argument("--timing-overlay", action="store_true",
                   help="show frame timing for the therapist")
    p.add_argument("--record-video", action="store_true",
                   help="record the session as MP4 in the session folder")
    p.add_argument("--ask-ratings", action="store_true",
                   help="the patient answers the rating screens' instruments (digits, "
                   "arrows, Enter, Backspace, Tab; a gamepad; the mouse)")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = (_merge(out[key], value) if isinstance(value, dict)
                    and isinstance(out.get(key), dict) else value)
    return out


def simulate_devices(data: dict) -> dict:
    """``data`` (a configuration's tables) with every hardware part's simulated twin: the EMG
    source, the stimulator and the intact side's electrodes of tracker.source = "intact_emg".
    The real parts' own fields (ports, boards, full scale) go with them."""
    out = {**data, "emg": as_variant("emg", data.get("emg", {}), "simulated"),
           "stim": as_variant("stim", data.get("stim", {}), "simulated")}
    tracker = data.get("tracker", {})
    if tracker.get("source") == "intact_emg":
        # a decoder of the patient's own intact side would decode the twin's EMG as noise:
        # the twin is calibrated in the session
        out["tracker"] = {k: v for k, v in tracker.items() if k != "decoder_file"}
        out["tracker"]["emg"] = as_variant("emg", tracker.get("emg", {}), "simulated")
    return out


def resolve_config(args: argparse.Namespace) -> SessionConfig:
    """The configuration (``--config``, then ``--profile``'s tables over it) with the
    command line's overrides."""
    data = config_to_toml_dict(load_config(args.config) if args.config else SessionConfig())
    source = str(args.config or "command line")
    profile = getattr(args, "profile", None)
    if profile is not None:
        profiled = read_toml(Path(profile), "profile")
        if "patient" not in profiled:
            raise ConfigError(f"--profile: {str(profile)!r} has no [patient] table")
        data = _merge(data, profiled)
        source = f"{profile} (with {args.config})" if args.config else str(profile)
    if getattr(args, "simulate", False):
        data = simulate_devices(data)
    if getattr(args, "protocol", None):
        data["protocol"]["name"] = args.protocol
    if args.seed is not None:
        data["seed"] = args.seed
    if args.duration is not None:
        data["protocol"]["duration_s"] = args.duration
    if args.no_stim:
        data["stim"]["enabled"] = False
    if args.view:
        data["render"]["view"] = args.view.replace("-", "_")
    if args.timing_overlay:
        data["render"]["timing_overlay"] = True
    if args.record_video:
        data["render"]["record_video"] = True
    if args.headless is not None:
        data["render"]["headless"] = args.headless
    if args.size:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise ConfigError(
                f"--size: {args.size!r} is not WIDTHxHEIGHT (e.g. 1280x720)") from None
        data["render"]["width"], data["render"]["height"] = w, h
    return build_config(data, source)


def _run(config: SessionConfig, args: argparse.Namespace, ask_ratings: bool) -> int:
    from mirrorvr.cli.compose import run_demo
    from mirrorvr.session.summary import format_summary

    summary = run_demo(config, args.data_dir, ask_ratings=ask_ratings)
    print(format_summary(summary))
    return session_exit_code(summary["ended"])


def run_demo_command(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr demo``."""
    return _run(resolve_config(args), args, args.ask_ratings)


def run_session_command(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr session``: a patient's own devices, or all twins with
    ``--simulate`` (the simulated patient then answers the ratings too, unless
    ``--ask-ratings``)."""
    config = resolve_config(args)
    if not args.simulate:
        check_real_devices(config)
    return _run(config, args, ask_ratings=args.ask_ratings or not args.simulate)


def check_real_devices(config: SessionConfig) -> None:
    """Refuse a patient's session (no ``--simulate``) that would run on a simulated part."""
    from mirrorvr.session.protocol import load_protocol

    simulated = []
    if config.emg.source == "simulated":
        simulated.append("emg.source = 'simulated'")
    if config.stim.enabled and config.stim.driver == "simulated":
        simulated.append("stim.driver = 'simulated'")
    kinds = {b.kind for b in load_protocol(config.protocol.name).blocks}
    if "mirror" in kinds and config.tracker.source == "simulated":
        simulated.append("tracker.source = 'simulated'")
    if ("mirror" in kinds and config.tracker.source == "intact_emg"
            and config.tracker.emg.source == "simulated"):
        simulated.append("tracker.emg.source = 'simulated'")
    if simulated:
        raise ConfigError(
            f"{simulated[0]}: a patient's session runs on their own devices, and "
            f"{', '.join(simulated)} would stand in for them; give the devices in the profile "
            "or --config ([emg], [stim], [tracker]; --no-stim runs without stimulation), or "
            "rehearse the protocol with --simulate")


def run_check_command(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr check``."""
    from mirrorvr.cli.compose import describe_preflight, preflight
    from mirrorvr.clock import SessionClock

    print(describe_preflight(preflight(resolve_config(args), args.data_dir, SessionClock())),
          file=sys.stdout)
    return 0
