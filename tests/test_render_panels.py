"""The patient screens drawn over the scene (offscreen pixel checks): an instrument's item
(numbered scale, VAS slider, multiple choice) drawn where a click selects it, the biofeedback
gauge with its target zones, the paced-breathing guide, the limb's tension tint, and the HUD
text cache."""

import numpy as np
import pytest
from gl_helpers import limb_mask, render

from mirrorvr.config import RenderSettings
from mirrorvr.render.panels import SELECTED_RGBA
from mirrorvr.render.scene import SceneState
from mirrorvr.render.screens import (
    BreathingView,
    GaugeView,
    QuestionView,
    hit_answer,
    option_boxes,
    slider_track,
)

pytestmark = pytest.mark.gl

NRS = QuestionView(
    title="Pain intensity (NRS)", prompt="How strong is your phantom limb pain right now?",
    kind="scale", options=tuple(str(k) for k in range(11)), anchors=("no pain", "worst pain"),
    selected=7, item=1, n_items=2, hint="digits or arrows, Enter to confirm",
)


@pytest.fixture(scope="module")
def renderer(gl_window):
    from mirrorvr.render.renderer import Renderer

    r = Renderer(gl_window, RenderSettings(render_scale=1.0))
    yield r
    r.close()


def selected_mask(pixels):
    """Pixels in the selection colour (a bright amber)."""
    target = np.array(SELECTED_RGBA[:3]) * 255
    return np.abs(pixels.astype(int) - target).max(axis=2) < 30


def px(pixels, x, y):
    h, w, _ = pixels.shape
    return pixels[int(y * h), int(x * w)].astype(int)


def test_scale_item_highlights_the_option_a_click_there_selects(renderer):
    pixels = render(renderer, SceneState.at_rest(question=NRS))
    h, w, _ = pixels.shape
    sel = selected_mask(pixels)
    boxes = option_boxes(NRS)
    inside = [sel[int(t * h):int(b * h), int(x0 * w):int(x1 * w)].mean()
              for x0, t, x1, b in boxes]
    assert inside[7] > 0.3 and max(inside[:7] + inside[8:]) < 0.02, inside
    ys, xs = np.nonzero(sel)
    cx, cy = xs.mean() / w, ys.mean() / h
    assert hit_answer(NRS, cx, cy) == 7  # where it is drawn is where a click selects it


def test_question_text_is_large_and_high_contrast(gl_window):
    from mirrorvr.render.renderer import Renderer

    big = Renderer(gl_window, RenderSettings(render_scale=1.0))
    try:
        pixels = render(big, SceneState.at_rest(question=NRS)).astype(int)
    finally:
        big.close()
    h = pixels.shape[0]
    card = pixels[int(0.2 * h):int(0.45 * h)]  # the title and the prompt on the dark card
    lum = card.mean(axis=2)
    assert np.percentile(lum, 99) > 220 and np.percentile(lum, 10) < 60  # white on dark
    rows_with_text = (lum > 200).any(axis=1)
    assert rows_with_text.sum() >= 0.03 * h  # letters several percent of the screen tall


@pytest.mark.parametrize("value", [0.0, 0.3, 1.0])
def test_slider_knob_sits_at_the_chosen_value(renderer, value):
    vas = QuestionView(title="VAS", prompt="Pain", kind="slider",
                       anchors=("no pain", "worst pain"), selected=value)
    pixels = render(renderer, SceneState.at_rest(question=vas))
    h, w, _ = pixels.shape
    ys, xs = np.nonzero(selected_mask(pixels))
    x0, x1, y_line = slider_track()
    assert abs(xs.mean() / w - (x0 + value * (x1 - x0))) < 0.01
    assert abs(ys.mean() / h - y_line) < 0.01
    assert hit_answer(vas, xs.mean() / w, ys.mean() / h) == pytest.approx(value, abs=0.02)


