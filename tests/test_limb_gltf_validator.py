"""Every packaged .glb passes the Khronos glTF validator (npm ``gltf-validator``) with 0 errors.

``./dev setup`` installs the validator into the repository's ``node_modules``; if it is
missing but npm is available this test installs it. It is skipped only when node or npm are
absent from the machine.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted((ROOT / "models").glob("*.glb"))
VALIDATOR_VERSION = "2.0.0-dev.3.10"


@pytest.fixture(scope="module")
def validator():
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the Khronos glTF validator (not installed)")
    if not (ROOT / "node_modules" / "gltf-validator").is_dir():
        result = subprocess.run(
            [
                npm,
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(ROOT),
                f"gltf-validator@{VALIDATOR_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"npm could not install gltf-validator:\n{result.stderr}"
    return node


def test_the_models_exist():
    names = {p.name for p in MODELS}
    assert {
        f"{limb}_limb_{side}.glb" for limb in ("upper", "lower") for side in ("left", "right")
    } | {f"{limb}_limb_{side}_lod1.glb" for limb in ("upper", "lower") for side in ("left", "right")
         } | {"body.glb"} <= names


def test_every_model_passes_the_khronos_validator(validator):
    result = subprocess.run(
        [validator, str(ROOT / "models" / "validate_gltf.js"), *map(str, MODELS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    reports = json.loads(result.stdout)
    assert set(reports) == set(map(str, MODELS))
    for file, report in reports.items():
        assert report["numErrors"] == 0, (file, report["messages"])
        assert report["numWarnings"] == 0, (file, report["messages"])


def test_the_validator_catches_a_broken_file(validator, tmp_path):
    """The check can fail: a skin whose joint count disagrees with its matrices is an error."""
    import pygltflib

    gltf = pygltflib.GLTF2().load(str(ROOT / "models" / "upper_limb_right.glb"))
    gltf.skins[0].joints = gltf.skins[0].joints[:-1]
    broken = tmp_path / "broken.glb"
    gltf.save_binary(str(broken))
    result = subprocess.run(
        [validator, str(ROOT / "models" / "validate_gltf.js"), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stdout)[str(broken)]
    assert report["numErrors"] > 0
