"""What the renderer draws, as plain data (no OpenGL, no pygame).

World space is metres: ``+x`` to the patient's right, ``+y`` up, ``-z`` away from the patient.
Two scenes:

* **upper limb** (:meth:`SceneLayout.upper`): seated at a table whose top is the ``y = 0``
  plane; both arms rest on it, elbows near the edge; the camera is at the patient's seated
  eye height on the midline, looking down at the forearms and hands.
* **lower limb** (:meth:`SceneLayout.lower`): seated on a chair, the floor is ``y = 0``;
  leaning forward a little, the patient sees both legs from the knees to the toes, the feet
  in front of the knees.

Everything (camera, furniture, limb layout, light) is symmetric about ``x = 0`` so a mirrored
scene renders as a mirrored image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.mirror import reflect_matrix
from mirrorvr.limb.skeleton import (
    SHOULDER_M,
    TRUNK_HIP_M,
    TRUNK_SHOULDER_M,
    Pose,
    check_limb,
    check_side,
    rotation_matrix,
    translation_matrix,
)
from mirrorvr.render.screens import BreathingView, GaugeView, QuestionView


def look_at(eye, target, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """World -> eye transform of a camera at ``eye`` looking at ``target``, (4, 4) float."""
    eye, target, up = (np.asarray(v, dtype=float) for v in (eye, target, up))
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = right, true_up, -forward
    m[:3, 3] = -m[:3, :3] @ eye
    return m


def perspective(fov_y_rad: float, aspect: float, near_m: float, far_m: float) -> np.ndarray:
    """OpenGL perspective projection (clip z in [-w, w]), (4, 4) float."""
    if not (aspect > 0 and 0 < near_m < far_m and 0 < fov_y_rad < np.pi):
        raise ConfigError(
            f"perspective: aspect={aspect!r}, near_m={near_m!r}, far_m={far_m!r}, "
            f"fov_y_rad={fov_y_rad!r} (need aspect > 0, 0 < near < far, 0 < fov < pi)"
        )
    f = 1.0 / np.tan(fov_y_rad / 2.0)
    m = np.zeros((4, 4))
    m[0, 0] = f / aspect
    m[1, 1] = f
    m[2, 2] = (far_m + near_m) / (near_m - far_m)
    m[2, 3] = 2.0 * far_m * near_m / (near_m - far_m)
    m[3, 2] = -1.0
    return m


@dataclass(frozen=True)
class Camera:
    """First-person camera on the body midline.

    Attributes
    ----------
    eye_m : (3,) float
        Eye position, m (x must be 0: the view is symmetric).
    target_m : (3,) float
        Point looked at, m (x must be 0).
    fov_y_deg : float
        Vertical field of view, degrees.
    near_m, far_m : float
    """

    eye_m: tuple[float, float, float] = (0.0, 0.42, 0.26)
    target_m: tuple[float, float, float] = (0.0, 0.0, -0.30)
    fov_y_deg: float = 62.0
    near_m: float = 0.03
    far_m: float = 20.0

    def __post_init__(self) -> None:
        if self.eye_m[0] != 0.0 or self.target_m[0] != 0.0:
            raise ConfigError(
                f"camera: eye_m {self.eye_m} and target_m {self.target_m} must lie on the "
                "midline (x = 0)"
            )

    def view_matrix(self, eye_offset_m: float = 0.0) -> np.ndarray:
        """World -> eye, (4, 4) float.

        ``eye_offset_m`` shifts the eye sideways along the camera's right axis (stereo: minus
        and plus half the interpupillary distance); the view direction stays parallel.
        """
        view = look_at(self.eye_m, self.target_m)
        if eye_offset_m:
            view = translation_matrix((-eye_offset_m, 0.0, 0.0)) @ view
        return view

    def projection_matrix(self, aspect: float) -> np.ndarray:
        """Eye -> clip for ``aspect`` = width / height, (4, 4) float."""
        return perspective(np.radians(self.fov_y_deg), aspect, self.near_m, self.far_m)


#: Where the right forearm lies on the table and how it is turned (see :class:`ArmLayout`):
#: found with the resting pose so that the finger pads and the forearm near the elbow both
#: touch the table top, the wrist arched ~1.5 cm above it (tests/test_render_presence.py).
ARM_ROOT_M = (0.17, 0.0442, 0.0)
ARM_YAW_RAD = 0.12
ARM_PITCH_RAD = -0.045


@dataclass(frozen=True)
class ArmLayout:
    """Where each arm lies on the table; the left one is the right one reflected.

    Attributes
    ----------
    right_root_m : (3,) float
        Position of the right limb model's origin (the elbow joint) in the world, m.
    yaw_rad : float
        Rotation of the right arm about ``+y``; positive turns the hand towards the midline
        (elbows by the body, hands in front of it).
    pitch_rad : float
        Rotation about ``+x``; negative lowers the hand (forearm and fingers on the table).
    """

    right_root_m: tuple[float, float, float] = ARM_ROOT_M
    yaw_rad: float = ARM_YAW_RAD
    pitch_rad: float = ARM_PITCH_RAD

    def placement(self, side: str) -> np.ndarray:
        """Model -> world transform of ``side``'s limb model, (4, 4) float (rigid, det +1)."""
        check_side(side)
        right = (
            translation_matrix(self.right_root_m)
            @ rotation_matrix((0.0, 1.0, 0.0), self.yaw_rad)
            @ rotation_matrix((1.0, 0.0, 0.0), self.pitch_rad)
        )
        return right if side == "right" else reflect_matrix(right)

    def shoulder_m(self) -> np.ndarray:
        """The right shoulder joint in the world, (3,) float, m."""
        return (self.placement("right") @ np.array([*SHOULDER_M, 1.0]))[:3]


