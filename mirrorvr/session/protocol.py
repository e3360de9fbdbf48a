"""Protocols as data: a list of blocks, each with its own parameters (TOML files).

A protocol file names its limb and lists ``[[blocks]]``; each block has a ``kind`` and the
fields of that kind only (:data:`BLOCK_SPECS`). Built-in protocols live in ``protocols/``
(``mirrorvr protocols`` lists them). :func:`plan_protocol` turns a protocol into the
session's timeline for one patient — cues with times, block durations — optionally shrunk
to a rehearsal of a given length; everything wrong is refused there, before anything
starts, naming the block, the field and the value.

Block times are relative to the block's own start: the runner starts each block when the
previous one ends, so a rating that waits for a patient shifts what follows.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mirrorvr.errors import ConfigError, InstrumentError
from mirrorvr.movements import LOWER_LIMB_MOVEMENTS, REST, UPPER_LIMB_MOVEMENTS
from mirrorvr.outcomes.instrument import load_instrument
from mirrorvr.resources import resource_root

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass

#: The classes a limb's blocks may cue (a patient's level narrows them: see limb_movements).
LIMB_MOVEMENTS = {"upper": UPPER_LIMB_MOVEMENTS, "lower": LOWER_LIMB_MOVEMENTS}
#: How long a rating screen answered by a script stays up, s (a patient answering takes longer).
RATING_SCREEN_S = 2.0


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _BlockSpec(_Spec):
    """Fields every block has."""

    name: str | None = Field(None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$",
                             description="label in the recording (default: the kind)")
    breathing_guide: bool = Field(False, description="show the paced-breathing guide too")
    #: kinds without movements to accompany cannot stimulate (only false is allowed)
    stimulation: Literal[False] = Field(False, description="EMS accompanies the seen "
                                        "movements (only movement blocks)")

#: A movement block's stimulation switch (on unless the protocol says otherwise).
_STIMULATES = Field(True, description="EMS accompanies the seen movements")


class RatingSpec(_BlockSpec):
    """An outcome instrument answered on screen (NRS by default), at every session of the
    patient's course or only at some (``sessions``)."""

    kind: Literal["rating"]
    instrument: str = Field("nrs", min_length=1, description="a shipped instrument (nrs, vas, "
                            "pgic, pain_diary, sf_mpq_2, bpi_interference) or a .toml file")
    prompt: str | None = Field(None, description="replaces the question of a one-item "
                               "instrument")
    timepoint: str | None = Field(
        None, max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="when in the session "
        "it is answered, e.g. pre or post (default: the block's name without 'rating_')")
    sessions: tuple[int | Literal["last"], ...] | None = Field(
        None, description="run only at these positions of the patient's course "
        "(1 = the first session; 'last' = the course's last planned session); default: every "
        "session")

    @field_validator("instrument")
    @classmethod
    def _known_instrument(cls, value: str) -> str:
        try:
            load_instrument(value)
        except InstrumentError as err:
            raise ValueError(str(err)) from None
        return value

    @field_validator("sessions", mode="before")
    @classmethod
    def _session_positions(cls, value):
        if value is None:
            return value
        allowed = "a list of session positions: whole numbers >= 1 or 'last'"
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(f"must be {allowed}")
        for entry in value:
            if entry != "last" and (isinstance(entry, bool) or not isinstance(entry, int)
                                    or entry < 1):
                raise ValueError(f"{entry!r} is not a session position (allowed: {allowed})")
        return value

    @model_validator(mode="after")
    def _prompt_for_one_item(self) -> RatingSpec:
        n_items = len(load_instrument(self.instrument).items)
        if self.prompt is not None and n_items > 1:
            raise ValueError(f"prompt: replaces the question of a one-item instrument; "
                             f"{self.instrument!r} has {n_items} items")
        return self

    def runs_at(self, position: int, planned: int | None) -> bool:
        """Whether this rating is asked at session ``position`` (1-based) of a course of
        ``planned`` sessions (None: no course is planned, so no session is the 'last')."""
        if self.sessions is None:
            return True
        return position in self.sessions or (
            "last" in self.sessions and planned is not None and position == planned)


