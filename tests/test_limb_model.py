"""The packaged .glb models load with a consistent skin (pure numpy + trimesh/pygltflib)."""

import subprocess
import sys

import numpy as np
import pytest

from mirrorvr.errors import ModelError
from mirrorvr.limb.kinematics import bind_matrices, skin_vertices, skinning_matrices
from mirrorvr.limb.mirror import mirror_pose, reflect_points
from mirrorvr.limb.model import load_limb_model, load_limb_model_file
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import skeleton


@pytest.mark.parametrize("lod", [0, 1])
@pytest.mark.parametrize("limb", ["upper", "lower"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_model_loads_with_a_consistent_skin(side, limb, lod):
    model = load_limb_model(side, limb, lod)
    assert model.limb == limb and model.side == side
    n = len(model.positions)
    assert n > 1000
    assert model.positions.dtype == np.float32 and model.positions.shape == (n, 3)
    assert model.normals.shape == (n, 3)
    np.testing.assert_allclose(np.linalg.norm(model.normals, axis=1), 1.0, atol=1e-4)
    assert model.indices.dtype == np.uint32 and model.indices.shape[1] == 3
    assert model.joints.shape == (n, 4) and model.weights.shape == (n, 4)
    np.testing.assert_allclose(model.weights.sum(axis=1), 1.0, atol=1e-6)
    skel = skeleton(side, limb)
    assert model.joints.max() < model.n_joints == len(model.inverse_bind) == skel.n_joints
    assert model.joint_names == skel.joint_names
    np.testing.assert_allclose(
        model.inverse_bind @ bind_matrices(model),
        np.tile(np.eye(4), (model.n_joints, 1, 1)),
        atol=1e-5,
    )
    used = np.unique(model.joints[model.weights > 0])
    assert len(used) == model.n_joints  # every joint moves some skin


def test_model_dimensions_are_a_human_arm_and_leg():
    arm = load_limb_model("right", "upper")
    extent = arm.positions.max(axis=0) - arm.positions.min(axis=0)
    # elbow (behind it, the olecranon) to the fingertips: forearm ~0.26 m + hand ~0.19 m
    hand_end = arm.positions[:, 2].min()
    assert -0.47 < hand_end < -0.43
    assert 0.33 < extent[1] < 0.43  # shoulder above the elbow on the table
    assert 0.09 < extent[0] < 0.16  # palm width plus the thumb / upper-arm girth
    leg = load_limb_model("right", "lower")
    low, high = leg.positions.min(axis=0), leg.positions.max(axis=0)
    assert 0.40 < -low[1] < 0.46  # hip height above the sole when seated
    assert 0.10 < high[0] - low[0] < 0.20  # thigh width
    # Each joint's neighbourhood has skin: the toes reach ~5 cm past the toe joint.
    toes_joint = leg.joint_names.index("toes")
    toes = leg.positions[leg.joints[:, 0] == toes_joint]
    toe_line_z = np.linalg.inv(leg.inverse_bind[toes_joint])[2, 3]
    assert len(toes) > 50 and toe_line_z - toes[:, 2].min() > 0.045


@pytest.mark.parametrize("limb", ["upper", "lower"])
def test_left_model_is_the_reflected_right_model_with_outward_faces(limb):
    left, right = load_limb_model("left", limb), load_limb_model("right", limb)
    np.testing.assert_allclose(left.positions, reflect_points(right.positions), atol=1e-7)
    for model in (left, right):
        tri = model.positions[model.indices].astype(float)
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        signed_volume = np.einsum("ij,ij->i", tri[:, 0], normals).sum() / 6
        assert signed_volume > 0  # counter-clockwise faces, outward normals


@pytest.mark.parametrize("movement", ["hand_close", "key_grip", "ankle_inversion", "knee_flexion"])
def test_skinned_mirror_pose_gives_reflected_vertices(movement):
    pose = target_pose(movement, 1.0, "right")
    right, left = load_limb_model("right", pose.limb), load_limb_model("left", pose.limb)
    vr = skin_vertices(skinning_matrices(right, pose), right.positions, right.joints, right.weights)
    vl = skin_vertices(
        skinning_matrices(left, mirror_pose(pose)), left.positions, left.joints, left.weights
    )
    np.testing.assert_allclose(vl, reflect_points(vr), atol=1e-5)


def test_malformed_files_raise_model_error(tmp_path):
    bad = tmp_path / "bad.glb"
    bad.write_bytes(b"not a gltf at all")
    with pytest.raises(ModelError, match="bad.glb"):
        load_limb_model_file(bad, "right")
    with pytest.raises(ModelError, match="does not exist"):
        load_limb_model_file(tmp_path / "missing.glb", "right")
    import pygltflib

    from mirrorvr.resources import model_path

    gltf = pygltflib.GLTF2().load(str(model_path("upper_limb_right.glb")))
    gltf.nodes[2].name = "elbow"  # the wrist joint renamed
    renamed = tmp_path / "renamed.glb"
    gltf.save_binary(str(renamed))
    with pytest.raises(ModelError, match="renamed.glb: joint names"):
        load_limb_model_file(renamed, "right")
    gltf.skins = []
    noskin = tmp_path / "noskin.glb"
    gltf.save_binary(str(noskin))
    with pytest.raises(ModelError, match="noskin.glb: expected exactly one skin"):
        load_limb_model_file(noskin, "right")


@pytest.mark.slow
def test_models_are_reproducible(tmp_path):
    """Rebuilding gives the same skinning data (geometry is deterministic)."""
    from mirrorvr.resources import model_path

    before = model_path("upper_limb_right.glb").read_bytes()
    script = model_path("build_models.py")
    copy = tmp_path / "models"
    copy.mkdir()
    (copy / "build_models.py").write_text(script.read_text())
    # Run the copy with the real package on the path; it writes next to itself.
    env_path = str(script.parent.parent)
    subprocess.run(
        [sys.executable, str(copy / "build_models.py")],
        check=True,
        capture_output=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    assert (copy / "upper_limb_right.glb").read_bytes() == before
    assert (copy / "lower_limb_left.glb").read_bytes() == model_path(
        "lower_limb_left.glb"
    ).read_bytes()


def test_importing_scene_and_limb_does_not_import_pygame_or_opengl():
    code = (
        "import sys, mirrorvr, mirrorvr.render, mirrorvr.render.scene, mirrorvr.limb.model, "
        "mirrorvr.limb.poses, mirrorvr.limb.kinematics, mirrorvr.limb.mirror\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('pygame', 'OpenGL')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