@dataclass(frozen=True)
class LegLayout:
    """Where each leg is when seated; the left one is the right one reflected.

    Attributes
    ----------
    right_hip_m : (3,) float
        Position of the right hip joint (the lower-limb model's root), m: its height puts
        the resting sole on the rug (:data:`RUG_TOP_M`).
    yaw_rad : float
        Rotation of the right leg about ``+y``; negative turns the foot outwards.
    """

    right_hip_m: tuple[float, float, float] = (0.105, 0.436, 0.02)
    yaw_rad: float = -0.06

    def placement(self, side: str) -> np.ndarray:
        """Model -> world transform of ``side``'s leg model, (4, 4) float (rigid, det +1)."""
        check_side(side)
        right = translation_matrix(self.right_hip_m) @ rotation_matrix(
            (0.0, 1.0, 0.0), self.yaw_rad
        )
        return right if side == "right" else reflect_matrix(right)


#: Materials of the room's boxes: how :file:`shaders/lit.frag` shades them.
MATERIALS: tuple[str, ...] = ("matte", "wood", "window")


@dataclass(frozen=True)
class Box:
    """An axis-aligned box, m: ``center_m`` (3,), ``size_m`` (3,), sRGB ``color`` (3,).

    ``material`` is one of :data:`MATERIALS` (``"wood"``: planks along ``x``; ``"window"``:
    a bright pane that is not lit, the daylight outside); ``shadowed``: the limbs' soft
    contact shadows fall on it (table tops, floor, rug).
    """

    center_m: tuple[float, float, float]
    size_m: tuple[float, float, float]
    color: tuple[float, float, float]
    material: str = "matte"
    shadowed: bool = False

    def __post_init__(self) -> None:
        if self.material not in MATERIALS:
            raise ConfigError(
                f"Box.material: {self.material!r} (allowed: {list(MATERIALS)})"
            )

    def matrix(self) -> np.ndarray:
        """Unit cube ([-0.5, 0.5]^3) -> world, (4, 4) float."""
        m = np.diag([*self.size_m, 1.0])
        m[:3, 3] = self.center_m
        return m


# A warm, calm room: cream walls, an oak floor, a light wooden table against the wall under
# a window with daylight; muted greens and blues for the textiles. Everything is symmetric
# about x = 0 so that a mirrored scene renders as a mirrored image.
WALL_RGB = (0.84, 0.79, 0.71)
TRIM_RGB = (0.93, 0.91, 0.86)
FLOOR_RGB = (0.50, 0.37, 0.26)
TABLE_RGB = (0.69, 0.55, 0.40)
SKY_RGB = (0.80, 0.89, 0.97)
CLOTH_RGB = (0.33, 0.42, 0.52)
RUG_RGB = (0.42, 0.50, 0.44)
#: Height of the rug's top above the floor in the lower-limb scene, m; the feet stand on it
#: (:class:`LegLayout` puts the soles of the resting feet there).
RUG_TOP_M = 0.008


