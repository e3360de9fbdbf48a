"""Outcome instruments as data: items, anchors, response types and scoring rules.

An instrument is a TOML file (``mirrorvr/outcomes/instruments/<id>.toml``, or any path)::

    id = "nrs"; version = "1"; title = "Pain intensity (NRS)"; licensed = false
    [[items]]
    id = "pain"; prompt = "..."; response = "scale"; min = 0; max = 10
    anchors = ["no pain", "worst pain imaginable"]
    [[scores]]
    id = "intensity"; method = "value"; items = ["pain"]

Response types: ``scale`` (whole numbers min..max, a row of points), ``slider`` (a value
min..max in ``step``\\ s, e.g. a 100 mm VAS), ``choice`` (one of ``options``, scored as
``values``), ``number`` (a count or duration min..max, typed or slid). Score methods:
``value`` (the one item), ``mean``, ``sum``, ``product`` and ``at_most`` (1 when the item
is <= ``threshold``, else 0); a score is None when fewer than ``min_answered`` of its items
were answered (default: all of them).

Licensed wording (``licensed = true``) is never shipped: the project's prompts are
placeholders, and :func:`load_instrument` takes the site's licensed text from
``<licensed_text_dir>/<id>.toml`` (``$MIRRORVR_LICENSED_TEXTS`` by default)::

    title = "..."
    [items.q01]
    prompt = "..."
    anchors = ["...", "..."]
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mirrorvr.errors import InstrumentError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

logger = logging.getLogger(__name__)

INSTRUMENTS_DIR = Path(__file__).with_name("instruments")
#: Folder of the site's licensed instrument texts (``<id>.toml`` each).
LICENSED_TEXTS_ENV = "MIRRORVR_LICENSED_TEXTS"

Answer = int | float | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Model):
    """One question. ``min``/``max`` bound scale, slider and number answers."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    prompt: str = Field(min_length=1)
    response: Literal["scale", "slider", "choice", "number"]
    min: float = 0
    max: float = 10
    step: float = Field(1, gt=0)
    unit: str = ""
    anchors: tuple[str, str] = ("", "")
    options: tuple[str, ...] = ()
    values: tuple[float, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Item:
        if self.response == "choice":
            if len(self.options) < 2:
                raise ValueError(f"item {self.id!r}: a choice needs >= 2 options")
            if self.values and len(self.values) != len(self.options):
                raise ValueError(f"item {self.id!r}: {len(self.values)} values for "
                                 f"{len(self.options)} options")
        elif not self.min < self.max:
            raise ValueError(f"item {self.id!r}: min ({self.min}) must be below max ({self.max})")
        if self.response == "scale" and (self.min != int(self.min) or self.max != int(self.max)
                                         or self.step != 1):
            raise ValueError(f"item {self.id!r}: a scale has whole-number points (step 1)")
        return self

    @property
    def choice_values(self) -> tuple[float, ...]:
        """The value of each option (1, 2, ... unless ``values`` says otherwise)."""
        return self.values or tuple(float(k + 1) for k in range(len(self.options)))

    def allowed(self) -> str:
        """What this item accepts, for error messages."""
        if self.response == "choice":
            return "one of " + ", ".join(_fmt(v) for v in self.choice_values)
        kind = "whole numbers" if self.step == 1 and self.min == int(self.min) \
            else f"multiples of {_fmt(self.step)} from"
        unit = f" {self.unit}" if self.unit else ""
        return f"{kind} {_fmt(self.min)}-{_fmt(self.max)}{unit}"


class ScoreRule(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = ""
    method: Literal["value", "mean", "sum", "product", "at_most"]
    items: tuple[str, ...] = Field(min_length=1)
    min_answered: int | None = Field(None, ge=1)
    threshold: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ScoreRule:
        if self.method in ("value", "at_most") and len(self.items) != 1:
            raise ValueError(f"score {self.id!r}: method {self.method!r} takes exactly one item")
        if self.method == "at_most" and self.threshold is None:
            raise ValueError(f"score {self.id!r}: method 'at_most' needs a threshold")
        if self.min_answered is not None and self.min_answered > len(self.items):
            raise ValueError(f"score {self.id!r}: min_answered {self.min_answered} > "
                             f"{len(self.items)} items")
        return self

    @property
    def needed(self) -> int:
        return len(self.items) if self.min_answered is None else self.min_answered


class Instrument(_Model):
    """A whole instrument definition (see the module docstring)."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    version: str = Field(min_length=1)
    title: str = Field(min_length=1)
    source: str = ""
    licensed: bool = False
    allow_skip: bool = Field(False, description="the patient may leave items unanswered")
    items: tuple[Item, ...] = Field(min_length=1)
    scores: tuple[ScoreRule, ...] = Field(min_length=1)
    text_source: str = Field("", description="where the wording came from (set on load)")

    @model_validator(mode="after")
    def _references(self) -> Instrument:
        ids = [item.id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError(f"instrument {self.id!r}: item ids repeat")
        for rule in self.scores:
            for item_id in rule.items:
                if item_id not in ids:
                    raise ValueError(f"score {rule.id!r} names item {item_id!r}, which the "
                                     f"instrument does not have (items: {ids})")
        return self

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise InstrumentError(f"instrument {self.id!r}: no item {item_id!r} "
                              f"(items: {[i.id for i in self.items]})")

    # ------------------------------------------------------------------ answers and scores

    def check_answer(self, item_id: str, value) -> Answer:
        """``value`` as stored if the item allows it, else :class:`InstrumentError` naming
        the instrument, the item, the value and what is allowed. None means not answered."""
        item = self.item(item_id)
        if value is None:
            return None
        where = f"instrument {self.id!r}, item {item_id!r}"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InstrumentError(f"{where}: {value!r} is a {type(value).__name__}, not a "
                                  f"number (allowed: {item.allowed()})")
        if not math.isfinite(value):
            raise InstrumentError(f"{where}: {value!r} (allowed: {item.allowed()})")
        if item.response == "choice":
            if float(value) not in item.choice_values:
                raise InstrumentError(f"{where}: {value!r} (allowed: {item.allowed()})")
            return _as_number(value)
        if not item.min <= value <= item.max:
            raise InstrumentError(f"{where}: {value!r} is out of range "
                                  f"(allowed: {item.allowed()})")
        steps = (value - item.min) / item.step
        if abs(steps - round(steps)) > 1e-9:
            raise InstrumentError(f"{where}: {value!r} is not on the scale "
                                  f"(allowed: {item.allowed()})")
        return _as_number(value)

    def check_answers(self, answers: dict) -> dict[str, Answer]:
        """Every item's checked answer (missing keys -> None); unknown keys are refused."""
        if not isinstance(answers, dict):
            raise InstrumentError(f"instrument {self.id!r}: answers must be a dict of item id "
                                  f"-> value, given {type(answers).__name__}")
        unknown = set(answers) - {i.id for i in self.items}
        if unknown:
            raise InstrumentError(f"instrument {self.id!r}: unknown items {sorted(unknown)} "
                                  f"(items: {[i.id for i in self.items]})")
        checked = {item.id: self.check_answer(item.id, answers.get(item.id))
                   for item in self.items}
        missing = [k for k, v in checked.items() if v is None]
        if missing and not self.allow_skip:
            raise InstrumentError(f"instrument {self.id!r}: items {missing} are not answered "
                                  "(this instrument needs every item)")
        return checked

    def score(self, answers: dict) -> dict[str, float | None]:
        """Score answers by the instrument's rules: score id -> value (None: too few items
        answered for that score, as the rule's ``min_answered`` says)."""
        checked = self.check_answers(answers)
        out: dict[str, float | None] = {}
        for rule in self.scores:
            values = [checked[i] for i in rule.items if checked[i] is not None]
            if len(values) < rule.needed:
                out[rule.id] = None
                continue
            if rule.method == "value":
                result = float(values[0])
            elif rule.method == "mean":
                result = math.fsum(values) / len(values)
            elif rule.method == "sum":
                result = math.fsum(values)
            elif rule.method == "product":
                result = float(math.prod(values))
            else:  # at_most
                result = 1.0 if values[0] <= rule.threshold else 0.0
            out[rule.id] = result
        return out


def _as_number(value) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _read_toml(path: Path, what: str) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstrumentError(f"{what} {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise InstrumentError(f"{what} {str(path)!r} is not valid TOML: {err}") from None


def available_instruments() -> list[str]:
    """Ids of the instruments shipped with mirrorvr."""
    return sorted(p.stem for p in INSTRUMENTS_DIR.glob("*.toml"))


def load_instrument(name_or_path: str | Path, licensed_text_dir: str | Path | None = None
                    ) -> Instrument:
    """An instrument by shipped id (``"nrs"``) or from a TOML file, with the site's licensed
    wording applied where the instrument is licensed and a text file is there.

    Raises
    ------
    InstrumentError
        Unknown id, malformed file (naming the field), or a licensed-text file that does
        not cover the instrument's items.
    """
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = INSTRUMENTS_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise InstrumentError(f"instrument {str(name_or_path)!r} is not shipped "
                                  f"(available: {available_instruments()}) and is no .toml file")
    data = _read_toml(path, "instrument file")
    try:
        instrument = Instrument.model_validate({**data, "text_source": "placeholder"
                                                if data.get("licensed") else "public"})
    except ValidationError as err:
        raise InstrumentError(_validation_message(err, str(path))) from None
    if not instrument.licensed:
        return instrument
    folder = licensed_text_dir or os.environ.get(LICENSED_TEXTS_ENV)
    if not folder:
        return instrument
    text_file = Path(folder) / f"{instrument.id}.toml"
    if not text_file.is_file():
        logger.warning("no licensed text for %s in %s: showing placeholders", instrument.id,
                       folder)
        return instrument
    return apply_licensed_text(instrument, _read_toml(text_file, "licensed text file"),
                               str(text_file))


def apply_licensed_text(instrument: Instrument, text: dict, source: str) -> Instrument:
    """The instrument with a site's licensed wording (title, prompts, anchors, options).

    Every item must be given a prompt; the scoring never changes."""
    allowed_top = {"title", "items"}
    extra = set(text) - allowed_top
    if extra:
        raise InstrumentError(f"licensed text {source!r}: unknown keys {sorted(extra)} "
                              f"(allowed: {sorted(allowed_top)})")
    items_text = text.get("items", {})
    missing = [item.id for item in instrument.items if item.id not in items_text]
    if missing:
        raise InstrumentError(f"licensed text {source!r} for {instrument.id!r}: no text for "
                              f"items {missing}")
    unknown = set(items_text) - {i.id for i in instrument.items}
    if unknown:
        raise InstrumentError(f"licensed text {source!r}: unknown items {sorted(unknown)}")
    items = []
    for item in instrument.items:
        fields = items_text[item.id]
        bad = set(fields) - {"prompt", "anchors", "options"}
        if bad:
            raise InstrumentError(f"licensed text {source!r}, item {item.id!r}: unknown keys "
                                  f"{sorted(bad)} (allowed: prompt, anchors, options)")
        try:
            items.append(Item.model_validate({**item.model_dump(), **fields}))
        except ValidationError as err:
            raise InstrumentError(_validation_message(err, source)) from None
        if len(items[-1].options) != len(item.options):
            raise InstrumentError(f"licensed text {source!r}, item {item.id!r}: "
                                  f"{len(items[-1].options)} options for {len(item.options)}")
    return instrument.model_copy(update={
        "title": text.get("title", instrument.title), "items": tuple(items),
        "text_source": source,
    })


def _validation_message(err: ValidationError, source: str) -> str:
    lines = [f"invalid instrument definition in {source}:"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {field} = {e.get('input')!r}: {e['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)
