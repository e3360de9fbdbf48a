"""Real-time tests of a myoelectric decoder: the Motion Test and the TAC test (REFERENCES.md).

Both run on the session clock against a live decoder: they cue a movement, feed every chunk
of the source to ``decoder.process`` and score the decisions (:class:`~mirrorvr.emg.intent.Intent`).
On a :class:`~mirrorvr.clock.FakeClock` with a :class:`~mirrorvr.emg.simulator.SimulatedPatient`
they run faster than real time and are deterministic; with a real clock and board, show the
cue through ``on_cue`` and let the person attempt it.

**Motion Test** (BioPatRec). Per trial a movement is cued; decisions are scored from the
first *movement decision* (the first non-rest decision after the cue):

- response time: first movement decision − cue, s (reaction + onset + decoder delay);
- selection time: first correct decision − first movement decision, s;
- completion time: the ``correct_needed``-th (20) correct decision − first movement decision, s;
- completed: the 20 correct decisions came within ``timeout_s`` of the cue;
- real-time accuracy: correct / all decisions from the first movement decision to completion
  (or time-out).

Summary: completion rate (share of trials completed), mean selection and completion time
(of completed trials), mean real-time accuracy, and all per movement.

**TAC test** (Target Achievement Control). The decoded movement drives a virtual limb: each
decision moves the limb's posture along its class's degree of freedom (antagonists share one,
e.g. hand open −, hand close +) by ``speed_per_s · level · increment``. A target posture lies
``target_distance`` along the cued movement; the trial completes when every degree of
freedom is within ``allowance`` of the target continuously for ``dwell_s`` (1 s), and fails
at ``timeout_s`` (15 s). Per trial: completed, completion time (cue → end of the dwell, s)
and path efficiency (straight-line distance start → target / length of the path actually
travelled up to completion, %). Summary: completion rate, mean completion time and path
efficiency of completed trials.

Results are data (:class:`MotionTestResult`, :class:`TacTestResult`) with ``to_dict`` and
``save_json``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.movements import REST
from mirrorvr.sim.defaults import ATTEMPT_LEVEL, REACTION_S

logger = logging.getLogger(__name__)

#: Degree of freedom and direction each movement drives in the TAC test.
DOF_OF_MOVEMENT: dict[str, tuple[str, float]] = {
    "hand_open": ("grip", -1.0), "hand_close": ("grip", 1.0),
    "power_grasp": ("grip", 1.0),
    "wrist_flexion": ("wrist_flexion_extension", 1.0),
    "wrist_extension": ("wrist_flexion_extension", -1.0),
    "pronation": ("forearm_rotation", 1.0), "supination": ("forearm_rotation", -1.0),
    "radial_deviation": ("wrist_deviation", 1.0), "ulnar_deviation": ("wrist_deviation", -1.0),
    "ankle_dorsiflexion": ("ankle_dorsi_plantar", 1.0),
    "ankle_plantarflexion": ("ankle_dorsi_plantar", -1.0),
    "ankle_inversion": ("ankle_inversion_eversion", 1.0),
    "ankle_eversion": ("ankle_inversion_eversion", -1.0),
    "toe_flexion": ("toes", 1.0), "toe_extension": ("toes", -1.0),
    "knee_extension": ("knee", 1.0), "knee_flexion": ("knee", -1.0),
}


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{name}: {value!r} must be a finite number > 0")


def _active(movements: Sequence[str]) -> list[str]:
    active = [m for m in movements if m != REST]
    if not active:
        raise ConfigError(f"movements: {list(movements)!r} has no movement besides rest")
    return active


class _Driver:
    """Feeds a source's chunks to a decoder on a clock; scripts a simulated patient."""

    def __init__(self, decoder, source, clock, patient, on_cue, level, reaction_s, poll_s):
        self.decoder, self.source, self.clock = decoder, source, clock
        self.patient, self.on_cue = patient, on_cue
        self.level, self.reaction_s, self.poll_s = level, reaction_s, poll_s

    def cue(self, movement: str) -> float:
        t = self.clock.now()
        if self.on_cue is not None:
            self.on_cue(movement, t)
        if self.patient is not None:
            self.patient.set_intent(movement, 0.0 if movement == REST else self.level,
                                    t + self.reaction_s)
        return t

    def step(self) -> list:
        """Advance one poll period and return the decisions it produced."""
        self.clock.sleep_until(self.clock.now() + self.poll_s)
        chunk = self.source.read()
        return self.decoder.process(chunk) if chunk is not None and chunk.n_samples else []

    def rest(self, seconds: float) -> None:
        self.cue(REST)
        end = self.clock.now() + seconds
        while self.clock.now() < end - 1e-9:
            self.step()

    def start(self) -> None:
        self.source.read()  # drop what came before the test
        self.decoder.reset()


