"""The ``mirrorvr`` command: the only composition root (:mod:`mirrorvr.cli.compose`) and its
sub-commands, one module each (session, protocols, emg, stim)."""

from __future__ import annotations

import argparse
import logging
import sys

from mirrorvr import __version__
from mirrorvr.cli.common import SubParsers, verbose_flag
from mirrorvr.cli.compose import (
    build_emg_source,
    build_session,
    new_session_dir,
    preflight,
    run_demo,
)
from mirrorvr.cli.session import resolve_config
from mirrorvr.errors import MirrorVRError

__all__ = ["build_emg_source", "build_session", "main", "new_session_dir", "preflight",
           "resolve_config", "run_demo"]


def _parser() -> argparse.ArgumentParser:
    from mirrorvr.cli import data, emg, protocols, session, stim

    parser = argparse.ArgumentParser(
        prog="mirrorvr",
        description="Mirror therapy and phantom motor execution with EMG decoding and "
        "synchronised EMS.",
        parents=[verbose_flag()],
    )
    parser.register("action", "parsers", SubParsers)
    parser.add_argument("--version", action="version", version=f"mirrorvr {__version__}")
    sub = parser.add_subparsers(dest="command")
    for module in (session, protocols, emg, stim, data):
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["demo", *argv]
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        if getattr(args, "handler", None) is not None:
            return args.handler(args)
        parser.print_help()
        return 2
    except MirrorVRError as err:
        print(f"mirrorvr: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mirrorvr: interrupted; stimulation is off and the recording is closed",
              file=sys.stderr)
        return 130
