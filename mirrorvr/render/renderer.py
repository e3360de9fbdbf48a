"""Turns a :class:`~mirrorvr.render.scene.SceneState` into draw calls.

Per frame, front to back (so hidden surfaces are rejected before they are shaded): both
limbs (upper: upper arm, forearm, hand; lower: thigh, shank, foot) with linear-blend
skinning, each lifted about its root when its pose would press it into the table or floor
(:mod:`mirrorvr.render.contact`), the trunk, the room (table or chair, floor, walls with a
window), soft contact shadows of the limbs on the surface they rest on, an optional
translucent ghost of the target pose; then, at the window's full resolution, the HUD (cue,
status, frame timing) and the patient screens (an instrument's item, the biofeedback gauge,
the breathing guide).

The 3D part is drawn at a *render scale* (``RenderSettings.render_scale``): below 1 into an
offscreen target that is then upscaled to the window; ``"auto"`` lets a
:class:`~mirrorvr.render.scale.RenderScaleController` choose it each frame from the measured
draw-to-finish time, so that frames stay inside ``RenderSettings.frame_budget_ms`` on a slow
rasteriser. The time is taken from the window: from the start of :meth:`Renderer.draw` to
the first :meth:`Window.finish` or :meth:`Window.swap` after it (so the session loop needs
no extra call, and nothing here waits for the GPU); it is read at the next draw.

Skinning runs in the vertex shader (``skinning="gpu"``, the default) or, as the benchmark's
naive peer, in numpy with the vertex buffers re-uploaded every frame (``skinning="cpu"``).

Views (``view``):

* ``"mono"``: one camera, the whole window;
* ``"stereo_sbs"``: side-by-side stereo for headsets that take an SBS signal: left eye in the
  left half, right eye in the right half, eyes ``ipd_m`` apart, parallel axes;
* ``"mirror_box"``: the classic mirror box as a split screen: the intact half shows the
  intact limb, the affected half shows its reflection (the world drawn through a reflected
  projection, with the front-face winding flipped so culling and normals stay right).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from mirrorvr.config import RenderSettings
from mirrorvr.errors import RenderError
from mirrorvr.limb.kinematics import bind_matrices, skin_vertices, skinning_matrices
from mirrorvr.limb.mirror import other_side
from mirrorvr.limb.model import LimbModel, load_body_model, load_limb_model
from mirrorvr.limb.skeleton import LIMBS, SIDES, THIGH_LENGTH_M, check_limb
from mirrorvr.render.appearance import Appearance
from mirrorvr.render.contact import resting_placement
from mirrorvr.render.gl import GL, GLError
from mirrorvr.render.hud import draw_hud
from mirrorvr.render.mesh import Mesh
from mirrorvr.render.overlay import Overlay
from mirrorvr.render.panels import draw_breathing, draw_gauge, draw_question
from mirrorvr.render.scale import RenderScaleController, frame_time_summary
from mirrorvr.render.scene import CLOTH_RGB, MIDLINE_FLIP, SceneLayout, SceneState
from mirrorvr.render.scenery import bake_scenery
from mirrorvr.render.shader import ShaderProgram
from mirrorvr.render.shadows import MAX_CAPSULES
from mirrorvr.render.target import SceneTarget
from mirrorvr.render.timing import FrameTimer

logger = logging.getLogger(__name__)

GHOST_RGB = (0.80, 0.88, 1.0)
GHOST_ALPHA = 0.35
VIRTUAL_RGB = (0.62, 0.76, 0.98)
VIRTUAL_MIX = 0.55
VIEWS: tuple[str, ...] = ("mono", "stereo_sbs", "mirror_box")
MAX_JOINTS = 32
#: Clothing on the limbs, from the root joint along the limb, m: a T-shirt's short sleeve
#: on the upper arm, shorts ending just above the knee.
SLEEVE_TO_M = {"upper": 0.12, "lower": 0.92 * THIGH_LENGTH_M}
#: Strength of the contact occlusion and of the key light's soft shadow (shadow.frag).
SHADOW_OCCLUSION = 0.75
SHADOW_STRENGTH = 0.45
#: Below this render scale the limbs are drawn from their coarser level of detail (a third
#: of the triangles; at that resolution the difference is below a pixel).
COARSE_BELOW_SCALE = 0.6
#: Frame times kept for :meth:`Renderer.render_stats` (an hour at 60 frames/s, and more).
MAX_FRAME_LOG = 1_000_000


class Renderer:
    """Draws scenes into a window.

    Parameters
    ----------
    window : Window
        An open window (its GL context is current).
    settings : RenderSettings
        Window-level settings (``render_scale``, ``frame_budget_ms``; the patient's look
        comes in ``appearance``).
    layout : SceneLayout, optional
        Camera, limb placement, trunk and room for scenes of ``layout.limb``; the default
        layouts (:meth:`SceneLayout.upper` / :meth:`SceneLayout.lower`) otherwise.
    skinning : str
        ``"gpu"`` (vertex shader) or ``"cpu"`` (numpy + buffer re-upload, for comparison).
    appearance : Appearance, optional
        The patient's look (skin tone, sizes, residual limb); the model's defaults if None.
    view : str
        One of :data:`VIEWS`.
    timing_overlay : bool
        Show the frame-timing line (bottom right) for the therapist.
    ipd_m : float
        Interpupillary distance for ``"stereo_sbs"``, m (0.05..0.08).
    """

    def __init__(
        self,
        window,
        settings: RenderSettings,
        layout: SceneLayout | None = None,
        skinning: str = "gpu",
        appearance: Appearance | None = None,
        view: str = "mono",
        timing_overlay: bool = False,
        ipd_m: float = 0.063,
    ):
        if skinning not in ("gpu", "cpu"):
            raise RenderError(f"skinning: {skinning!r} is not a mode (allowed: ['gpu', 'cpu'])")
        if view not in VIEWS:
            raise RenderError(f"view: {view!r} is not a view (allowed: {list(VIEWS)})")
        if not 0.05 <= ipd_m <= 0.08:
            raise RenderError(f"ipd_m: {ipd_m!r} is outside [0.05, 0.08] m")
        self.window = window
        self.settings = settings
        self.appearance = appearance or Appearance()
        self.layouts = {limb: SceneLayout.for_limb(limb) for limb in LIMBS}
        if layout is not None:
            self.layouts[layout.limb] = layout
        self.layout = layout or self.layouts["upper"]
        self.skinning = skinning
        self.view = view
        self.ipd_m = float(ipd_m)
        self.timer = FrameTimer() if timing_overlay else None
        self.scale_controller = (
            RenderScaleController(settings.frame_budget_ms)
            if settings.render_scale == "auto"
            else None
        )
        self._fixed_scale = 1.0 if self.scale_controller else float(settings.render_scale)
        self._joint_scales = {
            limb: (
                None
                if self.appearance.is_default_size(limb)
                else self.appearance.joint_scales(limb)
            )
            for limb in LIMBS
        }
        defines = {"MAX_JOINTS": MAX_JOINTS, "LIMB": 1}
        if skinning == "cpu":
            defines["CPU_SKINNED"] = 1
        elif any(s is not None for s in self._joint_scales.values()):
            defines["SCALED_JOINTS"] = 1
        self.models: dict[tuple[str, str], LimbModel] = {}
        self.meshes: dict[tuple[str, str], Mesh] = {}
        #: The coarser level of detail of each limb (GPU skinning only).
        self.coarse_meshes: dict[tuple[str, str], Mesh] = {}
        self._binds: dict[tuple[str, str], np.ndarray] = {}
        self.skin_program = self.static_program = self.shadow_program = None
        self.target = self.overlay = None
        self._trunk = None
        #: The baked scenery mesh of each layout (trunk, furniture, floor, walls).
        self.scenery: dict[str, Mesh] = {}
        try:
            self.skin_program = ShaderProgram("skin.vert", "lit.frag", defines)
            self.static_program = ShaderProgram("static.vert", "lit.frag")
            self.shadow_program = ShaderProgram(
                "shadow.vert", "shadow.frag", {"MAX_CAPSULES": MAX_CAPSULES}
            )
            self._trunk = load_body_model()
            self._load_limb("upper")
            self.overlay = Overlay()
        except GLError as err:
            raise RenderError(f"renderer setup failed: {err}") from err
        self.frames = 0
        self._frame_skinning: dict[int, np.ndarray] = {}  # id(pose) -> (n_joints, 4, 4)
        # id(pose) -> (placement lifted to rest on the surface (4, 4), capsules (n, 2, 4))
        self._rested: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._capsules: list[np.ndarray] = []
        # (id(layout), side) -> (layout, model -> world (4, 4)); layouts are frozen.
        self._placements: dict[tuple[int, str], tuple[SceneLayout, np.ndarray]] = {}
        self._frame_t0: float | None = None
        self._frame_scale = 1.0
        #: Draw-to-finish time of every frame, ms, and the render scale it was drawn at.
        self.frame_times_ms: list[float] = []
        self.frame_scales: list[float] = []

    # ------------------------------------------------------------------ resources

    def _load_limb(self, limb: str) -> None:
        """Load and upload both sides' models of ``limb`` (once)."""
        for side in SIDES:
            if (limb, side) in self.models:
                continue
            model = load_limb_model(side, limb)
            if model.n_joints > MAX_JOINTS:
                raise RenderError(
                    f"{model.path}: {model.n_joints} joints, the shader allows {MAX_JOINTS}"
                )
            self.models[limb, side] = model
            self.meshes[limb, side] = self._limb_mesh(model)
            if self.skinning == "gpu":
                self.coarse_meshes[limb, side] = self._limb_mesh(load_limb_model(side, limb, 1))
            self._binds[limb, side] = bind_matrices(model)
        if limb not in self.scenery:
            arrays = bake_scenery(self.layouts[limb], self._trunk)
            indices = arrays.pop("indices")
            self.scenery[limb] = Mesh(arrays, indices, name=f"{limb}_scenery")
            self.scenery[limb].upload()

    @property
    def hand_meshes(self) -> dict[str, Mesh]:
        """The upper-limb meshes by side (kept for older callers)."""
        return {side: self.meshes["upper", side] for side in SIDES}

    def _limb_mesh(self, model: LimbModel) -> Mesh:
        attributes = {
            "in_position": model.positions,
            "in_normal": model.normals,
            "in_distal": np.asarray(model.distal_m, dtype=np.float32)[:, None],
        }
        dynamic = ()
        if self.skinning == "gpu":
            attributes |= {"in_joints_0": model.joints, "in_weights_0": model.weights}
        else:
            dynamic = ("in_position", "in_normal")
        mesh = Mesh(
            attributes, model.indices, name=f"{model.limb}_limb_{model.side}", dynamic=dynamic
        )
        mesh.upload()
        return mesh

    # ------------------------------------------------------------------ render scale

    @property
    def render_scale(self) -> float:
        """The scale the next frame's 3D scene is drawn at (0.25..1 of the window)."""
        if self.scale_controller is not None:
            return self.scale_controller.scale
        return self._fixed_scale

    def _account_previous_frame(self) -> None:
        """Log the previous frame's draw-to-done time and let the controller react to it."""
        t0, window = self._frame_t0, self.window
        self._frame_t0 = None
        if t0 is None or window.frame_started_s != t0 or window.frame_done_s is None:
            return  # not finished, or another renderer drew into the window since
        frame_ms = 1000.0 * (window.frame_done_s - t0)
        if len(self.frame_times_ms) < MAX_FRAME_LOG:
            self.frame_times_ms.append(frame_ms)
            self.frame_scales.append(self._frame_scale)
        if self.scale_controller is not None:
            self.scale_controller.update(frame_ms)

    def render_stats(self) -> dict:
        """What the frames cost, for a session summary.

        Returns
        -------
        stats : dict
            ``frame_ms``: percentiles of the draw-to-finish time
            (:func:`~mirrorvr.render.scale.frame_time_summary`); ``render_scale``: ``mode``
            ("auto" or "fixed"), ``budget_ms``, ``last``, ``mean``, ``min`` and how often an
            automatic scale went ``down`` / ``up``; ``text_uploads``: HUD text textures
            uploaded.
        """
        scales = np.asarray(self.frame_scales, dtype=float)
        controller = self.scale_controller
        return {
            "frame_ms": frame_time_summary(self.frame_times_ms),
            "render_scale": {
                "mode": "auto" if controller else "fixed",
                "budget_ms": self.settings.frame_budget_ms if controller else None,
                "last": self.render_scale,
                "mean": round(float(scales.mean()), 3) if scales.size else None,
                "min": round(float(scales.min()), 3) if scales.size else None,
                "down": controller.decreases if controller else 0,
                "up": controller.increases if controller else 0,
            },
            "text_uploads": self.overlay.uploads,
        }

    # ------------------------------------------------------------------ drawing

    def draw(self, state: SceneState) -> None:
        """Draw one frame of ``state`` into the window's back buffer (not swapped)."""
        self._account_previous_frame()
        t0 = time.perf_counter()
        self._frame_t0 = t0
        self.window.begin_frame(t0)
        self._frame_scale = self.render_scale
        try:
            self._draw(state, self._frame_scale)
        except GLError as err:
            raise RenderError(f"drawing frame {self.frames} failed: {err}") from err
        if self.timer is not None:
            self.timer.record(t0, 1000.0 * (time.perf_counter() - t0))
        self.frames += 1

    def _draw(self, state: SceneState, scale: float) -> None:
        limb = check_limb(state.limb)
        self._load_limb(limb)
        layout = self.layouts[limb]
        # Skinning matrices are computed once per pose per frame, not once per eye or pass.
        self._frame_skinning = {}
        self._rested = {}
        self._capsules = []
        w, h = self.window.width, self.window.height
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        offscreen = sw < w or sh < h
        if offscreen:
            if self.target is None:
                self.target = SceneTarget(w, h, self.overlay.empty_vao)
            self.target.bind()
        GL.glDisable(GL.GL_SCISSOR_TEST)
        GL.glViewport(0, 0, sw, sh)
        GL.glClearColor(*layout.room.clear_color, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        if self.view == "stereo_sbs":
            half = sw // 2
            for i, offset in enumerate((-self.ipd_m / 2, self.ipd_m / 2)):
                self._draw_world(state, layout, (i * half, 0, half, sh), eye_offset_m=offset)
        elif self.view == "mirror_box":
            half = sw // 2
            intact = other_side(state.affected_side)
            # Screen halves: the patient's right is the right half.
            halves = {"left": (0, 0, half, sh), "right": (half, 0, sw - half, sh)}
            GL.glEnable(GL.GL_SCISSOR_TEST)
            GL.glScissor(*halves[intact])
            self._draw_world(state, layout, (0, 0, sw, sh), only_side=intact)
            GL.glScissor(*halves[state.affected_side])
            self._draw_world(state, layout, (0, 0, sw, sh), only_side=intact, reflect=True)
            GL.glDisable(GL.GL_SCISSOR_TEST)
        else:
            self._draw_world(state, layout, (0, 0, sw, sh))
        if offscreen:
            self.target.upscale(sw, sh)
        timing = self.timer.text(time.perf_counter()) if self.timer is not None else ""
        if self.view == "stereo_sbs":
            half = w // 2
            for viewport in ((0, 0, half, h), (half, 0, w - half, h)):
                self._draw_overlay(state, viewport, timing)
        else:
            self._draw_overlay(state, (0, 0, w, h), timing)
        GL.glBindVertexArray(0)

    def _draw_world(
        self,
        state: SceneState,
        layout: SceneLayout,
        viewport: tuple[int, int, int, int],
        eye_offset_m: float = 0.0,
        only_side: str | None = None,
        reflect: bool = False,
    ) -> None:
        """Limbs, trunk, room, shadows and ghost into ``viewport`` (x, y, w, h) px.

        ``reflect`` draws the world reflected across the midline (the mirror box); the
        reflection flips handedness, so counter-clockwise faces appear clockwise on screen
        and the front face is switched to ``GL_CW`` for that pass.
        """
        x, y, w, h = viewport
        GL.glViewport(x, y, w, h)
        camera = layout.camera
        view = camera.view_matrix(eye_offset_m)
        projection = camera.projection_matrix(w / h)
        if reflect:
            view = view @ MIDLINE_FLIP
        GL.glClear(GL.GL_DEPTH_BUFFER_BIT)
        GL.glDisable(GL.GL_BLEND)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glEnable(GL.GL_CULL_FACE)
        GL.glCullFace(GL.GL_BACK)
        GL.glFrontFace(GL.GL_CW if reflect else GL.GL_CCW)
        # The camera position in the (possibly reflected) world, for specular and rim light.
        eye_world = np.linalg.inv(view)[:3, 3]
        light = np.asarray(layout.room.light_direction, dtype=float)
        light /= np.linalg.norm(light)
        for program in (self.static_program, self.skin_program):
            program.use()
            program.set_uniform("u_view", view)
            program.set_uniform("u_projection", projection)
            program.set_uniform("u_light_direction", light)
            program.set_uniform("u_alpha", 1.0)

        # Front to back: limbs, then the scenery (trunk, furniture, floor, walls).
        program = self.skin_program
        program.use()
        program.set_uniform("u_camera_position", eye_world)
        program.set_uniform("u_wrap", 0.45)
        program.set_uniform("u_specular", 0.10)
        program.set_uniform("u_virtual_rgb", VIRTUAL_RGB)
        program.set_uniform("u_sleeve_rgb", CLOTH_RGB)
        program.set_uniform("u_sleeve_to_m", SLEEVE_TO_M[state.limb])
        drawn = [s for s in SIDES if only_side is None or s == only_side]
        for side in drawn:
            self._set_residual(state, side, ghost=False)
            tension = state.limb_tension if side == state.affected_side else None
            program.set_uniform("u_tension", 0.0 if tension is None else float(tension))
            program.set_uniform("u_color", self.appearance.skin_rgb)
            self._draw_limb(layout, side, state.pose(side))

        self._draw_scenery(state.limb)

        self._draw_shadows(layout, view, projection, drawn)

        if state.ghost_pose is not None and only_side is None:
            program.use()
            GL.glEnable(GL.GL_BLEND)
            GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
            GL.glDepthMask(GL.GL_FALSE)
            self._set_residual(state, state.affected_side, ghost=True)
            program.set_uniform("u_tension", 0.0)
            program.set_uniform("u_sleeve_to_m", -1.0)
            program.set_uniform("u_color", GHOST_RGB)
            program.set_uniform("u_alpha", GHOST_ALPHA)
            self._draw_limb(layout, state.affected_side, state.ghost_pose, shadow=False)
            GL.glDepthMask(GL.GL_TRUE)
            GL.glDisable(GL.GL_BLEND)
        GL.glFrontFace(GL.GL_CCW)

    def _draw_scenery(self, limb: str) -> None:
        """The baked trunk and room of ``limb``'s scene (one draw call)."""
        self.static_program.use()
        self.static_program.set_uniform("u_model", np.eye(4))
        self.scenery[limb].draw()

    def _draw_shadows(self, layout, view, projection, sides) -> None:
        """Soft contact shadows of the drawn limbs on the surface they rest on: one decal per
        capsule, multiplied into the frame where that surface is visible."""
        capsules = [c for side, c in self._capsules if side in sides]
        if not capsules:
            return
        caps = np.concatenate(capsules)[:MAX_CAPSULES]
        program = self.shadow_program
        program.use()
        program.set_uniform("u_view", view)
        program.set_uniform("u_projection", projection)
        program.set_uniform("u_light_direction", layout.room.light_direction)
        top = layout.room.receiver
        (cx, cy, cz), (sx, sy, sz) = top.center_m, top.size_m
        program.set_uniform("u_plane_y", cy + sy / 2 + 0.0008)
        program.set_uniform("u_plane_rect", (cx - sx / 2, cz - sz / 2, cx + sx / 2, cz + sz / 2))
        program.set_uniform("u_capsule_a", caps[:, 0])
        program.set_uniform("u_capsule_b", caps[:, 1])
        program.set_uniform("u_occlusion", SHADOW_OCCLUSION)
        program.set_uniform("u_shadow", SHADOW_STRENGTH)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glDepthFunc(GL.GL_LEQUAL)
        GL.glDepthMask(GL.GL_FALSE)
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_DST_COLOR, GL.GL_ZERO)
        GL.glBindVertexArray(self.overlay.empty_vao)
        GL.glDrawArraysInstanced(GL.GL_TRIANGLE_STRIP, 0, 4, len(caps))
        GL.glDisable(GL.GL_BLEND)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glEnable(GL.GL_CULL_FACE)

    def _set_residual(self, state: SceneState, side: str, ghost: bool) -> None:
        """Uniforms that split ``side``'s limb into residual and virtual parts."""
        program = self.skin_program
        level = self.appearance.virtual_from_m(state.limb)
        if side != state.affected_side or ghost:
            program.set_uniform("u_virtual_from_m", 1.0e3)  # nothing virtual
            program.set_uniform("u_virtual_mix", 0.0)
            program.set_uniform("u_residual_visible", 1.0)
            return
        mode = self.appearance.residual
        program.set_uniform("u_virtual_from_m", -1.0 if level is None else level)
        program.set_uniform("u_virtual_mix", VIRTUAL_MIX if mode == "distinct" else 0.0)
        program.set_uniform("u_residual_visible", 0.0 if mode == "hidden" else 1.0)

    def _draw_overlay(self, state: SceneState, viewport, timing: str) -> None:
        """HUD texts and patient screens at full resolution into ``viewport``."""
        overlay = self.overlay
        overlay.begin(viewport)
        if state.breathing is not None:
            draw_breathing(overlay, state.breathing)
        if state.gauge is not None:
            draw_gauge(overlay, state.gauge)
        if state.question is not None:
            draw_question(overlay, state.question)
        draw_hud(overlay, state.cue_text, state.status_text, timing)
        overlay.end()

    def _draw_limb(self, layout: SceneLayout, side: str, pose, shadow: bool = True) -> None:
        key = (pose.limb, side)
        model = self.models[key]
        coarse = self.skinning == "gpu" and self._frame_scale < COARSE_BELOW_SCALE
        mesh = (self.coarse_meshes if coarse else self.meshes)[key]
        scales = self._joint_scales[pose.limb]
        skinning = self._frame_skinning.get(id(pose))
        if skinning is None:
            skinning = skinning_matrices(model, pose, scales)
            self._frame_skinning[id(pose)] = skinning
        cached = self._placements.get((id(layout), side))
        if cached is None or cached[0] is not layout:
            cached = self._placements[id(layout), side] = (layout, layout.placement(side))
        rested = self._rested.get(id(pose))
        if rested is None:  # the pose may press into the table or floor: lift the limb
            top = layout.room.receiver
            rested = self._rested[id(pose)] = resting_placement(
                pose.limb, side, skinning, self._binds[key], cached[1],
                model.joint_names.index, top.center_m[1] + top.size_m[1] / 2)
        placement, capsules = rested
        if shadow and not any(s == side for s, _ in self._capsules):
            self._capsules.append((side, capsules))
        self.skin_program.set_uniform("u_model", placement)
        if self.skinning == "gpu":
            self.skin_program.set_uniform("u_joint_matrices", skinning)
            if scales is not None:  # SCALED_JOINTS: per-joint normal matrices
                normals = np.zeros_like(skinning)
                normals[:, :3, :3] = np.linalg.inv(skinning[:, :3, :3]).transpose(0, 2, 1)
                normals[:, 3, 3] = 1.0
                self.skin_program.set_uniform("u_normal_matrices", normals)
        else:
            positions = skin_vertices(skinning, model.positions, model.joints, model.weights)
            rotations = skinning.copy()
            rotations[:, :3, 3] = 0.0
            normals = skin_vertices(rotations, model.normals, model.joints, model.weights)
            mesh.update("in_position", positions)
            mesh.update("in_normal", normals)
        mesh.draw()

    def close(self) -> None:
        """Free the GL resources (idempotent)."""
        for mesh in (*self.meshes.values(), *self.coarse_meshes.values(),
                     *self.scenery.values()):
            mesh.release()
        self.meshes = {}
        self.coarse_meshes = {}
        self.scenery = {}
        for program in (self.skin_program, self.static_program, self.shadow_program):
            if program is not None:
                program.release()
        if self.target is not None:
            self.target.release()
            self.target = None
        if self.overlay is not None:
            self.overlay.release()
            self.overlay = None
