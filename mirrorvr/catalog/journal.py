"""The catalogue written while a session runs: a
:class:`~mirrorvr.session.journal.SessionJournal` over a :class:`~mirrorvr.catalog.Catalog`.

:meth:`CatalogJournal.open` runs before the session's folder exists (the composition root
calls it): it opens the data directory's catalogue, marks sessions left ``running`` by a
process that ended as ``incomplete``, registers the patient and the profile version, and
finds where this session falls in the patient's course (which rating blocks are due
depends on it). While the session runs, every call only queues the write; one thread of
the journal's own writes them in order, so neither the render nor the control thread ever
waits on the database. A session killed mid-way leaves what was written (its row
``running``, the blocks and outcomes so far, its files); the next :meth:`Catalog.recover`
marks it ``incomplete``.

A catalogue failure while the session runs (the database went away) is logged and does not
stop the session: its recording is complete, and ``mirrorvr sessions`` imports a folder
the catalogue misses.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from mirrorvr.catalog.catalog import Catalog, CoursePlace, file_kind
from mirrorvr.errors import CatalogError
from mirrorvr.outcomes.form import InstrumentResult

logger = logging.getLogger(__name__)

_STOP = object()


class CatalogJournal:
    """Writes one session's course into a catalogue, from a thread of its own.

    Parameters
    ----------
    catalog : Catalog
        Owned by the journal: closed when the session ends (or :meth:`close`).
    pseudonym : str
        The patient (registered).
    profile_version : int or None
        The version of the profile the session runs with.
    place : CoursePlace
        The session's course and position in it.
    drain_timeout_s : float
        How long :meth:`session_ended` waits for the queued writes, s.
    """

    def __init__(self, catalog: Catalog, pseudonym: str, profile_version: int | None,
                 place: CoursePlace, *, drain_timeout_s: float = 60.0) -> None:
        self.catalog = catalog
        self.pseudonym = pseudonym
        self.profile_version = profile_version
        self.place = place
        self.drain_timeout_s = float(drain_timeout_s)
        #: the session's id in the catalogue, once written
        self.session_id: int | None = None
        #: every write that failed, as "what: error"
        self.errors: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False

    @classmethod
    def open(cls, data_dir: str | Path, pseudonym: str, profile: dict, protocol: str,
             url: str | None = None) -> CatalogJournal:
        """Open the catalogue of ``data_dir`` (``url``, else ``$MIRRORVR_CATALOG_URL``, else
        SQLite in it), recover stale sessions, register the patient and ``profile`` (a
        JSON-safe dict) and find the session's place in the course of ``protocol``.

        Raises
        ------
        CatalogError
            If the catalogue cannot be opened or written, naming it.
        """
        catalog = Catalog.open(data_dir, url)
        try:
            catalog.recover()
            catalog.register_patient(pseudonym)
            version = catalog.record_profile_version(pseudonym, profile)
            place = catalog.course_place(pseudonym, protocol)
        except SQLAlchemyError as err:
            catalog.close()
            raise CatalogError(f"catalogue of {str(data_dir)!r} cannot be written: {err}") from err
        except BaseException:
            catalog.close()
            raise
        return cls(catalog, pseudonym, version, place)

    # ------------------------------------------------------------------ SessionJournal

    def session_started(self, session_dir: Path, protocol: str, t_s: float) -> None:
        self._thread = threading.Thread(target=self._write_queued, name="catalog-journal",
                                        daemon=True)
        self._thread.start()
        self._put("begin session", self._begin, Path(session_dir), protocol)

    def block_started(self, position: int, name: str, kind: str, t_s: float) -> None:
        self._put(f"begin block {name}", self._of_session(self.catalog.begin_block),
                  position, name, kind, t_s)

    def block_finished(self, position: int, t_s: float, results: dict | None,
                       completed: bool) -> None:
        self._put(f"end block {position}", self._end_block, position, t_s,
                  _json_safe(results), completed)

    def outcome(self, result: InstrumentResult, timepoint: str) -> None:
        self._put(f"outcome {result.instrument} {timepoint}",
                  self._of_session(self.catalog.add_outcome), result.instrument,
                  dict(result.answers), dict(result.scores), result.t_s, timepoint=timepoint,
                  instrument_version=result.version)

    def session_ended(self, reason: str, completed: bool, summary: dict) -> None:
        """Queue the session's end (``complete``, else ``aborted`` with the reason as its
        note) and wait until every queued write is done, then close the catalogue."""
        status = "complete" if completed else "aborted"
        self._put("end session", self._of_session(self.catalog.end_session), status,
                  _json_safe(summary), note="" if completed else reason)
        self.close()

    # ------------------------------------------------------------------ after the end

    def add_files(self, *paths: Path) -> None:
        """List files written (or rewritten) after the session ended, e.g. its contact
        sheet and the summary with the catalogue's id; these writes are made on the calling
        thread. A failure is logged."""
        if self.session_id is None:
            return
        try:
            for path in paths:
                self.catalog.add_file(self.session_id, path, file_kind(Path(path)))
        except (CatalogError, SQLAlchemyError) as err:
            self.errors.append(f"add files {[str(p) for p in paths]}: {err}")
            logger.error("catalogue: listing %s failed: %s", paths, err)
        finally:
            self.catalog.close()

    def describe(self) -> dict:
        """The session in the catalogue, for its summary: id, course, place, failed writes."""
        return {"session_id": self.session_id, "course": self.place.course,
                "course_position": self.place.position,
                "planned_sessions": self.place.planned, "failed_writes": len(self.errors)}

    # ------------------------------------------------------------------ the writer

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until what was queued so far is written; False on time-out."""
        if self._thread is None or not self._thread.is_alive():
            return True
        written = threading.Event()
        self._queue.put(("flush", written.set, (), {}))
        return written.wait(timeout_s)

    def close(self) -> None:
        """Write what is queued (waiting at most ``drain_timeout_s``), stop the writer and
        close the catalogue. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(self.drain_timeout_s)
            if self._thread.is_alive():
                logger.warning("catalogue writes still pending after %.0f s; the session's "
                               "row stays 'running' until it is recovered", self.drain_timeout_s)
                return  # the writer still uses the catalogue
        self.catalog.close()
        if self.errors:
            logger.warning("the catalogue missed %d writes of this session (its folder is "
                           "complete; `mirrorvr sessions` imports folders it lacks): %s",
                           len(self.errors), "; ".join(self.errors[:3]))

    def _put(self, what: str, write: Callable, *args, **kwargs) -> None:
        if self._thread is None:
            logger.debug("catalogue journal: %s before the session started; not written", what)
            return
        self._queue.put((what, write, args, kwargs))

    def _write_queued(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            what, write, args, kwargs = item
            try:
                write(*args, **kwargs)
            except (CatalogError, SQLAlchemyError) as err:
                self.errors.append(f"{what}: {err}")
                logger.error("catalogue: %s failed: %s", what, err)

    def _of_session(self, write: Callable) -> Callable:
        """``write(session_id, ...)`` once the session's row exists (skipped without it)."""
        def call(*args, **kwargs) -> None:
            if self.session_id is None:
                raise CatalogError("the session is not in the catalogue (its start was not "
                                   "written)")
            write(self.session_id, *args, **kwargs)
        return call

    def _begin(self, session_dir: Path, protocol: str) -> None:
        place = self.place
        self.session_id = self.catalog.begin_session(
            self.pseudonym, session_dir, protocol, profile_version=self.profile_version,
            course=place.course, course_position=place.position)
        self.catalog.list_files(self.session_id)  # config, protocol, the recording begun
        logger.info("catalogue: session %d of %s (%s)", self.session_id, self.pseudonym,
                    f"course {place.course}, session {place.position} of {place.planned}"
                    if place.course else f"{protocol} session {place.position}")

    def _end_block(self, position: int, t_s: float, results: dict | None,
                   completed: bool) -> None:
        write = self._of_session(self.catalog.end_block)
        write(position, t_s, status="complete" if completed else "aborted", results=results)
        self.catalog.list_files(self.session_id)  # what the block saved (a decoder, ...)


def _json_safe(data: dict | None) -> dict | None:
    """``data`` as strict JSON brings it back: paths and other objects as text, NaN and
    infinities as None (PostgreSQL's JSON refuses them)."""
    if data is None:
        return None
    return json.loads(json.dumps(data, default=str), parse_constant=lambda _: None)
