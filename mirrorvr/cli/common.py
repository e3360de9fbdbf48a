"""What every ``mirrorvr`` command shares: argument types, ``-v`` anywhere, exit codes."""

from __future__ import annotations

import argparse


def positive_float(text: str) -> float:
    """An argparse type: a number > 0 (the message names the value)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def verbose_flag() -> argparse.ArgumentParser:
    """``-v`` that every (sub)command accepts, before or after its name."""
    flag = argparse.ArgumentParser(add_help=False)
    flag.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                      help="debug logging")
    return flag


class SubParsers(argparse._SubParsersAction):
    """Sub-command parsers that all take ``-v`` (``mirrorvr demo -v`` as ``mirrorvr -v demo``)."""

    def add_parser(self, name, **kwargs):
        kwargs["parents"] = [*kwargs.get("parents", []), verbose_flag()]
        parser = super().add_parser(name, **kwargs)
        parser.register("action", "parsers", SubParsers)
        return parser


#: Exit codes of a session ended by a signal (128 + the signal's number, as shells report).
SIGNAL_EXIT_CODES = {"interrupted (SIGINT)": 130, "terminated (SIGTERM)": 143}
#: Endings that are the session's or the user's own choice (exit code 0).
NORMAL_ENDINGS = ("completed", "ended by the user (Esc)", "the window was closed")


def session_exit_code(ended: str) -> int:
    """0 for a session that ended as planned or as the user chose, 128 + N for signal N,
    1 for one that a failure ended (the recording, a device, an error)."""
    if ended in NORMAL_ENDINGS:
        return 0
    return SIGNAL_EXIT_CODES.get(ended, 1)
