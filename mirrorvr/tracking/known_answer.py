"""Known-answer videos for the webcam tracker: our own limb models rendered at known angles.

Hands: a close camera looks at one hand resting on the table (as a webcam on a stand above
the table would); the other hand is out of view. Legs: a camera on a tripod in front and to
the side of the whole seated body (head with a face, trunk, arms, both legs; the body turned
by :data:`BODY_TURN_RAD` so the leg under test is the near one), because MediaPipe Pose's
person detector looks for a body with a face (a lone leg was found in half of the frames or
none); the other leg rests. Each video starts with the neutral pose (the bind pose: hand
flat, foot flat) for ``neutral_frames``, then holds every test pose for ``hold_frames``,
once per skin tone. Rendering uses
:mod:`mirrorvr.render` offscreen (imports inside the functions: this is an edge module).

:func:`render_known_answer_video` writes the MP4 and returns the truth per frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import Pose, check_limb, check_side, rotation_matrix, translation_matrix

log = logging.getLogger(__name__)

#: Skin tones of the test renders, sRGB (light, medium, dark; Fitzpatrick ~II, ~IV, ~VI).
SKIN_TONES: dict[str, tuple[float, float, float]] = {
    "light": (0.87, 0.68, 0.56),
    "medium": (0.66, 0.47, 0.34),
    "dark": (0.36, 0.24, 0.17),
}
#: Test poses per limb: (label, movement, level).
TEST_POSES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "upper": (
        ("relaxed", "rest", 0.0),
        ("hand_close_0.6", "hand_close", 0.6),
        ("hand_open", "hand_open", 1.0),
        ("wrist_flexion_0.6", "wrist_flexion", 0.6),
        ("wrist_extension_0.6", "wrist_extension", 0.6),
        ("point", "point", 1.0),
    ),
    "lower": (
        ("relaxed", "rest", 0.0),
        ("knee_extension_0.7", "knee_extension", 0.7),
        ("knee_flexion_0.5", "knee_flexion", 0.5),
        ("ankle_dorsiflexion", "ankle_dorsiflexion", 1.0),
        ("ankle_plantarflexion_0.8", "ankle_plantarflexion", 0.8),
    ),
}


@dataclass
class KnownAnswerVideo:
    """A rendered test video and its truth.

    Attributes
    ----------
    path : Path
    side, limb : str
    fps : float
    labels : list of str, one per frame ("neutral" or "<tone>:<pose>")
    truth : (n_frames, n_dofs) float, rad
    """

    path: Path
    side: str
    limb: str
    fps: float
    labels: list[str] = field(default_factory=list)
    truth: np.ndarray | None = None


def _studio_layout(side: str):
    """A scene layout with ``side``'s hand centred in a close camera, the other far away."""
    from mirrorvr.render.scene import ArmLayout, Camera, Room, SceneLayout

    far = translation_matrix((0.0, -50.0, 50.0))  # behind the camera, out of view
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    # the right forearm along -z, the hand centred under the camera at z ~ -0.3 m
    right = translation_matrix((0.012, 0.026, 0.06))
    # overhead, as a webcam on a stand: aimed at the middle of the hand (model z ~ -0.34)
    camera = Camera(eye_m=(0.0, 0.42, -0.24), target_m=(0.0, 0.03, -0.275), fov_y_deg=45.0)
    shown = right if side == "right" else mirror @ right @ mirror

    class _Studio(ArmLayout):
        def placement(self, s: str) -> np.ndarray:
            return shown if s == side else far

    return SceneLayout(camera=camera, arms=_Studio(), room=Room(), limb="upper")


#: Full-body scene (legs): how far the body is turned from facing the camera, rad; the leg
#: under test turns its outer side a little towards the camera, so the knee and ankle bend
#: mostly across the view, while the face stays in view for Pose's person detector.
BODY_TURN_RAD = np.radians(50.0)
#: Hair and the features of the face, sRGB.
HAIR_RGB = (0.16, 0.11, 0.08)
LIP_RGB = (0.55, 0.28, 0.26)
EYE_RGB = (0.06, 0.05, 0.05)
SCLERA_RGB = (0.92, 0.90, 0.86)


def _ellipsoid(center, radii, color, n_lat: int = 18, n_lon: int = 28):
    """A UV ellipsoid: positions (n, 3), normals (n, 3), triangles (m, 3) (counter-clockwise
    seen from outside) and ``color``."""
    theta = np.linspace(0.0, np.pi, n_lat + 1)
    phi = np.linspace(0.0, 2.0 * np.pi, n_lon + 1)
    t, f = np.meshgrid(theta, phi, indexing="ij")
    unit = np.stack([np.sin(t) * np.cos(f), np.cos(t), np.sin(t) * np.sin(f)], axis=-1)
    unit = unit.reshape(-1, 3)
    radii = np.asarray(radii, dtype=float)
    normals = unit / radii
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    faces = []
    for i in range(n_lat):
        for j in range(n_lon):
            a, b = i * (n_lon + 1) + j, (i + 1) * (n_lon + 1) + j
            faces += [(a, a + 1, b), (a + 1, b + 1, b)]
    return unit * radii + np.asarray(center, dtype=float), normals, np.array(faces), color


