"""Blocks that show a screen rather than movements: rating, rest, relaxation."""

from __future__ import annotations

import math

from mirrorvr.outcomes.form import InstrumentForm
from mirrorvr.outcomes.instrument import Instrument, load_instrument
from mirrorvr.render.screens import BreathingView, click_fraction
from mirrorvr.session.blocks.base import Block, BlockView
from mirrorvr.session.estop_control import parse_click
from mirrorvr.session.protocol import BlockPlan, RatingSpec

#: The instrument whose answers also go to the recording's ``ratings`` stream and a
#: ``rating <timepoint> nrs=<value>`` marker (what readers before instruments know), and its
#: item.
NRS_INSTRUMENT, NRS_ITEM = "nrs", "pain"


def rating_timepoint(plan: BlockPlan) -> str:
    """When in the session a rating block is answered: its ``timepoint``, else its name
    without ``rating_`` ("rating_pre" -> "pre")."""
    return plan.spec.timepoint or plan.name.removeprefix("rating_")


def rating_instrument(spec: RatingSpec) -> Instrument:
    """The block's instrument, with the protocol's ``prompt`` for its one question."""
    instrument = load_instrument(spec.instrument)
    if spec.prompt is None:
        return instrument
    item = instrument.items[0].model_copy(update={"prompt": spec.prompt})
    return instrument.model_copy(update={"items": (item,)})


class RatingBlock(Block):
    """An outcome instrument answered on screen, item by item, with keys, a gamepad or
    clicks; the block ends when the last item is answered.

    The answers and scores go to the recording's ``outcomes`` stream, the session's journals
    and ``ctx.results``; an NRS also to the ``ratings`` stream.
    """

    kind = "rating"

    def __init__(self, plan: BlockPlan, ctx) -> None:
        super().__init__(plan, ctx)
        self.instrument = rating_instrument(plan.spec)
        self.timepoint = rating_timepoint(plan)
        self.form = InstrumentForm(self.instrument)
        self.answered_s: float | None = None

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        self.form = InstrumentForm(self.instrument)
        self.answered_s = None

    def handle_key(self, key: str) -> None:
        """A key, gamepad or ``"click X Y"`` (window pixels) event."""
        if self.answered_s is not None:
            return
        click = parse_click(key)
        if click is None:
            self.form.handle_key(key)
        else:
            width, height = self.ctx.screen_size_px
            self.form.handle_click(*click_fraction(*click, width, height, self.ctx.view))
        if self.form.done:
            self._answered(self.ctx.clock.now())

    def _answered(self, now: float) -> None:
        self.answered_s = now
        result = self.form.result(now)
        self.ctx.record_outcome(result, self.timepoint)
        entry = {"instrument": result.instrument, "version": result.version,
                 "name": self.timepoint, "timepoint": self.timepoint,
                 "answers": dict(result.answers), "scores": dict(result.scores), "t_s": now}
        if result.instrument == NRS_INSTRUMENT:
            value = result.answers[NRS_ITEM]
            entry["value"] = value
            self.ctx.record_rating(self.timepoint, float(value), now)
            self.ctx.marker(f"rating {self.timepoint} {NRS_INSTRUMENT}={value}", now)
        self.ctx.results[self.name] = entry

    def done(self, now_s: float) -> bool:
        return self.answered_s is not None

    def frame(self, photon_s: float) -> BlockView:
        return BlockView(self.pose("rest", 0.0), question=self.form.view())


class RestBlock(Block):
    """A message and a pause."""

    kind = "rest"

    def frame(self, photon_s: float) -> BlockView:
        return BlockView(self.pose("rest", 0.0), self.spec.message)


def breathing_view(t_s: float, inhale_s: float, hold_s: float, exhale_s: float) -> BreathingView:
    """The breath ``t_s`` seconds into paced breathing: its phase and how far into it, 0..1."""
    cycle = inhale_s + hold_s + exhale_s
    into = math.fmod(max(0.0, t_s), cycle)
    if into < inhale_s:
        return BreathingView("in", into / inhale_s, "Breathe in slowly")
    if into < inhale_s + hold_s:
        return BreathingView("hold", (into - inhale_s) / hold_s, "Hold")
    return BreathingView("out", (into - inhale_s - hold_s) / exhale_s, "Breathe out slowly")


#: The breathing guide shown over a movement block (6 breaths a minute).
GUIDE_INHALE_S, GUIDE_HOLD_S, GUIDE_EXHALE_S = 4.0, 0.0, 6.0


class RelaxationBlock(Block):
    """A paced-breathing guide: a shape that grows while breathing in, holds, shrinks out."""

    kind = "relaxation"

    def frame(self, photon_s: float) -> BlockView:
        s = self.spec
        breath = breathing_view(photon_s - self.start_s, s.inhale_s, s.hold_s, s.exhale_s)
        return BlockView(self.pose("rest", 0.0), breath.text, breathing=breath)

    def finish(self) -> None:
        s = self.spec
        self.ctx.results[self.name] = {
            "breaths_per_min": round(60.0 / (s.inhale_s + s.hold_s + s.exhale_s), 2)}
