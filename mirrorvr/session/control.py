"""Per-mode control: what moves the affected-side limb, written into the movement plan.

- calibration (guided): cue onsets are known ahead, so targets are planned at block start;
- phantom: decoded EMG; a decision at ``t`` is shown at ``t + D``;
- mirror: the intact hand's pose; a sample at ``t`` is shown, reflected, at ``t + D``.

``D`` is the presentation delay, chosen by the runner so both the visual and the stimulation
paths can meet the onset. Each controller calls ``on_onset(entry)`` for every movement onset
so the runner can schedule stimulation for it.
"""

from __future__ import annotations

import logging
from typing import Callable

from mirrorvr.emg.intent import Intent
from mirrorvr.emg.source import EmgChunk
from mirrorvr.limb.mirror import mirror_pose
from mirrorvr.movements import REST
from mirrorvr.session.plan import MovementPlan, PlannedMovement
from mirrorvr.session.protocol import Block

log = logging.getLogger(__name__)

OnOnset = Callable[[PlannedMovement], None]


class PatientScript:
    """Timed intents a simulated patient follows (attempting each cue after a reaction time)."""

    def __init__(self, patient, events: list[tuple[float, str, float]]) -> None:
        self.patient = patient
        self.events = sorted(events)
        self._next = 0

    def step(self, now_s: float) -> None:
        while self._next < len(self.events) and self.events[self._next][0] <= now_s:
            t, movement, level = self.events[self._next]
            if self.patient is not None:
                self.patient.set_intent(movement, level, t)
            self._next += 1


#: Time step of a ramp's level (patient script and the demonstrating virtual hand), s.
RAMP_STEP_S = 0.05


def _ramp_steps(cue) -> list[float]:
    """Times (s from block start) at which a ramp cue's level changes."""
    n = max(2, int(round((cue.end_s - cue.start_s) / RAMP_STEP_S)))
    return [cue.start_s + (cue.end_s - cue.start_s) * k / n for k in range(n)]


def attempts_for(block: Block, block_start_s: float, reaction_s: float, level: float):
    """Patient-script events that attempt every cue of ``block``."""
    events = []
    for cue in block.cues:
        if cue.ramp:  # the level rises linearly to ``level`` and falls back, in steps
            for tau in _ramp_steps(cue):
                events.append((block_start_s + tau + reaction_s, cue.movement,
                               level * cue.ramp_fraction(tau)))
            events.append((block_start_s + cue.end_s + reaction_s, REST, 0.0))
            continue
        events.append(
            (
                block_start_s + cue.start_s + reaction_s,
                cue.movement,
                level if cue.movement != REST else 0.0,
            )
        )
        events.append((block_start_s + cue.end_s + reaction_s, REST, 0.0))
    return events


class GuidedController:
    """Calibration: the virtual hand demonstrates each cue; onsets are exact and known ahead."""

    source = "cue"

    def __init__(
        self, block: Block, block_start_s: float, plan: MovementPlan, on_onset: OnOnset | None
    ) -> None:
        self.chunks: list[EmgChunk] = []
        for cue in block.cues:
            onset = block_start_s + cue.start_s
            if cue.ramp:  # demonstrated at the asked share of full flexion; no onset
                for tau in _ramp_steps(cue):
                    plan.add_target(block_start_s + tau, cue.movement, cue.ramp_fraction(tau))
                plan.add_target(block_start_s + cue.end_s, REST, 0.0)
                continue
            plan.add_target(onset, cue.movement, 1.0 if cue.movement != REST else 0.0)
            plan.add_target(block_start_s + cue.end_s, REST, 0.0)
            if cue.movement != REST:
                entry = plan.add_onset(onset, cue.movement, self.source)
                if on_onset is not None:
                    on_onset(entry)

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list[Intent]:
        self.chunks.append(chunk)
        return []

    def step(self, now_s: float) -> None:
        pass


class PhantomController:
    """Phantom motor execution: decoded intents drive the limb, ``delay_s`` after detection."""

    source = "decoder"

    def __init__(self, decoder, plan: MovementPlan, delay_s: float, on_onset: OnOnset) -> None:
        self.decoder = decoder
        self.plan = plan
        self.delay_s = delay_s
        self.on_onset = on_onset
        self._shown = (REST, 0.0)

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list[Intent]:
        intents = self.decoder.process(chunk)
        for intent in intents:
            self._apply(intent, now_s)
        return intents

    def _apply(self, intent: Intent, now_s: float) -> None:
        movement, level = intent.movement, (intent.level if intent.movement != REST else 0.0)
        shown_movement, shown_level = self._shown
        present_s = now_s + self.delay_s
        if movement != shown_movement:
            self.plan.add_target(present_s, movement, level)
            if movement != REST:
                self.on_onset(
                    self.plan.add_onset(present_s, movement, self.source, detected_s=now_s)
                )
            self._shown = (movement, level)
        elif abs(level - shown_level) > 0.02:
            self.plan.add_target(present_s, movement, level)
            self._shown = (movement, level)

    def step(self, now_s: float) -> None:
        self.plan.prune_before(now_s - 1.0)


class MotionTestController(PhantomController):
    """The Motion Test on the live decoder: the decoded movement drives the limb as in the
    phantom block (no stimulation) and every decision is kept for scoring."""

    def __init__(self, decoder, plan: MovementPlan, delay_s: float) -> None:
        super().__init__(decoder, plan, delay_s, on_onset=lambda entry: None)
        self.decisions: list[Intent] = []

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list[Intent]:
        intents = super().on_emg(chunk, now_s)
        self.decisions.extend(intents)
        return intents

    def result(self, block: Block, block_start_s: float, correct_needed: int = 20):
        """The :class:`~mirrorvr.emg.realtime_tests.MotionTestResult` of the block's cues."""
        from mirrorvr.emg.realtime_tests import (
            MotionTestResult,
            _motion_summary,
            score_motion_trial,
        )

        trials = []
        for cue in block.cues:
            timeout_s = cue.end_s - cue.start_s
            trials.append(score_motion_trial(cue.movement, block_start_s + cue.start_s,
                                             self.decisions, correct_needed, timeout_s,
                                             cue.repetition))
        timeout_s = max((c.end_s - c.start_s for c in block.cues), default=0.0)
        return MotionTestResult(tuple(trials), correct_needed, timeout_s,
                                _motion_summary(trials))


class MirrorController:
    """Mirror therapy: the intact hand's movement, reflected, shown ``delay_s`` later."""

    source = "mirror"

    def __init__(self, tracker, plan: MovementPlan, delay_s: float, on_onset: OnOnset) -> None:
        self.tracker = tracker
        self.plan = plan
        self.delay_s = delay_s
        self.on_onset = on_onset
        self._label = REST

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list[Intent]:
        return []

    def step(self, now_s: float) -> None:
        # The pose itself is reflected at render time (``mirrored_pose_at``); here only the
        # onsets are planned, so stimulation can meet them.
        label = self.tracker.label_at(now_s)
        present_s = now_s + self.delay_s
        if label != self._label:
            if label != REST:
                self.on_onset(self.plan.add_onset(present_s, label, self.source, detected_s=now_s))
            self._label = label

    def mirrored_pose_at(self, photon_s: float):
        """The affected-side pose to show at ``photon_s``.

        It is the intact pose ``delay_s`` earlier, reflected across the midline.
        """
        return mirror_pose(self.tracker.pose_at(photon_s - self.delay_s))
