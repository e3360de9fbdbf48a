"""Limb skeletons (upper and lower limb): joints, degrees of freedom, anatomical limits, ``Pose``.

Conventions
-----------
Model space is metres, right-handed: ``+x`` to the patient's right, ``+y`` up, ``-z``
forward/distal. Each limb's left skeleton is the geometric reflection of the right one across
``x = 0``.

* **upper** limb: shoulder -> upper arm -> elbow -> forearm -> wrist -> hand. The elbow joint
  sits at the origin; the bind pose is the seated table posture: upper arm coming down and
  forward from the shoulder, elbow bent ~66 deg, forearm and hand resting palm down
  along ``-z`` with straight fingers. In the right hand the thumb is at ``-x``.
* **lower** limb: hip -> thigh -> knee -> shank -> ankle -> foot -> toes. The hip joint sits
  at the origin; the bind pose is seated, relaxed: thigh horizontal along ``-z``, knee bent
  57 deg so the feet rest in front of the knees (visible from the eyes), foot flat on the
  floor pointing ``-z`` (so the ankle is 33 deg plantarflexed). The big toe is at ``-x``.

Angles are radians and *anatomical*: ``index_mcp_flexion = 0.5`` means the same bend of the
index finger on either side, and ``elbow_flexion`` / ``knee_flexion`` are the clinical joint
angles (0 = straight). A DOF's *bind* value is its angle in the bind pose (0 for most;
``elbow_flexion`` ~1.15 rad, ``knee_flexion`` 1.0 rad, ``ankle_dorsiflexion`` -0.57 rad);
``Pose.rest`` is the bind pose. Each
side's skeleton carries its own rotation axes (the left axes are the reflected right ones), so
a pose's numbers do not change when it is mirrored. ``forearm_pronation`` is measured from
the palm-down table posture (positive = further pronation, negative = supination towards
palm-up); like the radius it twists the forearm progressively: half at mid-forearm, half at
the wrist.

Each joint's local transform is ``rest_local @ R(scale_1 * (dof_1 - bind_1)) @ ...`` with the
DOF axes given in the joint's rest frame.

Anatomical ranges (active range of motion, adults) follow the AAOS / Norkin & White tables:
elbow 0-145 deg, forearm pronation 80 / supination 80 deg from neutral, wrist flexion 80 /
extension 70 deg, radial 20 / ulnar 30 deg deviation, finger MCP 90, PIP 100-110, DIP 80 deg,
knee 0-140 deg, ankle dorsiflexion 20 / plantarflexion 50 deg, inversion 35 / eversion 15 deg,
MTP toe flexion 40 / extension 70 deg.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mirrorvr.errors import ConfigError

SIDES: tuple[str, ...] = ("left", "right")
LIMBS: tuple[str, ...] = ("upper", "lower")

#: Reflection across the body midline (the ``x = 0`` plane), (4, 4).
MIDLINE_REFLECTION = np.diag([-1.0, 1.0, 1.0, 1.0])
MIDLINE_REFLECTION.setflags(write=False)

FINGERS: tuple[str, ...] = ("index", "middle", "ring", "little")

FOREARM_LENGTH_M = 0.26
UPPER_ARM_LENGTH_M = 0.29
#: Shoulder position relative to the elbow (bind pose, right side), m: the upper arm comes
#: down and forward from the shoulder (24 deg from vertical) so the elbow rests on the table
#: in front of the trunk, as it does when one sits close to a table, forearms on it.
SHOULDER_M = (0.0, 0.265, 0.118)
#: The trunk (a static mesh, ``models/body.glb``), in its own frame: origin midway between
#: the hip joints, ``+y`` up the spine, ``-z`` forward. Adult seated proportions: hip joint
#: to shoulder joint ~0.50 m, shoulder joints ~0.38 m apart, hip joints ~0.21 m apart.
TRUNK_SHOULDER_M = (0.19, 0.50, 0.0)
TRUNK_HIP_M = (0.105, 0.0, 0.0)
THIGH_LENGTH_M = 0.43
SHANK_LENGTH_M = 0.42
#: Ankle -> first metatarsophalangeal (toe) joint line, right foot, m.
TOES_OFFSET_M = (-0.004, -0.046, -0.148)
#: Heel, sole and toe geometry of the foot (ankle frame), m.
FOOT_SOLE_Y_M = -0.070
FOOT_HEEL_Z_M = 0.058
TOE_LENGTH_M = 0.055


@dataclass(frozen=True)
class JointSpec:
    """One joint of a right-side skeleton in its bind pose.

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
        Unit rotation axis in the joint's rest frame, right-side skeleton.
    lower_rad, upper_rad : float
        Anatomical limits, radians.
    bind_rad : float
        The angle in the bind pose (the mesh is built there), radians.
    share : float
        Fraction of the rotation applied at ``joint``.
    also : tuple of (joint name, fraction)
        Further joints the DOF rotates about the same axis (e.g. the forearm twist).
    """

    name: str
    joint: str
    axis_right: tuple[float, float, float]
    lower_rad: float
    upper_rad: float
    bind_rad: float = 0.0
    share: float = 1.0
    also: tuple[tuple[str, float], ...] = ()


_X = (1.0, 0.0, 0.0)
_NEG_X = (-1.0, 0.0, 0.0)  # flexion: positive angle bends towards the palm / sole (-y)
_Y = (0.0, 1.0, 0.0)  # positive: towards the thumb (radial) in the right hand
_Z = (0.0, 0.0, 1.0)
_NEG_Z = (0.0, 0.0, -1.0)

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
#: Phalanx lengths of each finger: (proximal, middle, distal), m.
PHALANX_M: dict[str, tuple[float, float, float]] = dict(_PHALANX_M)

#: Elbow flexion of the bind pose: the angle between the upper arm and the forearm, rad.
ELBOW_BIND_RAD = float(np.arctan2(SHOULDER_M[1], SHOULDER_M[2]))


def _upper_joints() -> tuple[JointSpec, ...]:
    pitch = -ELBOW_BIND_RAD  # turns -z (distal) from forward to down-and-forward
    joints = [
        JointSpec("upper_arm", None, SHOULDER_M, (0.0, pitch, 0.0)),
        JointSpec("forearm", "upper_arm", (0.0, 0.0, -UPPER_ARM_LENGTH_M), (0.0, -pitch, 0.0)),
        JointSpec("forearm_twist", "forearm", (0.0, 0.0, -FOREARM_LENGTH_M / 2)),
        JointSpec("wrist", "forearm_twist", (0.0, 0.0, -FOREARM_LENGTH_M / 2)),
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


def _upper_dofs() -> tuple[DofSpec, ...]:
    dofs = [
        DofSpec("elbow_flexion", "forearm", _X, 0.0, 2.53, bind_rad=ELBOW_BIND_RAD),
        DofSpec(
            "forearm_pronation", "wrist", _Z, -2.6, 0.7, share=0.5, also=(("forearm_twist", 0.5),)
        ),
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


#: Knee flexion of the seated bind pose (feet forward of the knees, as one sits relaxed), rad.
KNEE_BIND_RAD = 1.0
#: Ankle angle of the bind pose: the foot flat on the floor under a forward-tilted shank.
ANKLE_BIND_RAD = KNEE_BIND_RAD - float(np.pi / 2)


def _lower_joints() -> tuple[JointSpec, ...]:
    return (
        JointSpec("thigh", None, (0.0, 0.0, 0.0)),
        JointSpec("shank", "thigh", (0.0, 0.0, -THIGH_LENGTH_M), (0.0, -KNEE_BIND_RAD, 0.0)),
        JointSpec("foot", "shank", (0.0, 0.0, -SHANK_LENGTH_M), (0.0, KNEE_BIND_RAD, 0.0)),
        JointSpec("toes", "foot", TOES_OFFSET_M),
    )


def _lower_dofs() -> tuple[DofSpec, ...]:
    return (
        DofSpec("hip_flexion", "thigh", _X, -0.3, 0.5),
        DofSpec("knee_flexion", "shank", _NEG_X, -0.05, 2.44, bind_rad=KNEE_BIND_RAD),
        DofSpec("ankle_dorsiflexion", "foot", _X, -0.87, 0.35, bind_rad=ANKLE_BIND_RAD),
        DofSpec("ankle_inversion", "foot", _NEG_Z, -0.26, 0.61),
        DofSpec("toe_flexion", "toes", _NEG_X, -1.2, 0.7),
    )


#: Tip offsets from the last joint of each chain (finger DIPs, thumb IP, toes), m.
TIP_OFFSETS_M: dict[str, float] = {
    **{f"{f}_dip": _PHALANX_M[f][2] for f in FINGERS},
    "thumb_ip": THUMB_SEGMENTS_M[2],
    "toes": TOE_LENGTH_M,
}


@dataclass(frozen=True, eq=False)
class LimbSpec:
    """The definition of one limb (right side): joints, DOFs and their tables.

    Attributes
    ----------
    limb : str
        ``"upper"`` or ``"lower"``.
    joints : tuple of JointSpec, parents before children
    dofs : tuple of DofSpec, in ``Pose.angles`` order
    joint_names, dof_names : tuple of str
    lower_rad, upper_rad, bind_rad : (n_dofs,) float, read-only
    """

    limb: str
    joints: tuple[JointSpec, ...]
    dofs: tuple[DofSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "joint_names", tuple(j.name for j in self.joints))
        object.__setattr__(self, "dof_names", tuple(d.name for d in self.dofs))
        for attr, key in (("lower_rad", "lower_rad"), ("upper_rad", "upper_rad")):
            arr = np.array([getattr(d, key) for d in self.dofs])
            arr.setflags(write=False)
            object.__setattr__(self, attr, arr)
        bind = np.array([d.bind_rad for d in self.dofs])
        bind.setflags(write=False)
        object.__setattr__(self, "bind_rad", bind)
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.dof_names)})

    @property
    def n_dofs(self) -> int:
        return len(self.dofs)

    def dof_index(self, name: str) -> int:
        """Index of DOF ``name`` in ``Pose.angles``; unknown name -> :class:`ConfigError`."""
        try:
            return self._index[name]
        except KeyError:
            raise ConfigError(
                f"dof: {name!r} is not a degree of freedom of the {self.limb} limb "
                f"(allowed: {list(self.dof_names)})"
            ) from None

    def format_range(self, i: int) -> str:
        return f"[{self.lower_rad[i]:.3f}, {self.upper_rad[i]:.3f}] rad"


_SPECS = {
    "upper": LimbSpec("upper", _upper_joints(), _upper_dofs()),
    "lower": LimbSpec("lower", _lower_joints(), _lower_dofs()),
}


def check_side(side: str) -> str:
    """Return ``side`` if it is ``"left"`` or ``"right"``, else raise :class:`ConfigError`."""
    if side not in SIDES:
        raise ConfigError(f"side: {side!r} is not a body side (allowed: {list(SIDES)})")
    return side


def check_limb(limb: str) -> str:
    """Return ``limb`` if it is ``"upper"`` or ``"lower"``, else raise :class:`ConfigError`."""
    if limb not in LIMBS:
        raise ConfigError(f"limb: {limb!r} is not a limb (allowed: {list(LIMBS)})")
    return limb


def limb_spec(limb: str) -> LimbSpec:
    """The :class:`LimbSpec` of ``limb`` ("upper" or "lower")."""
    return _SPECS[check_limb(limb)]


# The upper limb's tables under their historical module-level names.
_UPPER = _SPECS["upper"]
#: Joints of the right upper-limb skeleton, parents before children.
JOINTS: tuple[JointSpec, ...] = _UPPER.joints
#: Degrees of freedom of the upper limb in ``Pose.angles`` order.
DOFS: tuple[DofSpec, ...] = _UPPER.dofs
JOINT_NAMES: tuple[str, ...] = _UPPER.joint_names
DOF_NAMES: tuple[str, ...] = _UPPER.dof_names
N_DOFS = _UPPER.n_dofs
LOWER_RAD = _UPPER.lower_rad
UPPER_RAD = _UPPER.upper_rad
BIND_RAD = _UPPER.bind_rad
LOWER_LIMB_DOF_NAMES: tuple[str, ...] = _SPECS["lower"].dof_names


def dof_index(name: str, limb: str = "upper") -> int:
    """Index of DOF ``name`` in ``Pose.angles`` of ``limb``; unknown -> :class:`ConfigError`."""
    return limb_spec(limb).dof_index(name)


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
    """The skeleton of one limb on one side.

    Attributes
    ----------
    side : str
    joint_names : tuple of str, (n_joints,)
    parents : (n_joints,) int
        Parent index, -1 for the root; parents come before children.
    rest_local : (n_joints, 4, 4) float
        Bind-pose transform of each joint relative to its parent.
    dof_joint : (n_dofs,) int
        Joint index each DOF mainly rotates.
    dof_axes : (n_dofs, 3) float
        Unit rotation axis of each DOF in its joint's rest frame (reflected for the left side).
    limb : str
    drive_dof, drive_joint : (n_drives,) int
        Every (DOF, joint) rotation, in application order.
    drive_axes : (n_drives, 3) float
    drive_share : (n_drives,) float
        Fraction of the DOF's angle (minus its bind value) applied at that joint.
    """

    side: str
    joint_names: tuple[str, ...]
    parents: np.ndarray
    rest_local: np.ndarray
    dof_joint: np.ndarray
    dof_axes: np.ndarray
    limb: str = "upper"
    drive_dof: np.ndarray | None = None
    drive_joint: np.ndarray | None = None
    drive_axes: np.ndarray | None = None
    drive_share: np.ndarray | None = None

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)

    @property
    def spec(self) -> LimbSpec:
        return limb_spec(self.limb)

    def joint_index(self, name: str) -> int:
        """Index of joint ``name``; unknown -> :class:`ConfigError`."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise ConfigError(
                f"joint: {name!r} is not a joint (allowed: {list(self.joint_names)})"
            ) from None


