"""Forward kinematics and linear-blend-skinning matrices. Row-major numpy, no GL.

``joint_matrices`` gives each joint's transform in model space (optionally placed in the
world by ``root``); ``skinning_matrices`` multiplies by the inverse bind matrices, which is
what the vertex shader (or :func:`skin_vertices` on the CPU) applies to bind-pose vertices.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import Pose, Skeleton, rotation_matrix, skeleton


def _check_side(skel, pose: Pose) -> None:
    side = getattr(skel, "side", None)
    if side != pose.side:
        raise ConfigError(f"pose.side: {pose.side!r} does not match the {side!r} skeleton/model")


def local_matrices(skel, pose: Pose) -> np.ndarray:
    """Each joint's transform relative to its parent under ``pose``.

    Parameters
    ----------
    skel : Skeleton or LimbModel
        Anything with ``side``, ``joint_names`` and ``rest_local`` (n_joints, 4, 4).
    pose : Pose

    Returns
    -------
    local : (n_joints, 4, 4) float
    """
    _check_side(skel, pose)
    dofs = skeleton(pose.side)
    local = np.array(skel.rest_local, dtype=float, copy=True)
    if tuple(skel.joint_names) != dofs.joint_names:
        raise ConfigError(
            f"joint_names: {list(skel.joint_names)} do not match the skeleton's "
            f"{list(dofs.joint_names)}"
        )
    for joint, axis, angle in zip(dofs.dof_joint, dofs.dof_axes, pose.angles, strict=True):
        if angle != 0.0:
            local[joint] = local[joint] @ rotation_matrix(axis, angle)
    return local


def joint_matrices(skel: Skeleton, pose: Pose, root: np.ndarray | None = None) -> np.ndarray:
    """World (model-space) transform of every joint under ``pose``.

    Parameters
    ----------
    skel : Skeleton or LimbModel
    pose : Pose
    root : (4, 4) float, optional
        Placement of the model in the world (applied before the root joint).

    Returns
    -------
    world : (n_joints, 4, 4) float
    """
    local = local_matrices(skel, pose)
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


def skinning_matrices(model, pose: Pose) -> np.ndarray:
    """``world @ inverse_bind`` per joint, (n_joints, 4, 4) float, model space.

    ``model`` needs ``inverse_bind`` (n_joints, 4, 4) besides the skeleton fields; a
    :class:`Skeleton` works too (its inverse binds are computed from its bind pose).
    """
    inverse_bind = getattr(model, "inverse_bind", None)
    if inverse_bind is None:
        inverse_bind = np.linalg.inv(bind_matrices(model))
    return joint_matrices(model, pose) @ inverse_bind


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
