"""Who is told where a session stands: its start, each block's start and end, each answered
instrument, and its end (how it ended, its summary).

The runner tells a :class:`SessionJournal` at those boundaries only, never per frame or
per EMG chunk, and knows nothing of where a journal writes (the catalogue's
:class:`~mirrorvr.catalog.journal.CatalogJournal` writes a SQL database on a thread of its
own). A journal returns at once and does not raise for its own storage failures: it logs
them; the session and its recording go on.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from mirrorvr.outcomes.form import InstrumentResult


class SessionJournal(Protocol):
    """A record of a session's course, kept while it runs (times on the session clock, s)."""

    def session_started(self, session_dir: Path, protocol: str, t_s: float) -> None:
        """The session recorded in ``session_dir`` starts its first block (``protocol`` by
        name)."""

    def block_started(self, position: int, name: str, kind: str, t_s: float) -> None:
        """Block ``position`` (0-based, in the order played) started."""

    def block_finished(self, position: int, t_s: float, results: dict | None,
                       completed: bool) -> None:
        """Block ``position`` ended at ``t_s`` with its ``results`` (JSON-safe, or None);
        ``completed`` is False when the session ended during it."""

    def outcome(self, result: InstrumentResult, timepoint: str) -> None:
        """An instrument was answered (``timepoint``: "pre", "post", ...)."""

    def session_ended(self, reason: str, completed: bool, summary: dict) -> None:
        """The session ended: ``reason`` as in its summary ("completed", "ended by the user
        (Esc)", "error: ..."), ``completed`` True only when every block was played."""


class Journals:
    """Several journals told as one (what the runner holds)."""

    def __init__(self, journals: Iterable[SessionJournal] = ()) -> None:
        self._journals = list(journals)

    def session_started(self, session_dir: Path, protocol: str, t_s: float) -> None:
        for journal in self._journals:
            journal.session_started(session_dir, protocol, t_s)

    def block_started(self, position: int, name: str, kind: str, t_s: float) -> None:
        for journal in self._journals:
            journal.block_started(position, name, kind, t_s)

    def block_finished(self, position: int, t_s: float, results: dict | None,
                       completed: bool) -> None:
        for journal in self._journals:
            journal.block_finished(position, t_s, results, completed)

    def outcome(self, result: InstrumentResult, timepoint: str) -> None:
        for journal in self._journals:
            journal.outcome(result, timepoint)

    def session_ended(self, reason: str, completed: bool, summary: dict) -> None:
        for journal in self._journals:
            journal.session_ended(reason, completed, summary)
