"""The patient-facing form of an instrument: a state machine driven by key names and clicks.

A rating block shows ``form.view()`` (a :class:`~mirrorvr.render.screens.QuestionView`)
every frame and feeds it the window's events until ``form.done``::

    form = InstrumentForm(load_instrument("nrs"))
    for key in window.poll_events():       # "3", "left", "return", "click 640 400", ...
        form.handle_event(key, width_px, height_px)
    state = SceneState(..., question=form.view())
    if form.done:
        result = form.result(t_s)          # answers + scores, for the catalogue and recording

Keys (the window's key names): digits type a value (scale: "1" "0" gives 10; slider and
number: the digits of the value; choice: the option's number, 1 = first); ``left``/``right``
(and ``up``/``down``) move by one point, one option or one ``step``; ``return``/``enter``
confirms the item and goes on; ``backspace`` deletes a typed digit, or goes back one item;
``tab`` leaves an item unanswered where the instrument allows it. A click selects an
option (or the slider position); a second click on the selected option confirms it.
Gamepads send the names in :data:`GAMEPAD_KEYS`. A scripted rater answers through the same
keys (:func:`keys_for_answers`), so simulated sessions use the same path as patients.
"""

from __future__ import annotations

from dataclasses import dataclass

from mirrorvr.errors import InstrumentError
from mirrorvr.outcomes.instrument import Answer, Instrument, Item
from mirrorvr.render.screens import QuestionView, hit_answer

#: Gamepad event names (as a window reports them) and the key each stands for.
GAMEPAD_KEYS = {
    "gamepad a": "return", "gamepad b": "backspace", "gamepad x": "tab",
    "gamepad left": "left", "gamepad right": "right", "gamepad up": "up",
    "gamepad down": "down",
}
CONFIRM_KEYS = ("return", "enter")


@dataclass(frozen=True)
class InstrumentResult:
    """A completed instrument: ``answers`` by item id (None = unanswered), ``scores`` by
    score id (None = not scorable), answered at session time ``t_s`` (s)."""

    instrument: str
    version: str
    answers: dict[str, Answer]
    scores: dict[str, float | None]
    t_s: float
    text_source: str

    def to_dict(self) -> dict:
        return {"instrument": self.instrument, "version": self.version,
                "answers": dict(self.answers), "scores": dict(self.scores), "t_s": self.t_s,
                "text_source": self.text_source}


