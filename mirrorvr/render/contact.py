"""Limbs rest on the surface under them (no GL): a pose that would push the hand into the
table, or the toes into the floor, lifts the limb about its root instead.

A fist, a pinch or a flexed wrist made with the forearm lying on a table does not go through
the table: the hand presses on it and the forearm pivots up about the elbow; seated, a
plantarflexed foot presses on the floor and the heel and knee rise about the hip. Here the
posed limb's distal capsules (:mod:`mirrorvr.render.shadows`: hand and fingers, foot and
toes) are tested against the surface's plane and the limb is turned up about the horizontal
axis through its root (elbow, hip), across its forward direction, just enough that none of
them reaches below the plane. The capsules are a close fit of the skin (within ~3 mm), so the
test is cheap enough for every frame and exactly mirror-symmetric.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.limb.skeleton import rotation_matrix, translation_matrix
from mirrorvr.render.shadows import CAPSULES, limb_capsules

#: Joints whose capsules must stay above the surface (the parts that press on it).
DISTAL_JOINTS: dict[str, frozenset[str]] = {
    "upper": frozenset(c[0] for c in CAPSULES["upper"]
                       if c[0] not in ("upper_arm", "forearm", "forearm_twist")),
    "lower": frozenset({"foot", "toes"}),
}
#: Penetration left alone, m: the capsules are a few mm fuller than the skin.
TOLERANCE_M = 0.003
#: Largest lift, rad (a pose that needs more is drawn lifted this far).
MAX_LIFT_RAD = 0.8


def lift_angle(capsules: np.ndarray, distal: np.ndarray, plane_y: float, pivot: np.ndarray,
               axis: np.ndarray) -> float:
    """Smallest turn about ``axis`` (3,) through ``pivot`` (3,) that brings every distal
    capsule above ``plane_y`` (within :data:`TOLERANCE_M`), rad (0 when none is below).

    ``capsules`` (n, 2, 4) as :func:`~mirrorvr.render.shadows.limb_capsules` gives them;
    ``distal`` (n,) bool marks the ones tested.
    """
    radius = capsules[:, 0, 3]
    angle = 0.0
    for _ in range(3):  # the lift moves the points; re-check after each turn
        turn = rotation_matrix(axis, angle)[:3, :3]
        points = (capsules[distal, :, :3] - pivot) @ turn.T + pivot  # (k, 2, 3)
        depth = plane_y - TOLERANCE_M - (points[..., 1] - radius[distal, None])
        if depth.max() <= 1e-5:
            break
        k = np.unravel_index(np.argmax(depth), depth.shape)
        arm = points[k] - pivot
        lever = np.linalg.norm(arm - (arm @ axis) * axis)
        angle += float(np.arcsin(min(1.0, depth[k] / max(lever, 1e-3))))
        if angle >= MAX_LIFT_RAD:
            return MAX_LIFT_RAD
    return angle


def resting_placement(limb: str, side: str, skinning: np.ndarray, bind: np.ndarray,
                      placement: np.ndarray, joint_index, plane_y: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The limb's placement lifted off the surface at ``plane_y`` as far as its pose needs,
    and its capsules there.

    Parameters
    ----------
    limb, side : str
    skinning, bind : (n_joints, 4, 4) float
        The pose's skinning matrices and the model's bind-pose joint transforms.
    placement : (4, 4) float
        The resting model -> world transform.
    joint_index : callable str -> int
    plane_y : float
        Height of the surface, m.

    Returns
    -------
    placement : (4, 4) float
    capsules : (n, 2, 4) float32, world (see :func:`~mirrorvr.render.shadows.limb_capsules`)
    """
    capsules = limb_capsules(limb, side, skinning, bind, placement, joint_index)
    distal = np.array([c[0] in DISTAL_JOINTS[limb] for c in CAPSULES[limb]])
    pivot = placement[:3, 3]
    forward = -placement[:3, 2]
    axis = np.cross(forward * np.array([1.0, 0.0, 1.0]), (0.0, 1.0, 0.0))
    axis /= np.linalg.norm(axis)
    if (rotation_matrix(axis, 0.1)[:3, :3] @ forward)[1] < forward[1]:
        axis = -axis  # turn the distal end up, on either side
    angle = lift_angle(capsules, distal, plane_y, pivot, axis)
    if angle == 0.0:
        return placement, capsules
    lift = translation_matrix(pivot) @ rotation_matrix(axis, angle) @ translation_matrix(-pivot)
    lifted = capsules.copy()
    lifted[:, :, :3] = capsules[:, :, :3] @ lift[:3, :3].T + lift[:3, 3]
    return lift @ placement, lifted