def _window(center_y: float, wall_z: float, width: float, height: float) -> tuple[Box, ...]:
    """A window in the wall at ``wall_z``: the daylight pane, frame, cross bars and sill."""
    z = wall_z + 0.025
    bar = 0.035
    boxes = [Box((0.0, center_y, z), (width, height, 0.01), SKY_RGB, "window")]
    for dy in (-1.0, 1.0):
        boxes.append(Box((0.0, center_y + dy * height / 2, z + 0.01),
                         (width + 2 * bar, bar, 0.03), TRIM_RGB))
    for dx in (-1.0, 1.0):
        boxes.append(Box((dx * width / 2, center_y, z + 0.01), (bar, height, 0.03), TRIM_RGB))
    boxes.append(Box((0.0, center_y, z + 0.01), (0.5 * bar, height, 0.02), TRIM_RGB))
    boxes.append(Box((0.0, center_y, z + 0.01), (width, 0.5 * bar, 0.02), TRIM_RGB))
    boxes.append(Box((0.0, center_y - height / 2 - 0.03, z + 0.05),
                     (width + 0.16, 0.03, 0.12), TRIM_RGB))
    return tuple(boxes)


def _walls(floor_y: float, back_z: float) -> tuple[Box, ...]:
    """Back and side walls standing on the floor at ``floor_y``, with skirting boards."""
    height = 2.6
    cy = floor_y + height / 2
    return (
        Box((0.0, cy, back_z - 0.02), (6.0, height, 0.04), WALL_RGB),
        Box((-1.9, cy, back_z + 2.0), (0.04, height, 4.0), WALL_RGB),
        Box((1.9, cy, back_z + 2.0), (0.04, height, 4.0), WALL_RGB),
        Box((0.0, floor_y + 0.05, back_z + 0.01), (6.0, 0.10, 0.02), TRIM_RGB),
    )


def _table(top_z: float = -0.39, depth: float = 0.86) -> tuple[Box, ...]:
    thickness, height = 0.035, 0.74
    top = Box((0.0, -thickness / 2, top_z), (1.30, thickness, depth), TABLE_RGB, "wood", True)
    legs = tuple(
        Box((sx * 0.60, -height / 2, z), (0.05, height - thickness, 0.05),
            (0.55, 0.43, 0.31))
        for sx in (-1.0, 1.0)
        for z in (top_z + depth / 2 - 0.06, top_z - depth / 2 + 0.06)
    )
    return (top, *legs)


@dataclass(frozen=True)
class Room:
    """The calm room: furniture and walls (boxes), the wall colour behind everything, the
    key light and the ambient light."""

    floor: Box = Box((0.0, -0.76, -0.5), (8.0, 0.04, 8.0), FLOOR_RGB, "wood", True)
    table: tuple[Box, ...] = field(default_factory=_table)
    walls: tuple[Box, ...] = field(
        default_factory=lambda: _walls(-0.74, -0.86) + _window(0.52, -0.86, 0.92, 0.78)
    )
    #: Unit vector towards the key light: a ceiling light above, a little in front.
    light_direction: tuple[float, float, float] = (0.0, 0.93, -0.37)
    #: Colour of the clear (never seen where the walls cover the view), sRGB.
    clear_color: tuple[float, float, float] = WALL_RGB

    @property
    def receiver(self) -> Box:
        """The surface the limbs rest on and cast their contact shadows on: the first
        shadowed box of the furniture (the table top; the rug)."""
        return next(b for b in self.table if b.shadowed)

    @property
    def boxes(self) -> tuple[Box, ...]:
        """Every box, floor first."""
        return (self.floor, *self.table, *self.walls)


def _chair_room() -> Room:
    """The seated lower-limb scene: floor at ``y = 0``, a chair, a rug, the wall ahead."""
    seat = Box((0.0, 0.40, 0.16), (0.50, 0.04, 0.46), (0.52, 0.40, 0.29), "wood")
    legs = tuple(
        Box((sx * 0.22, 0.19, z), (0.035, 0.38, 0.035), (0.45, 0.34, 0.24))
        for sx in (-1.0, 1.0)
        for z in (-0.04, 0.36)
    )
    rug = Box((0.0, RUG_TOP_M / 2, -0.42), (1.5, RUG_TOP_M, 1.1), RUG_RGB, "matte", True)
    return Room(
        floor=Box((0.0, -0.02, -1.0), (8.0, 0.04, 8.0), FLOOR_RGB, "wood", True),
        table=(rug, seat, *legs),
        walls=_walls(0.0, -2.2) + _window(1.35, -2.2, 1.1, 1.1),
    )


