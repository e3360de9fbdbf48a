"""The patient screens drawn over the scene: an outcome instrument's item, the EMG
biofeedback gauge and the paced-breathing guide (the data: :mod:`mirrorvr.render.screens`).

Answers are placed by the layout functions of :mod:`mirrorvr.render.screens`
(:func:`~mirrorvr.render.screens.option_boxes`, :func:`~mirrorvr.render.screens.slider_track`)
so what is drawn is exactly what a click hits. Large type and high contrast (white on a dark
card, a bright selection) so the items read at 1280x720 and in a headset.
"""

from __future__ import annotations

from mirrorvr.render.overlay import Overlay, wrap_text
from mirrorvr.render.screens import (
    ANSWER_ROW,
    BreathingView,
    GaugeView,
    QuestionView,
    option_boxes,
    slider_track,
)

CARD_RGBA = (0.09, 0.12, 0.16, 0.90)
CARD_BORDER_RGBA = (0.55, 0.62, 0.70, 0.9)
OPTION_RGBA = (0.20, 0.25, 0.31, 1.0)
OPTION_BORDER_RGBA = (0.62, 0.68, 0.75, 1.0)
SELECTED_RGBA = (1.0, 0.80, 0.25, 1.0)
TEXT_RGB = (255, 255, 255)
DIM_TEXT_RGB = (200, 210, 220)
SELECTED_TEXT_RGB = (20, 20, 20)
#: The card behind a question: left, top, right, bottom (viewport fractions).
QUESTION_CARD = (0.06, 0.14, 0.94, 0.94)
#: The biofeedback gauge's bar: left, top, right, bottom (viewport fractions).
GAUGE_BAR = (0.86, 0.16, 0.91, 0.80)
GAUGE_TRACK_RGBA = (0.12, 0.15, 0.19, 0.85)
GAUGE_ZONE_RGBA = (0.30, 0.85, 0.45, 0.45)
GAUGE_LEVEL_RGBA = (0.98, 0.72, 0.30, 1.0)
GAUGE_IN_ZONE_RGBA = (0.35, 0.92, 0.50, 1.0)
#: The breathing guide: centre (viewport fractions) and its radius at empty and full lungs
#: (fractions of the viewport height).
BREATH_CENTER = (0.5, 0.36)
BREATH_RADII = (0.07, 0.19)
BREATH_RGBA = (0.55, 0.80, 0.92, 0.55)
BREATH_BORDER_RGBA = (0.90, 0.97, 1.0, 0.95)
BREATH_WORDS = {"in": "Breathe in", "hold": "Hold", "out": "Breathe out"}


def draw_question(overlay: Overlay, view: QuestionView) -> None:
    """One item of an instrument: title, prompt, the answer row, anchors and the hint."""
    w, h = overlay.width, overlay.height
    left, top, right, bottom = QUESTION_CARD
    overlay.rect(left * w, top * h, (right - left) * w, (bottom - top) * h, CARD_RGBA,
                 CARD_BORDER_RGBA, 2.0, 0.025 * h)
    title_px, prompt_px, option_px, small_px = (
        int(h * 0.045), int(h * 0.062), int(h * 0.058), int(h * 0.036))
    overlay.text(view.title, title_px, DIM_TEXT_RGB, left * w + 0.03 * h, top * h + 0.03 * h)
    if view.n_items > 1:
        overlay.text(f"{view.item} / {view.n_items}", title_px, DIM_TEXT_RGB,
                     right * w - 0.03 * h, top * h + 0.03 * h, "topright")
    y = top * h + 0.11 * h
    for line in wrap_text(view.prompt, prompt_px, (right - left - 0.08) * w):
        y += overlay.text(line, prompt_px, TEXT_RGB, w / 2, y, "midtop")[1]
    if view.kind == "slider":
        _draw_slider(overlay, view, small_px)
    else:
        for k, (x0, y0, x1, y1) in enumerate(option_boxes(view)):
            selected = view.selected is not None and int(view.selected) == k
            pad = 0.006 * w
            overlay.rect(x0 * w + pad, y0 * h + pad, (x1 - x0) * w - 2 * pad,
                         (y1 - y0) * h - 2 * pad, SELECTED_RGBA if selected else OPTION_RGBA,
                         OPTION_BORDER_RGBA, 2.0, 0.012 * h)
            color = SELECTED_TEXT_RGB if selected else TEXT_RGB
            if view.kind == "scale":
                overlay.text(view.options[k], option_px, color, (x0 + x1) / 2 * w,
                             (y0 + y1) / 2 * h, "center")
            else:
                overlay.text(view.options[k], int(option_px * 0.8), color, x0 * w + 0.02 * w,
                             (y0 + y1) / 2 * h - 0.02 * h)
        if view.kind == "scale":
            _draw_anchors(overlay, view, small_px, ANSWER_ROW[3] * h + 0.015 * h)
    if view.hint:
        overlay.text(view.hint, small_px, DIM_TEXT_RGB, w / 2, bottom * h - 0.03 * h, "midbottom")