@functools.lru_cache(maxsize=8)
def skeleton(side: str, limb: str = "upper") -> Skeleton:
    """The skeleton of ``side`` and ``limb``; the left one is the right one reflected."""
    check_side(side)
    spec = limb_spec(limb)
    index = {name: i for i, name in enumerate(spec.joint_names)}
    parents = np.array([-1 if j.parent is None else index[j.parent] for j in spec.joints])
    rest = np.stack([_rest_local_right(j) for j in spec.joints])
    axes = np.array([d.axis_right for d in spec.dofs], dtype=float)
    if side == "left":
        r = MIDLINE_REFLECTION
        rest = r @ rest @ r
        # An axis is a pseudo-vector: reflecting a rotation about a by theta gives a rotation
        # about -R a by the same theta.
        axes = -(axes @ r[:3, :3].T)
    drives = []
    for i, d in enumerate(spec.dofs):
        drives.append((i, index[d.joint], d.share))
        drives += [(i, index[j], share) for j, share in d.also]
    drive_dof = np.array([k[0] for k in drives])
    drive_joint = np.array([k[1] for k in drives])
    drive_share = np.array([k[2] for k in drives], dtype=float)
    drive_axes = axes[drive_dof]
    dof_joint = np.array([index[d.joint] for d in spec.dofs])
    for arr in (parents, rest, axes, dof_joint, drive_dof, drive_joint, drive_share, drive_axes):
        arr.setflags(write=False)
    return Skeleton(
        side,
        spec.joint_names,
        parents,
        rest,
        dof_joint,
        axes,
        spec.limb,
        drive_dof,
        drive_joint,
        drive_axes,
        drive_share,
    )


