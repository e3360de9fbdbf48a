"""Landmark geometry -> joint angles, on our own skeleton's joint positions (exact answers)."""

import numpy as np
import pytest

from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import Pose, limb_spec, rotation_matrix
from mirrorvr.tracking.landmarks import (
    LEG_LANDMARKS,
    N_POSE_LANDMARKS,
    as_right_hand,
    hand_angles,
    leg_angles,
    palm_frame,
    skeleton_landmarks,
)

MOVES = [("hand_close", 0.6), ("wrist_flexion", 0.6), ("point", 1.0), ("pronation", 1.0),
         ("hand_open", 1.0), ("supination", 0.5), ("radial_deviation", 1.0), ("pinch", 1.0)]


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("movement, level", MOVES)
def test_hand_angles_are_recovered_from_the_skeletons_own_joint_positions(side, movement, level):
    camera = rotation_matrix((0.3, 0.8, -0.5) / np.linalg.norm((0.3, 0.8, -0.5)), 1.1)[:3, :3]
    ref = palm_frame(as_right_hand(skeleton_landmarks(Pose.rest(side)) @ camera.T, side))
    pose = target_pose(movement, level, side)
    # seen by a camera turned arbitrarily (the same turn as in the neutral pose)
    got = hand_angles(skeleton_landmarks(pose) @ camera.T, side, ref)
    measured = np.isfinite(got)
    assert list(np.flatnonzero(~measured)) == [limb_spec("upper").dof_index("elbow_flexion")]
    np.testing.assert_allclose(got[measured], pose.angles[measured], atol=1e-6)


def test_without_a_neutral_reference_the_wrist_is_not_measured():
    got = hand_angles(skeleton_landmarks(Pose.rest("left")), "left")
    spec = limb_spec("upper")
    for name in ("forearm_pronation", "wrist_flexion", "wrist_deviation"):
        assert np.isnan(got[spec.dof_index(name)])
    assert np.isfinite(got[spec.dof_index("index_pip_flexion")])


def test_leg_angles_from_hip_knee_ankle_heel_and_toe():
    knee, ankle = np.radians(70.0), np.radians(10.0)
    p = np.zeros((N_POSE_LANDMARKS, 3))
    hip, knee_i, ankle_i, heel, toe = LEG_LANDMARKS["right"]
    p[hip] = (0, 0, 0)
    p[knee_i] = (0, 0, -0.43)  # thigh forward
    shank = np.array([0.0, -np.sin(knee), -np.cos(knee)])
    p[ankle_i] = p[knee_i] + 0.42 * shank
    # the foot turned from perpendicular to the shank by `ankle` towards the shin
    perp = np.array([0.0, -shank[2], shank[1]])
    if perp[2] > 0:
        perp = -perp
    foot = np.cos(ankle) * perp - np.sin(ankle) * shank
    p[heel] = p[ankle_i] - 0.05 * foot
    p[toe] = p[ankle_i] + 0.2 * foot
    got = leg_angles(p, "right")
    spec = limb_spec("lower")
    assert got[spec.dof_index("knee_flexion")] == pytest.approx(knee)
    assert got[spec.dof_index("ankle_dorsiflexion")] == pytest.approx(ankle)
    assert np.isnan(got[spec.dof_index("toe_flexion")])
