"""Adaptive resolution: the render-scale controller on made-up frame times (pure), and the
renderer drawing at a reduced scale (GL, offscreen)."""

import numpy as np
import pytest
from gl_helpers import limb_mask, render

from mirrorvr.config import RenderSettings, build_config
from mirrorvr.errors import ConfigError, RenderError
from mirrorvr.limb.poses import target_pose
from mirrorvr.render.scale import MIN_SCALE, RenderScaleController, frame_time_summary
from mirrorvr.render.scene import SceneState


def fill_bound(fixed_ms, full_ms):
    """A rasteriser whose frame costs ``fixed_ms`` plus ``full_ms`` x scale^2."""
    return lambda scale: fixed_ms + full_ms * scale * scale


def run(controller, cost, frames):
    scales = []
    for _ in range(frames):
        scales.append(controller.scale)
        controller.update(cost(controller.scale))
    return np.array(scales)


def test_a_slow_frame_lowers_the_scale_at_once():
    c = RenderScaleController(budget_ms=30.0)
    assert c.scale == 1.0
    c.update(120.0)  # 4x over: fill ~ scale^2, so about half the scale
    assert 0.4 <= c.scale <= 0.5
    c.update(10.0)  # a fast frame right after a change does not raise it yet
    assert 0.4 <= c.scale <= 0.5


def test_settles_inside_the_budget_without_oscillating():
    cost = fill_bound(fixed_ms=8.0, full_ms=80.0)  # scale 1 costs 88 ms
    c = RenderScaleController(budget_ms=30.0)
    scales = run(c, cost, 600)
    late = scales[300:]
    assert np.all(cost(late) <= 30.0)  # every late frame inside the budget
    assert np.ptp(late) == 0.0  # and the scale holds still
    assert late[0] >= 0.45  # not needlessly low: 0.45 costs 24 ms, 0.5 would cost 28 ms


def test_learns_the_fixed_cost_and_uses_the_room_it_leaves():
    """Most of a frame here does not shrink with the scale (vertex work, upscaling): after the
    first drop, the fit finds the fixed part and settles at the largest scale that fits,
    neither stuck at the bottom (a pure scale^2 model) nor over the budget."""
    cost = fill_bound(fixed_ms=20.0, full_ms=22.0)  # scale 1 costs 42 ms
    c = RenderScaleController(budget_ms=30.0)
    scales = run(c, cost, 800)
    late = scales[400:]
    assert np.all(cost(late) <= 30.0) and np.ptp(late) == 0.0
    # 0.5 costs 25.5 ms = 0.85 x budget (the headroom); a pure fill model stops near 0.25
    assert late[0] == 0.5
    fixed, fill = c.fit()
    assert fixed == pytest.approx(20.0, rel=0.05) and fill == pytest.approx(22.0, rel=0.05)


def test_rises_step_by_step_when_there_is_room():
    c = RenderScaleController(budget_ms=30.0, initial=0.25, settle_frames=10, step=0.05)
    scales = run(c, fill_bound(2.0, 15.0), 400)  # even scale 1 costs 17 ms
    steps = np.diff(scales)
    assert scales[-1] == 1.0
    assert np.all(steps[steps > 0] <= 0.05 + 1e-9) and np.all(steps >= 0)
    assert c.increases == 15 and c.decreases == 0


def test_scale_stays_in_its_range_and_input_is_checked():
    c = RenderScaleController(budget_ms=20.0, min_scale=0.4, max_scale=0.8)
    run(c, fill_bound(50.0, 100.0), 50)  # nothing fits: sits at the minimum
    assert c.scale == 0.4
    run(c, fill_bound(0.0, 1.0), 500)
    assert c.scale == 0.8
    for bad in (float("nan"), -1.0):
        with pytest.raises(RenderError, match="frame_ms"):
            c.update(bad)
    with pytest.raises(RenderError, match="min_scale"):
        RenderScaleController(budget_ms=20.0, min_scale=0.1)
    with pytest.raises(RenderError, match="budget_ms"):
        RenderScaleController(budget_ms=0.0)
    assert MIN_SCALE == 0.25


