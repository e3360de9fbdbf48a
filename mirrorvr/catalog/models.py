"""The catalogue's tables (SQLAlchemy 2 declarative models).

One row per patient (pseudonym only), a separate ``identities`` table for anything that
identifies a person (it never leaves the catalogue), profile versions (titration results
over time), courses (planned number of sessions), sessions, their blocks, outcomes and
files. The schema is created and changed only by the Alembic migrations in
``mirrorvr/catalog/migrations``; a test checks that these models and the migrations agree.
"""

from __future__ import annotations

import datetime as _dt

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Session states. A session that never called ``end_session`` stays ``running`` until
#: ``Catalog.recover`` marks it ``incomplete``.
SESSION_STATUSES = ("running", "complete", "incomplete", "aborted")


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every engine (SQLite drops the zone; it is put back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the catalogue stores UTC times only")
        return value.astimezone(_dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc)


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[_dt.datetime] = mapped_column(UtcDateTime, nullable=False)

    sessions: Mapped[list[SessionRow]] = relationship(back_populates="patient")


class Identity(Base):
    """Identifying data of a patient (name, birth date, ...). Never exported or recorded."""

    __tablename__ = "identities"

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    fields: Mapped[dict] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[_dt.datetime] = mapped_column(UtcDateTime, nullable=False)


class ProfileVersion(Base):
    """A patient profile as it was at one time (e.g. after a titration)."""

    __tablename__ = "profile_versions"
    __table_args__ = (UniqueConstraint("patient_id", "version", name="uq_profile_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    profile: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_at: Mapped[_dt.datetime] = mapped_column(UtcDateTime, nullable=False)


class Course(Base):
    """A planned course of sessions for one patient (adherence = done / planned)."""

    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("patient_id", "name", name="uq_course_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    protocol: Mapped[str] = mapped_column(String(128), nullable=False)
    planned_sessions: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[_dt.datetime] = mapped_column(UtcDateTime, nullable=False)


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), nullable=False)
    profile_version_id: Mapped[int | None] = mapped_column(ForeignKey("profile_versions.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    course_position: Mapped[int | None] = mapped_column(Integer)
    protocol: Mapped[str] = mapped_column(String(128), nullable=False)
    folder: Mapped[str] = mapped_column(String(512), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    started_at: Mapped[_dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    ended_at: Mapped[_dt.datetime | None] = mapped_column(UtcDateTime)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    summary: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")

    patient: Mapped[Patient] = relationship(back_populates="sessions")


class BlockRow(Base):
    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("session_id", "position", name="uq_block_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    start_s: Mapped[float] = mapped_column(Float, nullable=False)
    end_s: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    results: Mapped[dict | None] = mapped_column(JSON)


class OutcomeRow(Base):
    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    instrument: Mapped[str] = mapped_column(String(64), nullable=False)
    instrument_version: Mapped[str] = mapped_column(String(32), nullable=False)
    timepoint: Mapped[str] = mapped_column(String(32), nullable=False)
    answers: Mapped[dict] = mapped_column(JSON, nullable=False)
    scores: Mapped[dict] = mapped_column(JSON, nullable=False)
    t_s: Mapped[float] = mapped_column(Float, nullable=False)
    recorded_at: Mapped[_dt.datetime] = mapped_column(UtcDateTime, nullable=False)


class FileRow(Base):
    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("session_id", "path", name="uq_file_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    path: Mapped[str] = mapped_column(String(512), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[_dt.datetime] = mapped_column(UtcDateTime, nullable=False)
