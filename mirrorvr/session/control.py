"""Per-mode control: what moves the affected-side limb, written into the movement plan.

- calibration (guided): cue onsets are known ahead, so targets are planned at block start;
- phantom: decoded EMG; a decision at ``t`` is shown at ``t + D``;
- mirror: the intact hand's pose; a sample at ``t`` is shown, reflected, at ``t + D``;
- motion test / TAC test: the real-time tests of REFERENCES.md on the live decoder.

``D`` is the presentation delay, chosen by the runner so both the visual and the stimulation
paths can meet the onset. Each controller calls ``on_onset(entry)`` for every movement onset
so the runner can schedule stimulation for it.
"""

from __future__ import annotations

import bisect
import logging
import threading
from typing import Callable

import numpy as np

from mirrorvr.emg.intent import Intent
from mirrorvr.emg.realtime_tests import TacTestResult, TacTrialScorer
from mirrorvr.emg.source import EmgChunk
from mirrorvr.limb.mirror import mirror_pose
from mirrorvr.limb.poses import blended_pose
from mirrorvr.limb.skeleton import Pose
from mirrorvr.movements import REST, movement_limb
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


class TacTestController:
    """The TAC test on the live decoder: per cue, the decoded movement moves the TAC posture
    (:class:`~mirrorvr.emg.realtime_tests.TacTrialScorer`, which also scores the trial) and
    the limb shows it ``delay_s`` after each decision, with the target posture as a ghost
    limb; between cues the limb rests. No stimulation.

    With a simulated ``patient`` it also plays the person watching the screen
    (:meth:`TacTrialScorer.attempt` on the posture shown): the cue's attempt itself comes
    from the session's patient script; this adds relaxing near the target and corrections,
    each ``reaction_s`` after it is decided. The person relaxes early by the distance the
    limb still moves in ``reaction_s + delay_s`` at ``level``.

    Parameters
    ----------
    decoder : Decoder
        Trained; its ``movements`` define the posture's degrees of freedom.
    block : Block
        A ``tac_test`` block; each cue is one trial, its time-out the cue's length.
    block_start_s, delay_s : float
        Session time of the block's start and the presentation delay D, s.
    target_distance, allowance, dwell_s : float
        As in :class:`~mirrorvr.emg.realtime_tests.TacTrialScorer`.
    patient : SimulatedPatient or None
    reaction_s, level : float
        The simulated patient's reaction time (s) and attempt level ([0, 1]).
    """

    source = "decoder"

    def __init__(self, decoder, block: Block, block_start_s: float, delay_s: float, *,
                 target_distance: float, allowance: float, dwell_s: float,
                 patient=None, reaction_s: float = 0.2, level: float = 0.7) -> None:
        self.decoder = decoder
        self.delay_s = float(delay_s)
        movements = tuple(decoder.movements)
        self.scorers = [
            TacTrialScorer(c.movement, movements, block_start_s + c.start_s, c.repetition,
                           target_distance=target_distance, allowance=allowance,
                           dwell_s=dwell_s, timeout_s=c.end_s - c.start_s)
            for c in block.cues
        ]
        active = [m for m in movements if m != REST]
        self.limb = movement_limb(active[0]) if active else "upper"
        self.patient, self.reaction_s, self.level = patient, float(reaction_s), float(level)
        self._attempting = [c.movement for c in block.cues]
        # per trial: presentation times (s) and the postures shown from then, (n_dofs,)
        self._shown_s: list[list[float]] = [[] for _ in self.scorers]
        self._shown: list[list[np.ndarray]] = [[] for _ in self.scorers]
        self._lock = threading.Lock()  # the render thread reads what the control thread adds

    def _trial_at(self, t_s: float) -> int | None:
        """Index of the trial whose cue spans ``t_s``, or None."""
        for k, s in enumerate(self.scorers):
            if s.cue_s <= t_s < s.end_s:
                return k
        return None

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list[Intent]:
        intents = self.decoder.process(chunk)
        if not intents:
            return intents
        for k, scorer in enumerate(self.scorers):
            if intents[-1].t_s < scorer.cue_s or intents[0].t_s > scorer.end_s:
                continue
            scorer.add(intents)
            position = scorer.limb.position.copy()
            with self._lock:
                shown = self._shown[k]
                if not shown or not np.array_equal(shown[-1], position):
                    self._shown_s[k].append(now_s + self.delay_s)
                    shown.append(position)
        return intents

    def posture_at(self, t_s: float) -> tuple[int, np.ndarray] | None:
        """The trial shown at session time ``t_s`` and its posture then, ``(n_dofs,)``
        (0 before its first decision is shown); None between trials."""
        k = self._trial_at(t_s)
        if k is None:
            return None
        with self._lock:
            i = bisect.bisect_right(self._shown_s[k], t_s)
            position = self._shown[k][i - 1] if i else np.zeros_like(self.scorers[k].target)
        return k, position

    def pose_at(self, t_s: float, side: str) -> Pose:
        """The limb's pose at ``t_s`` (s): the TAC posture shown, or rest between trials."""
        shown = self.posture_at(t_s)
        if shown is None:
            return blended_pose({}, side, self.limb)
        k, position = shown
        return blended_pose(self.scorers[k].limb.movement_levels(position), side, self.limb)

    def ghost_at(self, t_s: float, side: str) -> Pose | None:
        """The target posture as a pose while a trial's cue is up at ``t_s``, else None."""
        k = self._trial_at(t_s)
        if k is None:
            return None
        scorer = self.scorers[k]
        return blended_pose(scorer.limb.movement_levels(scorer.target), side, self.limb)

    def completed_at(self, t_s: float) -> bool:
        """Whether the trial cued at ``t_s`` is completed and shown so by then."""
        k = self._trial_at(t_s)
        done = None if k is None else self.scorers[k].done_at_s
        return done is not None and done + self.delay_s <= t_s

    def step(self, now_s: float) -> None:
        k = self._trial_at(now_s)
        if self.patient is None or k is None:
            return
        scorer, attempting = self.scorers[k], self._attempting[k]
        if scorer.completed:
            want, share = REST, 0.0
        else:
            shown = self.posture_at(now_s)
            lead = scorer.speed_per_s * self.level * (self.reaction_s + self.delay_s)
            want, share = scorer.attempt(attempting, lead, position=shown[1])
        if want != attempting:
            self._attempting[k] = want
            self.patient.set_intent(want, 0.0 if want == REST else share * self.level,
                                    now_s + self.reaction_s)

    def result(self) -> TacTestResult:
        """The :class:`~mirrorvr.emg.realtime_tests.TacTestResult` of the block's trials (a
        trial not completed by the end of its cue timed out)."""
        settings = self.scorers[0].settings() if self.scorers else {}
        return TacTestResult.from_trials([s.trial() for s in self.scorers], settings)


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