class CalibrationSpec(_BlockSpec):
    """Cued contractions of every movement (+ rest), then the decoder is trained on them."""

    kind: Literal["calibration"]
    movements: tuple[str, ...] | None = Field(
        None, description="classes to calibrate (rest included); default: the limb's set")
    contraction_s: float = Field(3.0, gt=0, le=30)
    rest_s: float = Field(3.0, ge=0, le=30)
    repetitions: int = Field(3, ge=1, le=10)
    ramps: bool = Field(False, description="a ramp per movement to scale the level")
    ramp_s: float = Field(2.0, gt=0, le=10, description="rise (and fall) of each ramp, s")
    keep_fraction: float = Field(0.7, gt=0, le=1, description="middle share kept (BioPatRec)")
    min_accuracy_for_stim: float = Field(
        0.8, ge=0.5, le=1, description="below this cross-validated accuracy, decoded EMG "
        "never triggers stimulation (SAFETY.md 14)")
    stimulation: bool = Field(False, description="EMS with the cued contractions; off by "
                              "default: the evoked contractions would be in the EMG the "
                              "decoder trains on (their pulses are blanked from it)")


class _CuedSpec(_BlockSpec):
    """A block that cues movements in a cycle for ``duration_s``."""

    duration_s: float = Field(gt=0, le=4 * 3600)
    cue_s: float = Field(4.0, gt=0, le=60, description="one cue and the rest after it, s")
    attempt_fraction: float = Field(0.55, gt=0, lt=1, description="share of a cue spent moving")
    movements: tuple[str, ...] | None = Field(None, description="default: the calibrated ones")


class PhantomSpec(_CuedSpec):
    """Phantom motor execution: decoded EMG drives the virtual limb."""

    kind: Literal["phantom"]
    stimulation: bool = _STIMULATES


class MirrorSpec(_CuedSpec):
    """Mirror therapy: the intact limb, reflected, is the virtual limb."""

    kind: Literal["mirror"]
    stimulation: bool = _STIMULATES
    cue_s: float = Field(3.5, gt=0, le=60)
    attempt_fraction: float = Field(0.5, gt=0, lt=1)
    neutral_s: float = Field(0.0, ge=0, le=30, description="a neutral-pose step first ('rest "
                             "your limb flat'), s; 0: none")


class GuidedSpec(_CuedSpec):
    """The virtual limb plays a cue timeline; optionally when the attempt is detected."""

    kind: Literal["guided"]
    stimulation: bool = _STIMULATES
    emg_triggered: bool = Field(False, description="play each movement when the decoder "
                                "detects the attempt (needs a calibration before)")


class ImagerySpec(_CuedSpec):
    """Phantom motor imagery: the phantom block's screens, movements played from the cue
    timeline, no EMG control (EMG is still recorded)."""

    kind: Literal["imagery"]


class MotionTestSpec(_BlockSpec):
    """BioPatRec's Motion Test on the live decoder."""

    kind: Literal["motion_test"]
    repetitions: int = Field(1, ge=1, le=10)
    timeout_s: float = Field(5.0, gt=0, le=30, description="per trial, s")
    rest_s: float = Field(2.0, gt=0, le=30, description="rest before each trial, s")
    correct_needed: int = Field(20, ge=1, le=200)


class TacTestSpec(_BlockSpec):
    """The TAC test: reach and hold a target posture shown as a ghost limb."""

    kind: Literal["tac_test"]
    repetitions: int = Field(1, ge=1, le=10)
    # REFERENCES.md (TAC test): hold the target 1-2 s, time-out 15-20 s
    timeout_s: float = Field(15.0, gt=0, le=60, description="per trial, s")
    dwell_s: float = Field(1.0, gt=0, le=5)
    target_distance: float = Field(0.6, gt=0, le=1)
    allowance: float = Field(0.1, gt=0, lt=1)
    rest_s: float = Field(2.0, gt=0, le=30)

    @model_validator(mode="after")
    def _reachable(self) -> TacTestSpec:
        if self.allowance >= self.target_distance:
            raise ValueError(f"allowance: {self.allowance} must be smaller than "
                             f"target_distance ({self.target_distance})")
        if self.dwell_s >= self.timeout_s:
            raise ValueError(f"dwell_s: {self.dwell_s} must be shorter than timeout_s "
                             f"({self.timeout_s})")
        return self


class BiofeedbackSpec(_BlockSpec):
    """The residual muscles' EMG level shown live, with target zones (EMG biofeedback)."""

    kind: Literal["biofeedback"]
    duration_s: float = Field(gt=0, le=4 * 3600)
    target: Literal["relax", "contract"] = "relax"
    zones: tuple[tuple[float, float], ...] = Field(
        ((0.0, 0.1),), description="target zones, fractions of the calibrated full scale")
    cue_s: float = Field(8.0, gt=0, le=120, description="contract / relax phases, s")

    @model_validator(mode="after")
    def _zones(self) -> BiofeedbackSpec:
        for low, high in self.zones:
            if not 0 <= low < high <= 1.5:
                raise ValueError(f"zones: ({low}, {high}) must satisfy 0 <= low < high <= 1.5")
        return self


