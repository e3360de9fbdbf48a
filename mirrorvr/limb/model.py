"""Load a skinned limb model (.glb) into plain numpy arrays.

Files: ``models/upper_limb_<side>.glb`` and ``models/lower_limb_<side>.glb`` (built by
``models/build_models.py``).

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
from mirrorvr.limb.kinematics import bind_matrices
from mirrorvr.limb.skeleton import TIP_OFFSETS_M, check_limb, check_side, skeleton
from mirrorvr.resources import model_path

#: The main chain of each limb (joints from the root to the end), for ``distal_m``.
MAIN_CHAIN: dict[str, tuple[str, ...]] = {
    "upper": ("upper_arm", "forearm", "wrist", "middle_mcp", "middle_pip", "middle_dip"),
    "lower": ("thigh", "shank", "foot", "toes"),
}

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
    limb : str
        ``"upper"`` or ``"lower"``.
    distal_m : (n,) float32
        Each vertex's distance from the root joint along the limb's main chain (shoulder ->
        elbow -> wrist -> middle finger, or hip -> knee -> ankle -> toes), bind pose, m: where
        an amputation level cuts.
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
    limb: str = "upper"
    distal_m: np.ndarray | None = None

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


def chain_points(skel, limb: str) -> np.ndarray:
    """Bind-pose points of the main chain incl. the end tip, (k, 3) float, model space."""
    world = bind_matrices(skel)
    names = list(skel.joint_names)
    chain = MAIN_CHAIN[limb]
    points = [world[names.index(j), :3, 3] for j in chain]
    end = world[names.index(chain[-1])]
    points.append(end[:3, 3] - end[:3, 2] * TIP_OFFSETS_M[chain[-1]])
    return np.array(points)


def distal_coordinate(positions: np.ndarray, chain: np.ndarray) -> np.ndarray:
    """Arc length (n,) along the polyline ``chain`` (k, 3) of each point's nearest point, m."""
    positions = np.asarray(positions, dtype=float)
    best = np.full(len(positions), np.inf)
    arc = np.zeros(len(positions))
    start = 0.0
    for a, b in zip(chain[:-1], chain[1:], strict=True):
        ab = b - a
        length = float(np.linalg.norm(ab))
        t = np.clip(((positions - a) @ ab) / (length * length), 0.0, 1.0)
        dist = np.linalg.norm(positions - (a + t[:, None] * ab), axis=1)
        closer = dist < best
        best[closer] = dist[closer]
        arc[closer] = start + t[closer] * length
        start += length
    return arc.astype(np.float32)


def _read_mesh(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (n, 3) float32, normals (n, 3) float32 and triangles (m, 3) uint32 of the
    one mesh in ``path`` (through trimesh, vertex order kept)."""
    import trimesh

    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as err:  # trimesh wraps many loader errors
        raise ModelError(
            f"{path}: trimesh could not read the mesh ({type(err).__name__}: {err})"
        ) from err
    positions = np.asarray(mesh.vertices, dtype=np.float32)
    indices = np.asarray(mesh.faces, dtype=np.uint32)
    return positions, np.asarray(mesh.vertex_normals, dtype=np.float32), indices


def load_limb_model_file(path: str | Path, side: str, limb: str = "upper") -> LimbModel:
    """Load and check a skinned ``limb`` model from ``path`` for ``side``."""
    check_side(side)
    check_limb(limb)
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: file does not exist")
    names, parents, rest_local, inverse_bind, joints, weights = _read_skin(path)
    positions, normals, indices = _read_mesh(path)
    n = len(positions)

    expected = skeleton(side, limb)
    if names != expected.joint_names:
        raise ModelError(
            f"{path}: joint names {list(names)} differ from the {side} {limb}-limb skeleton's "
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
    distal = distal_coordinate(positions, chain_points(expected, limb))
    for arr in (
        positions,
        normals,
        indices,
        joints,
        weights,
        parents,
        rest_local,
        inverse_bind,
        distal,
    ):
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
        limb,
        distal,
    )


#: Levels of detail of the packaged limbs: 0 the full mesh, 1 a coarser one (~40 % of the
#: triangles) for frames drawn at a reduced render scale, where the difference is invisible
#: and a software rasteriser's per-triangle cost is not.
LODS: tuple[int, ...] = (0, 1)


def model_file_name(side: str, limb: str = "upper", lod: int = 0) -> str:
    """File name of the packaged model, e.g. ``"upper_limb_right.glb"``,
    ``"upper_limb_right_lod1.glb"``."""
    if lod not in LODS:
        raise ModelError(f"lod: {lod!r} is not a level of detail (allowed: {list(LODS)})")
    suffix = f"_lod{lod}" if lod else ""
    return f"{check_limb(limb)}_limb_{check_side(side)}{suffix}.glb"


@functools.lru_cache(maxsize=8)
def load_limb_model(side: str, limb: str = "upper", lod: int = 0) -> LimbModel:
    """The packaged model of ``side`` and ``limb`` at level of detail ``lod`` (cached,
    read-only arrays)."""
    return load_limb_model_file(model_path(model_file_name(side, limb, lod)), side, limb)


@dataclass(frozen=True, eq=False)
class StaticModel:
    """An unskinned mesh (the trunk), model space, metres.

    Attributes
    ----------
    path : Path
    positions : (n, 3) float32
    normals : (n, 3) float32, unit length
    indices : (m, 3) uint32, counter-clockwise front faces
    """

    path: Path
    positions: np.ndarray
    normals: np.ndarray
    indices: np.ndarray


@functools.lru_cache(maxsize=2)
def load_body_model(name: str = "body.glb") -> StaticModel:
    """The packaged trunk (``models/body.glb``, built by ``models/build_models.py``)."""
    path = model_path(name)
    positions, normals, indices = _read_mesh(path)
    if indices.size == 0 or indices.max() >= len(positions):
        raise ModelError(f"{path}: triangle indices are empty or out of range")
    for arr in (positions, normals, indices):
        arr.setflags(write=False)
    return StaticModel(path, positions, normals, indices)
