"""Patient screens as data: what a block puts on screen besides the limbs (GL-free).

Blocks fill these views; the renderer draws them; the same layout functions tell the
renderer where to draw and a block where a mouse click landed, so drawing and hit-testing
can never disagree. Coordinates are fractions of the viewport: ``x`` 0 (left) .. 1 (right),
``y`` 0 (top) .. 1 (bottom).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mirrorvr.errors import ConfigError

#: The box of a question's answer row: left, top, right, bottom (viewport fractions).
ANSWER_ROW = (0.12, 0.52, 0.88, 0.66)


@dataclass(frozen=True)
class QuestionView:
    """One item of an outcome instrument as the patient sees it (large, high contrast).

    Attributes
    ----------
    title : str
        The instrument's name, e.g. "Pain intensity (NRS)".
    prompt : str
        The question.
    kind : str
        ``"scale"`` (a row of numbered points), ``"slider"`` (a continuous line, VAS) or
        ``"choice"`` (one of several texts, e.g. PGIC).
    options : tuple of str
        The points' labels (scale) or the option texts (choice); empty for a slider.
    anchors : tuple of (str, str)
        Texts at the low and high ends of a scale or slider ("no pain", "worst pain").
    selected : int, float or None
        Index of the highlighted option (scale, choice); the slider's position 0..1;
        None before the patient has chosen.
    item, n_items : int
        1-based position of this item in the instrument and its number of items.
    hint : str
        How to answer ("digits or arrows, Enter to confirm").
    """

    title: str
    prompt: str
    kind: Literal["scale", "slider", "choice"]
    options: tuple[str, ...] = ()
    anchors: tuple[str, str] = ("", "")
    selected: int | float | None = None
    item: int = 1
    n_items: int = 1
    hint: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("scale", "slider", "choice"):
            raise ConfigError(
                f"QuestionView.kind: {self.kind!r} (allowed: 'scale', 'slider', 'choice')")
        if self.kind != "slider" and not self.options:
            raise ConfigError(f"QuestionView.options: a {self.kind} needs options (given ())")


def option_boxes(view: QuestionView) -> list[tuple[float, float, float, float]]:
    """Where each option of a scale or choice is drawn: (left, top, right, bottom) each,
    viewport fractions; a scale's points side by side in :data:`ANSWER_ROW`, a choice's
    options stacked below the prompt. Empty for a slider."""
    if view.kind == "slider":
        return []
    n = len(view.options)
    left, top, right, bottom = ANSWER_ROW
    if view.kind == "scale":
        width = (right - left) / n
        return [(left + k * width, top, left + (k + 1) * width, bottom) for k in range(n)]
    row_h = min(0.07, (0.92 - 0.34) / n)
    return [(0.2, 0.34 + k * row_h, 0.8, 0.34 + (k + 1) * row_h) for k in range(n)]


def slider_track() -> tuple[float, float, float]:
    """A slider's line: (x at 0, x at 1, y), viewport fractions."""
    left, top, right, bottom = ANSWER_ROW
    return left, right, (top + bottom) / 2


def hit_answer(view: QuestionView, x: float, y: float) -> int | float | None:
    """What a click at (``x``, ``y``) (viewport fractions) selects: an option's index, a
    slider position 0..1, or None when it misses."""
    if view.kind == "slider":
        x0, x1, y_line = slider_track()
        if abs(y - y_line) > 0.08 or not x0 - 0.02 <= x <= x1 + 0.02:
            return None
        return min(1.0, max(0.0, (x - x0) / (x1 - x0)))
    for k, (left, top, right, bottom) in enumerate(option_boxes(view)):
        if left <= x < right and top <= y < bottom:
            return k
    return None


def click_fraction(x_px: float, y_px: float, width_px: int, height_px: int,
                   view: str = "mono") -> tuple[float, float]:
    """A click in window pixels (origin top-left) as fractions of the viewport the patient
    screens are drawn in: the whole window, or in side-by-side stereo (``"stereo_sbs"``) the
    eye's half it landed in, each half showing the same screen (as the renderer draws it:
    left eye ``width_px // 2`` wide, the right eye the rest)."""
    if view == "stereo_sbs":
        half = width_px // 2
        if x_px >= half:
            return (x_px - half) / (width_px - half), y_px / height_px
        return x_px / half, y_px / height_px
    return x_px / width_px, y_px / height_px


@dataclass(frozen=True)
class GaugeView:
    """EMG biofeedback: the residual muscles' level shown live, with target zones.

    ``level`` and the zones are fractions of the calibrated full scale (0 = rest, 1 = the
    calibration contraction); ``in_zone`` says whether the level is inside a target zone.
    """

    level: float
    zones: tuple[tuple[float, float], ...] = ()
    in_zone: bool = False
    label: str = ""


@dataclass(frozen=True)
class BreathingView:
    """A paced-breathing guide: ``phase`` of the current breath and how far into it, 0..1."""

    phase: Literal["in", "hold", "out"]
    progress: float
    text: str = ""