def test_choice_highlights_its_row(renderer):
    pgic = QuestionView(title="PGIC", prompt="Since the start of treatment, my pain is",
                        kind="choice", options=("much better", "a little better", "the same",
                                                "a little worse", "much worse"), selected=1)
    pixels = render(renderer, SceneState.at_rest(question=pgic))
    sel = selected_mask(pixels)
    h, w = sel.shape
    rows = [sel[int(t * h):int(b * h), int(x0 * w):int(x1 * w)].mean()
            for x0, t, x1, b in option_boxes(pgic)]
    assert np.argmax(rows) == 1 and rows[1] > 0.3 and sorted(rows)[-2] < 0.05


def test_gauge_shows_level_zones_and_whether_the_level_is_in_a_zone(renderer):
    from mirrorvr.render.panels import GAUGE_BAR

    left, top, right, bottom = GAUGE_BAR
    x = (left + right) / 2

    def y_at(level):
        return bottom - level * (bottom - top)

    inside = render(renderer, SceneState.at_rest(
        gauge=GaugeView(level=0.5, zones=((0.4, 0.6),), in_zone=True, label="flexors")))
    outside = render(renderer, SceneState.at_rest(
        gauge=GaugeView(level=0.2, zones=((0.4, 0.6),), in_zone=False)))
    green = px(inside, x, y_at(0.3))
    amber = px(outside, x, y_at(0.1))
    assert green[1] > green[0] + 40 and green[1] > green[2] + 40  # filled, in the zone: green
    assert amber[0] > amber[2] + 80  # filled, outside any zone: amber
    empty = px(outside, x, y_at(0.8))
    assert empty.mean() < 80  # above the level: the dark track
    zone_edge = px(outside, right + 0.004, y_at(0.5))  # the zone band sticks out of the bar
    assert zone_edge[1] > zone_edge[0]


def test_breathing_guide_grows_holds_and_shrinks(renderer):
    from mirrorvr.render.panels import BREATH_CENTER

    def disc_width(phase, progress):
        pixels = render(renderer, SceneState.at_rest(
            breathing=BreathingView(phase=phase, progress=progress))).astype(int)
        h, w, _ = pixels.shape
        row = pixels[int(BREATH_CENTER[1] * h)]
        bluish = (row[:, 2] > row[:, 0] + 10)
        return bluish.sum()

    sizes = [disc_width("in", 0.1), disc_width("in", 0.9), disc_width("hold", 0.5),
             disc_width("out", 0.1), disc_width("out", 0.9)]
    assert sizes[0] < sizes[1] <= sizes[2] and sizes[3] > sizes[4], sizes
    assert sizes[2] > 2 * sizes[0]


def test_tension_tints_only_the_affected_limb(renderer):
    mask, relaxed = limb_mask(renderer, SceneState.at_rest(affected_side="right"))
    tense = render(renderer, SceneState.at_rest(affected_side="right", limb_tension=1.0))
    half = mask.shape[1] // 2
    right, left = mask.copy(), mask.copy()
    right[:, :half] = False
    left[:, half:] = False
    redder = tense[..., 0].astype(int) - tense[..., 1] - (relaxed[..., 0].astype(int)
                                                           - relaxed[..., 1])
    assert redder[right].mean() > 20
    np.testing.assert_array_equal(tense[:, :half], relaxed[:, :half])


def test_unchanged_hud_text_is_uploaded_once(renderer):
    state = SceneState.at_rest(cue_text="Open your hand", status_text="block 2 | 12 s",
                               question=NRS)
    render(renderer, state)
    before = renderer.overlay.uploads
    for _ in range(3):
        render(renderer, state)
    assert renderer.overlay.uploads == before  # nothing changed, nothing uploaded
    render(renderer, SceneState.at_rest(cue_text="Open your hand", status_text="block 2 | 13 s",
                                        question=NRS))
    assert renderer.overlay.uploads == before + 1  # only the changed status line
