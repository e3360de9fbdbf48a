"""MediaPipe landmarks -> joint angles of our skeletons (pure numpy geometry).

Imported by the webcam tracker process (its own environment, numpy < 2) and by tests; it
needs nothing but numpy and :mod:`mirrorvr.limb.skeleton`.

Hands (MediaPipe Hands world landmarks: 21 points, metres, camera axes)
----------------------------------------------------------------------
Indices: 0 wrist; thumb 1 CMC, 2 MCP, 3 IP, 4 tip; index 5 MCP, 6 PIP, 7 DIP, 8 tip;
middle 9-12; ring 13-16; little 17-20. A left hand is first reflected (x -> -x) so that
every hand is computed as a right hand (our angles are anatomical, the same on both sides).

* **Palm frame** ``F`` (columns x, y, z, as the skeleton's wrist frame): ``z`` = from the
  middle MCP to the wrist (proximal), ``x`` = from the index MCP towards the little MCP,
  made orthogonal to ``z``; ``y = z × x`` (dorsal); then turned by the constant rotation
  that makes it the skeleton's wrist frame for our own hand's joint positions in the bind
  pose (the MCPs do not lie exactly on the wrist frame's axes).
* **Wrist** (pronation, flexion, deviation): the palm's rotation relative to its orientation
  in the neutral pose, ``R = F_ref^T F``, decomposed as the skeleton applies them,
  ``R = Rz(pronation) · Rx(-flexion) · Ry(deviation)``: ``flexion = -asin(R[2,1])``,
  ``deviation = atan2(-R[2,0], R[2,2])``, ``pronation = atan2(-R[0,1], R[1,1])``. The
  forearm has no landmarks: it is assumed to rest still on the table, so the palm's
  rotation is the wrist's (and pronation the forearm's, as far as the view shows it).
  ``F_ref`` is the palm frame of the neutral step (hand flat); until it is set the wrist
  angles are not measured (NaN).
* **Finger MCP** (flexion, abduction): the proximal phalanx direction ``b`` in the finger's
  MCP frame (the palm frame turned by the skeleton's splay of that finger):
  ``flexion = atan2(-b_y, hypot(b_x, b_z))``, ``abduction = atan2(-b_x, -b_z)``.
* **PIP, DIP, thumb MCP and IP flexion**: the signed angle between consecutive bones about
  the segment's lateral axis ``a``: ``atan2(-(b1 × b2)·a, b1·b2)``.
* **Thumb CMC** (opposition, abduction): the metacarpal (landmarks 1 -> 2) in the skeleton's
  thumb-CMC rest frame ``C``: ``b = C^T F^T m``, ``abduction = asin(-b_x)``,
  ``opposition = atan2(-b_y, -b_z)``.

Legs (MediaPipe Pose world landmarks: 33 points)
------------------------------------------------
Hip 23/24, knee 25/26, ankle 27/28, heel 29/30, foot index 31/32 (left/right).
``knee_flexion`` = the angle between thigh (hip -> knee) and shank (knee -> ankle);
``ankle_dorsiflexion`` = angle(shank, heel -> foot index) - 90 deg (foot perpendicular to
the shank = 0, toes towards the shin = positive). Hip flexion, ankle inversion and the toes
are not measured from these landmarks (NaN): the foot index is the tip of the foot, with
no toe joint.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.limb.skeleton import FINGERS, limb_spec, rotation_matrix, skeleton

N_HAND_LANDMARKS = 21
N_POSE_LANDMARKS = 33
WRIST = 0
THUMB = (1, 2, 3, 4)
FINGER_LANDMARKS = {"index": (5, 6, 7, 8), "middle": (9, 10, 11, 12),
                    "ring": (13, 14, 15, 16), "little": (17, 18, 19, 20)}
#: MediaPipe Pose landmark indices per side: hip, knee, ankle, heel, foot index.
LEG_LANDMARKS = {"left": (23, 25, 27, 29, 31), "right": (24, 26, 28, 30, 32)}

_UPPER = limb_spec("upper")
_LOWER = limb_spec("lower")
_SKEL = skeleton("right", "upper")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rest_rotation(joint: str) -> np.ndarray:
    """Rest rotation (3, 3) of ``joint`` relative to its parent (right skeleton)."""
    return _SKEL.rest_local[_SKEL.joint_index(joint)][:3, :3]


_SPLAY = {f: _rest_rotation(f"{f}_mcp") for f in FINGERS}
_THUMB_CMC = _rest_rotation("thumb_cmc")


def as_right_hand(points: np.ndarray, side: str) -> np.ndarray:
    """``points`` (n, 3) of a ``side`` hand as a right hand (a left one reflected)."""
    p = np.asarray(points, dtype=float)
    return p * np.array([-1.0, 1.0, 1.0]) if side == "left" else p


def _raw_palm_frame(points: np.ndarray) -> np.ndarray:
    z = _unit(points[WRIST] - points[9])
    x = points[17] - points[5]
    x = _unit(x - np.dot(x, z) * z)
    return np.column_stack([x, np.cross(z, x), z])


def skeleton_landmarks(pose) -> np.ndarray:
    """Our own hand's joint centres and fingertips in MediaPipe's order, (21, 3) m."""
    from mirrorvr.limb.kinematics import joint_matrices
    from mirrorvr.limb.skeleton import TIP_OFFSETS_M

    sk = skeleton(pose.side, "upper")
    m = joint_matrices(sk, pose)

    def pos(name: str) -> np.ndarray:
        return m[sk.joint_index(name)][:3, 3]

    def tip(name: str) -> np.ndarray:
        return (m[sk.joint_index(name)] @ np.array([0.0, 0.0, -TIP_OFFSETS_M[name], 1.0]))[:3]

    points = [pos("wrist"), pos("thumb_cmc"), pos("thumb_mcp"), pos("thumb_ip"), tip("thumb_ip")]
    for f in FINGERS:
        points += [pos(f"{f}_mcp"), pos(f"{f}_pip"), pos(f"{f}_dip"), tip(f"{f}_dip")]
    return np.array(points)


def _bind_correction() -> np.ndarray:
    from mirrorvr.limb.skeleton import Pose

    return _raw_palm_frame(skeleton_landmarks(Pose.rest("right", "upper")))


_TO_WRIST = _bind_correction()


def palm_frame(points: np.ndarray) -> np.ndarray:
    """The palm (wrist) frame ``F`` (3, 3), columns x, y, z, of right-hand landmarks (21, 3)."""
    return _raw_palm_frame(points) @ _TO_WRIST.T


def _signed_angle(b1: np.ndarray, b2: np.ndarray, axis: np.ndarray) -> float:
    return float(np.arctan2(-np.dot(np.cross(b1, b2), axis), np.dot(b1, b2)))


def wrist_angles(frame: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """(pronation, flexion, deviation), rad, of palm ``frame`` relative to ``reference``."""
    r = reference.T @ frame
    flexion = -float(np.arcsin(np.clip(r[2, 1], -1.0, 1.0)))
    deviation = float(np.arctan2(-r[2, 0], r[2, 2]))
    pronation = float(np.arctan2(-r[0, 1], r[1, 1]))
    return pronation, flexion, deviation


def hand_angles(points: np.ndarray, side: str, reference: np.ndarray | None = None) -> np.ndarray:
    """Upper-limb DOF angles (n_dofs,), rad, NaN where not measured.

    Parameters
    ----------
    points : (21, 3) float
        MediaPipe Hands world landmarks, m, camera axes.
    side : str
        The hand's side.
    reference : (3, 3) float, optional
        The palm frame of the neutral pose (:func:`palm_frame` of the hand flat, as a
        right hand); without it the wrist is not measured.
    """
    p = as_right_hand(points, side)
    if p.shape != (N_HAND_LANDMARKS, 3):
        raise ValueError(f"points: shape {p.shape}, expected ({N_HAND_LANDMARKS}, 3)")
    out = np.full(_UPPER.n_dofs, np.nan)
    f = palm_frame(p)
    local = (p - p[WRIST]) @ f  # palm coordinates, (21, 3)

    def put(name: str, value: float) -> None:
        out[_UPPER.dof_index(name)] = value

    if reference is not None:
        pronation, flexion, deviation = wrist_angles(f, reference)
        put("forearm_pronation", pronation)
        put("wrist_flexion", flexion)
        put("wrist_deviation", deviation)
    for finger, (mcp, pip, dip, tip) in FINGER_LANDMARKS.items():
        splay = _SPLAY[finger]
        b1, b2, b3 = (local[pip] - local[mcp], local[dip] - local[pip], local[tip] - local[dip])
        b = splay.T @ b1
        put(f"{finger}_mcp_flexion", float(np.arctan2(-b[1], np.hypot(b[0], b[2]))))
        abduction = float(np.arctan2(-b[0], -b[2]))
        put(f"{finger}_mcp_abduction", abduction)
        lateral = splay @ rotation_matrix((0.0, 1.0, 0.0), abduction)[:3, :3] @ np.array(
            [1.0, 0.0, 0.0])
        put(f"{finger}_pip_flexion", _signed_angle(b1, b2, lateral))
        put(f"{finger}_dip_flexion", _signed_angle(b2, b3, lateral))
    cmc, mcp, ip, tip = THUMB
    m = _THUMB_CMC.T @ (local[mcp] - local[cmc])
    abduction = float(np.arcsin(np.clip(-m[0] / np.linalg.norm(m), -1.0, 1.0)))
    opposition = float(np.arctan2(-m[1], -m[2]))
    put("thumb_abduction", abduction)
    put("thumb_opposition", opposition)
    cmc_rot = (_THUMB_CMC @ rotation_matrix((-1.0, 0.0, 0.0), opposition)[:3, :3]
               @ rotation_matrix((0.0, 1.0, 0.0), abduction)[:3, :3])
    lateral = cmc_rot @ np.array([1.0, 0.0, 0.0])
    t1, t2, t3 = local[mcp] - local[cmc], local[ip] - local[mcp], local[tip] - local[ip]
    put("thumb_mcp_flexion", _signed_angle(t1, t2, lateral))
    put("thumb_ip_flexion", _signed_angle(t2, t3, lateral))
    return out


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    c = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.arccos(np.clip(c, -1.0, 1.0)))


def leg_angles(points: np.ndarray, side: str) -> np.ndarray:
    """Lower-limb DOF angles (n_dofs,), rad, NaN where not measured.

    ``points`` (33, 3): MediaPipe Pose world landmarks, m; ``side``: the leg to measure.
    """
    p = np.asarray(points, dtype=float)
    if p.shape != (N_POSE_LANDMARKS, 3):
        raise ValueError(f"points: shape {p.shape}, expected ({N_POSE_LANDMARKS}, 3)")
    hip, knee, ankle, heel, toe = (p[i] for i in LEG_LANDMARKS[side])
    out = np.full(_LOWER.n_dofs, np.nan)
    shank = ankle - knee
    out[_LOWER.dof_index("knee_flexion")] = _angle(knee - hip, shank)
    out[_LOWER.dof_index("ankle_dorsiflexion")] = _angle(shank, toe - heel) - np.pi / 2
    return out
