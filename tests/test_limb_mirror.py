"""Mirroring: same angles on the other side = reflected world-space joints (pure numpy)."""

import numpy as np
import pytest

from mirrorvr.errors import ConfigError
from mirrorvr.limb.kinematics import bind_matrices, joint_matrices, skin_vertices, skinning_matrices
from mirrorvr.limb.mirror import MIDLINE_REFLECTION, mirror_pose, reflect_matrix, reflect_points
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import LOWER_RAD, UPPER_RAD, Pose, skeleton
from mirrorvr.movements import UPPER_LIMB_MOVEMENTS


def test_mirror_pose_keeps_angles_and_swaps_side():
    pose = target_pose("hand_close", 0.6, "left")
    mirrored = mirror_pose(pose)
    assert mirrored.side == "right"
    np.testing.assert_array_equal(mirrored.angles, pose.angles)
    assert mirror_pose(mirrored).side == "left"


def test_reflect_points():
    pts = np.array([[0.1, 0.2, 0.3], [-0.5, 0.0, 1.0]])
    np.testing.assert_array_equal(reflect_points(pts), [[-0.1, 0.2, 0.3], [0.5, 0.0, 1.0]])
    np.testing.assert_array_equal(MIDLINE_REFLECTION, np.diag([-1.0, 1.0, 1.0, 1.0]))
    with pytest.raises(ConfigError, match=r"\(n, 3\)"):
        reflect_points(np.zeros((2, 2)))


@pytest.mark.parametrize("movement", UPPER_LIMB_MOVEMENTS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_mirrored_pose_joints_are_reflected_joints(movement, side):
    pose = target_pose(movement, 0.8, side)
    world = joint_matrices(skeleton(side), pose)
    world_mirrored = joint_matrices(skeleton(mirror_pose(pose).side), mirror_pose(pose))
    np.testing.assert_allclose(
        world_mirrored[:, :3, 3], reflect_points(world[:, :3, 3]), atol=1e-12
    )
    # Whole frames too: the mirrored frames are the reflected frames (proper rotations each).
    np.testing.assert_allclose(world_mirrored, reflect_matrix(world), atol=1e-12)


def test_mirroring_holds_for_random_poses():
    rng = np.random.default_rng(0)
    for _ in range(20):
        pose = Pose("right", rng.uniform(LOWER_RAD, UPPER_RAD))
        right = joint_matrices(skeleton("right"), pose)[:, :3, 3]
        left = joint_matrices(skeleton("left"), mirror_pose(pose))[:, :3, 3]
        np.testing.assert_allclose(left, reflect_points(right), atol=1e-12)


def test_flexion_bends_towards_the_palm_on_both_sides():
    for side in ("left", "right"):
        skel = skeleton(side)
        tip = skel.joint_index("index_dip")
        straight = joint_matrices(skel, Pose.rest(side))[tip, :3, 3]
        bent = joint_matrices(skel, Pose.from_angles(side, index_mcp_flexion=1.0))[tip, :3, 3]
        assert bent[1] < straight[1] - 0.02  # palm faces -y in the bind pose


def test_skinning_is_identity_at_bind_and_rigid_for_a_single_joint():
    skel = skeleton("right")
    np.testing.assert_allclose(
        skinning_matrices(skel, Pose.rest("right")),
        np.tile(np.eye(4), (skel.n_joints, 1, 1)),
        atol=1e-12,
    )
    pose = Pose.from_angles("right", wrist_flexion=0.7)
    skin = skinning_matrices(skel, pose)
    wrist = skel.joint_index("wrist")
    pts = np.array([[0.0, 0.0, -0.3], [0.01, 0.01, -0.35]])
    joints = np.full((2, 4), wrist)
    weights = np.array([[1.0, 0, 0, 0]] * 2, dtype=np.float32)
    moved = skin_vertices(skin, pts, joints, weights)
    expected = (skin[wrist] @ np.c_[pts, np.ones(2)].T).T[:, :3]
    np.testing.assert_allclose(moved, expected, atol=1e-6)
    # The wrist pivot stays put.
    np.testing.assert_allclose(
        joint_matrices(skel, pose)[wrist],
        bind_matrices(skel)[wrist]
        @ np.linalg.inv(bind_matrices(skel)[wrist])
        @ joint_matrices(skel, pose)[wrist],
    )


def test_pose_side_must_match_skeleton():
    with pytest.raises(ConfigError, match="does not match"):
        joint_matrices(skeleton("left"), Pose.rest("right"))
