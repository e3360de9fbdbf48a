"""Turns a :class:`~mirrorvr.render.scene.SceneState` into draw calls.

Per frame: background gradient, the room's boxes (table or chair, floor), both limbs (upper:
upper arm, forearm, hand; lower: thigh, shank, foot) with linear-blend skinning, an optional
translucent ghost of the target pose, and the HUD (cue, status, frame-timing overlay).
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
from mirrorvr.limb.kinematics import skin_vertices, skinning_matrices
from mirrorvr.limb.mirror import other_side
from mirrorvr.limb.model import LimbModel, load_limb_model
from mirrorvr.limb.skeleton import LIMBS, SIDES, check_limb
from mirrorvr.render.appearance import Appearance
from mirrorvr.render.gl import GL, GLError
from mirrorvr.render.hud import HudText
from mirrorvr.render.mesh import Mesh, unit_cube
from mirrorvr.render.scene import MIDLINE_FLIP, SceneLayout, SceneState
from mirrorvr.render.shader import ShaderProgram
from mirrorvr.render.timing import FrameTimer

logger = logging.getLogger(__name__)

GHOST_RGB = (0.80, 0.88, 1.0)
GHOST_ALPHA = 0.35
VIRTUAL_RGB = (0.62, 0.76, 0.98)
VIRTUAL_MIX = 0.55
VIEWS: tuple[str, ...] = ("mono", "stereo_sbs", "mirror_box")
MAX_JOINTS = 32


class Renderer:
    """Draws scenes into a window.

    Parameters
    ----------
    window : Window
        An open window (its GL context is current).
    settings : RenderSettings
        Window-level settings (the patient's look comes in ``appearance``).
    layout : SceneLayout, optional
        Camera, limb placement and room for scenes of ``layout.limb``; the default layouts
        (:meth:`SceneLayout.upper` / :meth:`SceneLayout.lower`) otherwise.
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
        self.models: dict[tuple[str, str], LimbModel] = {}
        self.meshes: dict[tuple[str, str], Mesh] = {}
        self.skin_program = self.static_program = self.background_program = None
        self.empty_vao = 0
        try:
            self.skin_program = ShaderProgram("skin.vert", "lit.frag", defines)
            self.static_program = ShaderProgram("static.vert", "lit.frag")
            self.background_program = ShaderProgram("background.vert", "background.frag")
            self._load_limb("upper")
            self.cube = unit_cube()
            self.cube.upload()
            self.empty_vao = int(GL.glGenVertexArrays(1))
            hud_width = window.width // 2 if view == "stereo_sbs" else window.width
            self.hud = HudText(hud_width, window.height)
        except GLError as err:
            raise RenderError(f"renderer setup failed: {err}") from err
        self.frames = 0
        self._frame_skinning: dict[int, np.ndarray] = {}  # id(pose) -> (n_joints, 4, 4)
        # (id(layout), side) -> (layout, model -> world (4, 4)); layouts are frozen.
        self._placements: dict[tuple[int, str], tuple[SceneLayout, np.ndarray]] = {}

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

    # ------------------------------------------------------------------ drawing

    def draw(self, state: SceneState) -> None:
        """Draw one frame of ``state`` into the window's back buffer (not swapped)."""
        t0 = time.perf_counter()
        try:
            self._draw(state)
        except GLError as err:
            raise RenderError(f"drawing frame {self.frames} failed: {err}") from err
        if self.timer is not None:
            self.timer.record(t0, 1000.0 * (time.perf_counter() - t0))
        self.frames += 1

    def _draw(self, state: SceneState) -> None:
        limb = check_limb(state.limb)
        self._load_limb(limb)
        layout = self.layouts[limb]
        # Skinning matrices are computed once per pose per frame, not once per eye or pass.
        self._frame_skinning = {}
        w, h = self.window.width, self.window.height
        GL.glDisable(GL.GL_SCISSOR_TEST)
        GL.glViewport(0, 0, w, h)
        GL.glClearColor(*layout.room.bottom_color, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        timing = self.timer.text(time.perf_counter()) if self.timer is not None else ""
        if self.view == "stereo_sbs":
            half = w // 2
            for i, offset in enumerate((-self.ipd_m / 2, self.ipd_m / 2)):
                viewport = (i * half, 0, half, h)
                self._draw_world(state, layout, viewport, eye_offset_m=offset)
                self._draw_hud(state, viewport, timing)
        elif self.view == "mirror_box":
            half = w // 2
            intact = other_side(state.affected_side)
            # Screen halves: the patient's right is the right half.
            halves = {"left": (0, 0, half, h), "right": (half, 0, w - half, h)}
            GL.glEnable(GL.GL_SCISSOR_TEST)
            GL.glScissor(*halves[intact])
            self._draw_world(state, layout, (0, 0, w, h), only_side=intact)
            GL.glScissor(*halves[state.affected_side])
            self._draw_world(state, layout, (0, 0, w, h), only_side=intact, reflect=True)
            GL.glDisable(GL.GL_SCISSOR_TEST)
            self._draw_hud(state, (0, 0, w, h), timing)
        else:
            self._draw_world(state, layout, (0, 0, w, h))
            self._draw_hud(state, (0, 0, w, h), timing)
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
        """Background, room and limbs into ``viewport`` (x, y, w, h) px.

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
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_BLEND)
        self.background_program.use()
        self.background_program.set_uniform("u_top_color", layout.room.top_color)
        self.background_program.set_uniform("u_bottom_color", layout.room.bottom_color)
        GL.glBindVertexArray(self.empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)

        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glEnable(GL.GL_CULL_FACE)
        GL.glCullFace(GL.GL_BACK)
        GL.glFrontFace(GL.GL_CW if reflect else GL.GL_CCW)
        # The camera position in the (possibly reflected) world, for specular and rim light.
        eye_world = np.linalg.inv(view)[:3, 3]
        light = np.asarray(layout.room.light_direction, dtype=float)
        for program in (self.static_program, self.skin_program):
            program.use()
            program.set_uniform("u_view", view)
            program.set_uniform("u_projection", projection)
            program.set_uniform("u_camera_position", eye_world)
            program.set_uniform("u_light_direction", light)
            program.set_uniform("u_alpha", 1.0)

        self.static_program.use()
        self.static_program.set_uniform("u_wrap", 0.1)
        self.static_program.set_uniform("u_specular", 0.04)
        for box in (layout.room.floor, *layout.room.table):
            self.static_program.set_uniform("u_model", box.matrix())
            self.static_program.set_uniform("u_color", box.color)
            self.cube.draw()

        program = self.skin_program
        program.use()
        program.set_uniform("u_wrap", 0.45)
        program.set_uniform("u_specular", 0.10)
        program.set_uniform("u_virtual_rgb", VIRTUAL_RGB)
        for side in SIDES:
            if only_side is not None and side != only_side:
                continue
            self._set_residual(state, side, ghost=False)
            program.set_uniform("u_color", self.appearance.skin_rgb)
            self._draw_limb(layout, side, state.pose(side))

        if state.ghost_pose is not None and only_side is None:
            GL.glEnable(GL.GL_BLEND)
            GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
            GL.glDepthMask(GL.GL_FALSE)
            self._set_residual(state, state.affected_side, ghost=True)
            program.set_uniform("u_color", GHOST_RGB)
            program.set_uniform("u_alpha", GHOST_ALPHA)
            self._draw_limb(layout, state.affected_side, state.ghost_pose)
            GL.glDepthMask(GL.GL_TRUE)
            GL.glDisable(GL.GL_BLEND)
        GL.glFrontFace(GL.GL_CCW)

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

    def _draw_hud(self, state: SceneState, viewport, timing: str) -> None:
        GL.glViewport(*viewport)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_CULL_FACE)
        self.hud.draw(state.cue_text, state.status_text, self.empty_vao, timing)

    def _draw_limb(self, layout: SceneLayout, side: str, pose) -> None:
        key = (pose.limb, side)
        model = self.models[key]
        mesh = self.meshes[key]
        skinning = self._frame_skinning.get(id(pose))
        if skinning is None:
            skinning = skinning_matrices(model, pose, self._joint_scales[pose.limb])
            self._frame_skinning[id(pose)] = skinning
        cached = self._placements.get((id(layout), side))
        if cached is None or cached[0] is not layout:
            cached = self._placements[id(layout), side] = (layout, layout.placement(side))
        self.skin_program.set_uniform("u_model", cached[1])
        if self.skinning == "gpu":
            self.skin_program.set_uniform("u_joint_matrices", skinning)
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
        for mesh in (*self.meshes.values(), getattr(self, "cube", None)):
            if mesh is not None:
                mesh.release()
        self.meshes = {}
        for program in (self.skin_program, self.static_program, self.background_program):
            if program is not None:
                program.release()
        if self.empty_vao:
            GL.glDeleteVertexArrays(1, [self.empty_vao])
            self.empty_vao = 0
        if getattr(self, "hud", None) is not None:
            self.hud.release()
