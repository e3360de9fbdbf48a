"""Offscreen rendering of the scene: hands visible, poses change pixels, mirror symmetry."""

import numpy as np
import pytest
from gl_helpers import limb_mask, render, symmetric_iou

from mirrorvr.config import RenderSettings
from mirrorvr.limb.mirror import mirror_pose
from mirrorvr.limb.poses import target_pose
from mirrorvr.render.scene import SceneState

pytestmark = pytest.mark.gl


@pytest.fixture(scope="module")
def renderer(gl_window):
    from mirrorvr.render.renderer import Renderer

    r = Renderer(gl_window, RenderSettings(render_scale=1.0))
    yield r
    r.close()


def rest_state(**kw):
    return SceneState(target_pose("rest", 0.0, "left"), target_pose("rest", 0.0, "right"), **kw)


def test_both_hands_are_visible(renderer):
    mask, pixels = limb_mask(renderer, rest_state())
    assert pixels.shape == (240, 320, 3) and pixels.dtype == np.uint8
    half = pixels.shape[1] // 2
    assert mask[:, :half].sum() > 500 and mask[:, half:].sum() > 500
    assert mask.mean() < 0.5  # and the room is visible around them


def test_changing_the_right_pose_changes_only_the_right_half(renderer):
    left = target_pose("rest", 0.0, "left")
    opened = render(renderer, SceneState(left, target_pose("hand_open", 1.0, "right")))
    closed = render(renderer, SceneState(left, target_pose("hand_close", 1.0, "right")))
    diff = np.abs(opened.astype(int) - closed.astype(int)).sum(axis=2) > 30
    half = diff.shape[1] // 2
    assert diff[:, half:].sum() > 300
    assert diff[:, :half].sum() == 0


@pytest.mark.parametrize("movement", ["rest", "hand_close", "wrist_flexion", "supination"])
def test_mirrored_scene_renders_as_a_mirrored_image(renderer, movement):
    pose = target_pose(movement, 0.8, "left")
    mask, pixels = limb_mask(renderer, SceneState(pose, mirror_pose(pose)))
    flipped = mask[:, ::-1]
    iou = symmetric_iou(mask)
    assert iou > 0.9, iou
    # Colours agree too, within anti-aliasing noise, where both are skin.
    both = mask & flipped
    delta = np.abs(pixels.astype(int) - pixels[:, ::-1].astype(int))[both]
    assert np.median(delta) <= 3


def test_hud_text_and_ghost_draw(renderer):
    plain = render(renderer, rest_state())
    cue = render(renderer, rest_state(cue_text="Close your hand", status_text="block 1"))
    changed = np.abs(plain.astype(int) - cue.astype(int)).sum(axis=2) > 30
    assert changed[:40].sum() > 50  # cue at the top
    assert changed[-30:, :160].sum() > 10  # status bottom left
    ghost = render(renderer, rest_state(ghost_pose=target_pose("hand_open", 1.0, "right")))
    assert not np.array_equal(ghost[:, 160:], plain[:, 160:])
    np.testing.assert_array_equal(ghost[:, :150], plain[:, :150])


def test_a_cue_of_two_lines_draws_the_second_under_the_first(renderer):
    """A mirror block's cue and its tracker line ("...\\nTracking lost: ...") are two lines,
    not one line with an unknown glyph running off the screen."""
    plain = render(renderer, rest_state())
    one = render(renderer, rest_state(cue_text="Close your hand"))
    two = render(renderer, rest_state(cue_text="Close your hand\nTracking lost: waiting"))

    def rows(pixels):
        changed = np.abs(plain.astype(int) - pixels.astype(int)).sum(axis=2) > 30
        return np.flatnonzero(changed[:, 40:-40].any(axis=1))

    assert rows(two).max() > rows(one).max() + 5  # a second line below the first
    np.testing.assert_array_equal(two[:rows(one).min()], one[:rows(one).min()])


def test_cpu_skinning_matches_gpu_skinning(gl_window, renderer):
    from mirrorvr.render.renderer import Renderer

    state = SceneState(
        target_pose("hand_close", 1.0, "left"), target_pose("wrist_flexion", 1.0, "right")
    )
    gpu = render(renderer, state)
    cpu_renderer = Renderer(gl_window, RenderSettings(render_scale=1.0), skinning="cpu")
    try:
        cpu = render(cpu_renderer, state)
    finally:
        cpu_renderer.close()
    differs = np.abs(gpu.astype(int) - cpu.astype(int)).max(axis=2) > 8
    assert differs.mean() < 0.005
