"""The hand-and-forearm skeleton: joints, degrees of freedom, anatomical limits, and ``Pose``.

Conventions
-----------
Model space is metres, right-handed: ``+x`` to the patient's right, ``+y`` up (dorsal side of
the hand when it rests palm-down on a table), ``-z`` distal (from elbow towards the
fingertips). The forearm root sits at the origin; the bind pose is the hand resting palm
down with straight fingers. In the right hand the thumb is at ``-x`` (towards the body
midline); the left hand is the geometric reflection of the right across ``x = 0``.

Angles are radians and *anatomical*: ``index_mcp_flexion = 0.5`` means the same bend of the
index finger on either side. Each side's skeleton carries its own rotation axes (the left
axes are the reflected right ones), so a pose's numbers do not change when it is mirrored.
``forearm_pronation`` is measured from the palm-down table posture (positive = further
pronation, negative = supination towards palm-up).

Each joint's local transform is ``rest_local @ R(dof_1) @ R(dof_2) ...`` with the DOF axes
given in the joint's rest frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mirrorvr.errors import ConfigError

SIDES: tuple[str, ...] = ("left", "right")

#: Reflection across the body midline (the ``x = 0`` plane), (4, 4).
MIDLINE_REFLECTION = np.diag([-1.0, 1.0, 1.0, 1.0])
MIDLINE_REFLECTION.setflags(write=False)

FINGERS: tuple[str, ...] = ("index", "middle", "ring", "little")

FOREARM_LENGTH_M = 0.26


@dataclass(frozen=True)
class JointSpec:
    """One joint of the right-hand skeleton in its bind pose.

    Attributes
    ----------
    name : str
    parent : str or None
        Parent joint name, None for the root.
    offset_m : (3,) float
        Translation from the parent joint, in the parent's frame, m.
    rest_euler_rad : (3,) float
        Rest rotation relative to the parent as (yaw about y, pitch about x, roll about z),
        applied in that order (``Ry @ Rx @ Rz``).
    """

    name: str
    parent: str | None
    offset_m: tuple[float, float, float]
    rest_euler_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class DofSpec:
    """One rotational degree of freedom.

    Attributes
    ----------
    name : str
        e.g. ``"wrist_flexion"``.
    joint : str
        The joint it rotates.
    axis_right : (3,) float
        Unit rotation axis in the joint's rest frame, right-hand skeleton.
    lower_rad, upper_rad : float
        Anatomical limits, radians.
    """

    name: str
    joint: str
    axis_right: tuple[float, float, float]
    lower_rad: float
    upper_rad: float


_X = (1.0, 0.0, 0.0)
_NEG_X = (-1.0, 0.0, 0.0)  # flexion: positive angle bends towards the palm (-y)
_Y = (0.0, 1.0, 0.0)  # positive: towards the thumb (radial) in the right hand
_Z = (0.0, 0.0, 1.0)

# Hand proportions of an adult (hand length ~0.19 m, palm ~0.085 m wide).
_MCP = {  # finger -> (offset from wrist (m), splay yaw (rad, + = towards thumb))
    "index": ((-0.031, 0.001, -0.092), 0.07),
    "middle": ((-0.010, 0.002, -0.096), 0.0),
    "ring": ((0.011, 0.001, -0.091), -0.08),
    "little": ((0.030, -0.002, -0.080), -0.18),
}
_PHALANX_M = {  # finger -> (proximal, middle, distal) lengths, m
    "index": (0.041, 0.024, 0.021),
    "middle": (0.045, 0.028, 0.022),
    "ring": (0.042, 0.027, 0.021),
    "little": (0.033, 0.020, 0.019),
}
THUMB_SEGMENTS_M: tuple[float, float, float] = (0.046, 0.032, 0.028)


def _build_joints() -> tuple[JointSpec, ...]:
    joints = [
        JointSpec("forearm", None, (0.0, 0.0, 0.0)),
        JointSpec("wrist", "forearm", (0.0, 0.0, -FOREARM_LENGTH_M)),
        JointSpec("thumb_cmc", "wrist", (-0.020, -0.008, -0.026), (0.42, -0.2, 0.9)),
        JointSpec("thumb_mcp", "thumb_cmc", (0.0, 0.0, -THUMB_SEGMENTS_M[0])),
        JointSpec("thumb_ip", "thumb_mcp", (0.0, 0.0, -THUMB_SEGMENTS_M[1])),
    ]
    for finger in FINGERS:
        offset, splay = _MCP[finger]
        proximal, middle, _distal = _PHALANX_M[finger]
        joints += [
            JointSpec(f"{finger}_mcp", "wrist", offset, (splay, 0.0, 0.0)),
            JointSpec(f"{finger}_pip", f"{finger}_mcp", (0.0, 0.0, -proximal)),
            JointSpec(f"{finger}_dip", f"{finger}_pip", (0.0, 0.0, -middle)),
        ]
    return tuple(joints)


def _build_dofs() -> tuple[DofSpec, ...]:
    dofs = [
        DofSpec("forearm_pronation", "forearm", _Z, -2.6, 0.7),
        DofSpec("wrist_flexion", "wrist", _NEG_X, -1.2, 1.4),
        DofSpec("wrist_deviation", "wrist", _Y, -0.6, 0.35),
        DofSpec("thumb_opposition", "thumb_cmc", _NEG_X, -0.4, 1.2),
        DofSpec("thumb_abduction", "thumb_cmc", _Y, -0.5, 0.6),
        DofSpec("thumb_mcp_flexion", "thumb_mcp", _NEG_X, -0.2, 1.0),
        DofSpec("thumb_ip_flexion", "thumb_ip", _NEG_X, -0.3, 1.4),
    ]
    for finger in FINGERS:
        dofs += [
            DofSpec(f"{finger}_mcp_abduction", f"{finger}_mcp", _Y, -0.35, 0.35),
            DofSpec(f"{finger}_mcp_flexion", f"{finger}_mcp", _NEG_X, -0.5, 1.6),
            DofSpec(f"{finger}_pip_flexion", f"{finger}_pip", _NEG_X, -0.1, 1.9),
            DofSpec(f"{finger}_dip_flexion", f"{finger}_dip", _NEG_X, -0.2, 1.4),
        ]
    return tuple(dofs)


#: Joints of the right-hand skeleton, parents before children.
JOINTS: tuple[JointSpec, ...] = _build_joints()
#: Degrees of freedom in ``Pose.angles`` order.
DOFS: tuple[DofSpec, ...] = _build_dofs()
JOINT_NAMES: tuple[str, ...] = tuple(j.name for j in JOINTS)
DOF_NAMES: tuple[str, ...] = tuple(d.name for d in DOFS)
N_DOFS = len(DOFS)
_DOF_INDEX = {name: i for i, name in enumerate(DOF_NAMES)}
LOWER_RAD = np.array([d.lower_rad for d in DOFS])
UPPER_RAD = np.array([d.upper_rad for d in DOFS])
LOWER_RAD.setflags(write=False)
UPPER_RAD.setflags(write=False)

#: Finger tip offsets from the DIP joint (and the thumb tip from the IP joint), m.
TIP_OFFSETS_M: dict[str, float] = {
    **{f"{f}_dip": _PHALANX_M[f][2] for f in FINGERS},
    "thumb_ip": THUMB_SEGMENTS_M[2],
}


def check_side(side: str) -> str:
    """Return ``side`` if it is ``"left"`` or ``"right"``, else raise :class:`ConfigError`."""
    if side not in SIDES:
        raise ConfigError(f"side: {side!r} is not a body side (allowed: {list(SIDES)})")
    return side


def dof_index(name: str) -> int:
    """Index of DOF ``name`` in ``Pose.angles``; unknown name -> :class:`ConfigError`."""
    try:
        return _DOF_INDEX[name]
    except KeyError:
        raise ConfigError(
            f"dof: {name!r} is not a degree of freedom (allowed: {list(DOF_NAMES)})"
        ) from None


def rotation_matrix(axis, angle_rad: float) -> np.ndarray:
    """Rotation about a unit ``axis`` (3,) by ``angle_rad`` (right-hand rule), (4, 4) float."""
    x, y, z = np.asarray(axis, dtype=float)
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    t = 1.0 - c
    m = np.eye(4)
    m[:3, :3] = [
        [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
        [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
        [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
    ]
    return m


def translation_matrix(offset) -> np.ndarray:
    """Translation by ``offset`` (3,) m, (4, 4) float."""
    m = np.eye(4)
    m[:3, 3] = offset
    return m


def _rest_local_right(spec: JointSpec) -> np.ndarray:
    yaw, pitch, roll = spec.rest_euler_rad
    return (
        translation_matrix(spec.offset_m)
        @ rotation_matrix(_Y, yaw)
        @ rotation_matrix(_X, pitch)
        @ rotation_matrix(_Z, roll)
    )


@dataclass(frozen=True, eq=False)
class Skeleton:
    """The skeleton of one side.

    Attributes
    ----------
    side : str
    joint_names : tuple of str, (n_joints,)
    parents : (n_joints,) int
        Parent index, -1 for the root; parents come before children.
    rest_local : (n_joints, 4, 4) float
        Bind-pose transform of each joint relative to its parent.
    dof_joint : (n_dofs,) int
        Joint index each DOF rotates.
    dof_axes : (n_dofs, 3) float
        Unit rotation axis of each DOF in its joint's rest frame (reflected for the left side).
    """

    side: str
    joint_names: tuple[str, ...]
    parents: np.ndarray
    rest_local: np.ndarray
    dof_joint: np.ndarray
    dof_axes: np.ndarray

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)

    def joint_index(self, name: str) -> int:
        """Index of joint ``name``; unknown -> :class:`ConfigError`."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise ConfigError(
                f"joint: {name!r} is not a joint (allowed: {list(self.joint_names)})"
            ) from None