def _head_parts(skin_rgb, trunk: np.ndarray):
    """Head, hair and face (eyes, brows, nose, lips, ears) on the trunk's neck, world, as
    :func:`_ellipsoid` parts. Trunk frame: ``+y`` up the spine, ``-z`` forward."""
    parts = [
        _ellipsoid((0.0, 0.70, -0.005), (0.078, 0.105, 0.095), skin_rgb),  # skull and face
        _ellipsoid((0.0, 0.745, 0.012), (0.083, 0.082, 0.092), HAIR_RGB),  # hair, back and top
        _ellipsoid((0.0, 0.638, -0.045), (0.055, 0.05, 0.06), skin_rgb),  # jaw and chin
        _ellipsoid((0.0, 0.69, -0.105), (0.013, 0.028, 0.018), skin_rgb),  # nose
        _ellipsoid((0.0, 0.642, -0.094), (0.024, 0.008, 0.01), LIP_RGB),  # lips
    ]
    for sx in (-1.0, 1.0):
        parts += [
            _ellipsoid((sx * 0.031, 0.712, -0.083), (0.015, 0.009, 0.008), SCLERA_RGB),
            _ellipsoid((sx * 0.031, 0.712, -0.0895), (0.0065, 0.0065, 0.004), EYE_RGB),
            _ellipsoid((sx * 0.032, 0.731, -0.085), (0.019, 0.004, 0.008), HAIR_RGB),  # brow
            _ellipsoid((sx * 0.079, 0.695, 0.0), (0.012, 0.026, 0.017), skin_rgb),  # ear
        ]
    out = []
    for positions, normals, faces, color in parts:
        out.append((positions @ trunk[:3, :3].T + trunk[:3, 3], normals @ trunk[:3, :3].T,
                    faces, color))
    return out


def _full_body_layout(side: str):
    """Seated upright on a stool in the middle of a room, seen from in front and to
    ``side`` by a camera on a tripod; the body is turned by :data:`BODY_TURN_RAD`.

    Returns the layout (legs, trunk, room, camera) and the arms' placements by side.
    """
    from mirrorvr.limb.mirror import reflect_matrix
    from mirrorvr.limb.skeleton import SHOULDER_M, TRUNK_SHOULDER_M
    from mirrorvr.render.scene import (
        FLOOR_RGB,
        RUG_RGB,
        WALL_RGB,
        Box,
        Camera,
        LegLayout,
        Room,
        SceneLayout,
        trunk_placement,
    )

    turn = rotation_matrix((0.0, 1.0, 0.0), -BODY_TURN_RAD if side == "left" else BODY_TURN_RAD)
    seated = LegLayout()
    hips = np.array([0.0, seated.right_hip_m[1], seated.right_hip_m[2]])
    trunk = turn @ trunk_placement(hips, -0.05)  # leaning back a little

    class _Legs(LegLayout):
        def placement(self, s: str) -> np.ndarray:
            return turn @ seated.placement(s)

    # the arms hang from the shoulders, forearms forward over the thighs
    right_arm = (trunk_placement(hips, -0.05) @ translation_matrix(TRUNK_SHOULDER_M)
                 @ rotation_matrix((1.0, 0.0, 0.0), -0.25)
                 @ translation_matrix(-np.asarray(SHOULDER_M)))
    arms = {"right": turn @ right_arm, "left": turn @ reflect_matrix(right_arm)}
    stool = Box((0.0, 0.20, 0.10), (0.36, 0.40, 0.36), (0.30, 0.26, 0.22))
    rug = Box((0.0, 0.004, -0.2), (2.4, 0.008, 2.0), RUG_RGB, "matte", True)
    room = Room(floor=Box((0.0, -0.02, 0.0), (10.0, 0.04, 10.0), FLOOR_RGB, "wood", True),
                table=(rug, stool),
                walls=(Box((0.0, 1.3, 1.6), (8.0, 2.6, 0.04), WALL_RGB),),
                light_direction=(0.25, 0.9, -0.35))
    camera = Camera(eye_m=(0.0, 0.95, -2.6), target_m=(0.0, 0.55, 0.0), fov_y_deg=36.0)
    return SceneLayout(camera=camera, legs=_Legs(), room=room, limb="lower", trunk=trunk), arms


