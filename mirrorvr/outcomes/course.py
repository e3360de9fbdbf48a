"""A course of sessions: which instruments run when, and a simulated patient's seeded pain
trajectory with the answers it gives, so a whole course can be simulated and reported.

The schedule is data (:class:`InstrumentSchedule`): each entry names an instrument, whether
it runs ``before`` or ``after`` a session, and at which sessions of the course (1-based
numbers, ``"all"``, ``"first"``, ``"last"``). The simulated answers go through the same
:class:`~mirrorvr.outcomes.form.InstrumentForm` a patient uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mirrorvr.catalog import Catalog
from mirrorvr.errors import CatalogError, InstrumentError
from mirrorvr.outcomes.form import InstrumentForm, InstrumentResult, answer_form
from mirrorvr.outcomes.instrument import Instrument, load_instrument

logger = logging.getLogger(__name__)


class ScheduledInstrument(BaseModel):
    """One instrument of a course's schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instrument: str
    when: Literal["before", "after"]
    sessions: tuple[int | Literal["all", "first", "last"], ...] = ("all",)


class InstrumentSchedule(BaseModel):
    """Which instruments run when in a course (part of a protocol)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entries: tuple[ScheduledInstrument, ...] = Field(default_factory=tuple)

    def due(self, session_number: int, planned_sessions: int, when: str) -> list[str]:
        """The instruments to run ``when`` ("before"/"after") session ``session_number``
        (1-based) of a course of ``planned_sessions``."""
        out = []
        for entry in self.entries:
            if entry.when != when:
                continue
            marks = set(entry.sessions)
            if ("all" in marks or session_number in marks
                    or ("first" in marks and session_number == 1)
                    or ("last" in marks and session_number == planned_sessions)):
                out.append(entry.instrument)
        return out


#: The schedule of the simulated course: pain intensity before and after every session,
#: pain qualities, interference and the episode diary at the first and last session, the
#: patient's impression of change after the last (REFERENCES.md: IMMPACT core outcomes,
#: PLP trials' PRI, frequency/duration diaries, VAS).
DEFAULT_SCHEDULE = InstrumentSchedule(entries=(
    ScheduledInstrument(instrument="nrs", when="before"),
    ScheduledInstrument(instrument="vas", when="before"),
    ScheduledInstrument(instrument="sf_mpq_2", when="before", sessions=("first", "last")),
    ScheduledInstrument(instrument="bpi_interference", when="before",
                        sessions=("first", "last")),
    ScheduledInstrument(instrument="pain_diary", when="before", sessions=("all",)),
    ScheduledInstrument(instrument="nrs", when="after"),
    ScheduledInstrument(instrument="vas", when="after"),
    ScheduledInstrument(instrument="pgic", when="after", sessions=("last",)),
))


@dataclass(frozen=True)
class PainTrajectory:
    """A simulated patient's phantom pain over a course (seeded, reproducible).

    Pain before session k (1-based) falls from ``baseline_nrs`` towards
    ``baseline_nrs * (1 - final_reduction)`` at the last session (exponential approach),
    plus Gaussian day-to-day noise of ``noise_sd`` NRS points; after a session it is
    ``session_relief`` points lower. The Lancet 2016 PME trial reported NRS -32 % and PRI
    -51 % after 12 sessions (REFERENCES.md); the defaults are of that order.
    """

    n_sessions: int
    seed: int = 0
    baseline_nrs: float = 6.5
    final_reduction: float = 0.45
    noise_sd: float = 0.4
    session_relief: float = 0.8

    def level(self, session_number: int, when: str) -> float:
        """Pain on the NRS scale (not rounded), 0..10."""
        if not 1 <= session_number <= self.n_sessions:
            raise InstrumentError(f"session_number {session_number!r} (allowed: 1.."
                                  f"{self.n_sessions})")
        progress = (session_number - 1) / max(1, self.n_sessions - 1)
        shape = (1 - np.exp(-3 * progress)) / (1 - np.exp(-3))
        mean = self.baseline_nrs * (1 - self.final_reduction * shape)
        rng = np.random.default_rng([self.seed, session_number])
        value = mean + rng.normal(0, self.noise_sd)
        if when == "after":
            value -= self.session_relief
        return float(np.clip(value, 0, 10))

    def answers(self, instrument: Instrument, session_number: int, when: str
                ) -> dict[str, float | None]:
        """What the simulated patient answers on ``instrument`` at that time."""
        pain = self.level(session_number, when)
        rng = np.random.default_rng([self.seed, session_number, 1 if when == "after" else 0,
                                     sum(map(ord, instrument.id))])
        if instrument.id == "nrs":
            return {"pain": int(round(pain))}
        if instrument.id == "vas":
            return {"pain": int(np.clip(round(10 * pain + rng.normal(0, 3)), 0, 100))}
        if instrument.id == "pgic":
            baseline = self.level(1, "before")
            change = (baseline - pain) / baseline if baseline > 0 else 0.0
            category = 1 if change >= 0.5 else 2 if change >= 0.3 else 3 if change >= 0.1 \
                else 4 if change > -0.1 else 5
            return {"change": category}
        if instrument.id == "pain_diary":
            episodes = int(np.clip(round(pain * 1.2 + rng.normal(0, 0.8)), 0, 50))
            duration = int(np.clip(5 * round((4 * pain + rng.normal(0, 3)) / 5), 0, 1440))
            return {"episodes_per_day": episodes, "episode_duration_min": duration}
        answers = {}
        for item in instrument.items:  # multi-item ratings 0-10 around the pain level
            if item.response != "scale":
                raise InstrumentError(f"the simulated patient cannot answer {instrument.id!r} "
                                      f"item {item.id!r} ({item.response})")
            value = pain * rng.uniform(0.5, 1.1) + rng.normal(0, 0.7)
            answers[item.id] = int(np.clip(round(value), item.min, item.max))
        return answers


def administer(instrument: Instrument, trajectory: PainTrajectory, session_number: int,
               when: str, t_s: float) -> InstrumentResult:
    """A scripted patient answers ``instrument`` through its on-screen form."""
    answers = trajectory.answers(instrument, session_number, when)
    return answer_form(InstrumentForm(instrument), answers, t_s)


#: Runs one session of the course: (session number 1.., NRS before, NRS after) -> folder.
RunSession = Callable[[int, int, int], Path]


def simulate_course(
    catalog: Catalog,
    pseudonym: str,
    trajectory: PainTrajectory,
    run_session: RunSession,
    *,
    planned_sessions: int | None = None,
    course: str = "simulated-course",
    protocol: str = "demo",
    schedule: InstrumentSchedule = DEFAULT_SCHEDULE,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[int]:
    """Run ``trajectory.n_sessions`` sessions of a course and put them in the catalogue.

    ``run_session`` runs one session whose NRS ratings (its own rating blocks) are the
    trajectory's; the session folder is then imported with its course position, and the
    scheduled instruments are answered through their forms and stored as its outcomes
    (timed at the session's first and last block). ``planned_sessions`` (default: the
    sessions run) is what adherence is measured against. Returns the session ids.
    """
    from mirrorvr.catalog.importer import import_session_folder

    planned = planned_sessions or trajectory.n_sessions
    catalog.register_patient(pseudonym)
    catalog.plan_course(pseudonym, course, protocol, planned)
    instruments: dict[str, Instrument] = {}
    ids = []
    for k in range(1, trajectory.n_sessions + 1):
        if progress is not None:
            progress(k - 1, trajectory.n_sessions, f"session {k}")
        pre = trajectory.answers(load_instrument("nrs"), k, "before")["pain"]
        post = trajectory.answers(load_instrument("nrs"), k, "after")["pain"]
        folder = run_session(k, pre, post)
        session_id = import_session_folder(catalog, folder, course=course, course_position=k)
        if catalog.session(session_id).pseudonym != pseudonym:
            raise CatalogError(f"session {k} of {pseudonym!r}'s course was recorded for "
                                  f"{catalog.session(session_id).pseudonym!r} ({folder})")
        blocks = catalog.blocks(session_id)
        start_s = blocks[0].start_s if blocks else 0.0
        end_s = (blocks[-1].end_s or blocks[-1].start_s) if blocks else 0.0
        for when, t_s in (("before", start_s), ("after", end_s)):
            for name in schedule.due(k, planned, when):
                if name == "nrs":  # the session's own rating blocks answered it
                    continue
                instrument = instruments.setdefault(name, load_instrument(name))
                result = administer(instrument, trajectory, k, when, t_s)
                catalog.add_outcome(session_id, name, result.answers, result.scores, t_s,
                                    timepoint="pre" if when == "before" else "post",
                                    instrument_version=instrument.version)
        ids.append(session_id)
    if progress is not None:
        progress(trajectory.n_sessions, trajectory.n_sessions, "done")
    return ids
