"""Movement target poses and the time-based follower (pure numpy)."""

import numpy as np
import pytest

from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import PoseFollower, blended_pose, target_pose
from mirrorvr.movements import UPPER_LIMB_MOVEMENTS


@pytest.mark.parametrize("movement", UPPER_LIMB_MOVEMENTS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_every_movement_has_a_valid_pose(movement, side):
    pose = target_pose(movement, 1.0, side)
    assert pose.side == side and pose.within_limits()


@pytest.mark.parametrize("movement", UPPER_LIMB_MOVEMENTS)
def test_level_interpolates_linearly_from_rest(movement):
    rest = target_pose("rest", 0.0, "right")
    full = target_pose(movement, 1.0, "right")
    np.testing.assert_allclose(target_pose(movement, 0.0, "right").angles, rest.angles)
    np.testing.assert_allclose(
        target_pose(movement, 0.3, "right").angles, rest.angles + 0.3 * (full.angles - rest.angles)
    )


def test_movements_move_the_expected_joints():
    rest = target_pose("rest", 0.0, "left")
    assert (
        target_pose("hand_close", 1.0, "left").angle("middle_pip_flexion")
        > rest.angle("middle_pip_flexion") + 1.0
    )
    assert target_pose("hand_open", 1.0, "left").angle("index_mcp_flexion") < rest.angle(
        "index_mcp_flexion"
    )
    assert target_pose("wrist_flexion", 1.0, "left").angle("wrist_flexion") > 0.5
    assert target_pose("wrist_extension", 1.0, "left").angle("wrist_flexion") < -0.5
    assert target_pose("pronation", 1.0, "left").angle("forearm_pronation") > 0.3
    assert target_pose("supination", 1.0, "left").angle("forearm_pronation") < -1.0


def test_bad_inputs():
    with pytest.raises(ConfigError, match="movement: 'wave'"):
        target_pose("wave", 0.5, "left")
    with pytest.raises(ConfigError, match="level: 1.5"):
        target_pose("hand_open", 1.5, "left")
    with pytest.raises(ConfigError, match="side"):
        target_pose("hand_open", 0.5, "up")


def test_follower_is_time_based_not_frame_based():
    target = target_pose("hand_close", 1.0, "right")
    one, ten = PoseFollower("right", 0.12), PoseFollower("right", 0.12)
    one.update(target, 5.0)
    ten.update(target, 5.0)
    coarse = one.update(target, 5.1)
    for k in range(1, 11):
        fine = ten.update(target, 5.0 + 0.01 * k)
    np.testing.assert_allclose(coarse.angles, fine.angles, atol=1e-9)
    start = target_pose("rest", 0.0, "right")
    expected = start.angles + (1 - np.exp(-0.1 / 0.12)) * (target.angles - start.angles)
    np.testing.assert_allclose(coarse.angles, expected, atol=1e-9)


def test_follower_converges_and_refuses_time_going_back():
    target = target_pose("wrist_extension", 1.0, "left")
    follower = PoseFollower("left", 0.05)
    follower.update(target, 0.0)
    pose = follower.update(target, 2.0)
    np.testing.assert_allclose(pose.angles, target.angles, atol=1e-6)
    assert pose.within_limits()
    with pytest.raises(ConfigError, match="earlier"):
        follower.update(target, 1.0)
    with pytest.raises(ConfigError, match="target.side"):
        follower.update(target_pose("rest", 0.0, "right"), 3.0)
    with pytest.raises(ConfigError, match="time_constant_s"):
        PoseFollower("left", 0.0)


def test_blended_pose_adds_each_movement_s_change_from_rest():
    rest = target_pose("rest", 0.0, "right")
    one = blended_pose({"hand_open": 0.4}, "right")
    np.testing.assert_allclose(one.angles, target_pose("hand_open", 0.4, "right").angles)
    both = blended_pose({"hand_open": 0.4, "wrist_flexion": 0.5}, "right")
    assert both.angle("wrist_flexion") == pytest.approx(
        target_pose("wrist_flexion", 0.5, "right").angle("wrist_flexion"))
    assert both.angle("index_mcp_flexion") == pytest.approx(one.angle("index_mcp_flexion"))
    np.testing.assert_allclose(blended_pose({}, "left").angles, target_pose("rest", 0.0,
                                                                            "left").angles)
    assert blended_pose({"ankle_dorsiflexion": 0.5}, "left").limb == "lower"
    assert rest.within_limits() and both.within_limits()
    with pytest.raises(ConfigError, match="level"):
        blended_pose({"hand_close": 1.5}, "right")