def _draw_anchors(overlay: Overlay, view: QuestionView, size_px: int, y: float) -> None:
    low, high = view.anchors
    left, _, right, _ = ANSWER_ROW
    overlay.text(low, size_px, DIM_TEXT_RGB, left * overlay.width, y)
    overlay.text(high, size_px, DIM_TEXT_RGB, right * overlay.width, y, "topright")


def _draw_slider(overlay: Overlay, view: QuestionView, small_px: int) -> None:
    w, h = overlay.width, overlay.height
    x0, x1, y_line = slider_track()
    thick = 0.012 * h
    overlay.rect(x0 * w, y_line * h - thick / 2, (x1 - x0) * w, thick, (0.85, 0.88, 0.92, 1.0),
                 radius_px=thick / 2)
    for x in (x0, x1):  # end ticks: 0 mm and 100 mm
        overlay.rect(x * w - thick / 2, y_line * h - 0.03 * h, thick, 0.06 * h,
                     (0.85, 0.88, 0.92, 1.0), radius_px=thick / 2)
    if view.selected is not None:
        x = x0 + float(view.selected) * (x1 - x0)
        overlay.disc(x * w, y_line * h, 0.03 * h, SELECTED_RGBA, (0.1, 0.1, 0.1, 1.0), 2.0)
    _draw_anchors(overlay, view, small_px, y_line * h + 0.05 * h)


def draw_gauge(overlay: Overlay, view: GaugeView) -> None:
    """A vertical bar: the level from rest (bottom) to the calibration contraction (top),
    target zones as green bands, the level green inside a zone and amber outside."""
    w, h = overlay.width, overlay.height
    left, top, right, bottom = GAUGE_BAR
    x, y, bw, bh = left * w, top * h, (right - left) * w, (bottom - top) * h
    overlay.rect(x - 4, y - 4, bw + 8, bh + 8, GAUGE_TRACK_RGBA, CARD_BORDER_RGBA, 2.0, 6.0)
    for lo, hi in view.zones:
        lo, hi = max(0.0, min(1.0, lo)), max(0.0, min(1.0, hi))
        overlay.rect(x - 10, y + (1 - hi) * bh, bw + 20, (hi - lo) * bh, GAUGE_ZONE_RGBA,
                     (0.45, 1.0, 0.6, 0.9), 2.0, 4.0)
    level = max(0.0, min(1.0, view.level))
    overlay.rect(x, y + (1 - level) * bh, bw, level * bh,
                 GAUGE_IN_ZONE_RGBA if view.in_zone else GAUGE_LEVEL_RGBA, radius_px=4.0)
    if view.label:
        overlay.text(view.label, int(h * 0.036), TEXT_RGB, x + bw / 2, y + bh + 0.025 * h,
                     "midtop")


def breath_radius_px(view: BreathingView, height_px: float) -> float:
    """The guide's radius: grows over "in", stays full over "hold", shrinks over "out"."""
    p = max(0.0, min(1.0, view.progress))
    fullness = {"in": p, "hold": 1.0, "out": 1.0 - p}[view.phase]
    # eased, as breath flows: slow at the turns
    fullness = fullness * fullness * (3.0 - 2.0 * fullness)
    small, large = BREATH_RADII
    return (small + (large - small) * fullness) * height_px


def draw_breathing(overlay: Overlay, view: BreathingView) -> None:
    """The paced-breathing guide: a soft disc that breathes, with the phase in words."""
    w, h = overlay.width, overlay.height
    cx, cy = BREATH_CENTER[0] * w, BREATH_CENTER[1] * h
    r = breath_radius_px(view, h)
    overlay.disc(cx, cy, r, BREATH_RGBA, BREATH_BORDER_RGBA, 3.0)
    text = view.text or BREATH_WORDS[view.phase]
    overlay.text(text, int(h * 0.06), TEXT_RGB, cx, cy + BREATH_RADII[1] * h + 0.03 * h, "midtop")
