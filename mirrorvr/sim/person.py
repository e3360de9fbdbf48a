"""The simulated patient: a person who watches the screen and does what it asks.

It has a residual limb (:class:`~mirrorvr.emg.simulator.SimulatedPatient` makes its EMG), an
intact limb (a scripted pose source the mirror block reads like any tracker, or the EMG of
electrodes on it, from a second simulated patient) and a pain to report. Like a real
patient it follows the cues the blocks show — a reaction time after each cue appears it
attempts the movement at its usual effort — answers rating screens with key presses,
corrects its TAC attempts from the posture it sees, and feels the stimulator twin's trains
(their artefacts enter its EMG). The runner does not know it is simulated: it is one of the
session's observers.
"""

from __future__ import annotations

import heapq
import itertools

from mirrorvr.movements import REST
from mirrorvr.outcomes.form import keys_for_answers
from mirrorvr.session.blocks.calibration import ramp_steps
from mirrorvr.sim.defaults import ATTEMPT_LEVEL, REACTION_S
from mirrorvr.tracking.scripted import ScriptedIntactHand, ScriptedMovement, ScriptSource

#: It answers a rating screen's items one after the other, the last when the screen's
#: planned time is up, the first not sooner than this after it appeared, s.
MIN_ANSWER_S = 0.5
#: It confirms an answer this long after choosing it, s (at most half an item's time).
CONFIRM_PAUSE_S = 0.3


