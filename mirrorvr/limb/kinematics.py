"""Forward kinematics and linear-blend-skinning matrices. Row-major numpy, no GL.

``joint_matrices`` gives each joint's transform in model space (optionally placed in the
world by ``root``); ``skinning_matrices`` multiplies by the inverse bind matrices, which is
what the vertex shader (or :func:`skin_vertices` on the CPU) applies to bind-pose vertices.

Per-patient size: ``joint_scales`` (n_joints, 3) scales each joint's segment in its own bind
frame (x, y = girth, z = length along the segment). The child joints move with the scaled
segment (each offset is scaled by its parent's scale) and the skinning matrix of joint ``j``
becomes ``world_j @ diag(scale_j) @ inverse_bind_j``, so the skin follows continuously.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import Pose, Skeleton, rotation_matrix, skeleton


def _check_side(skel, pose: Pose) -> None:
    side = getattr(skel, "side", None)
    if side != pose.side:
        raise ConfigError(f"pose.side: {pose.side!r} does not match the {side!r} skeleton/model")
    limb = getattr(skel, "limb", "upper")
    if limb != pose.limb:
        raise ConfigError(f"pose.limb: {pose.limb!r} does not match the {limb!r} skeleton/model")


def _check_scales(joint_scales, n_joints: int) -> np.ndarray | None:
    if joint_scales is None:
        return None
    scales = np.asarray(joint_scales, dtype=float)
    if scales.shape != (n_joints, 3) or not np.all(scales > 0):
        raise ConfigError(
            f"joint_scales: shape {scales.shape} given, expected ({n_joints}, 3) positive factors"
        )
    return scales


def scaled_rest_local(skel, joint_scales=None) -> np.ndarray:
    """``rest_local`` with each joint's offset scaled by its parent's scale, (n_joints, 4, 4)."""
    rest = np.array(skel.rest_local, dtype=float, copy=True)
    scales = _check_scales(joint_scales, len(rest))
    if scales is not None:
        parents = np.asarray(skel.parents)
        for j in range(len(rest)):
            if parents[j] >= 0:
                rest[j, :3, 3] *= scales[parents[j]]
    return rest


def local_matrices(skel, pose: Pose, joint_scales=None) -> np.ndarray:
    """Each joint's transform relative to its parent under ``pose``.

    Parameters
    ----------
    skel : Skeleton or LimbModel
        Anything with ``side``, ``limb``, ``joint_names`` and ``rest_local`` (n_joints, 4, 4).
    pose : Pose
    joint_scales : (n_joints, 3) float, optional
        Per-joint segment scale (see the module docstring).

    Returns
    -------
    local : (n_joints, 4, 4) float
    """
    _check_side(skel, pose)
    dofs = skeleton(pose.side, pose.limb)
    local = scaled_rest_local(skel, joint_scales)
    if tuple(skel.joint_names) != dofs.joint_names:
        raise ConfigError(
            f"joint_names: {list(skel.joint_names)} do not match the skeleton's "
            f"{list(dofs.joint_names)}"
        )
    delta = pose.angles - pose.spec.bind_rad
    for d, joint, axis, share in zip(
        dofs.drive_dof, dofs.drive_joint, dofs.drive_axes, dofs.drive_share, strict=True
    ):
        angle = share * delta[d]
        if angle != 0.0:
            local[joint] = local[joint] @ rotation_matrix(axis, angle)
    return local


def joint_matrices(
    skel: Skeleton, pose: Pose, root: np.ndarray | None = None, joint_scales=None
) -> np.ndarray:
    """World (model-space) transform of every joint under ``pose``.

    Parameters
    ----------
    skel : Skeleton or LimbModel
    pose : Pose
    root : (4, 4) float, optional
        Placement of the model in the world (applied before the root joint).
    joint_scales : (n_joints, 3) float, optional

    Returns
    -------
    world : (n_joints, 4, 4) float
    """
    local = local_matrices(skel, pose, joint_scales)
    parents = np.asarray(skel.parents)
    world = np.empty_like(local)
    base = np.eye(4) if root is None else np.asarray(root, dtype=float)
    for j in range(len(local)):
        p = parents[j]
        world[j] = (base if p < 0 else world[p]) @ local[j]
    return world


def bind_matrices(skel) -> np.ndarray:
    """World transforms of the bind pose, (n_joints, 4, 4) float."""
    parents = np.asarray(skel.parents)
    rest = np.asarray(skel.rest_local, dtype=float)
    world = np.empty_like(rest)
    for j in range(len(rest)):
        world[j] = rest[j] if parents[j] < 0 else world[parents[j]] @ rest[j]
    return world


def skinning_matrices(model, pose: Pose, joint_scales=None) -> np.ndarray:
    """``world @ diag(scale) @ inverse_bind`` per joint, (n_joints, 4, 4) float, model space.

    ``model`` needs ``inverse_bind`` (n_joints, 4, 4) besides the skeleton fields; a
    :class:`Skeleton` works too (its inverse binds are computed from its bind pose).
    """
    inverse_bind = getattr(model, "inverse_bind", None)
    if inverse_bind is None:
        inverse_bind = np.linalg.inv(bind_matrices(model))
    world = joint_matrices(model, pose, joint_scales=joint_scales)
    if joint_scales is not None:
        scales = np.asarray(joint_scales, dtype=float)
        world = world.copy()
        world[:, :3, :3] *= scales[:, None, :]
    return world @ inverse_bind


def skin_vertices(
    skinning: np.ndarray, positions: np.ndarray, joints: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Linear blend skinning on the CPU.

    Parameters
    ----------
    skinning : (n_joints, 4, 4) float
    positions : (n, 3) float
        Bind-pose vertex positions, m.
    joints : (n, 4) int
    weights : (n, 4) float, rows summing to 1

    Returns
    -------
    skinned : (n, 3) float32
    """
    blended = np.einsum("nk,nkij->nij", weights, skinning[joints].astype(np.float32))
    return (np.einsum("nij,nj->ni", blended[:, :3, :3], positions) + blended[:, :3, 3]).astype(
        np.float32
    )
