"""Blocks that show a screen rather than movements: rating, rest, relaxation."""

from __future__ import annotations

import math

from mirrorvr.limb.skeleton import Pose
from mirrorvr.render.screens import BreathingView, QuestionView
from mirrorvr.session.blocks.base import Block, BlockView
from mirrorvr.session.ratings import NRS_MAX, NRS_MIN, PROMPT, RatingInput


class RatingBlock(Block):
    """An outcome instrument answered on screen; the block ends when it is answered."""

    kind = "rating"

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        self.input = RatingInput()
        self.answered_s: float | None = None

    def handle_key(self, key: str) -> None:
        if self.answered_s is not None:
            return
        self.input.handle_key(key)
        if self.input.answer is not None:
            now = self.ctx.clock.now()
            self.answered_s = now
            name = self.name.removeprefix("rating_")
            self.ctx.record_rating(name, float(self.input.answer), now)
            self.ctx.marker(f"rating {name} {self.spec.instrument}={self.input.answer}", now)
            self.ctx.results[self.name] = {"instrument": self.spec.instrument, "name": name,
                                           "value": self.input.answer, "t_s": now}

    def done(self, now_s: float) -> bool:
        return self.answered_s is not None

    def frame(self, photon_s: float) -> BlockView:
        question = QuestionView(
            title="Pain intensity (NRS 0-10)", prompt=self.spec.prompt or PROMPT,
            kind="scale", options=tuple(str(v) for v in range(NRS_MIN, NRS_MAX + 1)),
            anchors=("no pain", "worst pain imaginable"), selected=self.input.value,
            hint="digits or arrows, Enter to confirm")
        return BlockView(self._rest(), self.input.screen_text(), question=question)

    def _rest(self) -> Pose:
        return self.pose("rest", 0.0)


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