class SimulatedPerson:
    """Observer of a session that plays the patient.

    Parameters
    ----------
    emg : SimulatedPatient or None
        Its residual limb's EMG (None: the EMG comes from elsewhere, e.g. a playback).
    intact : ScriptSource or None
        Its intact limb as a pose source (mirror blocks); filled from each mirror block's cues.
    answers : dict of rating block name -> (item id -> answer), or None
        What it answers on each rating screen (:func:`mirrorvr.sim.rater.planned_answers`),
        through the screen's keys; None: it does not answer (a real person at the keyboard
        does).
    intact_emg : SimulatedPatient or None
        The EMG of electrodes on its intact limb (``tracker.source = "intact_emg"``): it
        performs each mirror cue with the intact limb, a reaction time after it appears.
    stim_delay_s : float
        Transport + device latency of the stimulator twin: a train's first pulse reaches the
        skin this long after the send, s.
    reaction_s, level : float
        Its reaction time, s, and attempt level (0..1).
    """

    def __init__(self, emg=None, intact: ScriptSource | None = None,
                 answers: dict[str, dict] | None = None, stim_delay_s: float = 0.0,
                 reaction_s: float = REACTION_S, level: float = ATTEMPT_LEVEL,
                 intact_emg=None) -> None:
        self.emg, self.intact, self.answers = emg, intact, answers
        self.intact_emg = intact_emg
        self.stim_delay_s = float(stim_delay_s)
        self.reaction_s, self.level = float(reaction_s), float(level)
        self._todo: list[tuple[float, int, str, object]] = []  # (t, seq, what, args)
        self._seq = itertools.count()
        self._tac = None
        self._tac_attempting: list[str] = []
        self._trains: dict[int, int] = {}  # stimulator channel -> simulated train
        self._intact_onsets: list[tuple[float, str]] = []  # (s, movement) of mirror blocks

    # ------------------------------------------------------------------ watching

    def on_block(self, block, start_s: float) -> None:
        """A block appeared on the screen: plan what this person will do in it."""
        kind = block.kind
        self._tac = None
        if kind in ("calibration", "phantom", "motion_test", "tac_test", "guided"):
            for t_s, movement, level in self._attempts(block, start_s):
                self._later(t_s, "intent", (movement, level))
        if kind == "tac_test":
            self._tac, self._tac_attempting = block, [c.movement for c in block.cues]
        elif kind == "mirror" and self.intact is not None:
            moves = [ScriptedMovement(start_s + c.start_s + self.reaction_s,
                                      start_s + c.end_s + self.reaction_s, c.movement)
                     for c in block.cues]
            neutral_s = getattr(block.spec, "neutral_s", 0.0)  # told to hold the limb flat
            self.intact.script = ScriptedIntactHand(
                self.intact.side, moves, limb=self.intact.limb,
                neutral_until_s=start_s + neutral_s if neutral_s else None)
            self._intact_onsets += [(m.start_s, m.movement) for m in moves
                                    if m.movement != REST]
        elif kind == "mirror" and self.intact_emg is not None:
            for t_s, movement, level in self._attempts(block, start_s):
                self._later(t_s, "intact_intent", (movement, level))
        elif kind == "rating" and self.answers is not None:
            self._answer(block, start_s)
        elif kind == "biofeedback" and self.emg is not None:
            self._biofeedback(block, start_s)

    def _answer(self, block, start_s: float) -> None:
        """Press the keys of its answers on the block's form, item by item, the last item
        confirmed when the screen's time is up; each answer is chosen a moment before it is
        confirmed (the selection shows on screen)."""
        items = _per_item(keys_for_answers(block.instrument, self.answers[block.name]))
        last_s = max(MIN_ANSWER_S, block.duration_s)
        step_s = (last_s - MIN_ANSWER_S) / len(items)
        for k, keys in enumerate(items):
            confirm_s = start_s + MIN_ANSWER_S + step_s * (k + 1)
            *choose, confirm = keys
            for key in choose:
                self._later(confirm_s - min(CONFIRM_PAUSE_S, step_s / 2), "key", (block.ctx, key))
            self._later(confirm_s, "key", (block.ctx, confirm))

    def _attempts(self, block, start_s: float):
        """Intent changes that attempt every cue of ``block`` (ramps rise and fall)."""
        for cue in block.cues:
            if cue.ramp:  # the level rises linearly to ``level`` and falls back, in steps
                for tau in ramp_steps(cue):
                    yield (start_s + tau + self.reaction_s, cue.movement,
                           self.level * cue.ramp_fraction(tau))
            else:
                yield (start_s + cue.start_s + self.reaction_s, cue.movement,
                       self.level if cue.movement != REST else 0.0)
            yield start_s + cue.end_s + self.reaction_s, REST, 0.0

    def _biofeedback(self, block, start_s: float) -> None:
        """Contract to the middle of the zone in contract phases, relax in the others."""
        movement = next((m for m in block.movements if m != REST), None)
        t = 0.0
        while movement is not None and t < block.duration_s:
            phase, zones = block.phase_at(start_s + t)
            low, high = zones[0]
            level = 0.0 if phase == "relax" else min(1.0, self.level * (low + high) / 2)
            self._later(start_s + t + self.reaction_s, "intent",
                        (movement if level else REST, level))
            t += block.spec.cue_s

    def _later(self, t_s: float, what: str, args) -> None:
        heapq.heappush(self._todo, (t_s, next(self._seq), what, args))

    def step(self, now_s: float) -> None:
        """Do what is due by ``now_s``; in a TAC test, correct from the posture shown."""
        while self._todo and self._todo[0][0] <= now_s:
            t_s, _, what, args = heapq.heappop(self._todo)
            if what == "intent" and self.emg is not None:
                self.emg.set_intent(args[0], args[1], t_s)
            elif what == "intact_intent":
                self.intact_emg.set_intent(args[0], args[1], t_s)
            elif what == "key":
                ctx, key = args
                ctx.press(key)
        if self._tac is not None and self.emg is not None:
            self._watch_tac(now_s)

    def _watch_tac(self, now_s: float) -> None:
        """Relax near the target, correct an overshoot: what the person sees, decided now,
        acted on a reaction time later. It relaxes early by the distance the limb still
        moves in its reaction time plus the display delay."""
        block = self._tac
        k = block.trial_at(now_s)
        if k is None:
            return
        scorer, attempting = block.scorers[k], self._tac_attempting[k]
        if scorer.completed:
            want, share = REST, 0.0
        else:
            shown = block.posture_at(now_s)
            lead = scorer.speed_per_s * self.level * (
                self.reaction_s + block.ctx.presentation_delay_s)
            want, share = scorer.attempt(attempting, lead, position=shown[1])
        if want != attempting:
            self._tac_attempting[k] = want
            self.emg.set_intent(want, 0.0 if want == REST else share * self.level,
                                now_s + self.reaction_s)

    # ------------------------------------------------------------------ truth

    def true_onsets(self) -> list[tuple[float, str, str]]:
        """When this person really began each movement: ``(s, movement, "emg")`` for its
        residual limb's attempts (the EMG model's intents) and ``(s, movement,
        "intact_limb")`` for its intact limb's movements in mirror blocks (scripted, or the
        intact-side EMG model's intents), in time order."""
        onsets = [(t, m, "intact_limb") for t, m in self._intact_onsets]
        if self.emg is not None:
            onsets += [(t, m, "emg") for t, m in _intent_onsets(self.emg.intent_log)]
        if self.intact_emg is not None:
            onsets += [(t, m, "intact_limb")
                       for t, m in _intent_onsets(self.intact_emg.intent_log)]
        return sorted(onsets)

    # ------------------------------------------------------------------ feeling

    def feel(self, event) -> None:
        """A stimulator-twin event: a train's current enters the EMG as artefacts (from its
        first pulse, transport + device latency after the send) until it stops."""
        if self.emg is None:
            return
        d = event.detail
        if event.kind == "sent":
            first_s = d["start_s"] + self.stim_delay_s
            two_slope_s = d["threshold_ramp_s"] if d["threshold_ma"] > 0 else 0.0
            self._trains[event.channel] = self.emg.add_stimulation(
                first_s, first_s + d["on_time_s"], d["frequency_hz"],
                self.emg.artefact_amplitudes_v(d["movement"], d["amplitude_ma"]),
                pulse_width_us=d["pulse_width_us"], ramp_up_s=d["ramp_up_s"] + two_slope_s,
                ramp_down_s=d["ramp_down_s"] + two_slope_s)
        elif event.kind == "stopped":
            train = self._trains.pop(event.channel, None)
            if train is not None:
                self.emg.stop_stimulation(train, d["stop_s"] + self.stim_delay_s)


def _per_item(keys: list[str]) -> list[list[str]]:
    """A form's key sequence cut into items (each ends with its confirm or skip key)."""
    items, current = [], []
    for key in keys:
        current.append(key)
        if key in ("return", "tab"):
            items.append(current)
            current = []
    return items


def intact_limb_source(side: str, limb: str, rate_hz: float = 60.0) -> ScriptSource:
    """The simulated person's intact limb as a pose source (at rest until a mirror block)."""
    return ScriptSource(ScriptedIntactHand(side, [], limb=limb), rate_hz=rate_hz)


def _intent_onsets(intent_log) -> list[tuple[float, str]]:
    """``(s, movement)`` where an EMG model's intent log (``(s, movement, level)`` rows)
    leaves rest or changes movement; electrode shifts are not movements."""
    onsets, current = [], REST
    for t_s, movement, level in sorted(intent_log):
        if movement.startswith("electrode_shift"):
            continue
        now = movement if level > 0 else REST
        if now != REST and now != current:
            onsets.append((t_s, now))
        current = now
    return onsets