@dataclass(frozen=True)
class SceneState:
    """One frame's content.

    Attributes
    ----------
    left_pose, right_pose : Pose
        Poses of the left and right hand (their ``side`` must match).
    cue_text : str
        Large text, top centre (the current instruction).
    status_text : str
        Small text, bottom left.
    affected_side : str
        The amputated side, whose hand is virtual.
    ghost_pose : Pose or None
        Optional translucent target pose drawn on the affected side.
    question : QuestionView or None
        An outcome instrument's item, drawn over the scene (rating blocks).
    gauge : GaugeView or None
        The EMG biofeedback gauge with its target zones (biofeedback blocks).
    breathing : BreathingView or None
        The paced-breathing guide (relaxation blocks).
    limb_tension : float or None
        0..1: how tense the affected limb is drawn (biofeedback); None: not shown.
    """

    left_pose: Pose
    right_pose: Pose
    cue_text: str = ""
    status_text: str = ""
    affected_side: str = "right"
    ghost_pose: Pose | None = None
    question: QuestionView | None = None
    gauge: GaugeView | None = None
    breathing: BreathingView | None = None
    limb_tension: float | None = None

    def __post_init__(self) -> None:
        if self.left_pose.side != "left":
            raise ConfigError(f"left_pose.side: {self.left_pose.side!r}, expected 'left'")
        if self.right_pose.side != "right":
            raise ConfigError(f"right_pose.side: {self.right_pose.side!r}, expected 'right'")
        if self.left_pose.limb != self.right_pose.limb:
            raise ConfigError(
                f"right_pose.limb: {self.right_pose.limb!r} differs from left_pose.limb "
                f"{self.left_pose.limb!r} (both sides show the same limb)"
            )
        check_side(self.affected_side)
        if self.ghost_pose is not None and self.ghost_pose.side != self.affected_side:
            raise ConfigError(
                f"ghost_pose.side: {self.ghost_pose.side!r} differs from affected_side "
                f"{self.affected_side!r}"
            )
        if self.ghost_pose is not None and self.ghost_pose.limb != self.limb:
            raise ConfigError(
                f"ghost_pose.limb: {self.ghost_pose.limb!r} differs from the scene's {self.limb!r}"
            )

    @property
    def limb(self) -> str:
        """``"upper"`` or ``"lower"``: the limb both poses belong to."""
        return self.left_pose.limb

    def pose(self, side: str) -> Pose:
        """The pose of ``side``."""
        return self.left_pose if check_side(side) == "left" else self.right_pose

    @classmethod
    def at_rest(cls, limb: str = "upper", **kwargs) -> SceneState:
        """Both limbs in the relaxed rest pose."""
        from mirrorvr.limb.poses import target_pose

        return cls(
            target_pose("rest", 0.0, "left", limb),
            target_pose("rest", 0.0, "right", limb),
            **kwargs,
        )


#: Seated eye height above the floor of an adult, m (anthropometric mean ~1.15-1.30 m).
DEFAULT_EYE_HEIGHT_M = 1.26
TABLE_HEIGHT_M = 0.74
#: Forward lean of the trunk at the table, rad (10 deg: forearms resting on the table).
UPPER_LEAN_RAD = 0.17
#: The eyes in the trunk frame (models/body.glb): above and in front of the shoulders, m.
EYE_IN_TRUNK_M = (0.0, TRUNK_SHOULDER_M[1] + 0.24, -0.09)
#: Vertical field of view of the table scene, degrees (hands, forearms and the window).
UPPER_FOV_DEG = 58.0
#: Forward lean of the trunk about the hips when looking at one's feet in the seated
#: lower-limb scene, rad (24 deg: the eyes come ~0.3 m in front of the hips).
LOWER_LEAN_RAD = 0.42
#: Vertical field of view of the lower-limb scene, degrees (the feet fill more of the frame).
LOWER_FOV_DEG = 36.0


def trunk_placement(hips_mid_m, lean_rad: float) -> np.ndarray:
    """Trunk model -> world for hips at ``hips_mid_m`` (3,) leaning forward by ``lean_rad``,
    (4, 4) float (rigid, symmetric about ``x = 0``)."""
    return translation_matrix(hips_mid_m) @ rotation_matrix((1.0, 0.0, 0.0), -lean_rad)