@functools.lru_cache(maxsize=2)
def skeleton(side: str) -> Skeleton:
    """The skeleton of ``side`` ("left" or "right"); the left one is the right one reflected."""
    check_side(side)
    index = {name: i for i, name in enumerate(JOINT_NAMES)}
    parents = np.array([-1 if j.parent is None else index[j.parent] for j in JOINTS])
    rest = np.stack([_rest_local_right(j) for j in JOINTS])
    axes = np.array([d.axis_right for d in DOFS], dtype=float)
    if side == "left":
        r = MIDLINE_REFLECTION
        rest = r @ rest @ r
        # An axis is a pseudo-vector: reflecting a rotation about a by theta gives a rotation
        # about -R a by the same theta.
        axes = -(axes @ r[:3, :3].T)
    for arr in (parents, rest, axes):
        arr.setflags(write=False)
    dof_joint = np.array([index[d.joint] for d in DOFS])
    dof_joint.setflags(write=False)
    return Skeleton(side, JOINT_NAMES, parents, rest, dof_joint, axes)


def _format_range(i: int) -> str:
    return f"[{LOWER_RAD[i]:.3f}, {UPPER_RAD[i]:.3f}] rad"


@dataclass(frozen=True, eq=False)
class Pose:
    """Joint angles of one hand and forearm.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    angles : (n_dofs,) float64
        Radians, in :data:`DOF_NAMES` order; read-only.

    The constructor refuses angles outside the anatomical limits (:class:`ConfigError` naming
    the DOF, the value and the range). Use :meth:`Pose.unchecked` for raw intermediate values
    (e.g. a tracker's output) and :meth:`clipped` to bring them into range.
    """

    side: str
    angles: np.ndarray

    def __post_init__(self) -> None:
        self._init(check_limits=True)

    def _init(self, check_limits: bool) -> None:
        check_side(self.side)
        angles = np.array(self.angles, dtype=np.float64)
        if angles.shape != (N_DOFS,):
            raise ConfigError(f"angles: shape {angles.shape} given, expected ({N_DOFS},)")
        if not np.all(np.isfinite(angles)):
            bad = DOF_NAMES[int(np.flatnonzero(~np.isfinite(angles))[0])]
            raise ConfigError(f"angles: {bad} is not finite")
        if check_limits:
            tol = 1e-9
            outside = np.flatnonzero((angles < LOWER_RAD - tol) | (angles > UPPER_RAD + tol))
            if outside.size:
                i = int(outside[0])
                raise ConfigError(
                    f"{DOF_NAMES[i]}: {angles[i]:.4f} rad is outside its range {_format_range(i)}"
                )
        angles.setflags(write=False)
        object.__setattr__(self, "angles", angles)

    @classmethod
    def unchecked(cls, side: str, angles) -> Pose:
        """A pose whose angles may lie outside the limits (still finite and well-shaped)."""
        pose = object.__new__(cls)
        object.__setattr__(pose, "side", side)
        object.__setattr__(pose, "angles", angles)
        pose._init(check_limits=False)
        return pose

    @classmethod
    def rest(cls, side: str) -> Pose:
        """The bind pose (all angles zero): palm down, fingers straight."""
        return cls(side, np.zeros(N_DOFS))

    @classmethod
    def from_angles(cls, side: str, **named: float) -> Pose:
        """A pose with the named DOFs set (radians) and the others zero."""
        return cls.rest(side).with_angles(**named)

    def angle(self, name: str) -> float:
        """Angle of DOF ``name``, rad."""
        return float(self.angles[dof_index(name)])

    def as_dict(self) -> dict[str, float]:
        """``{dof name: angle (rad)}``."""
        return {n: float(a) for n, a in zip(DOF_NAMES, self.angles, strict=True)}

    def with_angles(self, **named: float) -> Pose:
        """A copy with the named DOFs replaced (radians); limits are checked."""
        angles = self.angles.copy()
        for name, value in named.items():
            angles[dof_index(name)] = value
        return Pose(self.side, angles)

    def within_limits(self) -> bool:
        """True when every angle lies inside its anatomical range."""
        return bool(np.all((self.angles >= LOWER_RAD) & (self.angles <= UPPER_RAD)))

    def clipped(self) -> Pose:
        """A copy with every angle clipped to its anatomical range."""
        return Pose(self.side, np.clip(self.angles, LOWER_RAD, UPPER_RAD))

    def lerp(self, other: Pose, alpha: float) -> Pose:
        """Linear blend ``self + alpha * (other - self)``, alpha in [0, 1]; same side only."""
        if other.side != self.side:
            raise ConfigError(f"other.side: {other.side!r} differs from {self.side!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha: {alpha!r} is outside [0, 1]")
        angles = self.angles + alpha * (other.angles - self.angles)
        if self.within_limits() and other.within_limits():
            return Pose(self.side, np.clip(angles, LOWER_RAD, UPPER_RAD))  # rounding only
        return Pose.unchecked(self.side, angles)

    def __repr__(self) -> str:
        nonzero = {n: round(a, 3) for n, a in self.as_dict().items() if a != 0.0}
        return f"Pose(side={self.side!r}, {nonzero})"