# ---------------------------------------------------------------------------- Motion Test


@dataclass(frozen=True)
class MotionTrial:
    """One Motion Test trial (times in s, relative to the first movement decision)."""

    movement: str
    repetition: int
    cue_s: float
    completed: bool
    response_time_s: float | None
    selection_time_s: float | None
    completion_time_s: float | None
    accuracy: float | None
    n_decisions: int


@dataclass(frozen=True)
class MotionTestResult:
    """Motion Test results: the trials and their summary."""

    trials: tuple[MotionTrial, ...]
    correct_needed: int
    timeout_s: float
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"test": "motion", "correct_needed": self.correct_needed,
                "timeout_s": self.timeout_s, "summary": self.summary,
                "trials": [asdict(t) for t in self.trials]}

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _overall_and_per_movement(trials: Sequence, summarise: Callable[[list], dict]) -> dict:
    """``summarise`` of all trials, with ``per_movement``: the same of each movement's."""
    out = summarise(list(trials))
    out["per_movement"] = {m: summarise([t for t in trials if t.movement == m])
                           for m in dict.fromkeys(t.movement for t in trials)}
    return out


def motion_summary(trials: Sequence[MotionTrial]) -> dict:
    def block(ts):
        done = [t for t in ts if t.completed]
        return {
            "n_trials": len(ts),
            "completion_rate": len(done) / len(ts) if ts else 0.0,
            "response_time_s": _mean(t.response_time_s for t in ts),
            "selection_time_s": _mean(t.selection_time_s for t in ts),
            "completion_time_s": _mean(t.completion_time_s for t in done),
            "realtime_accuracy": _mean(t.accuracy for t in ts),
        }

    return _overall_and_per_movement(trials, block)


def score_motion_trial(movement: str, cue_s: float, decisions: Sequence, correct_needed: int = 20,
                       timeout_s: float = 5.0, repetition: int = 0) -> MotionTrial:
    """Score one trial from its decisions (Intents with ``t_s`` and ``movement``)."""
    ds = [d for d in decisions if cue_s <= d.t_s <= cue_s + timeout_s + 1e-9]
    first = next((i for i, d in enumerate(ds) if d.movement != REST), None)
    if first is None:
        return MotionTrial(movement, repetition, cue_s, False, None, None, None, None, 0)
    t0 = ds[first].t_s
    scored, correct, selection, completion = [], 0, None, None
    for d in ds[first:]:
        scored.append(d)
        if d.movement == movement:
            correct += 1
            if selection is None:
                selection = d.t_s - t0
            if correct >= correct_needed:
                completion = d.t_s - t0
                break
    return MotionTrial(
        movement=movement, repetition=repetition, cue_s=cue_s,
        completed=completion is not None, response_time_s=t0 - cue_s,
        selection_time_s=selection,
        completion_time_s=completion, accuracy=correct / len(scored),
        n_decisions=len(scored),
    )


def run_motion_test(
    decoder,
    source,
    clock,
    movements: Sequence[str],
    repetitions: int = 3,
    *,
    patient=None,
    on_cue: Callable[[str, float], None] | None = None,
    level: float = ATTEMPT_LEVEL,
    reaction_s: float = REACTION_S,
    timeout_s: float = 5.0,
    rest_s: float = 2.0,
    correct_needed: int = 20,
    poll_s: float = 0.05,
) -> MotionTestResult:
    """Run the Motion Test: each non-rest movement ``repetitions`` times, rest between.

    Parameters
    ----------
    decoder : Decoder
        Trained; ``process(chunk) -> list[Intent]``.
    source : EmgSource
        Started.
    clock : Clock
        ``now`` and ``sleep_until`` (FakeClock: faster than real time).
    patient : SimulatedPatient or None
        Scripted to attempt each cue ``reaction_s`` after it at ``level``.
    on_cue : callable or None
        ``on_cue(movement, t_s)`` at every cue (show it to a person, record a marker).
    timeout_s : float
        A trial ends at ``timeout_s`` after its cue, s.
    correct_needed : int
        Correct decisions that complete a trial (BioPatRec: 20).
    """
    _check_positive(timeout_s=timeout_s, rest_s=rest_s, poll_s=poll_s)
    if int(correct_needed) != correct_needed or correct_needed < 1:
        raise ConfigError(f"correct_needed: {correct_needed!r} must be a positive integer")
    if int(repetitions) != repetitions or repetitions < 1:
        raise ConfigError(f"repetitions: {repetitions!r} must be a positive integer")
    drive = _Driver(decoder, source, clock, patient, on_cue, level, reaction_s, poll_s)
    drive.start()
    drive.rest(rest_s)
    trials = []
    for rep in range(int(repetitions)):
        for movement in _active(movements):
            cue_s = drive.cue(movement)
            decisions = []
            while clock.now() < cue_s + timeout_s - 1e-9:
                decisions += drive.step()
                trial = score_motion_trial(movement, cue_s, decisions, correct_needed,
                                           timeout_s, rep)
                if trial.completed:
                    break
            trials.append(trial)
            logger.info("motion test %s rep %d: %s", movement, rep,
                        "completed" if trial.completed else "not completed")
            drive.rest(rest_s)
    return MotionTestResult(tuple(trials), int(correct_needed), float(timeout_s),
                            motion_summary(trials))