def _full_body_renderer(window, settings, side: str):
    """A :class:`~mirrorvr.render.renderer.Renderer` of the full-body scene: the legs as
    always, plus the trunk with a head (:func:`_head_parts`, in the current skin tone) and
    both arms in their rest pose."""
    from mirrorvr.limb.poses import target_pose
    from mirrorvr.limb.skeleton import UPPER_ARM_LENGTH_M
    from mirrorvr.render.mesh import Mesh
    from mirrorvr.render.renderer import Renderer
    from mirrorvr.render.scene import MATERIALS, ArmLayout, SceneLayout
    from mirrorvr.render.scenery import bake_scenery

    layout, arm_placements = _full_body_layout(side)

    class _Arms(ArmLayout):
        def placement(self, s: str) -> np.ndarray:
            return arm_placements[s]

    arm_layout = SceneLayout(camera=layout.camera, arms=_Arms(), room=layout.room)
    arm_poses = {s: target_pose("rest", 0.0, s, "upper") for s in ("left", "right")}

    class _FullBody(Renderer):
        _head_tone = None

        def _bake(self) -> None:
            tone = tuple(self.appearance.skin_rgb)
            if tone == self._head_tone:
                return
            arrays = bake_scenery(layout, self._trunk)
            extra = {"in_position": [arrays["in_position"]], "in_normal": [arrays["in_normal"]],
                     "in_color_0": [arrays["in_color_0"]],
                     "in_material": [arrays["in_material"]], "indices": [arrays["indices"]]}
            base = len(arrays["in_position"])
            for positions, normals, faces, color in _head_parts(tone, layout.trunk):
                n = len(positions)
                extra["in_position"].append(positions)
                extra["in_normal"].append(normals)
                extra["in_color_0"].append(np.tile(np.asarray(color, dtype=float), (n, 1)))
                extra["in_material"].append(np.full((n, 1), float(MATERIALS.index("matte"))))
                extra["indices"].append(faces + base)
                base += n
            merged = {k: np.concatenate(v).astype(np.float32) for k, v in extra.items()
                      if k != "indices"}
            if "lower" in self.scenery:
                self.scenery["lower"].release()
            self.scenery["lower"] = Mesh(
                merged, np.concatenate(extra["indices"]).astype(np.uint32), name="full_body")
            self.scenery["lower"].upload()
            self._head_tone = tone

        def _draw_scenery(self, limb: str) -> None:
            self._bake()
            super()._draw_scenery(limb)
            self._load_limb("upper")
            program = self.skin_program
            program.use()
            program.set_uniform("u_sleeve_to_m", UPPER_ARM_LENGTH_M)
            program.set_uniform("u_tension", 0.0)
            program.set_uniform("u_color", self.appearance.skin_rgb)
            program.set_uniform("u_virtual_from_m", 1.0e3)
            program.set_uniform("u_virtual_mix", 0.0)
            program.set_uniform("u_residual_visible", 1.0)
            for s, pose in arm_poses.items():
                self._draw_limb(arm_layout, s, pose, shadow=False)

    return _FullBody(window, settings, layout=layout)


def known_answer_poses(side: str, limb: str) -> list[tuple[str, Pose]]:
    """``(label, pose)`` of every test pose of ``limb`` on ``side``."""
    return [(label, target_pose(movement, level, side, limb))
            for label, movement, level in TEST_POSES[limb]]


def render_known_answer_video(path: str | Path, side: str, limb: str, *, width: int = 640,
                              height: int = 480, fps: float = 30.0, neutral_frames: int = 10,
                              hold_frames: int = 5, tones=tuple(SKIN_TONES)) -> KnownAnswerVideo:
    """Render the known-answer video of ``side``'s ``limb`` to ``path`` (MP4, H.264).

    Opens its own headless window (none may be open).
    """
    check_side(side)
    check_limb(limb)
    for tone in tones:
        if tone not in SKIN_TONES:
            raise ConfigError(f"tones: {tone!r} is not a skin tone (allowed: {list(SKIN_TONES)})")
    import imageio_ffmpeg

    from mirrorvr.config import RenderSettings
    from mirrorvr.limb.mirror import other_side
    from mirrorvr.render.appearance import Appearance
    from mirrorvr.render.renderer import Renderer
    from mirrorvr.render.scene import SceneState
    from mirrorvr.render.window import open_window

    path = Path(path)
    video = KnownAnswerVideo(path, side, limb, fps)
    frames: list[tuple[str, Pose, str]] = [("neutral", Pose.rest(side, limb), tones[0])] * int(
        neutral_frames)
    for tone in tones:
        for label, pose in known_answer_poses(side, limb):
            frames += [(f"{tone}:{label}", pose, tone)] * int(hold_frames)
    other = target_pose("rest", 0.0, other_side(side), limb)
    window = open_window(width, height, headless=True, title="mirrorvr-known-answer", samples=4)
    renderer = None
    writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=fps, quality=9,
                                         macro_block_size=8)
    writer.send(None)
    try:
        # full resolution always: the adaptive scale would make the video depend on how
        # busy the machine is (a loaded machine rendered coarser hands that MediaPipe missed)
        settings = RenderSettings(width=width, height=height, render_scale=1.0)
        renderer = (Renderer(window, settings, layout=_studio_layout(side))
                    if limb == "upper" else _full_body_renderer(window, settings, side))
        for label, pose, tone in frames:
            renderer.appearance = Appearance(skin_rgb=SKIN_TONES[tone])
            left, right = (pose, other) if side == "left" else (other, pose)
            renderer.draw(SceneState(left, right, affected_side=other_side(side)))
            writer.send(np.ascontiguousarray(window.read_pixels()))
            window.swap()
            video.labels.append(label)
    finally:
        writer.close()
        if renderer is not None:
            renderer.close()
        window.close()
    video.truth = np.stack([pose.angles for _, pose, _ in frames])
    log.info("known-answer video %s: %d frames", path, len(frames))
    return video
