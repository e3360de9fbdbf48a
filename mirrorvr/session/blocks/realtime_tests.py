"""The real-time tests of a live decoder as blocks: BioPatRec's Motion Test and the TAC test
(REFERENCES.md). Scoring is :mod:`mirrorvr.emg.realtime_tests`' (the offline runs use the
same); no stimulation."""

from __future__ import annotations

import bisect
import json
import threading

import numpy as np

from mirrorvr.emg.intent import Intent
from mirrorvr.emg.realtime_tests import (
    MotionTestResult,
    TacTestResult,
    TacTrialScorer,
    motion_summary,
    score_motion_trial,
)
from mirrorvr.emg.source import EmgChunk
from mirrorvr.limb.poses import blended_pose
from mirrorvr.limb.skeleton import Pose
from mirrorvr.session.blocks.base import BlockView
from mirrorvr.session.blocks.movement import PhantomBlock

#: When a TAC test frame is saved, after its cue: reaction + display delay + part of the way.
TAC_CAPTURE_S = 1.6


class MotionTestBlock(PhantomBlock):
    """The Motion Test: the decoded movement drives the limb as in a phantom block; every
    decision is kept for scoring."""

    kind = "motion_test"

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        self.decisions: list[Intent] = []

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list[Intent]:
        intents = super().on_emg(chunk, now_s)
        self.decisions.extend(intents)
        return intents

    def result(self) -> MotionTestResult:
        """The :class:`~mirrorvr.emg.realtime_tests.MotionTestResult` of the block's cues."""
        needed = self.spec.correct_needed
        trials = [score_motion_trial(c.movement, self.start_s + c.start_s, self.decisions,
                                     needed, c.end_s - c.start_s, c.repetition)
                  for c in self.cues]
        return MotionTestResult(tuple(trials), needed, self.spec.timeout_s,
                                motion_summary(trials))

    def finish(self) -> None:
        result = self.result()
        self.ctx.results[self.name] = result.to_dict()
        self.ctx.marker("motion_test " + json.dumps(result.summary))


class TacTestBlock(PhantomBlock):
    """The TAC test: per cue, the decoded movement moves the TAC posture (scored by
    :class:`~mirrorvr.emg.realtime_tests.TacTrialScorer`), shown D after each decision with
    the target posture as a ghost limb; between cues the limb rests."""

    kind = "tac_test"

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        s, movements = self.spec, tuple(self.decoder.model.movements)
        self.scorers = [
            TacTrialScorer(c.movement, movements, start_s + c.start_s, c.repetition,
                           target_distance=s.target_distance, allowance=s.allowance,
                           dwell_s=s.dwell_s, timeout_s=c.end_s - c.start_s)
            for c in self.cues]
        # per trial: presentation times (s) and the postures shown from then, (n_dofs,)
        self._shown_s: list[list[float]] = [[] for _ in self.scorers]
        self._shown: list[list[np.ndarray]] = [[] for _ in self.scorers]
        self._lock = threading.Lock()  # the render thread reads what the control thread adds

    def trial_at(self, t_s: float) -> int | None:
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
                    self._shown_s[k].append(now_s + self.ctx.presentation_delay_s)
                    shown.append(position)
        return intents

    def posture_at(self, t_s: float) -> tuple[int, np.ndarray] | None:
        """The trial shown at ``t_s`` and its posture then, ``(n_dofs,)`` (0 before its
        first decision is shown); None between trials."""
        k = self.trial_at(t_s)
        if k is None:
            return None
        with self._lock:
            i = bisect.bisect_right(self._shown_s[k], t_s)
            position = self._shown[k][i - 1] if i else np.zeros_like(self.scorers[k].target)
        return k, position

    def _pose(self, levels: dict[str, float]) -> Pose:
        return blended_pose(levels, self.ctx.affected, self.ctx.limb)

    def frame(self, photon_s: float) -> BlockView:
        shown = self.posture_at(photon_s)
        if shown is None:
            return BlockView(self._pose({}), self.cue_text(photon_s))
        k, position = shown
        scorer = self.scorers[k]
        return BlockView(self._pose(scorer.limb.movement_levels(position)),
                         self.cue_text(photon_s),
                         ghost=self._pose(scorer.limb.movement_levels(scorer.target)))

    def completed_at(self, t_s: float) -> bool:
        """Whether the trial cued at ``t_s`` is completed and shown so by then."""
        k = self.trial_at(t_s)
        done = None if k is None else self.scorers[k].done_at_s
        return done is not None and done + self.ctx.presentation_delay_s <= t_s

    def cue_text(self, t_s: float) -> str:
        cue = self.cue_at(t_s)
        if cue is None:
            return self.ctx.texts.relax
        if self.completed_at(t_s):
            return "Target reached - relax"
        return f"{self.ctx.texts.movement(cue.movement)} to the outline and hold"

    def capture_into_cue_s(self, cue) -> float:
        """The limb on its way to the target (not after it was reached)."""
        return TAC_CAPTURE_S

    def result(self) -> TacTestResult:
        """The trials' result (a trial not completed by the end of its cue timed out)."""
        settings = self.scorers[0].settings() if self.scorers else {}
        return TacTestResult.from_trials([s.trial() for s in self.scorers], settings)

    def finish(self) -> None:
        result = self.result()
        self.ctx.results[self.name] = result.to_dict()
        self.ctx.marker("tac_test " + json.dumps(result.summary))