@dataclass(frozen=True, eq=False)
class Pose:
    """Joint angles of one limb.

    Attributes
    ----------
    side : str
        ``"left"`` or ``"right"``.
    angles : (n_dofs,) float64
        Radians, in the limb's DOF order (:data:`DOF_NAMES` for the upper limb); read-only.
    limb : str
        ``"upper"`` (default) or ``"lower"``.

    The constructor refuses angles outside the anatomical limits (:class:`ConfigError` naming
    the DOF, the value and the range). Use :meth:`Pose.unchecked` for raw intermediate values
    (e.g. a tracker's output) and :meth:`clipped` to bring them into range.
    """

    side: str
    angles: np.ndarray
    limb: str = "upper"

    def __post_init__(self) -> None:
        self._init(check_limits=True)

    @property
    def spec(self) -> LimbSpec:
        return _SPECS[self.limb]

    @property
    def dof_names(self) -> tuple[str, ...]:
        return self.spec.dof_names

    def _init(self, check_limits: bool) -> None:
        check_side(self.side)
        spec = limb_spec(self.limb)
        angles = np.array(self.angles, dtype=np.float64)
        if angles.shape != (spec.n_dofs,):
            raise ConfigError(
                f"angles: shape {angles.shape} given, expected ({spec.n_dofs},) "
                f"for the {self.limb} limb"
            )
        if not np.all(np.isfinite(angles)):
            bad = spec.dof_names[int(np.flatnonzero(~np.isfinite(angles))[0])]
            raise ConfigError(f"angles: {bad} is not finite")
        if check_limits:
            tol = 1e-9
            outside = np.flatnonzero(
                (angles < spec.lower_rad - tol) | (angles > spec.upper_rad + tol)
            )
            if outside.size:
                i = int(outside[0])
                raise ConfigError(
                    f"{spec.dof_names[i]}: {angles[i]:.4f} rad is outside its range "
                    f"{spec.format_range(i)}"
                )
        angles.setflags(write=False)
        object.__setattr__(self, "angles", angles)

    @classmethod
    def unchecked(cls, side: str, angles, limb: str = "upper") -> Pose:
        """A pose whose angles may lie outside the limits (still finite and well-shaped)."""
        pose = object.__new__(cls)
        object.__setattr__(pose, "side", side)
        object.__setattr__(pose, "angles", angles)
        object.__setattr__(pose, "limb", limb)
        pose._init(check_limits=False)
        return pose

    @classmethod
    def rest(cls, side: str, limb: str = "upper") -> Pose:
        """The bind pose: palm down with straight fingers / seated with the foot flat.

        All angles are zero except the bind values of ``elbow_flexion`` / ``knee_flexion``.
        """
        return cls(side, limb_spec(limb).bind_rad.copy(), limb)

    @classmethod
    def from_angles(cls, side: str, limb: str = "upper", **named: float) -> Pose:
        """A pose with the named DOFs set (radians) and the others at their bind values."""
        return cls.rest(side, limb).with_angles(**named)

    def angle(self, name: str) -> float:
        """Angle of DOF ``name``, rad."""
        return float(self.angles[self.spec.dof_index(name)])

    def as_dict(self) -> dict[str, float]:
        """``{dof name: angle (rad)}``."""
        return {n: float(a) for n, a in zip(self.spec.dof_names, self.angles, strict=True)}

    def with_angles(self, **named: float) -> Pose:
        """A copy with the named DOFs replaced (radians); limits are checked."""
        angles = self.angles.copy()
        for name, value in named.items():
            angles[self.spec.dof_index(name)] = value
        return Pose(self.side, angles, self.limb)

    def within_limits(self) -> bool:
        """True when every angle lies inside its anatomical range."""
        spec = self.spec
        return bool(np.all((self.angles >= spec.lower_rad) & (self.angles <= spec.upper_rad)))

    def clipped(self) -> Pose:
        """A copy with every angle clipped to its anatomical range."""
        spec = self.spec
        return Pose(self.side, np.clip(self.angles, spec.lower_rad, spec.upper_rad), self.limb)

    def lerp(self, other: Pose, alpha: float) -> Pose:
        """Linear blend ``self + alpha * (other - self)``, alpha in [0, 1]; same side and limb."""
        if other.side != self.side:
            raise ConfigError(f"other.side: {other.side!r} differs from {self.side!r}")
        if other.limb != self.limb:
            raise ConfigError(f"other.limb: {other.limb!r} differs from {self.limb!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha: {alpha!r} is outside [0, 1]")
        angles = self.angles + alpha * (other.angles - self.angles)
        spec = self.spec
        if self.within_limits() and other.within_limits():
            # rounding only
            return Pose(self.side, np.clip(angles, spec.lower_rad, spec.upper_rad), self.limb)
        return Pose.unchecked(self.side, angles, self.limb)

    def __repr__(self) -> str:
        bind = dict(zip(self.spec.dof_names, self.spec.bind_rad, strict=True))
        changed = {n: round(a, 3) for n, a in self.as_dict().items() if a != bind[n]}
        return f"Pose(side={self.side!r}, limb={self.limb!r}, {changed})"