# ---------------------------------------------------------------------------- TAC test


@dataclass(frozen=True)
class TacTrial:
    """One TAC trial: time from the cue, s; path efficiency in %."""

    movement: str
    repetition: int
    cue_s: float
    completed: bool
    completion_time_s: float | None
    path_efficiency_pct: float | None
    path_length: float
    final_distance: float


@dataclass(frozen=True)
class TacTestResult:
    """TAC test results: the trials and their summary."""

    trials: tuple[TacTrial, ...]
    settings: dict
    summary: dict = field(default_factory=dict)

    @classmethod
    def from_trials(cls, trials: Sequence[TacTrial], settings: dict) -> TacTestResult:
        """The result of ``trials`` with their summary (completion rate, mean completion
        time and path efficiency of the completed trials, all and per movement)."""
        return cls(tuple(trials), dict(settings), _tac_summary(trials))

    def to_dict(self) -> dict:
        return {"test": "tac", "settings": self.settings, "summary": self.summary,
                "trials": [asdict(t) for t in self.trials]}

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


class VirtualPosture:
    """The TAC test's virtual limb: one coordinate per degree of freedom, in [-1, 1].

    ``movements`` (rest is ignored) define the degrees of freedom (:data:`DOF_OF_MOVEMENT`;
    a movement not listed there gets a degree of freedom of its own).
    """

    def __init__(self, movements: Sequence[str]) -> None:
        self.movements = tuple(_active(movements))
        dofs = {}
        for m in self.movements:
            dof, _ = DOF_OF_MOVEMENT.get(m, (m, 1.0))
            dofs.setdefault(dof, len(dofs))
        self.dof_index = dofs
        self.position = np.zeros(len(dofs))

    def direction(self, movement: str) -> np.ndarray:
        """Unit vector a movement drives the posture along."""
        v = np.zeros(len(self.dof_index))
        if movement == REST:
            return v
        dof, sign = DOF_OF_MOVEMENT.get(movement, (movement, 1.0))
        if dof in self.dof_index:
            v[self.dof_index[dof]] = sign
        return v

    def move(self, movement: str, distance: float) -> float:
        """Move along ``movement`` by ``distance`` (clipped to [-1, 1]); returns the step."""
        before = self.position.copy()
        self.position = np.clip(self.position + distance * self.direction(movement), -1, 1)
        return float(np.linalg.norm(self.position - before))

    def movement_levels(self, position: np.ndarray | None = None) -> dict[str, float]:
        """The movements a posture shows, ``{movement: level in (0, 1]}``.

        ``position`` (``(n_dofs,)``, default the current one): each non-zero coordinate is
        the first of ``movements`` that drives its degree of freedom that way, at the
        coordinate's magnitude (e.g. grip -0.4 -> ``{"hand_open": 0.4}``).
        """
        position = self.position if position is None else np.asarray(position, dtype=float)
        if position.shape != self.position.shape:
            raise ConfigError(f"position: shape {position.shape} given, expected "
                              f"{self.position.shape} (one coordinate per degree of freedom)")
        levels = {}
        for dof, i in self.dof_index.items():
            c = float(position[i])
            if c == 0.0:
                continue
            sign = 1.0 if c > 0 else -1.0
            shown = next((m for m in self.movements
                          if DOF_OF_MOVEMENT.get(m, (m, 1.0)) == (dof, sign)), None)
            if shown is not None:
                levels[shown] = min(1.0, abs(c))
        return levels


