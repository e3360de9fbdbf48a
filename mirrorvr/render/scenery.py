"""The static part of a scene baked into one mesh (no GL): trunk, furniture, floor, walls.

Drawing the room as one mesh costs one draw call instead of one per box (on a software
rasteriser each draw call has a fixed set-up cost of its own); the triangles are ordered
near to far (trunk, table or chair, floor, window, walls), so hidden pixels fail the depth
test before they are shaded. Every vertex carries its colour and material
(:data:`mirrorvr.render.scene.MATERIALS` index).
"""

from __future__ import annotations

import numpy as np

from mirrorvr.render.scene import CLOTH_RGB, MATERIALS, Box, SceneLayout


def unit_cube_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cube [-0.5, 0.5]^3 with flat normals: positions (24, 3), normals (24, 3),
    counter-clockwise triangles (12, 3)."""
    positions, normals, indices = [], [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3)
            n[axis] = sign
            u = np.zeros(3)
            u[(axis + 1) % 3] = 1.0
            v = np.cross(n, u)
            base = len(positions)
            for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                positions.append(0.5 * n + 0.5 * du * u + 0.5 * dv * v)
                normals.append(n)
            indices += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    return np.array(positions), np.array(normals), np.array(indices)


def _box(box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (24, 3), normals (24, 3) and triangles (12, 3) of one box, world, m."""
    positions, normals, indices = unit_cube_arrays()
    return positions * box.size_m + box.center_m, normals, indices


def bake_scenery(layout: SceneLayout, trunk=None) -> dict[str, np.ndarray]:
    """One mesh of ``layout``'s trunk (``trunk``: a model with ``positions``, ``normals``,
    ``indices``; drawn in the clothing colour) and room, in world coordinates.

    Returns
    -------
    arrays : dict
        ``in_position`` (n, 3) float32, ``in_normal`` (n, 3) float32, ``in_color_0`` (n, 3)
        float32 (sRGB), ``in_material`` (n, 1) float32, ``indices`` (m, 3) uint32.
    """
    parts = []  # (positions, normals, indices, colour, material)
    if trunk is not None and layout.trunk is not None:
        m = np.asarray(layout.trunk, dtype=float)
        parts.append((
            np.asarray(trunk.positions, dtype=float) @ m[:3, :3].T + m[:3, 3],
            np.asarray(trunk.normals, dtype=float) @ m[:3, :3].T,
            np.asarray(trunk.indices),
            CLOTH_RGB,
            "matte",
        ))
    room = layout.room
    windows = [b for b in room.walls if b.material == "window" or b.color != room.walls[0].color]
    walls = [b for b in room.walls if b not in windows]
    for box in (*room.table, room.floor, *windows, *walls):
        positions, normals, indices = _box(box)
        parts.append((positions, normals, indices, box.color, box.material))
    out = {k: [] for k in ("in_position", "in_normal", "in_color_0", "in_material", "indices")}
    base = 0
    for positions, normals, indices, color, material in parts:
        n = len(positions)
        out["in_position"].append(positions)
        out["in_normal"].append(normals)
        out["in_color_0"].append(np.tile(np.asarray(color, dtype=float), (n, 1)))
        out["in_material"].append(np.full((n, 1), float(MATERIALS.index(material))))
        out["indices"].append(np.asarray(indices, dtype=np.int64) + base)
        base += n
    arrays = {k: np.concatenate(v).astype(np.float32) for k, v in out.items() if k != "indices"}
    arrays["indices"] = np.concatenate(out["indices"]).astype(np.uint32)
    return arrays
