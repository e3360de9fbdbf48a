"""Skeleton, DOFs, limits and Pose (pure numpy)."""

import numpy as np
import pytest

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import (
    BIND_RAD,
    DOF_NAMES,
    JOINT_NAMES,
    LOWER_RAD,
    N_DOFS,
    UPPER_RAD,
    Pose,
    limb_spec,
    skeleton,
)


def test_required_joints_and_dofs_exist():
    for joint in ["forearm", "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip"] + [
        f"{f}_{j}" for f in ("index", "middle", "ring", "little") for j in ("mcp", "pip", "dip")
    ]:
        assert joint in JOINT_NAMES
    for dof in [
        "wrist_flexion",
        "wrist_deviation",
        "forearm_pronation",
        "index_mcp_flexion",
        "thumb_opposition",
        "little_dip_flexion",
    ]:
        assert dof in DOF_NAMES
    assert np.all(LOWER_RAD <= BIND_RAD) and np.all(BIND_RAD <= UPPER_RAD)  # rest is reachable
    for limb in ("upper", "lower"):
        spec = limb_spec(limb)
        assert np.all(spec.lower_rad < spec.upper_rad)
        assert np.all((spec.lower_rad <= spec.bind_rad) & (spec.bind_rad <= spec.upper_rad))
    for dof in ["knee_flexion", "ankle_dorsiflexion", "ankle_inversion", "toe_flexion"]:
        assert dof in limb_spec("lower").dof_names
    assert {"upper_arm", "forearm", "wrist"} <= set(JOINT_NAMES)


def test_anatomical_limits_in_degrees():
    """Ranges of motion (AAOS / Norkin & White) within a few degrees."""

    def deg(limb, dof):
        spec = limb_spec(limb)
        i = spec.dof_index(dof)
        return np.degrees(spec.lower_rad[i]), np.degrees(spec.upper_rad[i])

    assert deg("upper", "elbow_flexion") == pytest.approx((0, 145), abs=1)
    assert deg("upper", "wrist_flexion") == pytest.approx((-69, 80), abs=2)
    assert deg("upper", "index_pip_flexion")[1] == pytest.approx(109, abs=2)
    assert deg("lower", "knee_flexion")[1] == pytest.approx(140, abs=1)
    assert deg("lower", "ankle_dorsiflexion") == pytest.approx((-50, 20), abs=1)
    assert deg("lower", "ankle_inversion") == pytest.approx((-15, 35), abs=1)
    assert deg("lower", "toe_flexion") == pytest.approx((-69, 40), abs=2)


def test_parents_before_children():
    skel = skeleton("right")
    assert skel.parents[0] == -1
    assert np.all(skel.parents[1:] < np.arange(1, skel.n_joints))


def test_rest_and_named_angles():
    pose = Pose.rest("left").with_angles(wrist_flexion=0.5, index_pip_flexion=1.0)
    assert pose.side == "left"
    assert pose.angles.shape == (N_DOFS,) and pose.angles.dtype == np.float64
    assert pose.angle("wrist_flexion") == 0.5
    assert pose.angle("index_pip_flexion") == 1.0
    assert pose.angle("middle_pip_flexion") == 0.0
    assert pose.angle("elbow_flexion") == pytest.approx(BIND_RAD[DOF_NAMES.index("elbow_flexion")])
    leg = Pose.from_angles("right", "lower", knee_flexion=0.3)
    assert leg.limb == "lower" and leg.angle("knee_flexion") == 0.3
    with pytest.raises(ValueError):
        pose.angles[0] = 1.0  # read-only


def test_out_of_limit_angle_is_refused_with_name_value_and_range():
    with pytest.raises(
        ConfigError, match=r"wrist_flexion: 3\.0000 rad is outside its range \[-1\.200, 1\.400\]"
    ):
        Pose.rest("right").with_angles(wrist_flexion=3.0)
    angles = np.zeros(N_DOFS)
    angles[DOF_NAMES.index("index_pip_flexion")] = -1.0
    with pytest.raises(ConfigError, match="index_pip_flexion"):
        Pose("right", angles)


def test_bad_side_shape_and_names_are_refused():
    with pytest.raises(ConfigError, match="side: 'middle'"):
        Pose.rest("middle")
    with pytest.raises(ConfigError, match=r"shape \(3,\)"):
        Pose("left", np.zeros(3))
    with pytest.raises(ConfigError, match="not a degree of freedom"):
        Pose.rest("left").with_angles(knee_flexion=0.1)
    with pytest.raises(ConfigError, match="limb: 'middle'"):
        Pose.rest("left", "middle")
    with pytest.raises(ConfigError, match="not finite"):
        Pose.unchecked("left", np.full(N_DOFS, np.nan))


def test_clipped_brings_unchecked_pose_into_limits():
    raw = Pose.unchecked("right", np.full(N_DOFS, 10.0))
    assert not raw.within_limits()
    clipped = raw.clipped()
    assert clipped.within_limits()
    np.testing.assert_array_equal(clipped.angles, UPPER_RAD)
    assert Pose.unchecked("left", np.full(5, 9.0), "lower").clipped().within_limits()
    np.testing.assert_array_equal(
        Pose.unchecked("right", np.full(N_DOFS, -10.0)).clipped().angles, LOWER_RAD
    )


def test_lerp():
    a = Pose.rest("right")
    b = a.with_angles(wrist_flexion=1.0, index_mcp_flexion=1.5)
    mid = a.lerp(b, 0.5)
    assert mid.angle("wrist_flexion") == pytest.approx(0.5)
    assert mid.angle("index_mcp_flexion") == pytest.approx(0.75)
    np.testing.assert_allclose(a.lerp(b, 1.0).angles, b.angles)
    with pytest.raises(ConfigError, match="alpha"):
        a.lerp(b, 1.5)
    with pytest.raises(ConfigError, match="side"):
        a.lerp(Pose.rest("left"), 0.5)