def _check_tac(target_distance: float, allowance: float, dwell_s: float, timeout_s: float,
               speed_per_s: float) -> None:
    _check_positive(target_distance=target_distance, allowance=allowance, dwell_s=dwell_s,
                    timeout_s=timeout_s, speed_per_s=speed_per_s)
    if allowance >= target_distance:
        raise ConfigError(
            f"allowance: {allowance!r} must be smaller than target_distance ({target_distance})"
        )
    if target_distance > 1.0:
        raise ConfigError(f"target_distance: {target_distance!r} must be <= 1 (the posture's "
                          "range is [-1, 1])")


class TacTrialScorer:
    """One TAC trial, scored decision by decision: the one scoring path of the TAC test
    (:func:`run_tac_test` and the session's TAC block both use it).

    The posture starts at 0; the target lies ``target_distance`` along ``movement``. Each
    decision (an :class:`~mirrorvr.emg.intent.Intent` with ``t_s``, ``movement``, ``level``)
    from the cue on moves the posture ``speed_per_s · level · Δt`` along its own movement
    (Δt: time since the previous decision, or since the cue; rest holds it). The trial
    completes when every degree of freedom has been within ``allowance`` of the target for
    ``dwell_s``, and fails when ``timeout_s`` passes first; decisions before the cue, after
    the time-out or after completion are ignored.

    Parameters
    ----------
    movement : str
        The cued movement.
    movements : sequence of str
        The decoder's classes: they define the posture's degrees of freedom.
    cue_s : float
        Session time of the cue, s.
    repetition : int
    target_distance, allowance : float
        In posture units (the posture's range is [-1, 1]); ``allowance < target_distance``.
    dwell_s, timeout_s : float
        s.
    speed_per_s : float
        Posture units per second at level 1.
    """

    def __init__(self, movement: str, movements: Sequence[str], cue_s: float,
                 repetition: int = 0, *, target_distance: float = 0.6,
                 allowance: float = 0.1, dwell_s: float = 1.0, timeout_s: float = 15.0,
                 speed_per_s: float = 0.5) -> None:
        _check_tac(target_distance, allowance, dwell_s, timeout_s, speed_per_s)
        if movement == REST or movement not in movements:
            raise ConfigError(f"movement: {movement!r} is not one of the movements "
                              f"(allowed: {_active(movements)})")
        self.movement, self.repetition, self.cue_s = movement, int(repetition), float(cue_s)
        self.target_distance, self.allowance = float(target_distance), float(allowance)
        self.dwell_s, self.timeout_s = float(dwell_s), float(timeout_s)
        self.speed_per_s = float(speed_per_s)
        self.limb = VirtualPosture(movements)
        #: the target posture, (n_dofs,)
        self.target = self.target_distance * self.limb.direction(movement)
        self.path_length = 0.0
        self.done_at_s: float | None = None
        self._inside_since: float | None = None
        self._last_t = self.cue_s

    @property
    def end_s(self) -> float:
        """Session time of the time-out, s."""
        return self.cue_s + self.timeout_s

    @property
    def completed(self) -> bool:
        return self.done_at_s is not None

    def add(self, decisions) -> bool:
        """Apply ``decisions`` (in time order); returns whether the trial is completed."""
        for d in decisions:
            if self.done_at_s is not None:
                break
            if d.t_s < self.cue_s or d.t_s > self.end_s + 1e-9:
                continue
            self.path_length += self.limb.move(
                d.movement, self.speed_per_s * d.level * (d.t_s - self._last_t))
            self._last_t = d.t_s
            inside = np.max(np.abs(self.limb.position - self.target)) <= self.allowance + 1e-12
            if not inside:
                self._inside_since = None
            elif self._inside_since is None:
                self._inside_since = d.t_s
            elif d.t_s - self._inside_since >= self.dwell_s - 1e-9:
                self.done_at_s = d.t_s
        return self.completed

    def attempt(self, attempting: str, lead: float,
                position: np.ndarray | None = None) -> tuple[str, float]:
        """What a person watching the limb attempts next, and at what share of the asked
        level: the cued movement until the limb is ``lead`` short of the allowance
        (anticipating the delay), then rest; when resting outside the allowance, small
        corrections (half the level) along the worst degree of freedom (towards the target,
        or back after an overshoot or a misclassified move).

        Parameters
        ----------
        attempting : str
            What the person attempts now.
        lead : float
            Posture units the limb still moves after the person decides to relax.
        position : (n_dofs,) float or None
            The posture the person sees (default: the scored one; a display shows it later).
        """
        limb = self.limb
        position = limb.position if position is None else np.asarray(position, dtype=float)
        error = self.target - position
        remaining = float(limb.direction(self.movement) @ error)
        if attempting == self.movement and remaining > self.allowance + lead:
            return self.movement, 1.0
        worst = int(np.argmax(np.abs(error)))
        if abs(error[worst]) <= self.allowance:
            return REST, 0.0
        if attempting != REST:
            return REST, 0.0  # relax first, then look again
        dof = next(d for d, i in limb.dof_index.items() if i == worst)
        sign = 1.0 if error[worst] > 0 else -1.0
        fix = [m for m in limb.movements if DOF_OF_MOVEMENT.get(m, (m, 1.0)) == (dof, sign)]
        return (fix[0], 0.5) if fix else (REST, 0.0)

    def trial(self) -> TacTrial:
        """The trial as scored so far (a trial not completed counts as timed out)."""
        # the straight line to the edge of the allowance is the shortest useful path
        optimal = self.target_distance - self.allowance
        done = self.done_at_s
        return TacTrial(
            movement=self.movement, repetition=self.repetition, cue_s=self.cue_s,
            completed=done is not None,
            completion_time_s=None if done is None else done - self.cue_s,
            path_efficiency_pct=(None if done is None or self.path_length <= 0
                                 else 100.0 * min(1.0, optimal / self.path_length)),
            path_length=self.path_length,
            final_distance=float(np.linalg.norm(self.limb.position - self.target)),
        )

    def settings(self) -> dict:
        """The trial's parameters, as :class:`TacTestResult` keeps them."""
        return {"target_distance": self.target_distance, "allowance": self.allowance,
                "dwell_s": self.dwell_s, "timeout_s": self.timeout_s,
                "speed_per_s": self.speed_per_s}