class RelaxationSpec(_BlockSpec):
    """A paced-breathing guide with an animated cue."""

    kind: Literal["relaxation"]
    duration_s: float = Field(gt=0, le=4 * 3600)
    inhale_s: float = Field(4.0, gt=0, le=20)
    hold_s: float = Field(0.0, ge=0, le=20)
    exhale_s: float = Field(6.0, gt=0, le=20)


class RestSpec(_BlockSpec):
    """A message and a pause."""

    kind: Literal["rest"]
    duration_s: float = Field(gt=0, le=4 * 3600)
    message: str = "Rest for a moment"


BlockSpec = Annotated[
    RatingSpec | CalibrationSpec | PhantomSpec | MirrorSpec | GuidedSpec | ImagerySpec
    | MotionTestSpec | TacTestSpec | BiofeedbackSpec | RelaxationSpec | RestSpec,
    Field(discriminator="kind"),
]
#: Every block kind and its parameters.
BLOCK_SPECS = {s.model_fields["kind"].annotation.__args__[0]: s for s in (
    RatingSpec, CalibrationSpec, PhantomSpec, MirrorSpec, GuidedSpec, ImagerySpec,
    MotionTestSpec, TacTestSpec, BiofeedbackSpec, RelaxationSpec, RestSpec)}
#: Kinds that need a trained decoder from an earlier calibration block.
NEEDS_DECODER = frozenset({"phantom", "motion_test", "tac_test"})


