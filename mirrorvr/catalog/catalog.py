"""The catalogue: who was seen when, with which profile and protocol, with which outcomes.

A :class:`Catalog` is a SQL database (SQLite ``<data dir>/catalog.sqlite`` by default; any
SQLAlchemy URL selects another engine, e.g. ``postgresql+psycopg://...`` for a multi-site
study). The session engine calls it while a session runs::

    catalog = Catalog.open(data_dir)
    catalog.register_patient("sub-07")
    version = catalog.record_profile_version("sub-07", config.patient.model_dump(mode="json"))
    sid = catalog.begin_session("sub-07", session_dir, "pme-standard", profile_version=version)
    catalog.begin_block(sid, 0, "rating_pre", "rating", t_s)
    catalog.end_block(sid, 0, t_s, results={...})
    catalog.add_outcome(sid, "nrs", {"pain": 6}, {"intensity": 6.0}, t_s, timepoint="pre")
    catalog.add_file(sid, session_dir / "recording.xdf", "recording")
    catalog.end_session(sid, "complete", summary)

Every call is one short transaction, so a session killed mid-way leaves everything it
wrote and nothing half-written: its row stays ``running`` until :meth:`Catalog.recover`
(run at the start of every session and listing) marks it ``incomplete`` and lists the files
its folder holds. Identifying data (:meth:`register_patient`'s ``identity``) lives only in
the ``identities`` table; no listing, recording or export reads it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from mirrorvr.catalog import migrate
from mirrorvr.catalog.models import (
    SESSION_STATUSES,
    BlockRow,
    Course,
    FileRow,
    Identity,
    OutcomeRow,
    Patient,
    ProfileVersion,
    SessionRow,
    utc_now,
)
from mirrorvr.errors import CatalogError

logger = logging.getLogger(__name__)

#: The catalogue file in a data directory when no URL is given.
SQLITE_NAME = "catalog.sqlite"
#: Environment variable that selects a catalogue URL (keeps passwords out of config files
#: and session folders).
URL_ENV = "MIRRORVR_CATALOG_URL"
#: What a session's files are, for listings and exports.
FILE_KINDS = ("recording", "config", "summary", "decoder", "frame", "video", "other")

_T = TypeVar("_T")


@dataclass(frozen=True)
class PatientInfo:
    """A patient as listings show them (no identifying data)."""

    pseudonym: str
    created_at: _dt.datetime
    n_sessions: int
    n_complete: int
    last_session_at: _dt.datetime | None
    profile_versions: int


@dataclass(frozen=True)
class SessionInfo:
    """One session. ``folder`` is absolute; ``course_position`` is 1-based."""

    id: int
    pseudonym: str
    protocol: str
    folder: Path
    status: str
    started_at: _dt.datetime
    ended_at: _dt.datetime | None
    profile_version: int | None
    course: str | None
    course_position: int | None
    planned_sessions: int | None
    summary: dict | None
    note: str

    @property
    def place(self) -> str:
        """Its place for listings: "3/12" in a course, "#3" (the third session of its
        protocol) without one, "-" when unknown (imported folders)."""
        if self.course_position is None:
            return "-"
        if self.course is None:
            return f"#{self.course_position}"
        return f"{self.course_position}/{self.planned_sessions}"

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["folder"] = str(self.folder)
        out["started_at"] = self.started_at.isoformat()
        out["ended_at"] = None if self.ended_at is None else self.ended_at.isoformat()
        out.pop("summary")
        return out


@dataclass(frozen=True)
class CoursePlace:
    """Where a patient's next session of a protocol falls: in ``course`` (None: no course of
    that protocol is planned) at 1-based ``position`` of ``planned`` sessions (None: not
    planned)."""

    course: str | None
    position: int
    planned: int | None


@dataclass(frozen=True)
class BlockInfo:
    position: int
    name: str
    kind: str
    start_s: float
    end_s: float | None
    status: str
    results: dict | None


@dataclass(frozen=True)
class OutcomeInfo:
    """One administered instrument: raw ``answers`` by item id and ``scores`` by score id."""

    session_id: int
    pseudonym: str
    instrument: str
    instrument_version: str
    timepoint: str
    answers: dict
    scores: dict
    t_s: float
    recorded_at: _dt.datetime


@dataclass(frozen=True)
class FileInfo:
    """A file of a session: ``path`` absolute, ``relative`` to the session folder."""

    path: Path
    relative: str
    kind: str
    size_bytes: int | None


def default_url(data_dir: str | Path) -> str:
    """``$MIRRORVR_CATALOG_URL`` if set, else SQLite in the data directory."""
    env = os.environ.get(URL_ENV, "").strip()
    if env:
        return env
    return f"sqlite:///{(Path(data_dir) / SQLITE_NAME).resolve()}"


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60.0})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record) -> None:
            # BEGIN IMMEDIATE below (not pysqlite's deferred BEGIN): a writer takes the write
            # lock at the start of its transaction, so two writers queue instead of failing
            # with "database is locked" on upgrade. WAL lets readers go on meanwhile.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _shown(url: str) -> str:
    """A URL as errors show it: without user and password."""
    return url.split("@")[-1] if "@" in url else url


def _sha256_json(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class Catalog:
    """The catalogue of one data directory (see the module docstring for the flow).

    Use :meth:`open`; close with :meth:`close` or a ``with`` block. Thread-safe: every
    method opens its own short transaction.
    """

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.data_dir = Path(data_dir).resolve()

    # ------------------------------------------------------------------ life cycle

    @classmethod
    def open(cls, data_dir: str | Path, url: str | None = None, *, migrate_schema: bool = True
             ) -> Catalog:
        """Open (and create or migrate) the catalogue of ``data_dir``.

        Parameters
        ----------
        data_dir : path
            The data directory; session folders are stored relative to it.
        url : str, optional
            A SQLAlchemy URL; default ``$MIRRORVR_CATALOG_URL`` or
            ``sqlite:///<data_dir>/catalog.sqlite``.
        migrate_schema : bool
            Bring the schema to this version's newest revision (Alembic).

        Raises
        ------
        CatalogError
            If the database cannot be reached or migrated, naming the URL (without password).
        """
        data_dir = Path(data_dir)
        url = url or default_url(data_dir)
        if url.startswith("sqlite"):
            data_dir.mkdir(parents=True, exist_ok=True)
        try:
            engine = _engine(url)
            if migrate_schema:
                migrate.upgrade(engine)
        except (OperationalError, ImportError) as err:
            raise CatalogError(f"catalogue {_shown(url)!r} cannot be opened: {err}") from err
        except ArgumentError as err:  # not a URL, or an engine SQLAlchemy does not know
            raise CatalogError(
                f"catalogue {_shown(url)!r} cannot be opened: {err} (expected a SQLAlchemy "
                "URL such as sqlite:///path/catalog.sqlite or "
                "postgresql+psycopg://user@host/database)") from err
        return cls(engine, data_dir)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, work: Callable[[Session], _T], retries: int = 5) -> _T:
        """Run ``work`` in one transaction; retry on a unique-key race (two writers)."""
        for attempt in range(retries):
            try:
                with Session(self.engine, expire_on_commit=False) as db, db.begin():
                    return work(db)
            except IntegrityError as err:
                if attempt == retries - 1:
                    raise CatalogError(f"catalogue write failed: {err.orig}") from err
                logger.debug("catalogue write raced another writer, retrying: %s", err.orig)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ patients

    def register_patient(self, pseudonym: str, identity: dict | None = None) -> int:
        """Add a patient (idempotent) and return their id.

        ``identity`` (name, birth date, ...) is stored only in the ``identities`` table and
        replaces an earlier one; it never reaches a recording, listing or export.
        """
        _check_pseudonym(pseudonym)
        if identity is not None and not isinstance(identity, dict):
            raise CatalogError(f"identity of {pseudonym!r}: must be a dict of fields, "
                               f"given {type(identity).__name__}")

        def work(db: Session) -> int:
            patient = db.scalar(select(Patient).where(Patient.pseudonym == pseudonym))
            if patient is None:
                patient = Patient(pseudonym=pseudonym, created_at=utc_now())
                db.add(patient)
                db.flush()
            if identity is not None:
                row = db.get(Identity, patient.id)
                if row is None:
                    db.add(Identity(patient_id=patient.id, fields=dict(identity),
                                    updated_at=utc_now()))
                else:
                    row.fields, row.updated_at = dict(identity), utc_now()
            return patient.id

        return self._write(work)

    def identity(self, pseudonym: str) -> dict | None:
        """The identifying fields of a patient (for the clinic's own use only)."""
        with Session(self.engine) as db:
            row = db.scalar(select(Identity).join(Patient, Patient.id == Identity.patient_id)
                            .where(Patient.pseudonym == pseudonym))
            return None if row is None else dict(row.fields)

    def _patient(self, db: Session, pseudonym: str) -> Patient:
        patient = db.scalar(select(Patient).where(Patient.pseudonym == pseudonym))
        if patient is None:
            raise CatalogError(f"patient {pseudonym!r} is not in the catalogue "
                               "(register_patient first)")
        return patient

    def record_profile_version(self, pseudonym: str, profile: dict) -> int:
        """Store a patient profile (e.g. after titration); return its version number (1, 2, ...).

        An identical profile to the newest version returns that version (no new row).
        """
        if not isinstance(profile, dict):
            raise CatalogError(f"profile of {pseudonym!r}: must be a dict, "
                               f"given {type(profile).__name__}")
        digest = _sha256_json(profile)

        def work(db: Session) -> int:
            patient = self._patient(db, pseudonym)
            latest = db.scalar(select(ProfileVersion).where(ProfileVersion.patient_id == patient.id)
                               .order_by(ProfileVersion.version.desc()).limit(1))
            if latest is not None and latest.sha256 == digest:
                return latest.version
            version = 1 if latest is None else latest.version + 1
            db.add(ProfileVersion(patient_id=patient.id, version=version, sha256=digest,
                                  profile=profile, created_at=utc_now()))
            return version

        return self._write(work)

    def profile(self, pseudonym: str, version: int | None = None) -> dict | None:
        """A stored profile (the newest without ``version``), or None."""
        with Session(self.engine) as db:
            query = (select(ProfileVersion).join(Patient, Patient.id == ProfileVersion.patient_id)
                     .where(Patient.pseudonym == pseudonym))
            if version is not None:
                query = query.where(ProfileVersion.version == version)
            row = db.scalar(query.order_by(ProfileVersion.version.desc()).limit(1))
            return None if row is None else dict(row.profile)

    def plan_course(self, pseudonym: str, name: str, protocol: str, planned_sessions: int) -> int:
        """Plan (or re-plan) a course of ``planned_sessions`` sessions; returns its id."""
        if isinstance(planned_sessions, bool) or not isinstance(planned_sessions, int) \
                or planned_sessions < 1:
            raise CatalogError(f"course {name!r}: planned_sessions {planned_sessions!r} "
                               "(allowed: a whole number >= 1)")

        def work(db: Session) -> int:
            patient = self._patient(db, pseudonym)
            course = db.scalar(select(Course).where(Course.patient_id == patient.id,
                                                    Course.name == name))
            if course is None:
                course = Course(patient_id=patient.id, name=name, protocol=protocol,
                                planned_sessions=planned_sessions, created_at=utc_now())
                db.add(course)
                db.flush()
            else:
                course.protocol, course.planned_sessions = protocol, planned_sessions
            return course.id

        return self._write(work)

    # ------------------------------------------------------------------ sessions

    def _relative(self, folder: str | Path) -> str:
        path = Path(folder).resolve()
        try:
            return path.relative_to(self.data_dir).as_posix()
        except ValueError:
            return path.as_posix()  # outside the data directory: kept absolute

    def begin_session(
        self,
        pseudonym: str,
        folder: str | Path,
        protocol: str,
        *,
        profile_version: int | None = None,
        course: str | None = None,
        course_position: int | None = None,
        started_at: _dt.datetime | None = None,
    ) -> int:
        """Record that a session started (status ``running``); returns the session id.

        Parameters
        ----------
        folder : path
            The session folder (stored relative to the data directory).
        protocol : str
            The protocol's name.
        profile_version : int, optional
            The version :meth:`record_profile_version` returned for the profile used.
        course, course_position : optional
            The planned course (:meth:`plan_course`) and this session's 1-based place in it.
        """
        rel = self._relative(folder)

        def work(db: Session) -> int:
            patient = self._patient(db, pseudonym)
            pv_id = course_id = None
            if profile_version is not None:
                pv_id = db.scalar(select(ProfileVersion.id).where(
                    ProfileVersion.patient_id == patient.id,
                    ProfileVersion.version == profile_version))
                if pv_id is None:
                    raise CatalogError(f"profile version {profile_version!r} of {pseudonym!r} "
                                       "does not exist")
            if course is not None:
                course_id = db.scalar(select(Course.id).where(Course.patient_id == patient.id,
                                                              Course.name == course))
                if course_id is None:
                    raise CatalogError(f"course {course!r} of {pseudonym!r} is not planned "
                                       "(plan_course first)")
            if db.scalar(select(SessionRow.id).where(SessionRow.folder == rel)) is not None:
                raise CatalogError(f"session folder {rel!r} is already in the catalogue")
            row = SessionRow(
                patient_id=patient.id, profile_version_id=pv_id, course_id=course_id,
                course_position=course_position, protocol=protocol, folder=rel,
                status="running", started_at=started_at or utc_now(),
                host=socket.gethostname(), pid=os.getpid(), note="",
            )
            db.add(row)
            db.flush()
            return row.id

        return self._write(work)

    def _session_row(self, db: Session, session_id: int) -> SessionRow:
        row = db.get(SessionRow, session_id)
        if row is None:
            raise CatalogError(f"session {session_id!r} is not in the catalogue")
        return row

    def begin_block(self, session_id: int, position: int, name: str, kind: str,
                    start_s: float) -> None:
        """A block started at session time ``start_s`` (s); ``position`` is its 0-based index."""
        def work(db: Session) -> None:
            self._session_row(db, session_id)
            db.add(BlockRow(session_id=session_id, position=position, name=name, kind=kind,
                            start_s=float(start_s), status="running"))

        self._write(work, retries=1)

    def end_block(self, session_id: int, position: int, end_s: float, *,
                  status: str = "complete", results: dict | None = None) -> None:
        """A block ended at ``end_s`` (s) with its ``results`` (JSON-safe)."""
        def work(db: Session) -> None:
            row = db.scalar(select(BlockRow).where(BlockRow.session_id == session_id,
                                                   BlockRow.position == position))
            if row is None:
                raise CatalogError(f"session {session_id}: block {position} was never begun")
            row.end_s, row.status, row.results = float(end_s), status, results

        self._write(work, retries=1)

    def add_outcome(self, session_id: int, instrument: str, answers: dict, scores: dict,
                    t_s: float, *, timepoint: str = "", instrument_version: str = "") -> None:
        """Store one administered instrument: ``answers`` by item id (None = not answered),
        ``scores`` by score id (None = not scorable), answered at session time ``t_s`` (s)."""
        def work(db: Session) -> None:
            self._session_row(db, session_id)
            db.add(OutcomeRow(session_id=session_id, instrument=instrument,
                              instrument_version=instrument_version, timepoint=timepoint,
                              answers=dict(answers), scores=dict(scores), t_s=float(t_s),
                              recorded_at=utc_now()))

        self._write(work, retries=1)

    def add_file(self, session_id: int, path: str | Path, kind: str) -> None:
        """List a file of the session (idempotent; the size is refreshed)."""
        if kind not in FILE_KINDS:
            raise CatalogError(f"file kind {kind!r} (allowed: {list(FILE_KINDS)})")

        def work(db: Session) -> None:
            session = self._session_row(db, session_id)
            self._add_file_row(db, session, Path(path), kind)

        self._write(work)

    def _add_file_row(self, db: Session, session: SessionRow, path: Path, kind: str) -> None:
        folder = self._absolute(session.folder)
        rel = (path if path.is_absolute() else folder / path).resolve()
        try:
            rel_text = rel.relative_to(folder.resolve()).as_posix()
        except ValueError:
            rel_text = rel.as_posix()
        size = rel.stat().st_size if rel.is_file() else None
        row = db.scalar(select(FileRow).where(FileRow.session_id == session.id,
                                              FileRow.path == rel_text))
        if row is None:
            db.add(FileRow(session_id=session.id, path=rel_text, kind=kind, size_bytes=size,
                           added_at=utc_now()))
        else:
            row.size_bytes = size

    def end_session(self, session_id: int, status: str = "complete",
                    summary: dict | None = None, *, note: str = "",
                    ended_at: _dt.datetime | None = None) -> None:
        """Close a session with ``status`` (complete, incomplete or aborted), list every file
        its folder holds, and keep its ``summary`` (JSON-safe). ``ended_at``: now."""
        if status not in SESSION_STATUSES or status == "running":
            raise CatalogError(f"end_session status {status!r} (allowed: complete, incomplete, "
                               "aborted)")

        def work(db: Session) -> None:
            row = self._session_row(db, session_id)
            row.status, row.ended_at = status, ended_at or utc_now()
            if summary is not None:
                row.summary = json.loads(json.dumps(summary, default=str))
            if note:
                row.note = note
            self._list_folder(db, row)

        self._write(work)

    def list_files(self, session_id: int) -> None:
        """List every file the session's folder holds now (new ones added, sizes refreshed)."""
        def work(db: Session) -> None:
            self._list_folder(db, self._session_row(db, session_id))

        self._write(work)

    def _list_folder(self, db: Session, row: SessionRow) -> None:
        folder = self._absolute(row.folder)
        if not folder.is_dir():
            return
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self._add_file_row(db, row, path, file_kind(path))

    def recover(self, *, stale_after_s: float = 24 * 3600.0) -> list[int]:
        """Mark sessions whose process is gone as ``incomplete`` and list their files.

        A ``running`` session of this host whose process no longer exists is marked at once;
        one of another host (a shared PostgreSQL catalogue) only after ``stale_after_s``.
        Nothing else is touched. Returns the ids marked.
        """
        host = socket.gethostname()
        now = utc_now()

        def work(db: Session) -> list[int]:
            marked = []
            for row in db.scalars(select(SessionRow).where(SessionRow.status == "running")):
                gone = (row.host == host and not _pid_alive(row.pid)) or (
                    (now - row.started_at).total_seconds() > stale_after_s)
                if not gone:
                    continue
                row.status = "incomplete"
                row.note = (row.note + " " if row.note else "") + (
                    f"marked incomplete at {now.isoformat(timespec='seconds')}: its process "
                    f"({row.host} pid {row.pid}) ended without closing the session")
                for block in db.scalars(select(BlockRow).where(BlockRow.session_id == row.id,
                                                               BlockRow.status == "running")):
                    block.status = "incomplete"
                self._list_folder(db, row)
                marked.append(row.id)
            return marked

        marked = self._write(work)
        if marked:
            logger.warning("sessions %s were left running by a process that ended; marked "
                           "incomplete", marked)
        return marked

    # ------------------------------------------------------------------ queries

    def _absolute(self, folder: str) -> Path:
        path = Path(folder)
        return path if path.is_absolute() else self.data_dir / path

    def patients(self) -> list[PatientInfo]:
        """Every patient, by pseudonym."""
        with Session(self.engine) as db:
            out = []
            for patient in db.scalars(select(Patient).order_by(Patient.pseudonym)):
                sessions = db.scalars(select(SessionRow)
                                      .where(SessionRow.patient_id == patient.id)).all()
                n_profiles = db.scalar(select(func.count(ProfileVersion.id))
                                       .where(ProfileVersion.patient_id == patient.id))
                out.append(PatientInfo(
                    pseudonym=patient.pseudonym, created_at=patient.created_at,
                    n_sessions=len(sessions),
                    n_complete=sum(s.status == "complete" for s in sessions),
                    last_session_at=max((s.started_at for s in sessions), default=None),
                    profile_versions=int(n_profiles or 0),
                ))
            return out

    def sessions(self, pseudonym: str | None = None) -> list[SessionInfo]:
        """Sessions in the order they started (of one patient, or all)."""
        with Session(self.engine) as db:
            query = select(SessionRow, Patient.pseudonym).join(
                Patient, Patient.id == SessionRow.patient_id)
            if pseudonym is not None:
                query = query.where(Patient.pseudonym == pseudonym)
            rows = db.execute(query.order_by(SessionRow.started_at, SessionRow.id)).all()
            return [self._session_info(db, row, name) for row, name in rows]

    def session(self, session_id: int) -> SessionInfo:
        with Session(self.engine) as db:
            row = self._session_row(db, session_id)
            return self._session_info(db, row, row.patient.pseudonym)

    def _session_info(self, db: Session, row: SessionRow, pseudonym: str) -> SessionInfo:
        version = None if row.profile_version_id is None else db.scalar(
            select(ProfileVersion.version).where(ProfileVersion.id == row.profile_version_id))
        course = None if row.course_id is None else db.get(Course, row.course_id)
        return SessionInfo(
            id=row.id, pseudonym=pseudonym, protocol=row.protocol,
            folder=self._absolute(row.folder), status=row.status, started_at=row.started_at,
            ended_at=row.ended_at, profile_version=version,
            course=None if course is None else course.name,
            course_position=row.course_position,
            planned_sessions=None if course is None else course.planned_sessions,
            summary=row.summary, note=row.note,
        )

    def courses(self, pseudonym: str) -> list[tuple[str, str, int]]:
        """(name, protocol, planned sessions) of each course planned for a patient."""
        with Session(self.engine) as db:
            patient = self._patient(db, pseudonym)
            return [(c.name, c.protocol, c.planned_sessions) for c in db.scalars(
                select(Course).where(Course.patient_id == patient.id).order_by(Course.id))]

    def course_place(self, pseudonym: str, protocol: str) -> CoursePlace:
        """Where the patient's next ``protocol`` session falls: in their newest planned course
        of that protocol, after its complete sessions; without one, after their complete
        sessions of that protocol. An aborted or incomplete session is not counted, so its
        place is run again."""
        with Session(self.engine) as db:
            patient = self._patient(db, pseudonym)
            course = db.scalar(select(Course).where(Course.patient_id == patient.id,
                                                    Course.protocol == protocol)
                               .order_by(Course.id.desc()).limit(1))
            done = select(func.count(SessionRow.id)).where(SessionRow.status == "complete")
            if course is None:
                n = db.scalar(done.where(SessionRow.patient_id == patient.id,
                                         SessionRow.protocol == protocol))
                return CoursePlace(None, int(n or 0) + 1, None)
            n = db.scalar(done.where(SessionRow.course_id == course.id))
            return CoursePlace(course.name, int(n or 0) + 1, course.planned_sessions)

    def blocks(self, session_id: int) -> list[BlockInfo]:
        with Session(self.engine) as db:
            return [BlockInfo(b.position, b.name, b.kind, b.start_s, b.end_s, b.status,
                              b.results)
                    for b in db.scalars(select(BlockRow).where(BlockRow.session_id == session_id)
                                        .order_by(BlockRow.position))]

    def outcomes(self, *, pseudonym: str | None = None, session_id: int | None = None,
                 instrument: str | None = None) -> list[OutcomeInfo]:
        """Administered instruments, in session order then answer time."""
        with Session(self.engine) as db:
            query = (select(OutcomeRow, Patient.pseudonym)
                     .join(SessionRow, SessionRow.id == OutcomeRow.session_id)
                     .join(Patient, Patient.id == SessionRow.patient_id))
            if pseudonym is not None:
                query = query.where(Patient.pseudonym == pseudonym)
            if session_id is not None:
                query = query.where(OutcomeRow.session_id == session_id)
            if instrument is not None:
                query = query.where(OutcomeRow.instrument == instrument)
            query = query.order_by(SessionRow.started_at, SessionRow.id, OutcomeRow.t_s,
                                   OutcomeRow.id)
            return [OutcomeInfo(o.session_id, name, o.instrument, o.instrument_version,
                                o.timepoint, dict(o.answers), dict(o.scores), o.t_s,
                                o.recorded_at)
                    for o, name in db.execute(query).all()]

    def files(self, session_id: int) -> list[FileInfo]:
        with Session(self.engine) as db:
            row = self._session_row(db, session_id)
            folder = self._absolute(row.folder)
            return [FileInfo(self._absolute_file(folder, f.path), f.path, f.kind, f.size_bytes)
                    for f in db.scalars(select(FileRow).where(FileRow.session_id == session_id)
                                        .order_by(FileRow.path))]

    @staticmethod
    def _absolute_file(folder: Path, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else folder / p

    def session_by_folder(self, folder: str | Path) -> int | None:
        """The id of the session recorded in ``folder``, or None."""
        rel = self._relative(folder)
        with Session(self.engine) as db:
            return db.scalar(select(SessionRow.id).where(SessionRow.folder == rel))


def file_kind(path: Path) -> str:
    """What a file in a session folder is, from its name."""
    name = path.name
    if name == "recording.xdf":
        return "recording"
    if name == "config.json":
        return "config"
    if name == "summary.json":
        return "summary"
    if path.suffix == ".npz":
        return "decoder"
    if path.suffix == ".png":
        return "frame"
    if path.suffix == ".mp4":
        return "video"
    return "other"


def _check_pseudonym(pseudonym: str) -> None:
    if not isinstance(pseudonym, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", pseudonym):
        raise CatalogError(f"pseudonym {pseudonym!r} (allowed: 1-64 letters, digits, '_' or "
                           "'-', as in patient.pseudonym)")

