"""Load a skinned limb model (.glb) into plain numpy arrays.

The geometry comes through trimesh (``force="mesh", process=False`` keeps the vertex order);
trimesh drops the skin, so the joints, weights and inverse binds are read with pygltflib from
the same file. Anything malformed is a :class:`~mirrorvr.errors.ModelError` that names the
file and what is wrong.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirrorvr.errors import ModelError
from mirrorvr.limb.skeleton import check_side, skeleton
from mirrorvr.resources import model_path

logger = logging.getLogger(__name__)

_COMPONENT_DTYPES = {
    5120: np.int8,
    5121: np.uint8,
    5122: np.int16,
    5123: np.uint16,
    5125: np.uint32,
    5126: np.float32,
}
_TYPE_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


@dataclass(frozen=True, eq=False)
class LimbModel:
    """A skinned hand-and-forearm mesh in its bind pose, model space (metres).

    Attributes
    ----------
    side : str
    path : Path
    positions : (n, 3) float32
    normals : (n, 3) float32, unit length
    indices : (m, 3) uint32, counter-clockwise front faces
    joints : (n, 4) uint32, joint indices per vertex
    weights : (n, 4) float32, rows summing to 1
    joint_names : tuple of str, (n_joints,)
    parents : (n_joints,) int, -1 for the root
    rest_local : (n_joints, 4, 4) float64, each joint relative to its parent
    inverse_bind : (n_joints, 4, 4) float64
    """

    side: str
    path: Path
    positions: np.ndarray
    normals: np.ndarray
    indices: np.ndarray
    joints: np.ndarray
    weights: np.ndarray
    joint_names: tuple[str, ...]
    parents: np.ndarray
    rest_local: np.ndarray
    inverse_bind: np.ndarray

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)


def _node_matrix(node) -> np.ndarray:
    """Local transform (4, 4) of a glTF node (matrix or TRS)."""
    if node.matrix is not None:
        return np.array(node.matrix, dtype=float).reshape(4, 4).T  # column-major in glTF
    m = np.eye(4)
    if node.rotation is not None:
        x, y, z, w = node.rotation
        m[:3, :3] = [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    if node.scale is not None:
        m[:3, :3] = m[:3, :3] @ np.diag(node.scale)
    if node.translation is not None:
        m[:3, 3] = node.translation
    return m


def _read_accessor(gltf, blob: bytes, index: int, path: Path, what: str) -> np.ndarray:
    try:
        acc = gltf.accessors[index]
        view = gltf.bufferViews[acc.bufferView]
        dtype = np.dtype(_COMPONENT_DTYPES[acc.componentType])
        width = _TYPE_WIDTH[acc.type]
    except (IndexError, KeyError, TypeError) as err:
        raise ModelError(f"{path}: {what} accessor {index} is malformed ({err})") from None
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    stride = view.byteStride or dtype.itemsize * width
    if stride != dtype.itemsize * width:
        raise ModelError(f"{path}: {what} uses an interleaved buffer view (not supported)")
    end = start + acc.count * stride
    if end > len(blob):
        raise ModelError(f"{path}: {what} runs past the end of the binary buffer")
    return np.frombuffer(blob[start:end], dtype=dtype).reshape(acc.count, width)


def _read_skin(path: Path):
    import pygltflib

    try:
        gltf = pygltflib.GLTF2().load(str(path))
    except Exception as err:  # pygltflib raises a variety of parse errors
        raise ModelError(f"{path}: not a readable glTF file ({type(err).__name__}: {err})") from err
    blob = gltf.binary_blob()
    if blob is None:
        raise ModelError(f"{path}: has no binary buffer (expected a .glb)")
    if len(gltf.skins) != 1:
        raise ModelError(f"{path}: expected exactly one skin, found {len(gltf.skins)}")
    skin = gltf.skins[0]
    skinned = [n for n in gltf.nodes if n.mesh is not None and n.skin == 0]
    if len(skinned) != 1 or len(gltf.meshes[skinned[0].mesh].primitives) != 1:
        raise ModelError(f"{path}: expected one skinned mesh node with one primitive")
    attrs = gltf.meshes[skinned[0].mesh].primitives[0].attributes
    if attrs.JOINTS_0 is None or attrs.WEIGHTS_0 is None:
        raise ModelError(f"{path}: the mesh has no JOINTS_0/WEIGHTS_0 attributes")
    if skin.inverseBindMatrices is None:
        raise ModelError(f"{path}: the skin has no inverseBindMatrices")
    joints = _read_accessor(gltf, blob, attrs.JOINTS_0, path, "JOINTS_0").astype(np.uint32)
    weights = _read_accessor(gltf, blob, attrs.WEIGHTS_0, path, "WEIGHTS_0")
    if weights.dtype != np.float32:
        raise ModelError(f"{path}: WEIGHTS_0 must be float, got {weights.dtype}")
    ibm = _read_accessor(gltf, blob, skin.inverseBindMatrices, path, "inverseBindMatrices")
    inverse_bind = ibm.astype(float).reshape(-1, 4, 4).transpose(0, 2, 1)

    node_to_joint = {node: j for j, node in enumerate(skin.joints)}
    names = tuple(gltf.nodes[n].name or f"joint{j}" for j, n in enumerate(skin.joints))
    parents = -np.ones(len(skin.joints), dtype=int)
    for node_index, j in node_to_joint.items():
        for child in gltf.nodes[node_index].children or []:
            if child in node_to_joint:
                parents[node_to_joint[child]] = j
    if np.any(parents >= np.arange(len(parents))):
        raise ModelError(f"{path}: skin joints must list parents before children")
    rest_local = np.stack([_node_matrix(gltf.nodes[n]) for n in skin.joints])
    return names, parents, rest_local, inverse_bind, joints, weights.astype(np.float32)


def load_limb_model_file(path: str | Path, side: str) -> LimbModel:
    """Load and check a skinned limb model from ``path`` for ``side``."""
    import trimesh

    check_side(side)
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: file does not exist")
    names, parents, rest_local, inverse_bind, joints, weights = _read_skin(path)
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as err:  # trimesh wraps many loader errors
        raise ModelError(
            f"{path}: trimesh could not read the mesh ({type(err).__name__}: {err})"
        ) from err
    positions = np.asarray(mesh.vertices, dtype=np.float32)
    indices = np.asarray(mesh.faces, dtype=np.uint32)
    n = len(positions)
    normals = np.asarray(mesh.vertex_normals, dtype=np.float32)

    expected = skeleton(side)
    if names != expected.joint_names:
        raise ModelError(
            f"{path}: joint names {list(names)} differ from the {side} skeleton's "
            f"{list(expected.joint_names)}"
        )
    if not np.array_equal(parents, expected.parents):
        raise ModelError(f"{path}: joint hierarchy {parents.tolist()} differs from the skeleton's")
    if len(joints) != n or len(weights) != n:
        raise ModelError(
            f"{path}: {n} vertices but {len(joints)} JOINTS_0 and {len(weights)} WEIGHTS_0 rows"
        )
    if joints.max(initial=0) >= len(names):
        raise ModelError(
            f"{path}: JOINTS_0 refers to joint {int(joints.max())}, only {len(names)} exist"
        )
    sums = weights.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > 1e-3) or np.any(weights < 0):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ModelError(
            f"{path}: WEIGHTS_0 rows must be >= 0 and sum to 1 "
            f"(vertex {worst} sums to {sums[worst]:.4f})"
        )
    if len(inverse_bind) != len(names):
        raise ModelError(
            f"{path}: {len(inverse_bind)} inverse bind matrices for {len(names)} joints"
        )
    if indices.size == 0 or indices.max() >= n:
        raise ModelError(f"{path}: triangle indices are empty or out of range")
    for arr in (positions, normals, indices, joints, weights, parents, rest_local, inverse_bind):
        arr.setflags(write=False)
    logger.debug(
        "loaded %s: %d vertices, %d triangles, %d joints", path, n, len(indices), len(names)
    )
    return LimbModel(
        side,
        path,
        positions,
        normals,
        indices,
        joints,
        weights,
        names,
        parents,
        rest_local,
        inverse_bind,
    )


@functools.lru_cache(maxsize=2)
def load_limb_model(side: str) -> LimbModel:
    """The packaged model of ``side``: ``models/hand_<side>.glb`` (cached, read-only arrays)."""
    check_side(side)
    return load_limb_model_file(model_path(f"hand_{side}.glb"), side)
