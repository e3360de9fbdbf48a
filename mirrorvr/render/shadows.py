"""Soft contact shadows as data (no GL): each posed limb as a few capsules in the world.

The renderer draws, on the surface the limbs rest on (the table top; the rug under the
feet), one soft decal per capsule (``shaders/shadow.vert`` / ``shadow.frag``): ambient
occlusion of the capsule (dark where it touches, fading within a few radii) and its soft
shadow from the key light, multiplied into the surface. That costs only the pixels under the
limbs, unlike a shadow map, and stays exactly mirror-symmetric (the capsules of a mirrored
pose are the reflected capsules).
"""

from __future__ import annotations

import numpy as np

from mirrorvr.limb.skeleton import (
    FINGERS,
    FOOT_HEEL_Z_M,
    FOOT_SOLE_Y_M,
    FOREARM_LENGTH_M,
    PHALANX_M,
    SHANK_LENGTH_M,
    THIGH_LENGTH_M,
    THUMB_SEGMENTS_M,
    TIP_OFFSETS_M,
    TOES_OFFSET_M,
    UPPER_ARM_LENGTH_M,
)

#: Capsules of the right limbs: (joint, start (3,), end (3,), radius) in the joint's bind
#: frame (``-z`` along the segment), m.
CAPSULES: dict[str, tuple[tuple[str, tuple, tuple, float], ...]] = {
    "upper": (
        ("upper_arm", (0.0, 0.0, 0.0), (0.0, 0.0, -UPPER_ARM_LENGTH_M), 0.042),
        ("forearm", (0.0, -0.004, 0.01), (0.0, 0.0, -FOREARM_LENGTH_M / 2), 0.034),
        ("forearm_twist", (0.0, 0.0, 0.0), (0.0, 0.0, -FOREARM_LENGTH_M / 2), 0.027),
        ("wrist", (-0.020, 0.0, -0.02), (-0.026, 0.0, -0.082), 0.017),
        ("wrist", (0.018, 0.0, -0.02), (0.024, 0.0, -0.074), 0.017),
        ("thumb_cmc", (0.0, 0.0, 0.0), (0.0, 0.0, -THUMB_SEGMENTS_M[0]), 0.013),
        ("thumb_mcp", (0.0, 0.0, 0.0), (0.0, 0.0, -THUMB_SEGMENTS_M[1] - TIP_OFFSETS_M["thumb_ip"]),
         0.010),
        *(
            capsule
            for f in FINGERS
            for capsule in (
                (f"{f}_mcp", (0.0, 0.0, 0.0), (0.0, 0.0, -PHALANX_M[f][0]), 0.0085),
                (f"{f}_pip", (0.0, 0.0, 0.0), (0.0, 0.0, -PHALANX_M[f][1] - PHALANX_M[f][2]),
                 0.0072),
            )
        ),
    ),
    "lower": (
        ("thigh", (0.0, 0.0, -0.05), (0.0, 0.0, -THIGH_LENGTH_M), 0.062),
        ("shank", (0.0, 0.0, 0.0), (0.0, 0.0, -SHANK_LENGTH_M), 0.042),
        ("foot", (0.0, FOOT_SOLE_Y_M + 0.03, FOOT_HEEL_Z_M - 0.03),
         (TOES_OFFSET_M[0], TOES_OFFSET_M[1] + 0.005, TOES_OFFSET_M[2] + 0.01), 0.032),
        *(  # the sole's inner and outer edges (an inverted or everted foot stands on them)
            ("foot", (x0, FOOT_SOLE_Y_M + 0.012, FOOT_HEEL_Z_M - 0.045),
             (x1, FOOT_SOLE_Y_M + 0.012, TOES_OFFSET_M[2]), 0.012)
            for x0, x1 in ((-0.022, -0.034), (0.022, 0.038))
        ),
        ("toes", (-0.022, 0.0, 0.0), (-0.024, -0.006, -0.05), 0.013),
        ("toes", (0.018, 0.0, 0.005), (0.024, -0.008, -0.035), 0.010),
    ),
}

#: Most capsules drawn per frame (the shader's array size).
MAX_CAPSULES = 64


def limb_capsules(limb: str, side: str, skinning: np.ndarray, bind: np.ndarray,
                  placement: np.ndarray, joint_index) -> np.ndarray:
    """The capsules of one posed limb in the world.

    Parameters
    ----------
    limb, side : str
    skinning : (n_joints, 4, 4) float
        The pose's skinning matrices (joint world @ scale @ inverse bind), model space.
    bind : (n_joints, 4, 4) float
        The model's bind-pose joint transforms.
    placement : (4, 4) float
        Model -> world.
    joint_index : callable str -> int

    Returns
    -------
    capsules : (n, 2, 4) float32
        ``[:, 0]`` = start (x, y, z, radius), ``[:, 1]`` = end (x, y, z, 0), world, m.
    """
    table = CAPSULES[limb]
    mirror = np.array([-1.0 if side == "left" else 1.0, 1.0, 1.0])
    joints = np.array([joint_index(c[0]) for c in table])
    frames = placement @ skinning[joints] @ bind[joints]  # (n, 4, 4), with the girth scale
    ends = np.array([[c[1], c[2]] for c in table]) * mirror  # (n, 2, 3)
    world = np.einsum("nij,nkj->nki", frames[:, :3, :3], ends) + frames[:, None, :3, 3]
    out = np.zeros((len(table), 2, 4), dtype=np.float32)
    out[:, :, :3] = world
    out[:, 0, 3] = [c[3] for c in table]
    return out
