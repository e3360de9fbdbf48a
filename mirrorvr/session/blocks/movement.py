"""Blocks whose virtual limb moves with cued or decoded movements: phantom (PME), imagery,
guided (optionally EMG-triggered)."""

from __future__ import annotations

from mirrorvr.emg.intent import Intent
from mirrorvr.emg.source import EmgChunk
from mirrorvr.movements import REST
from mirrorvr.session.blocks.base import Block

#: A decoded level must change by more than this to re-plan the limb (limits plan growth).
LEVEL_STEP = 0.02


class _CuedBlock(Block):
    """A block whose movements enter the plan: targets older than a second are let go."""

    def step(self, now_s: float) -> None:
        self.ctx.plan.prune_before(now_s - 1.0)


class PhantomBlock(_CuedBlock):
    """Phantom motor execution: decoded intents drive the limb, D after detection."""

    kind = "phantom"
    source = "decoder"

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        self.decoder = self.ctx.decoder
        self._shown = (REST, 0.0)

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list[Intent]:
        intents = self.decoder.process(chunk)
        for intent in intents:
            self._apply(intent, now_s)
        return intents

    def _apply(self, intent: Intent, now_s: float) -> None:
        movement = intent.movement
        level = intent.level if movement != REST else 0.0
        shown_movement, shown_level = self._shown
        present_s = now_s + self.ctx.presentation_delay_s
        plan = self.ctx.plan
        if movement != shown_movement:
            plan.add_target(present_s, movement, level)
            if movement != REST:
                self.onset(plan.add_onset(present_s, movement, self.source, detected_s=now_s))
            self._shown = (movement, level)
        elif abs(level - shown_level) > LEVEL_STEP:
            plan.add_target(present_s, movement, level)
            self._shown = (movement, level)

    def cue_text(self, t_s: float) -> str:
        cue = self.cue_at(t_s)
        return self.ctx.texts.relax if cue is None else self.ctx.texts.phantom(cue.movement)


class GuidedBlock(_CuedBlock):
    """A cue timeline the virtual limb plays. Onsets are known ahead (exact stimulation);
    with ``emg_triggered`` each movement plays when the decoder detects its attempt."""

    kind = "guided"

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        self._triggered: set[int] = set()
        if self.spec.emg_triggered:
            self.decoder = self.ctx.decoder
            return
        # played D after each cue (D covers the stimulation path where the block
        # stimulates, so a cue at the block's start can still be met)
        plan, delay_s = self.ctx.plan, self.ctx.presentation_delay_s
        for cue in self.cues:
            onset = start_s + cue.start_s + delay_s
            plan.add_target(onset, cue.movement, 1.0)
            plan.add_target(start_s + cue.end_s + delay_s, REST, 0.0)
            self.onset(plan.add_onset(onset, cue.movement, "cue"))

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list[Intent]:
        if not self.spec.emg_triggered:
            return []
        intents = self.decoder.process(chunk)
        plan, delay_s = self.ctx.plan, self.ctx.presentation_delay_s
        for intent in intents:
            k, cue = self._cue_index_at(intent.t_s)
            if cue is None or k in self._triggered or intent.movement != cue.movement:
                continue
            self._triggered.add(k)
            present_s = now_s + delay_s
            plan.add_target(present_s, cue.movement, 1.0)
            plan.add_target(max(present_s, self.start_s + cue.end_s) + delay_s, REST, 0.0)
            self.onset(plan.add_onset(present_s, cue.movement, "decoder", detected_s=now_s))
        return intents

    def _cue_index_at(self, t_s: float):
        rel = t_s - self.start_s
        for k, cue in enumerate(self.cues):
            if cue.start_s <= rel < cue.end_s:
                return k, cue
        return None, None

    def cue_text(self, t_s: float) -> str:
        cue = self.cue_at(t_s)
        if cue is None:
            return self.ctx.texts.relax
        if self.spec.emg_triggered:
            return f"{self.ctx.texts.phantom(cue.movement)} - it moves when you try"
        return self.ctx.texts.phantom(cue.movement)

    def finish(self) -> None:
        if self.spec.emg_triggered:
            self.ctx.results[self.name] = {"cues": len(self.cues),
                                           "triggered": len(self._triggered)}


class ImageryBlock(_CuedBlock):
    """Phantom motor imagery: the limb plays the cue timeline; no EMG control, no
    stimulation (the EMG is still recorded)."""

    kind = "imagery"

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        plan = self.ctx.plan
        for cue in self.cues:
            plan.add_target(start_s + cue.start_s, cue.movement, 1.0)
            plan.add_target(start_s + cue.end_s, REST, 0.0)
            plan.add_onset(start_s + cue.start_s, cue.movement, "cue")

    def cue_text(self, t_s: float) -> str:
        cue = self.cue_at(t_s)
        return self.ctx.texts.relax if cue is None else self.ctx.texts.imagery(cue.movement)
