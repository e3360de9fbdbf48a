"""Turns a :class:`~mirrorvr.render.scene.SceneState` into draw calls.

Per frame: background gradient, floor and table (lit boxes), both hands and forearms with
linear-blend skinning, an optional translucent ghost hand, and the HUD text. Skinning runs in
the vertex shader (``skinning="gpu"``, the default) or, as the benchmark's naive peer, in
numpy with the vertex buffers re-uploaded every frame (``skinning="cpu"``).
"""

from __future__ import annotations

import logging

from mirrorvr.config import RenderSettings
from mirrorvr.errors import RenderError
from mirrorvr.limb.kinematics import skin_vertices, skinning_matrices
from mirrorvr.limb.model import LimbModel, load_limb_model
from mirrorvr.limb.skeleton import SIDES
from mirrorvr.render.gl import GL, GLError
from mirrorvr.render.hud import HudText
from mirrorvr.render.mesh import Mesh, unit_cube
from mirrorvr.render.scene import SceneLayout, SceneState
from mirrorvr.render.shader import ShaderProgram

logger = logging.getLogger(__name__)

GHOST_RGB = (0.80, 0.88, 1.0)
GHOST_ALPHA = 0.35


class Renderer:
    """Draws scenes into a window.

    Parameters
    ----------
    window : Window
        An open window (its GL context is current).
    settings : RenderSettings
        ``skin_rgb`` colours the hands.
    layout : SceneLayout, optional
        Camera, arm placement and room; the default symmetric layout if omitted.
    skinning : str
        ``"gpu"`` (vertex shader) or ``"cpu"`` (numpy + buffer re-upload, for comparison).
    """

    def __init__(
        self,
        window,
        settings: RenderSettings,
        layout: SceneLayout | None = None,
        skinning: str = "gpu",
    ):
        if skinning not in ("gpu", "cpu"):
            raise RenderError(f"skinning: {skinning!r} is not a mode (allowed: ['gpu', 'cpu'])")
        self.window = window
        self.settings = settings
        self.layout = layout or SceneLayout()
        self.skinning = skinning
        defines = {"MAX_JOINTS": 32}
        if skinning == "cpu":
            defines["CPU_SKINNED"] = 1
        try:
            self.skin_program = ShaderProgram("skin.vert", "lit.frag", defines)
            self.static_program = ShaderProgram("static.vert", "lit.frag")
            self.background_program = ShaderProgram("background.vert", "background.frag")
            self.models: dict[str, LimbModel] = {side: load_limb_model(side) for side in SIDES}
            for model in self.models.values():
                if model.n_joints > defines["MAX_JOINTS"]:
                    raise RenderError(
                        f"{model.path}: {model.n_joints} joints, the shader allows "
                        f"{defines['MAX_JOINTS']}"
                    )
            self.hand_meshes = {side: self._hand_mesh(m) for side, m in self.models.items()}
            self.cube = unit_cube()
            self.cube.upload()
            self.empty_vao = int(GL.glGenVertexArrays(1))
            self.hud = HudText(window.width, window.height)
        except GLError as err:
            raise RenderError(f"renderer setup failed: {err}") from err
        self.frames = 0

    def _hand_mesh(self, model: LimbModel) -> Mesh:
        attributes = {"in_position": model.positions, "in_normal": model.normals}
        dynamic = ()
        if self.skinning == "gpu":
            attributes |= {"in_joints_0": model.joints, "in_weights_0": model.weights}
        else:
            dynamic = ("in_position", "in_normal")
        mesh = Mesh(attributes, model.indices, name=f"hand_{model.side}", dynamic=dynamic)
        mesh.upload()
        return mesh

    # ------------------------------------------------------------------ drawing

    def draw(self, state: SceneState) -> None:
        """Draw one frame of ``state`` into the window's back buffer (not swapped)."""
        try:
            self._draw(state)
        except GLError as err:
            raise RenderError(f"drawing frame {self.frames} failed: {err}") from err
        self.frames += 1

    def _draw(self, state: SceneState) -> None:
        w, h = self.window.width, self.window.height
        camera = self.layout.camera
        view = camera.view_matrix()
        projection = camera.projection_matrix(w / h)
        GL.glViewport(0, 0, w, h)
        GL.glClearColor(*self.layout.room.bottom_color, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)

        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_BLEND)
        self.background_program.use()
        self.background_program.set_uniform("u_top_color", self.layout.room.top_color)
        self.background_program.set_uniform("u_bottom_color", self.layout.room.bottom_color)
        GL.glBindVertexArray(self.empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)

        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glEnable(GL.GL_CULL_FACE)
        GL.glCullFace(GL.GL_BACK)
        GL.glFrontFace(GL.GL_CCW)
        for program in (self.static_program, self.skin_program):
            program.use()
            program.set_uniform("u_view", view)
            program.set_uniform("u_projection", projection)
            program.set_uniform("u_camera_position", camera.eye_m)
            program.set_uniform("u_light_direction", self.layout.room.light_direction)
            program.set_uniform("u_alpha", 1.0)

        self.static_program.use()
        self.static_program.set_uniform("u_wrap", 0.1)
        self.static_program.set_uniform("u_specular", 0.04)
        for box in (self.layout.room.floor, *self.layout.room.table):
            self.static_program.set_uniform("u_model", box.matrix())
            self.static_program.set_uniform("u_color", box.color)
            self.cube.draw()

        self.skin_program.use()
        self.skin_program.set_uniform("u_wrap", 0.45)
        self.skin_program.set_uniform("u_specular", 0.10)
        self.skin_program.set_uniform("u_color", self.settings.skin_rgb)
        for side in SIDES:
            self._draw_hand(side, state.pose(side))

        if state.ghost_pose is not None:
            GL.glEnable(GL.GL_BLEND)
            GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
            GL.glDepthMask(GL.GL_FALSE)
            self.skin_program.set_uniform("u_color", GHOST_RGB)
            self.skin_program.set_uniform("u_alpha", GHOST_ALPHA)
            self._draw_hand(state.affected_side, state.ghost_pose)
            GL.glDepthMask(GL.GL_TRUE)

        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_CULL_FACE)
        self.hud.draw(state.cue_text, state.status_text, self.empty_vao)
        GL.glBindVertexArray(0)

    def _draw_hand(self, side: str, pose) -> None:
        model = self.models[side]
        mesh = self.hand_meshes[side]
        skinning = skinning_matrices(model, pose)
        self.skin_program.set_uniform("u_model", self.layout.arms.placement(side))
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
        for mesh in (*getattr(self, "hand_meshes", {}).values(), getattr(self, "cube", None)):
            if mesh is not None:
                mesh.release()
        for program in (self.skin_program, self.static_program, self.background_program):
            program.release()
        if self.empty_vao:
            GL.glDeleteVertexArrays(1, [self.empty_vao])
            self.empty_vao = 0
        self.hud.release()