class InstrumentForm:
    """One instrument on screen, item by item (see the module docstring)."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.index = 0
        self._answers: dict[str, Answer] = {}
        self._selected: dict[str, Answer] = {}
        self._typed = ""
        self.done = False

    # ------------------------------------------------------------------ state

    @property
    def item(self) -> Item:
        return self.instrument.items[self.index]

    @property
    def selected(self) -> Answer:
        """The current item's highlighted value (not yet confirmed), or None."""
        return self._selected.get(self.item.id)

    def answers(self) -> dict[str, Answer]:
        """Confirmed answers by item id (items not reached or skipped are None)."""
        return {item.id: self._answers.get(item.id) for item in self.instrument.items}

    def result(self, t_s: float) -> InstrumentResult:
        """The scored answers of a finished form.

        Raises
        ------
        InstrumentError
            If the form is not done yet.
        """
        if not self.done:
            raise InstrumentError(f"instrument {self.instrument.id!r}: the form is not "
                                  f"finished (item {self.index + 1} of "
                                  f"{len(self.instrument.items)})")
        answers = self.answers()
        return InstrumentResult(self.instrument.id, self.instrument.version, answers,
                                self.instrument.score(answers), float(t_s),
                                self.instrument.text_source)

    # ------------------------------------------------------------------ input

    def handle_event(self, event: str, width_px: int, height_px: int) -> None:
        """A window event: a key name, a gamepad name or ``"click X Y"`` (pixels)."""
        if event.startswith("click "):
            try:
                x_px, y_px = (float(v) for v in event.split()[1:3])
            except ValueError:
                return
            self.handle_click(x_px / width_px, y_px / height_px)
        else:
            self.handle_key(event)

    def handle_key(self, key: str) -> None:
        """Apply one key name (see the module docstring); ignored once done."""
        if self.done:
            return
        key = GAMEPAD_KEYS.get(key, key)
        item = self.item
        if len(key) == 1 and key.isdigit():
            self._digit(item, key)
        elif _direction(item, key):
            self._move(item, _direction(item, key))
        elif key in CONFIRM_KEYS:
            self._confirm(item)
        elif key == "backspace":
            self._back()
        elif key == "tab" and self.instrument.allow_skip:
            self._typed = ""
            self._selected.pop(item.id, None)
            self._store(item, None)

    def handle_click(self, x_frac: float, y_frac: float) -> None:
        """A click at viewport fractions (0..1, origin top-left)."""
        if self.done:
            return
        item = self.item
        hit = hit_answer(self.view(), x_frac, y_frac)
        if hit is None:
            return
        self._typed = ""
        if item.response in ("slider", "number"):
            self._selected[item.id] = self._snap(item, item.min + hit * (item.max - item.min))
            return
        value = self._option_value(item, int(hit))
        if self.selected == value:  # a second click on the selected option confirms it
            self._confirm(item)
        else:
            self._selected[item.id] = value

    def _digit(self, item: Item, digit: str) -> None:
        if item.response == "choice":
            k = int(digit) - 1
            if 0 <= k < len(item.options):
                self._selected[item.id] = self._option_value(item, k)
            return
        typed = self._typed + digit
        if float(typed) > item.max:
            typed = digit  # a new number starts ("1" "0" is 10, then "5" is 5)
        self._typed = typed.lstrip("0") or "0"
        value = float(self._typed)
        if item.min <= value <= item.max:
            self._selected[item.id] = self._snap(item, value)

    def _move(self, item: Item, direction: int) -> None:
        self._typed = ""
        current = self.selected
        if item.response == "choice":
            values = item.choice_values
            k = -1 if current is None else values.index(float(current))
            k = min(len(values) - 1, max(0, k + direction if current is not None else 0))
            self._selected[item.id] = self._option_value(item, k)
            return
        if current is None:
            start = item.min + (item.max - item.min) / 2
            self._selected[item.id] = self._snap(item, start)
            return
        self._selected[item.id] = self._snap(
            item, min(item.max, max(item.min, current + direction * item.step)))

    def _confirm(self, item: Item) -> None:
        value = self.selected
        if value is None:
            return
        self._store(item, self.instrument.check_answer(item.id, value))

    def _store(self, item: Item, value: Answer) -> None:
        self._answers[item.id] = value
        self._typed = ""
        if self.index + 1 < len(self.instrument.items):
            self.index += 1
        else:
            self.done = True

    def _back(self) -> None:
        if self._typed:
            self._typed = self._typed[:-1]
            if self._typed:
                self._selected[self.item.id] = self._snap(self.item, float(self._typed))
            return
        if self.index > 0:
            self.index -= 1
            previous = self._answers.pop(self.item.id, None)
            if previous is not None:
                self._selected[self.item.id] = previous

    @staticmethod
    def _snap(item: Item, value: float) -> Answer:
        steps = round((value - item.min) / item.step)
        snapped = min(item.max, max(item.min, item.min + steps * item.step))
        return int(snapped) if float(snapped).is_integer() else snapped

    @staticmethod
    def _option_value(item: Item, k: int) -> Answer:
        value = item.choice_values[k]
        return int(value) if float(value).is_integer() else value

    # ------------------------------------------------------------------ view

    def view(self) -> QuestionView:
        """What the patient sees now (large, high contrast; the renderer draws it)."""
        item = self.item
        n = len(self.instrument.items)
        selected = self.selected
        skip = ", Tab to skip" if self.instrument.allow_skip else ""
        if item.response == "scale":
            points = range(int(item.min), int(item.max) + 1)
            return QuestionView(
                title=self.instrument.title, prompt=item.prompt, kind="scale",
                options=tuple(str(p) for p in points), anchors=item.anchors,
                selected=None if selected is None else int(selected) - int(item.min),
                item=self.index + 1, n_items=n,
                hint=f"digits or arrows, Enter to confirm{skip}")
        if item.response == "choice":
            selected_k = None if selected is None else item.choice_values.index(float(selected))
            return QuestionView(
                title=self.instrument.title, prompt=item.prompt, kind="choice",
                options=tuple(f"{k + 1}  {text}" for k, text in enumerate(item.options)),
                anchors=item.anchors, selected=selected_k, item=self.index + 1, n_items=n,
                hint=f"number or arrows, Enter (or click again) to confirm{skip}")
        position = None if selected is None else (selected - item.min) / (item.max - item.min)
        prompt = item.prompt
        if item.response == "number":  # a count or a duration: the patient sees the number
            shown = "-" if selected is None else f"{selected:g}"
            prompt = f"{item.prompt}\n{shown} {item.unit}".rstrip()
        return QuestionView(
            title=self.instrument.title, prompt=prompt, kind="slider",
            anchors=item.anchors, selected=position, item=self.index + 1, n_items=n,
            hint=("type the number or use the arrows" if item.response == "number"
                  else "click the line or use the arrows") + f", Enter to confirm{skip}")


def _direction(item: Item, key: str) -> int:
    """-1, +1 or 0: a scale or slider runs left to right, a choice list top to bottom."""
    if item.response == "choice":
        return {"up": -1, "left": -1, "down": 1, "right": 1}.get(key, 0)
    return {"left": -1, "down": -1, "right": 1, "up": 1}.get(key, 0)


def keys_for_answers(instrument: Instrument, answers: dict[str, Answer]) -> list[str]:
    """The keys a patient would press to give ``answers`` (None: skip), item by item.

    What a scripted (simulated) rater sends through :class:`InstrumentForm`.

    Raises
    ------
    InstrumentError
        If an answer is not allowed, or an item is left out where skipping is not.
    """
    checked = instrument.check_answers(answers)
    keys: list[str] = []
    for item in instrument.items:
        value = checked[item.id]
        if value is None:
            keys.append("tab")
            continue
        if item.response == "choice":
            keys.append(str(item.choice_values.index(float(value)) + 1))
        else:
            if not float(value).is_integer():
                raise InstrumentError(f"instrument {instrument.id!r}, item {item.id!r}: "
                                      f"{value!r} cannot be typed (whole numbers only)")
            keys.extend(str(int(value)))
        keys.append("return")
    return keys


def answer_form(form: InstrumentForm, answers: dict[str, Answer], t_s: float
                ) -> InstrumentResult:
    """Drive ``form`` with the keys for ``answers`` and return its result (a scripted rater)."""
    for key in keys_for_answers(form.instrument, answers):
        form.handle_key(key)
    if not form.done or form.answers() != form.instrument.check_answers(answers):
        raise InstrumentError(f"instrument {form.instrument.id!r}: the form did not take the "
                              f"scripted answers {answers!r} (got {form.answers()!r})")
    return form.result(t_s)