def test_frame_time_summary():
    s = frame_time_summary(np.arange(1, 101, dtype=float))
    assert s["n"] == 100 and s["max_ms"] == 100.0 and s["p50_ms"] == 50.5
    assert 98.0 < s["p99_ms"] < 100.0
    assert frame_time_summary([]) == {"n": 0}


def test_render_scale_settings_are_validated():
    assert build_config({"render": {"render_scale": 0.5}}).render.render_scale == 0.5
    assert RenderSettings().render_scale == "auto"
    with pytest.raises(ConfigError, match=r"render.render_scale = 0.1: .*'auto' or within "
                       r"0.25..1"):
        build_config({"render": {"render_scale": 0.1}})
    with pytest.raises(ConfigError, match="frame_budget_ms"):
        build_config({"render": {"frame_budget_ms": 500}})


@pytest.mark.gl
def test_half_scale_draws_the_same_scene_and_a_sharp_hud(gl_window):
    from mirrorvr.render.renderer import Renderer

    state = SceneState(target_pose("rest", 0.0, "left"), target_pose("hand_close", 1.0, "right"),
                       cue_text="Close your hand")
    masks, frames = {}, {}
    for scale in (1.0, 0.5):
        r = Renderer(gl_window, RenderSettings(render_scale=scale))
        try:
            masks[scale], frames[scale] = limb_mask(r, state)
            assert r.render_scale == scale
        finally:
            r.close()
    iou = (masks[1.0] & masks[0.5]).sum() / (masks[1.0] | masks[0.5]).sum()
    assert iou > 0.8, iou
    assert not np.array_equal(frames[1.0], frames[0.5])  # it was drawn at another resolution
    # The cue is drawn after the upscale, at full resolution: its white letters are the same.
    text = (frames[1.0][:30] > 245).all(axis=2)
    assert text.sum() > 40
    assert ((frames[0.5][:30] > 245).all(axis=2) == text).mean() > 0.99


@pytest.mark.gl
def test_auto_scale_follows_the_measured_frame_time(gl_window):
    """The renderer times each frame from its draw to the window's next finish; a frame that
    finished 200 ms after it began lowers the scale, and the summary reports it."""
    from mirrorvr.render.renderer import Renderer

    r = Renderer(gl_window, RenderSettings(render_scale="auto", frame_budget_ms=30.0))
    try:
        state = SceneState.at_rest()
        r.draw(state)
        gl_window.frame_done_s = r._frame_t0 + 0.200  # as if the GPU took 200 ms
        r.draw(state)
        assert r.render_scale < 0.5
        gl_window.finish()
        render(r, state)  # at the lowered scale, into the offscreen target
        stats = r.render_stats()
        assert stats["frame_ms"]["n"] == 2 and stats["frame_ms"]["max_ms"] == pytest.approx(200)
        assert stats["render_scale"]["mode"] == "auto" and stats["render_scale"]["down"] >= 1
        assert stats["render_scale"]["min"] < 0.5
    finally:
        r.close()


@pytest.mark.gl
@pytest.mark.parametrize("scale, coarse", [(1.0, False), (0.5, True)])
def test_reduced_scales_draw_the_coarser_limbs(gl_window, monkeypatch, scale, coarse):
    from mirrorvr.render.renderer import Renderer

    r = Renderer(gl_window, RenderSettings(render_scale=scale))
    try:
        drawn = []
        for kind, meshes in (("fine", r.meshes), ("coarse", r.coarse_meshes)):
            for key, mesh in meshes.items():
                monkeypatch.setattr(mesh, "draw", lambda k=(kind, key): drawn.append(k))
        render(r, SceneState.at_rest())
        kinds = {k for k, _ in drawn}
        assert kinds == ({"coarse"} if coarse else {"fine"})
        assert len(drawn) == 2  # both sides
        fine, rough = r.meshes["upper", "right"], r.coarse_meshes["upper", "right"]
        assert rough.indices.size < 0.5 * fine.indices.size
    finally:
        r.close()