class Protocol(_Spec):
    """A session's protocol: its limb and blocks, in order."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    title: str = ""
    limb: Literal["upper", "lower"]
    description: str = ""
    blocks: tuple[BlockSpec, ...] = Field(min_length=1)

    @property
    def nominal_s(self) -> float:
        """Length at full scale, s (scripted ratings at their screen time)."""
        return sum(b.duration_s for b in plan_blocks(self, LIMB_MOVEMENTS[self.limb]))


# ------------------------------------------------------------------ loading


def builtin_protocols() -> dict[str, Path]:
    """Built-in protocol files by name (``protocols/*.toml``)."""
    folder = resource_root() / "protocols"
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def load_protocol(name_or_path: str | Path) -> Protocol:
    """A built-in protocol by name, or a protocol file.

    Raises
    ------
    ConfigError
        Unknown name, unreadable file, or a block field that is not allowed (named with the
        block's number and kind, the field and the value).
    """
    builtin = builtin_protocols()
    text = str(name_or_path)
    if text in builtin:
        path = builtin[text]
    else:
        path = Path(text)
        if path.suffix.lower() != ".toml" and not path.exists():
            raise ConfigError(f"protocol.name = {text!r}: neither a built-in protocol "
                              f"({', '.join(builtin)}) nor a .toml file")
    from mirrorvr.config import read_toml

    return parse_protocol(read_toml(path, "protocol file"), str(path))


def parse_protocol(data: dict, source: str = "<dict>") -> Protocol:
    """Validate a protocol document (a dict as read from TOML)."""
    try:
        return Protocol.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, data, source)) from None


def _format_errors(err: ValidationError, data: dict, source: str) -> str:
    lines = [f"invalid protocol in {source}:"]
    blocks = data.get("blocks") if isinstance(data, dict) else None
    for e in err.errors():
        loc = list(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        given = e.get("input")
        where = ".".join(str(p) for p in loc) or "(top level)"
        if loc[:1] == ["blocks"] and len(loc) >= 2 and isinstance(loc[1], int):
            i = loc[1]
            block = blocks[i] if isinstance(blocks, list) and i < len(blocks) else {}
            kind = block.get("kind", "?") if isinstance(block, dict) else "?"
            rest = [p for p in loc[3:]] if len(loc) > 2 and loc[2] == kind else loc[2:]
            field = ".".join(str(p) for p in rest)
            if e["type"] == "extra_forbidden":
                allowed = sorted(BLOCK_SPECS[kind].model_fields) if kind in BLOCK_SPECS else []
                msg = f"not a field of a {kind} block (allowed: {', '.join(allowed)})"
            elif e["type"] == "union_tag_invalid":
                msg = f"unknown block kind (allowed: {', '.join(BLOCK_SPECS)})"
                field = "kind"
            where = f"block {i + 1} ({kind})" + (f": {field}" if field else "")
        if e["type"] == "missing":
            given = "(not given)"
        lines.append(f"  {where} = {given!r}: {msg}")
    return "\n".join(lines)


def protocol_to_toml(protocol: Protocol) -> str:
    """The protocol as a TOML document to copy and edit (defaults written out)."""
    import tomli_w

    return tomli_w.dumps(protocol.model_dump(mode="json", exclude_none=True))


# ------------------------------------------------------------------ the timeline


@dataclass(frozen=True)
class Cue:
    """Attempt ``movement`` from ``start_s`` to ``end_s`` (s from block start), then rest."""

    movement: str
    start_s: float
    end_s: float
    repetition: int
    #: a ramp: rest -> the calibration level, rising linearly to the middle, then back
    ramp: bool = False

    def ramp_fraction(self, t_s: float) -> float:
        """Share of the calibration level asked for at ``t_s`` (s from block start): 1 for a
        held contraction; for a ramp 0 at its ends and 1 at its middle."""
        if not self.ramp:
            return 1.0
        half = (self.end_s - self.start_s) / 2
        return max(0.0, 1.0 - abs(t_s - self.start_s - half) / half)


@dataclass(frozen=True)
class BlockPlan:
    """One block as this session will run it: its spec, name, length and cues."""

    spec: BlockSpec
    name: str
    duration_s: float
    cues: tuple[Cue, ...] = ()
    movements: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.spec.kind


def limb_movements(limb: str, amputation_level: str | None = None) -> tuple[str, ...]:
    """The classes a patient's residual limb can attempt (rest first).

    Transtibial: ankle and toe classes (the knee is the patient's own); transfemoral: knee
    and ankle classes (decoded from the thigh). Transhumeral is refused: the upper-limb
    model has no elbow yet.
    """
    if amputation_level == "transhumeral":
        raise ConfigError(
            "patient.amputation_level = 'transhumeral': elbow movements (elbow flexion and "
            "extension) are not in the upper-limb model yet, and the hand classes cannot be "
            "decoded from the upper arm; supported: transradial, transtibial, transfemoral")
    if limb == "lower" and amputation_level == "transtibial":
        return tuple(m for m in LOWER_LIMB_MOVEMENTS if not m.startswith("knee"))
    if limb == "lower" and amputation_level == "transfemoral":
        return (REST, "knee_extension", "knee_flexion", "ankle_dorsiflexion",
                "ankle_plantarflexion")
    return LIMB_MOVEMENTS[limb]


def _cycle_cues(movements, block_s: float, cue_s: float, attempt_fraction: float):
    active = [m for m in movements if m != REST]
    n = max(1, int(block_s // cue_s))
    length = block_s / n
    return tuple(Cue(active[i % len(active)], i * length,
                     i * length + attempt_fraction * length, i // len(active))
                 for i in range(n))


def _calibration_cues(spec: CalibrationSpec, movements) -> tuple[tuple[Cue, ...], float]:
    step_s = spec.contraction_s + spec.rest_s
    cues = tuple(
        Cue(m, (rep * len(movements) + i) * step_s,
            (rep * len(movements) + i) * step_s + spec.contraction_s, rep)
        for rep in range(spec.repetitions) for i, m in enumerate(movements))
    held_s = len(cues) * step_s
    if spec.ramps:
        ramp_cue_s = 2 * spec.ramp_s
        active = [m for m in movements if m != REST]
        cues += tuple(Cue(m, held_s + k * ramp_cue_s, held_s + (k + 1) * ramp_cue_s, 0,
                          ramp=True) for k, m in enumerate(active))
        held_s += len(active) * ramp_cue_s
    return cues, held_s


def _trial_cues(movements, repetitions: int, rest_s: float, timeout_s: float):
    active = [m for m in movements if m != REST]
    trial_s = rest_s + timeout_s
    cues = tuple(Cue(m, k * trial_s + rest_s, (k + 1) * trial_s, rep)
                 for k, (rep, m) in enumerate((rep, m) for rep in range(repetitions)
                                              for m in active))
    return cues, len(cues) * trial_s + rest_s


def _block_movements(i: int, spec, allowed: tuple[str, ...], calibrated) -> tuple[str, ...]:
    given = getattr(spec, "movements", None)
    if given is None:
        return tuple(calibrated) if calibrated else allowed
    for m in given:
        if m not in allowed:
            raise ConfigError(
                f"block {i + 1} ({spec.kind}): movements = {list(given)!r}: {m!r} is not a "
                f"movement this patient's limb has (allowed: {list(allowed)})")
    if spec.kind == "calibration" and REST not in given:
        raise ConfigError(f"block {i + 1} (calibration): movements = {list(given)!r}: 'rest' "
                          "must be one of the calibrated classes")
    if not [m for m in given if m != REST]:
        raise ConfigError(f"block {i + 1} ({spec.kind}): movements = {list(given)!r}: no "
                          "movement besides rest")
    return tuple(given)


def plan_blocks(protocol: Protocol, allowed: tuple[str, ...],
                window_s: float = 0.2) -> list[BlockPlan]:
    """The protocol's blocks with their names, cues and lengths, at full scale.

    Raises
    ------
    ConfigError
        A movement the patient's limb does not have; a block that needs a decoder with no
        calibration before it; calibration contractions too short to keep two decoder
        windows of ``window_s``.
    """
    plans, calibrated, names = [], None, {}
    for i, spec in enumerate(protocol.blocks):
        movements = _block_movements(i, spec, allowed, calibrated)
        if spec.kind in NEEDS_DECODER and calibrated is None:
            raise ConfigError(f"block {i + 1} ({spec.kind}): needs a trained decoder: put a "
                              "calibration block before it")
        if getattr(spec, "emg_triggered", False) and calibrated is None:
            raise ConfigError(f"block {i + 1} (guided): emg_triggered = true needs a trained "
                              "decoder: put a calibration block before it")
        base = spec.name or spec.kind
        names[base] = names.get(base, 0) + 1
        name = base if names[base] == 1 else f"{base}_{names[base]}"
        cues: tuple[Cue, ...] = ()
        if spec.kind == "calibration":
            kept_s = spec.keep_fraction * spec.contraction_s
            if kept_s < 2 * window_s:
                raise ConfigError(
                    f"block {i + 1} (calibration): contraction_s = {spec.contraction_s:g}: "
                    f"keeps {1000 * kept_s:.0f} ms of each contraction; the decoder needs at "
                    f"least two of its windows (emg.window_s = {window_s:g}: "
                    f"{2000 * window_s:.0f} ms), so contraction_s >= "
                    f"{2 * window_s / spec.keep_fraction:.2f} or a shorter emg.window_s")
            cues, duration_s = _calibration_cues(spec, movements)
            calibrated = movements
        elif spec.kind in ("motion_test", "tac_test"):
            cues, duration_s = _trial_cues(movements, spec.repetitions, spec.rest_s,
                                           spec.timeout_s)
        elif spec.kind == "rating":
            duration_s = RATING_SCREEN_S
        else:
            duration_s = spec.duration_s
            if hasattr(spec, "cue_s") and spec.kind != "biofeedback":
                lead_s = getattr(spec, "neutral_s", 0.0)  # the neutral-pose step comes first
                if lead_s >= duration_s:
                    raise ConfigError(
                        f"block {i + 1} ({spec.kind}): neutral_s = {lead_s:g}: must be shorter "
                        f"than the block (duration_s = {duration_s:g})")
                cues = tuple(replace(c, start_s=c.start_s + lead_s, end_s=c.end_s + lead_s)
                             for c in _cycle_cues(movements, duration_s - lead_s, spec.cue_s,
                                                  spec.attempt_fraction))
        plans.append(BlockPlan(spec, name, duration_s, cues, movements))
    return plans


#: The least a rehearsal leaves of a block it shrinks (a calibration and the real-time tests
#: have their own floors), s.
MIN_REHEARSAL_BLOCK_S = 2.0
#: The shortest real-time test trial a rehearsal leaves: time to react and move, s (a TAC
#: trial keeps its dwell on top of it).
MIN_TRIAL_S = 2.0
#: The shortest contraction a rehearsal's calibration asks for, s (shorter ones train a poor
#: decoder; it never goes below two decoder windows either).
MIN_CONTRACTION_S = 1.0
#: The shortest neutral-pose step a rehearsal leaves (a shorter one reads too few samples
#: to store offsets), s.
MIN_NEUTRAL_S = 1.0


def _rehearsal_spec(spec, scale: float):
    """``spec`` with its lengths multiplied by ``scale`` (real-time tests: one repetition)."""
    if spec.kind == "rating":
        return spec
    if spec.kind in ("motion_test", "tac_test"):
        return spec.model_copy(update={"repetitions": 1, "timeout_s": spec.timeout_s * scale,
                                       "rest_s": spec.rest_s * scale})
    if spec.kind == "calibration":
        return spec.model_copy(update={"contraction_s": spec.contraction_s * scale,
                                       "rest_s": spec.rest_s * scale,
                                       "ramp_s": spec.ramp_s * scale})
    update = {"duration_s": spec.duration_s * scale}
    if getattr(spec, "neutral_s", 0.0):
        update["neutral_s"] = max(spec.neutral_s * scale, min(spec.neutral_s, MIN_NEUTRAL_S))
    return spec.model_copy(update=update)


def _least_scale(plan: BlockPlan, window_s: float) -> float:
    """The smallest factor a rehearsal may shrink ``plan`` by."""
    spec = plan.spec
    if spec.kind == "calibration":  # contractions of 1 s that keep two decoder windows
        return max(2 * window_s / (spec.keep_fraction * spec.contraction_s),
                   min(1.0, MIN_CONTRACTION_S / spec.contraction_s))
    if spec.kind == "motion_test":
        return MIN_TRIAL_S / spec.timeout_s
    if spec.kind == "tac_test":
        return (spec.dwell_s + MIN_TRIAL_S) / spec.timeout_s
    return MIN_REHEARSAL_BLOCK_S / plan.duration_s


def plan_protocol(protocol: Protocol, allowed: tuple[str, ...], duration_s: float | None = None,
                  window_s: float = 0.2) -> list[BlockPlan]:
    """:func:`plan_blocks`, shrunk (or stretched) to ``duration_s`` in all when given.

    A rehearsal keeps the block order; ratings keep their screen time (at most 5 % of the
    session each) and real-time tests run one repetition. Every other length is scaled by
    one factor, except that no block goes below its floor (a calibration keeps two decoder
    windows of every contraction, a test trial time to react and move, any other block
    :data:`MIN_REHEARSAL_BLOCK_S`): those stay at their floor and the rest share what is left.

    Raises
    ------
    ConfigError
        A duration too short (naming the shortest that works), or what :func:`plan_blocks`
        refuses.
    """
    plans = plan_blocks(protocol, allowed, window_s)
    if duration_s is None:
        return plans
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ConfigError(f"protocol.duration_s = {duration_s!r} must be a finite number > 0 s")
    one_rep = protocol.model_copy(update={"blocks": tuple(
        _rehearsal_spec(p.spec, 1.0) for p in plans)})
    full = plan_blocks(one_rep, allowed, window_s)
    rating_s = min(RATING_SCREEN_S, 0.05 * duration_s)
    fixed_s = sum(rating_s for p in full if p.kind == "rating")
    scaled = [p for p in full if p.kind != "rating"]
    least = [_least_scale(p, window_s) for p in scaled]

    def length(scale: float) -> float:
        return sum(p.duration_s * max(scale, m) for p, m in zip(scaled, least, strict=True))

    shortest = fixed_s + length(0.0)
    if duration_s < shortest * (1 + 1e-9):
        with_full_ratings = RATING_SCREEN_S * (len(full) - len(scaled)) + length(0.0)
        raise ConfigError(
            f"protocol.duration_s = {duration_s:g} s is too short for protocol "
            f"{protocol.name!r}: its blocks need at least {length(0.0):.0f} s (a calibration's "
            f"contractions of {MIN_CONTRACTION_S:g} s that keep two {1000 * window_s:.0f} ms "
            f"decoder windows, a test trial {MIN_TRIAL_S:g} s to react and move, any other "
            f"block {MIN_REHEARSAL_BLOCK_S:g} s) and its ratings {fixed_s:.0f} s; use "
            f"protocol.duration_s >= {math.ceil(with_full_ratings + 1e-6)}")
    low, high = 0.0, max(1.0, (duration_s - fixed_s) / max(length(0.0), 1e-9) * max(least))
    while length(high) < duration_s - fixed_s:
        high *= 2
    for _ in range(60):  # the one factor that fills the session (length is monotonic)
        mid = (low + high) / 2
        low, high = (mid, high) if length(mid) < duration_s - fixed_s else (low, mid)
    factors = iter(max(high, m) for m in least)
    rehearsal = one_rep.model_copy(update={"blocks": tuple(
        p.spec if p.kind == "rating" else _rehearsal_spec(p.spec, next(factors))
        for p in full)})
    out = plan_blocks(rehearsal, allowed, window_s)
    return [replace(p, duration_s=rating_s) if p.kind == "rating" else p for p in out]