def _tac_summary(trials: Sequence[TacTrial]) -> dict:
    def block(ts):
        done = [t for t in ts if t.completed]
        return {
            "n_trials": len(ts),
            "completion_rate": len(done) / len(ts) if ts else 0.0,
            "completion_time_s": _mean(t.completion_time_s for t in done),
            "path_efficiency_pct": _mean(t.path_efficiency_pct for t in done),
        }

    return _overall_and_per_movement(trials, block)


def run_tac_test(
    decoder,
    source,
    clock,
    movements: Sequence[str],
    repetitions: int = 3,
    *,
    patient=None,
    on_cue: Callable[[str, float], None] | None = None,
    level: float = ATTEMPT_LEVEL,
    reaction_s: float = REACTION_S,
    target_distance: float = 0.6,
    allowance: float = 0.1,
    dwell_s: float = 1.0,
    timeout_s: float = 15.0,
    speed_per_s: float = 0.5,
    rest_s: float = 2.0,
    poll_s: float = 0.05,
) -> TacTestResult:
    """Run the TAC test: reach and hold a target posture per movement.

    Each trial is scored by a :class:`TacTrialScorer` (posture, target, allowance, dwell,
    time-out). A simulated ``patient`` watches the limb like a person
    (:meth:`TacTrialScorer.attempt`): it attempts the cued movement, relaxes when the limb
    is about to enter the allowance (anticipating its reaction time) and attempts the
    antagonist after an overshoot. Other parameters as in :func:`run_motion_test`.
    """
    _check_tac(target_distance, allowance, dwell_s, timeout_s, speed_per_s)
    _check_positive(rest_s=rest_s, poll_s=poll_s)
    tac = {"target_distance": target_distance, "allowance": allowance, "dwell_s": dwell_s,
           "timeout_s": timeout_s, "speed_per_s": speed_per_s}
    drive = _Driver(decoder, source, clock, patient, on_cue, level, reaction_s, poll_s)
    drive.start()
    drive.rest(rest_s)
    lead = speed_per_s * level * reaction_s
    trials = []
    for rep in range(int(repetitions)):
        for movement in _active(movements):
            cue_s = drive.cue(movement)
            scorer = TacTrialScorer(movement, movements, cue_s, rep, **tac)
            attempting = movement
            while not scorer.completed and clock.now() < scorer.end_s - 1e-9:
                if patient is not None:  # the simulated person watches the limb
                    want, share = scorer.attempt(attempting, lead)
                    if want != attempting:
                        attempting = want
                        patient.set_intent(want, 0.0 if want == REST else share * level,
                                           clock.now() + reaction_s)
                scorer.add(drive.step())
            trials.append(scorer.trial())
            logger.info("TAC %s rep %d: %s", movement, rep,
                        "completed" if scorer.completed else "timed out")
            drive.rest(rest_s)
    return TacTestResult.from_trials(trials, {**tac, "level": level})
