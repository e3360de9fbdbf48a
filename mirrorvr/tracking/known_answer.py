"""Known-answer videos for the webcam tracker: our own limb models rendered at known angles.

A close camera looks at one hand resting on the table (as a webcam on a stand above the
table would), or at one leg from its outer side; the other limb is out of view. Each video
starts with the neutral pose (the bind pose: hand flat, foot flat) for ``neutral_frames``,
then holds every test pose for ``hold_frames``, once per skin tone. Rendering uses
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


def _studio_layout(side: str, limb: str):
    """A scene layout with ``side``'s limb centred in a close camera, the other far away."""
    from mirrorvr.render.scene import ArmLayout, Box, Camera, LegLayout, Room, SceneLayout

    far = translation_matrix((0.0, -50.0, 50.0))  # behind the camera, out of view
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    if limb == "upper":
        # the right forearm along -z, the hand centred under the camera at z ~ -0.3 m
        right = translation_matrix((0.012, 0.026, 0.06))
        # overhead, as a webcam on a stand: aimed at the middle of the hand (model z ~ -0.34)
        camera = Camera(eye_m=(0.0, 0.42, -0.24), target_m=(0.0, 0.03, -0.275), fov_y_deg=45.0)
        room = Room()
    else:
        # the right leg seen from its outer side: its length along +x, the camera along -z
        right = translation_matrix((-0.25, 0.50, 0.0)) @ rotation_matrix((0, 1, 0), -np.pi / 2)
        camera = Camera(eye_m=(0.0, 0.35, 1.7), target_m=(0.0, 0.28, 0.0), fov_y_deg=36.0)
        # a plain floor; its top is the surface the foot's contact shadow falls on
        floor = Box((0.0, -0.02, -1.0), (8.0, 0.04, 8.0), (0.42, 0.45, 0.48))
        mat = Box((0.0, 0.001, 0.0), (3.0, 0.002, 3.0), (0.42, 0.45, 0.48), shadowed=True)
        room = Room(floor=floor, table=(mat,))
    shown = right if side == "right" else mirror @ right @ mirror

    class _Studio(ArmLayout if limb == "upper" else LegLayout):
        def placement(self, s: str) -> np.ndarray:
            return shown if s == side else far

    return SceneLayout(camera=camera, arms=_Studio() if limb == "upper" else ArmLayout(),
                       legs=_Studio() if limb == "lower" else LegLayout(), room=room, limb=limb)


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
        renderer = Renderer(window, RenderSettings(width=width, height=height),
                            layout=_studio_layout(side, limb))
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
