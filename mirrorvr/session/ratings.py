"""Pain ratings on the numeric rating scale (NRS 0-10), answered by key or by a script."""

from __future__ import annotations

from dataclasses import dataclass

from mirrorvr.errors import ConfigError

NRS_MIN, NRS_MAX = 0, 10
PROMPT = "Phantom pain right now?  0 = none ... 10 = worst imaginable"


def check_nrs(value: int) -> int:
    """Return ``value`` if it is a whole number on the NRS, else raise :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int) or not NRS_MIN <= value <= NRS_MAX:
        raise ConfigError(f"NRS rating: {value!r} is not allowed (allowed: whole numbers 0-10)")
    return value


@dataclass(frozen=True)
class Rating:
    """One answered rating: ``name`` ("pre"/"post"), NRS ``value``, answered at ``t_s``."""

    name: str
    value: int
    t_s: float


class RatingInput:
    """The on-screen NRS answer, driven by key names from the window.

    Digits set the value ("1" then "0" within the same screen gives 10), left/right move it,
    return confirms. ``answer`` is None until confirmed.
    """

    def __init__(self, start: int = 5) -> None:
        self.value = check_nrs(start)
        self.answer: int | None = None
        self._last_key = ""

    def handle_key(self, key: str) -> None:
        if self.answer is not None:
            return
        if key.isdigit() and len(key) == 1:
            digit = int(key)
            self.value = 10 if (self._last_key == "1" and digit == 0) else digit
        elif key == "left":
            self.value = max(NRS_MIN, self.value - 1)
        elif key == "right":
            self.value = min(NRS_MAX, self.value + 1)
        elif key in ("return", "enter"):
            self.answer = self.value
        self._last_key = key

    def screen_text(self) -> str:
        return f"{PROMPT}\n[ {self.value} ]   (digits or arrows, Enter to confirm)"
