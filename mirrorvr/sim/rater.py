"""What a simulated patient answers on outcome instruments.

A :class:`Rater` gives the answers to any instrument at a timepoint of a session of the
patient's course; the simulated person then presses the keys for them on the rating
block's own form, item by item (:class:`~mirrorvr.sim.person.SimulatedPerson`). Two raters:
:class:`FixedPain` (a pain level per timepoint, the demo's) and :class:`PainTrajectory` (a
seeded course whose pain falls over the sessions). Both answer every shipped instrument
consistently with the patient's pain at that time (:func:`answers_at_pain`).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mirrorvr.errors import ConfigError, InstrumentError
from mirrorvr.outcomes.form import keys_for_answers
from mirrorvr.outcomes.instrument import Answer, Instrument
from mirrorvr.session.blocks.screens import rating_instrument, rating_timepoint
from mirrorvr.session.protocol import BlockPlan

#: The timepoints of a session a course's pain is known at.
TIMEPOINTS = ("pre", "post")


class Rater(Protocol):
    """Answers outcome instruments as one simulated patient would."""

    def answers(self, instrument: Instrument, timepoint: str, session_number: int
                ) -> dict[str, Answer]:
        """Item id -> answer on ``instrument`` at ``timepoint`` ("pre", "post") of session
        ``session_number`` (1-based place in the course)."""


def answers_at_pain(instrument: Instrument, pain_nrs: float, baseline_nrs: float,
                    rng: np.random.Generator) -> dict[str, Answer]:
    """Answers to ``instrument`` of a patient whose pain is ``pain_nrs`` (NRS 0-10, not
    rounded) and was ``baseline_nrs`` before the treatment began.

    NRS: the pain rounded; VAS: 10 mm per NRS point with a little noise; PGIC: the category
    of the relative change from baseline (>= 50 % very much improved, >= 30 % much, ...);
    pain diary: episodes and minutes that grow with the pain; any other instrument of 0-10
    scales (SF-MPQ-2, BPI interference): each item scattered around the pain.

    Raises
    ------
    InstrumentError
        For an instrument with items this cannot answer (not a 0-10 style scale).
    """
    pain = float(np.clip(pain_nrs, 0, 10))
    if instrument.id == "nrs":
        return {"pain": int(round(pain))}
    if instrument.id == "vas":
        return {"pain": int(np.clip(round(10 * pain + rng.normal(0, 3)), 0, 100))}
    if instrument.id == "pgic":
        change = (baseline_nrs - pain) / baseline_nrs if baseline_nrs > 0 else 0.0
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


def _rng(seed: int, session_number: int, timepoint: str, instrument: Instrument):
    """One generator per answer, the same on every run."""
    return np.random.default_rng([seed, session_number, zlib.crc32(timepoint.encode()),
                                  zlib.crc32(instrument.id.encode())])


@dataclass(frozen=True)
class FixedPain:
    """A pain level per timepoint (NRS), the same at every session: the demo's patient.

    ``levels`` e.g. ``{"pre": 6, "post": 4}``; the baseline (for PGIC) is ``levels["pre"]``
    when given.
    """

    levels: Mapping[str, float]
    seed: int = 0

    def answers(self, instrument: Instrument, timepoint: str, session_number: int
                ) -> dict[str, Answer]:
        if timepoint not in self.levels:
            raise ConfigError(f"simulated ratings: no pain level for timepoint {timepoint!r} "
                              f"(given: {', '.join(self.levels)})")
        pain = float(self.levels[timepoint])
        return answers_at_pain(instrument, pain, float(self.levels.get("pre", pain)),
                               _rng(self.seed, session_number, timepoint, instrument))


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

    def level(self, session_number: int, timepoint: str) -> float:
        """Pain on the NRS scale (not rounded), 0..10, at ``timepoint`` ("pre" or "post")."""
        if not 1 <= session_number <= self.n_sessions:
            raise InstrumentError(f"session_number {session_number!r} (allowed: 1.."
                                  f"{self.n_sessions})")
        if timepoint not in TIMEPOINTS:
            raise InstrumentError(f"timepoint {timepoint!r} (allowed: {', '.join(TIMEPOINTS)})")
        progress = (session_number - 1) / max(1, self.n_sessions - 1)
        shape = (1 - np.exp(-3 * progress)) / (1 - np.exp(-3))
        mean = self.baseline_nrs * (1 - self.final_reduction * shape)
        rng = np.random.default_rng([self.seed, session_number])
        value = mean + rng.normal(0, self.noise_sd)
        if timepoint == "post":
            value -= self.session_relief
        return float(np.clip(value, 0, 10))

    def answers(self, instrument: Instrument, timepoint: str, session_number: int
                ) -> dict[str, Answer]:
        return answers_at_pain(instrument, self.level(session_number, timepoint),
                               self.level(1, "pre"),
                               _rng(self.seed, session_number, timepoint, instrument))


def planned_answers(rater: Rater, plans: Sequence[BlockPlan], session_number: int
                    ) -> dict[str, dict[str, Answer]]:
    """What ``rater`` will answer on each rating block of ``plans``, by block name, checked
    against each block's instrument before the session starts.

    Raises
    ------
    ConfigError, InstrumentError
        Naming the block, when the rater has no answer for it or an answer is not allowed.
    """
    out = {}
    for plan in plans:
        if plan.kind != "rating":
            continue
        instrument = rating_instrument(plan.spec)
        try:
            answers = rater.answers(instrument, rating_timepoint(plan), session_number)
            keys_for_answers(instrument, answers)  # every answer one the form takes
        except (ConfigError, InstrumentError) as err:
            raise type(err)(f"rating block {plan.name!r}: {err}") from None
        out[plan.name] = answers
    return out