@dataclass(frozen=True, eq=False)
class SceneLayout:
    """Camera, limb layout, trunk and room together.

    ``arms`` places the upper limbs, ``legs`` the lower limbs; ``limb`` says which scene this
    is (the renderer picks the layout whose ``limb`` matches the state's). ``trunk`` is the
    body's placement (trunk model -> world, (4, 4)): the limbs meet it at the shoulders (upper)
    or hips (lower).
    """

    camera: Camera = Camera()
    arms: ArmLayout = ArmLayout()
    room: Room = Room()
    legs: LegLayout = LegLayout()
    limb: str = "upper"
    trunk: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_limb(self.limb)

    def placement(self, side: str) -> np.ndarray:
        """Model -> world transform of ``side``'s limb in this scene, (4, 4) float."""
        return (self.arms if self.limb == "upper" else self.legs).placement(side)

    @classmethod
    def upper(cls, eye_height_m: float = DEFAULT_EYE_HEIGHT_M) -> SceneLayout:
        """Seated close to a table, forearms resting on it, palms down, elbows by the body,
        leaning forward a little (:data:`UPPER_LEAN_RAD`); the eyes at ``eye_height_m``
        above the floor (1.0-1.5 m), above and in front of the shoulders, looking down at the
        hands with the window of the wall behind the table at the top of the view."""
        _check_eye_height(eye_height_m)
        arms = ArmLayout()
        shoulder = arms.shoulder_m()
        lean = rotation_matrix((1.0, 0.0, 0.0), -UPPER_LEAN_RAD)[:3, :3]
        hips = np.array([0.0, shoulder[1], shoulder[2]]) - lean @ np.array(
            [0.0, TRUNK_SHOULDER_M[1], 0.0]
        )
        trunk = trunk_placement(hips, UPPER_LEAN_RAD)
        eye = trunk @ np.array([*EYE_IN_TRUNK_M, 1.0])
        camera = Camera(
            eye_m=(0.0, eye_height_m - TABLE_HEIGHT_M, float(eye[2])),
            target_m=(0.0, 0.0, -0.43),
            fov_y_deg=UPPER_FOV_DEG,
        )
        return cls(camera=camera, arms=arms, trunk=trunk)

    @classmethod
    def lower(cls, eye_height_m: float = DEFAULT_EYE_HEIGHT_M) -> SceneLayout:
        """Seated on a chair with both legs in view, leaning forward to look at the feet.

        ``eye_height_m`` is the upright seated eye height above the floor (1.0-1.5 m). The
        trunk pivots forward about the hips by :data:`LOWER_LEAN_RAD`, which brings the eyes
        in front of the knees (and a little lower), so the feet are seen beyond the knees
        rather than behind them; the camera looks at the floor just beyond the toes with a
        narrower field of view (:data:`LOWER_FOV_DEG`), so ankle and toe movements fill
        enough pixels to be told apart.
        """
        _check_eye_height(eye_height_m)
        legs = LegLayout()
        hip_y, hip_z = legs.right_hip_m[1], legs.right_hip_m[2]
        trunk_m = eye_height_m - hip_y
        eye = (
            0.0,
            hip_y + trunk_m * float(np.cos(LOWER_LEAN_RAD)),
            hip_z - trunk_m * float(np.sin(LOWER_LEAN_RAD)),
        )
        camera = Camera(eye_m=eye, target_m=(0.0, 0.0, -0.80), fov_y_deg=LOWER_FOV_DEG)
        hips = np.array([0.0, hip_y, hip_z]) - np.array([0.0, TRUNK_HIP_M[1], TRUNK_HIP_M[2]])
        trunk = trunk_placement(hips, LOWER_LEAN_RAD)
        return cls(camera=camera, room=_chair_room(), legs=legs, limb="lower", trunk=trunk)

    @classmethod
    def for_limb(cls, limb: str, eye_height_m: float = DEFAULT_EYE_HEIGHT_M) -> SceneLayout:
        """:meth:`upper` or :meth:`lower`."""
        return cls.upper(eye_height_m) if check_limb(limb) == "upper" else cls.lower(eye_height_m)


def _check_eye_height(eye_height_m: float) -> None:
    if not 1.0 <= eye_height_m <= 1.5:
        raise ConfigError(
            f"eye_height_m: {eye_height_m!r} is outside the seated range [1.0, 1.5] m"
        )


#: The midline reflection as a world transform (mirror-box view), (4, 4) float, det -1.
MIDLINE_FLIP = np.diag([-1.0, 1.0, 1.0, 1.0])
MIDLINE_FLIP.setflags(write=False)
