"""Build the skinned limb models (glTF 2.0): ``upper_limb_{left,right}.glb`` (upper arm,
forearm, hand) and ``lower_limb_{left,right}.glb`` (thigh, shank, foot with toes).

Also ``body.glb``: the seated trunk (pelvis, belly, chest, shoulders), a static mesh that
the arms and legs join at the shoulders and hips, so the limbs belong to a body.

Run ``.venv/bin/python models/build_models.py``; the output is byte-for-byte reproducible.
Every file passes the Khronos glTF validator (``tests/test_limb_gltf_validator.py``).

How
---
1. The skeleton (joint positions and frames) comes from :mod:`mirrorvr.limb.skeleton`, so
   the mesh, the kinematics and the poses share one definition.
2. The surface is the zero set of one signed distance field (SDF) made of smooth primitives
   per segment: tapered, flattened capsules for the upper arm, forearm (with its muscle
   bulge), thigh, shank (with the calf) and each phalanx; a rounded tapered box for the palm
   with the knuckles (metacarpal heads) on its back and nail plates on the fingertips;
   heel, sole, ball of the foot, malleoli, knee cap and elbow point as blended ellipsoids.
   Segments are joined with a smooth minimum so the elbow, wrist, thumb web, knee and ankle
   have no creases, while the fingers and toes stay separate from each other.
3. The SDF is sampled on a regular grid (2.4 mm upper limb, 3.4 mm lower limb) and meshed
   with naive surface nets (one vertex per cell the surface crosses, quads across crossing
   grid edges); the vertices are projected onto the surface by Newton steps and the normals
   are the SDF gradient.
4. The fine grid gives ~95k triangles per limb, far more than the limb covers in pixels
   (three limbs at that count made up ~80 % of a 1280x720 frame on a software rasteriser).
   Quadric edge-collapse decimation (``fast-simplification``) reduces each limb to
   :data:`TARGET_TRIANGLES`, keeping detail where the surface curves (fingers, nails,
   knuckles); the vertices are projected back onto the surface and the normals are the SDF
   gradient again. A coarser level of detail (``*_lod1.glb``, :data:`LOD1_TRIANGLES`) is
   drawn when the renderer works at a reduced render scale.
5. Skin weights: each joint owns some primitives; a vertex's weight for a joint falls off
   exponentially with its distance to that joint's primitives (a per-joint scale: ~2 mm at
   the fingers, ~1-2 cm at the elbow and knee so big joints bend over a wide band), the four
   largest are kept and normalised.
6. The left limb is the right one reflected across ``x = 0`` (positions, normals, joint
   frames), with the triangle winding reversed to keep faces counter-clockwise.

Units are metres; ``-z`` is distal/forward, ``+y`` up; the right thumb and big toe are at
``-x``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pygltflib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mirrorvr.limb.kinematics import bind_matrices  # noqa: E402
from mirrorvr.limb.skeleton import (  # noqa: E402
    FINGERS,
    FOOT_HEEL_Z_M,
    FOOT_SOLE_Y_M,
    MIDLINE_REFLECTION,
    TIP_OFFSETS_M,
    TRUNK_SHOULDER_M,
    skeleton,
)

#: Triangles per model after decimation (see step 4 of the module docstring).
TARGET_TRIANGLES = {"upper": 14000, "lower": 12000, "body": 3000}
#: Triangles of the coarser level of detail (``*_lod1.glb``), drawn at reduced render scales.
LOD1_TRIANGLES = {"upper": 5500, "lower": 4500}

GRID_M = 0.0024
FINGER_RADII_M = {  # at MCP, PIP, DIP, tip
    "index": (0.0095, 0.0086, 0.0077, 0.0068),
    "middle": (0.0097, 0.0088, 0.0079, 0.0070),
    "ring": (0.0091, 0.0083, 0.0075, 0.0067),
    "little": (0.0081, 0.0074, 0.0068, 0.0060),
}
THUMB_RADII_M = (0.0150, 0.0108, 0.0098, 0.0085)  # CMC, MCP, IP, tip


# --------------------------------------------------------------------------- SDF primitives


def round_cone(p, a, b, ra, rb, squash_y=1.0, flat=(0.0, 1.0, 0.0)):
    """Approximate distance (n,) from points p (n, 3) to a capsule a->b with radii ra->rb.

    ``squash_y`` < 1 flattens the cross-section along the unit direction ``flat`` (default
    ``y``, dorsal-palmar).
    """
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    closest = a + t[:, None] * ab
    delta = p - closest
    if squash_y != 1.0:
        u = np.asarray(flat, dtype=float)
        delta = delta + ((1.0 / squash_y - 1.0) * (delta @ u))[:, None] * u
    radius = ra + t * (rb - ra)
    return (np.linalg.norm(delta, axis=1) - radius) * squash_y


def ellipsoid(p, center, radii):
    """Approximate distance (n,) to an axis-aligned ellipsoid (exact on its surface)."""
    radii = np.asarray(radii, dtype=float)
    q = (p - center) / radii
    return (np.linalg.norm(q, axis=1) - 1.0) * radii.min()


def ellipsoid_in(p, frame, center, radii):
    """Approximate distance (n,) to an ellipsoid whose axes are ``frame``'s (4, 4) axes."""
    radii = np.asarray(radii, dtype=float)
    q = ((p - center) @ frame[:3, :3]) / radii
    return (np.linalg.norm(q, axis=1) - 1.0) * radii.min()


def rounded_box(p, frame, center, half, rounding, taper):
    """Distance (n,) to a rounded box given in a joint frame (4, 4).

    ``taper`` scales the x half-width at the proximal end (``+z`` face) relative to the distal.
    """
    inv = np.linalg.inv(frame)
    q = p @ inv[:3, :3].T + inv[:3, 3] - center
    # Narrower towards the wrist: scale x by the local half-width.
    s = np.clip(0.5 - q[:, 2] / (2 * half[2]), 0.0, 1.0)  # 0 proximal ... 1 distal
    width = taper + (1.0 - taper) * s
    q[:, 0] /= width
    d = np.abs(q) - (np.asarray(half) - rounding)
    outside = np.linalg.norm(np.maximum(d, 0.0), axis=1)
    inside = np.minimum(d.max(axis=1), 0.0)
    return (outside + inside - rounding) * np.minimum(width, 1.0)


def smin(a, b, k):
    """Polynomial smooth minimum with blend width ``k`` (m)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


class LimbField:
    """A right limb's SDF, split into per-joint primitive distances (:meth:`parts`)."""

    limb = "upper"
    grid_m = 0.0024
    #: Skin-weight falloff per joint, m (default for joints not listed).
    weight_scale_m: dict[str, float] = {}
    default_weight_scale_m = 0.0018

    def __init__(self):
        self.skel = skeleton("right", self.limb)
        self.world = bind_matrices(self.skel)
        self.names = self.skel.joint_names
        self.pos = {n: self.world[i, :3, 3] for i, n in enumerate(self.names)}
        self.frame = {n: self.world[i] for i, n in enumerate(self.names)}

    def _along(self, joint, distance_m):
        """Point ``distance_m`` along the joint's local -z (distal) axis."""
        f = self.frame[joint]
        return f[:3, 3] + f[:3, 2] * -distance_m

    def _local(self, joint, offset):
        """A point given in the joint's bind frame, world coordinates."""
        f = self.frame[joint]
        return f[:3, 3] + f[:3, :3] @ np.asarray(offset, dtype=float)

    def gradient(self, p, eps=2e-4):
        g = np.empty_like(p)
        for axis in range(3):
            e = np.zeros(3)
            e[axis] = eps
            g[:, axis] = (self(p + e) - self(p - e)) / (2 * eps)
        return g

    def bounds(self):
        pts = np.array(list(self.pos.values()))
        return pts.min(axis=0) - 0.09, pts.max(axis=0) + 0.09


class UpperLimbField(LimbField):
    """Upper arm, forearm and hand of the right side."""

    limb = "upper"
    grid_m = 0.0024
    weight_scale_m = {
        "upper_arm": 0.010,
        "forearm": 0.012,
        "forearm_twist": 0.018,
        "wrist": 0.0035,
        "thumb_cmc": 0.012,
        "thumb_mcp": 0.004,
        **{f"{f}_mcp": 0.003 for f in FINGERS},
    }

    def parts(self, p):
        """``{joint name: distance (n,)}``."""
        d = {}
        shoulder, elbow, wrist = self.pos["upper_arm"], self.pos["forearm"], self.pos["wrist"]
        axis = (elbow - shoulder) / np.linalg.norm(elbow - shoulder)
        upper = round_cone(p, shoulder - 0.03 * axis, elbow, 0.047, 0.036)
        biceps = ellipsoid(
            p,
            shoulder + 0.55 * (elbow - shoulder) + np.array([0.0, 0.0, -0.014]),
            (0.034, 0.07, 0.03),
        )
        d["upper_arm"] = smin(upper, biceps, 0.02)
        mid = self.pos["forearm_twist"]
        forearm = round_cone(p, np.array([0.0, -0.004, 0.010]), mid, 0.036, 0.031, 0.75)
        bulge = ellipsoid(p, np.array([0.0, 0.001, -0.05]), (0.041, 0.031, 0.075))
        olecranon = ellipsoid(p, np.array([0.0, 0.004, 0.020]), (0.022, 0.022, 0.024))
        d["forearm"] = smin(smin(forearm, bulge, 0.02), olecranon, 0.015)
        d["forearm_twist"] = round_cone(p, mid, wrist + [0.0, 0.001, 0.006], 0.031, 0.025, 0.7)
        palm = rounded_box(
            p,
            self.frame["wrist"],
            np.array([-0.002, 0.001, -0.050]),
            (0.042, 0.0135, 0.047),
            0.012,
            0.84,
        )
        knuckles = np.minimum.reduce(
            [
                ellipsoid(p, self.pos[f"{f}_mcp"] + [0.0, 0.0065, 0.004], (0.0085, 0.007, 0.010))
                for f in FINGERS
            ]
        )
        d["wrist"] = smin(palm, knuckles, 0.006)
        thumb = ["thumb_cmc", "thumb_mcp", "thumb_ip"]
        ends = [
            self.pos["thumb_mcp"],
            self.pos["thumb_ip"],
            self._along("thumb_ip", TIP_OFFSETS_M["thumb_ip"] - THUMB_RADII_M[3]),
        ]
        starts = [self._along("thumb_cmc", -0.012), self.pos["thumb_mcp"], self.pos["thumb_ip"]]
        for k, joint in enumerate(thumb):
            d[joint] = round_cone(
                p, starts[k], ends[k], THUMB_RADII_M[k], THUMB_RADII_M[k + 1], 0.88
            )
        d["thumb_ip"] = smin(d["thumb_ip"], self._nail(p, "thumb_ip", THUMB_RADII_M[3]), 0.002)
        for finger in FINGERS:
            r = FINGER_RADII_M[finger]
            joints = [f"{finger}_mcp", f"{finger}_pip", f"{finger}_dip"]
            starts = [self._along(joints[0], -0.010), self.pos[joints[1]], self.pos[joints[2]]]
            ends = [
                self.pos[joints[1]],
                self.pos[joints[2]],
                self._along(joints[2], TIP_OFFSETS_M[joints[2]] - r[3]),
            ]
            for k, joint in enumerate(joints):
                d[joint] = round_cone(p, starts[k], ends[k], r[k], r[k + 1], 0.9)
            d[joints[2]] = smin(d[joints[2]], self._nail(p, joints[2], r[3]), 0.002)
        return d

    def _nail(self, p, joint, radius):
        """A thin plate on the back of the last phalanx: the suggestion of a nail."""
        length = TIP_OFFSETS_M[joint]
        lift = [0.0, 0.80 * radius, 0.0]
        a = self._local(joint, np.array([0.0, 0.0, -0.45 * length]) + lift)
        b = self._local(joint, np.array([0.0, -0.1 * radius, -(length - 0.9 * radius)]) + lift)
        flat = self.frame[joint][:3, 1]
        return round_cone(p, a, b, 0.62 * radius, 0.66 * radius, 0.28, flat)

    def __call__(self, p):
        d = self.parts(p)
        arm = smin(d["upper_arm"], d["forearm"], 0.03)
        body = smin(arm, d["forearm_twist"], 0.03)
        body = smin(body, d["wrist"], 0.022)
        thumb = np.minimum.reduce([d["thumb_cmc"], d["thumb_mcp"], d["thumb_ip"]])
        body = smin(body, thumb, 0.014)
        fingers = np.minimum.reduce([d[f"{f}_{j}"] for f in FINGERS for j in ("mcp", "pip", "dip")])
        return smin(body, fingers, 0.007)

    def bounds(self):
        return np.array([-0.095, -0.065, -0.475]), np.array([0.08, 0.36, 0.22])


#: Toes of the right foot: (base, tip) relative to the ankle (m) and (base, tip) radii (m).
TOES = (
    ((-0.028, -0.050, -0.146), (-0.031, -0.054, -0.203), (0.0135, 0.0118)),
    ((-0.007, -0.052, -0.150), (-0.007, -0.058, -0.195), (0.0086, 0.0074)),
    ((0.009, -0.053, -0.145), (0.011, -0.059, -0.185), (0.0082, 0.0070)),
    ((0.023, -0.054, -0.136), (0.026, -0.060, -0.172), (0.0078, 0.0067)),
    ((0.036, -0.055, -0.124), (0.040, -0.061, -0.155), (0.0074, 0.0063)),
)


class LowerLimbField(LimbField):
    """Thigh, shank and foot (with toes) of the right side, seated."""

    limb = "lower"
    grid_m = 0.0034
    weight_scale_m = {"thigh": 0.014, "shank": 0.012, "foot": 0.006, "toes": 0.0025}

    def parts(self, p):
        d = {}
        hip, knee, ankle = self.pos["thigh"], self.pos["shank"], self.pos["foot"]
        thigh = round_cone(p, hip + [0.0, 0.0, 0.07], knee, 0.078, 0.052, 0.8)
        quads = ellipsoid(p, knee + [0.0, 0.022, 0.16], (0.062, 0.045, 0.15))
        patella = ellipsoid(p, knee + [0.0, 0.006, -0.042], (0.027, 0.032, 0.016))
        d["thigh"] = smin(smin(thigh, quads, 0.03), patella, 0.015)
        # In the shank's frame: -z down the shank, +y anterior (shin), +x lateral.
        shank = round_cone(p, self._local("shank", [0.0, -0.004, 0.015]), ankle, 0.047, 0.028)
        calf_center = self._local("shank", [0.004, -0.017, -0.13])
        calf = ellipsoid_in(p, self.frame["shank"], calf_center, (0.044, 0.041, 0.095))
        medial = ellipsoid(p, ankle + [-0.021, 0.006, 0.002], (0.013, 0.015, 0.014))
        lateral = ellipsoid(p, ankle + [0.024, -0.004, 0.010], (0.013, 0.015, 0.014))
        d["shank"] = smin(smin(shank, calf, 0.03), np.minimum(medial, lateral), 0.012)
        heel = ellipsoid(
            p, ankle + [0.0, FOOT_SOLE_Y_M + 0.031, FOOT_HEEL_Z_M - 0.032], (0.031, 0.031, 0.034)
        )
        sole = rounded_box(
            p,
            self.frame["foot"],
            np.array([-0.004, FOOT_SOLE_Y_M + 0.023, -0.06]),
            (0.042, 0.023, 0.088),
            0.019,
            0.78,
        )
        instep = round_cone(
            p, ankle + [0.0, -0.005, 0.0], ankle + [-0.004, -0.035, -0.07], 0.031, 0.030, 0.75
        )
        toes_joint = self.pos["toes"]
        ball = ellipsoid(p, toes_joint + [0.002, -0.002, 0.012], (0.048, 0.022, 0.026))
        foot = smin(smin(heel, sole, 0.02), instep, 0.02)
        d["foot"] = smin(foot, ball, 0.012)
        toes = []
        for k, (base, tip, radii) in enumerate(TOES):
            base, tip = ankle + np.array(base), ankle + np.array(tip)
            toe = round_cone(p, base, tip, radii[0], radii[1], 0.85)
            if k == 0:
                lift = np.array([0.0, 0.75 * radii[1], 0.0])
                nail = round_cone(
                    p,
                    0.45 * base + 0.55 * tip + lift,
                    tip + lift + [0, 0, 0.6 * radii[1]],
                    0.7 * radii[1],
                    0.7 * radii[1],
                    0.3,
                )
                toe = smin(toe, nail, 0.002)
            toes.append(toe)
        d["toes"] = np.minimum.reduce(toes)
        return d

    def __call__(self, p):
        d = self.parts(p)
        leg = smin(d["thigh"], d["shank"], 0.035)
        leg = smin(leg, d["foot"], 0.025)
        return smin(leg, d["toes"], 0.007)

    def bounds(self):
        return np.array([-0.11, -0.47, -0.86]), np.array([0.11, 0.09, 0.17])


class BodyField:
    """The seated trunk in its own frame (``mirrorvr.limb.skeleton`` TRUNK_*): pelvis, belly,
    chest, the shoulder girdle with the deltoids, and a neck stub. Symmetric about ``x = 0``."""

    name = "body"
    grid_m = 0.008

    def __call__(self, p):
        sx, sy, _ = TRUNK_SHOULDER_M
        pelvis = ellipsoid(p, np.array([0.0, 0.03, 0.01]), (0.175, 0.12, 0.125))
        belly = ellipsoid(p, np.array([0.0, 0.19, -0.005]), (0.155, 0.15, 0.118))
        chest = ellipsoid(p, np.array([0.0, 0.36, 0.005]), (0.165, 0.16, 0.112))
        girdle = round_cone(
            p, np.array([0.03 - sx, sy - 0.025, 0.012]), np.array([sx - 0.03, sy - 0.025, 0.012]),
            0.062, 0.062,
        )
        deltoids = np.minimum(
            ellipsoid(p, np.array([-sx, sy - 0.012, 0.0]), (0.056, 0.062, 0.056)),
            ellipsoid(p, np.array([sx, sy - 0.012, 0.0]), (0.056, 0.062, 0.056)),
        )
        neck = round_cone(
            p, np.array([0.0, sy - 0.02, 0.02]), np.array([0.0, sy + 0.07, 0.03]), 0.058, 0.054
        )
        trunk = smin(smin(pelvis, belly, 0.06), chest, 0.06)
        trunk = smin(smin(trunk, girdle, 0.05), deltoids, 0.03)
        return smin(trunk, neck, 0.03)

    def gradient(self, p, eps=2e-4):
        return LimbField.gradient(self, p, eps)

    def bounds(self):
        return np.array([-0.28, -0.12, -0.16]), np.array([0.28, 0.64, 0.17])


# --------------------------------------------------------------------------- meshing


def surface_nets(field, lo, hi, h):
    """Mesh the zero set of ``field`` on a grid over [lo, hi] with spacing ``h``.

    Returns
    -------
    vertices : (n, 3) float64
    faces : (m, 3) int64, counter-clockwise seen from outside
    """
    axes = [np.arange(lo[i], hi[i] + h, h) for i in range(3)]
    shape = tuple(len(a) for a in axes)
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    chunk = 400_000  # bounded memory: the field makes several (n, 3) temporaries
    f = np.concatenate([field(grid[i : i + chunk]) for i in range(0, len(grid), chunk)])
    f = f.reshape(shape)
    inside = f < 0.0
    corners = [(i, j, k) for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    cshape = tuple(s - 1 for s in shape)

    def corner(c):
        return f[c[0] : c[0] + cshape[0], c[1] : c[1] + cshape[1], c[2] : c[2] + cshape[2]]

    total = np.zeros(cshape + (3,))
    count = np.zeros(cshape)
    for a in corners:
        for axis in range(3):
            if a[axis] == 1:
                continue
            b = list(a)
            b[axis] = 1
            fa, fb = corner(a), corner(tuple(b))
            cross = (fa < 0) != (fb < 0)
            t = np.where(cross, fa / np.where(cross, fa - fb, 1.0), 0.0)
            offset = np.array(a, dtype=float)[None, None, None, :].repeat(1, 0)
            point = offset + t[..., None] * np.eye(3)[axis]
            total += np.where(cross[..., None], point, 0.0)
            count += cross
    active = count > 0
    cell_id = -np.ones(cshape, dtype=np.int64)
    cell_id[active] = np.arange(active.sum())
    idx = np.argwhere(active)
    vertices = np.asarray(lo) + (idx + total[active] / count[active][:, None]) * h

    quads = []
    for axis in range(3):
        u, v = [x for x in range(3) if x != axis]
        e = np.zeros(3, dtype=int)
        e[axis] = 1
        n0 = inside[: shape[0] - e[0], : shape[1] - e[1], : shape[2] - e[2]]
        n1 = inside[e[0] :, e[1] :, e[2] :]
        crossing = np.argwhere(n0 != n1)
        ok = (crossing[:, u] >= 1) & (crossing[:, v] >= 1)
        ok &= (crossing[:, u] < cshape[u]) & (crossing[:, v] < cshape[v])
        ok &= crossing[:, axis] < cshape[axis]
        crossing = crossing[ok]
        du = np.zeros(3, dtype=int)
        du[u] = 1
        dv = np.zeros(3, dtype=int)
        dv[v] = 1
        cells = [crossing - du - dv, crossing - dv, crossing, crossing - du]
        ids = np.stack([cell_id[tuple(c.T)] for c in cells], axis=1)
        flip = inside[tuple(crossing.T)]
        ids[flip] = ids[flip][:, ::-1]
        quads.append(ids)
    quads = np.concatenate(quads)
    faces = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    return vertices, faces


def orient_outward(field, vertices, faces):
    """Flip faces whose normal points into the surface (against the SDF gradient)."""
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    grad = field.gradient(tri.mean(axis=1))
    wrong = np.einsum("ij,ij->i", normal, grad) < 0
    faces = faces.copy()
    faces[wrong] = faces[wrong][:, ::-1]
    return faces


def project(field, vertices, steps=3):
    """Newton steps that move vertices onto the zero set."""
    for _ in range(steps):
        d = field(vertices)
        g = field.gradient(vertices)
        vertices = vertices - (d / np.maximum((g * g).sum(axis=1), 1e-12))[:, None] * g
    return vertices


def decimate(field, vertices, faces, n_triangles):
    """Quadric edge-collapse decimation to ``n_triangles``, then back onto the surface.

    Returns
    -------
    vertices : (n, 3) float64
    faces : (m, 3) int64, counter-clockwise seen from outside
    """
    import fast_simplification

    if len(faces) <= n_triangles:
        return vertices, faces
    vertices, faces = fast_simplification.simplify(
        np.ascontiguousarray(vertices, dtype=np.float64),
        np.ascontiguousarray(faces, dtype=np.int64),
        target_count=n_triangles,
    )
    used = np.unique(faces)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    vertices, faces = vertices[used], remap[faces]
    tri = vertices[faces]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    faces = faces[area > 1e-12]
    vertices = project(field, vertices)
    return vertices, orient_outward(field, vertices, faces)


def skin_weights(field, vertices):
    """JOINTS_0 (n, 4) uint8 and WEIGHTS_0 (n, 4) float32, rows summing to 1."""
    parts = field.parts(vertices)
    names = field.names
    dist = np.stack([np.maximum(parts[n], 0.0) for n in names], axis=1)
    scale = np.array([field.weight_scale_m.get(n, field.default_weight_scale_m) for n in names])
    logits = -dist / scale
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    top = np.argsort(-w, axis=1, kind="stable")[:, :4]
    wt = np.take_along_axis(w, top, axis=1)
    wt[wt < 1e-3 * wt[:, :1]] = 0.0
    wt = (wt / wt.sum(axis=1, keepdims=True)).astype(np.float32)
    wt[:, 0] = 1.0 - wt[:, 1:].sum(axis=1)  # exact float32 sum of 1
    joints = np.where(wt > 0, top, 0).astype(np.uint8)
    return joints, wt


def build_surface(field, n_triangles):
    """Mesh, decimate and shade ``field``: positions (n, 3), normals (n, 3), faces (m, 3)."""
    lo, hi = field.bounds()
    vertices, faces = surface_nets(field, lo, hi, field.grid_m)
    vertices = project(field, vertices)
    faces = orient_outward(field, vertices, faces)
    vertices, faces = decimate(field, vertices, faces, n_triangles)
    normals = field.gradient(vertices)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return vertices, normals, faces


def build_right_mesh(field, n_triangles=None):
    """Positions (n, 3), normals (n, 3), faces (m, 3), joints (n, 4), weights (n, 4)."""
    vertices, normals, faces = build_surface(field, n_triangles or TARGET_TRIANGLES[field.limb])
    joints, weights = skin_weights(field, vertices)
    return vertices, normals, faces, joints, weights


# --------------------------------------------------------------------------- glTF


def _quaternion_xyzw(m):
    """Unit quaternion (x, y, z, w) of a proper rotation (3, 3)."""
    t = np.trace(m)
    if t > 0:
        s = 0.5 / np.sqrt(t + 1.0)
        q = [(m[2, 1] - m[1, 2]) * s, (m[0, 2] - m[2, 0]) * s, (m[1, 0] - m[0, 1]) * s, 0.25 / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, (m[k, j] - m[j, k]) / s]
        q[i] = 0.25 * s
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
    q = np.array(q)
    return q / np.linalg.norm(q)


class _Buffers:
    """The binary buffer of a .glb being written: views, accessors and the padded blobs."""

    def __init__(self):
        self.blobs, self.views, self.accessors = [], [], []
        self.offset = 0

    def add(self, array, target, component, kind, minmax=False):
        """Append ``array`` as a buffer view with one accessor; return the accessor index."""
        data = np.ascontiguousarray(array).tobytes()
        self.views.append(pygltflib.BufferView(
            buffer=0, byteOffset=self.offset, byteLength=len(data), target=target))
        pad = (-len(data)) % 4
        self.blobs.append(data + b"\x00" * pad)
        self.offset += len(data) + pad
        acc = pygltflib.Accessor(
            bufferView=len(self.views) - 1, componentType=component, count=len(array), type=kind
        )
        if minmax:
            acc.min = [float(x) for x in array.min(axis=0)]
            acc.max = [float(x) for x in array.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def write_glb(path, name, positions, normals, faces, joints=None, weights=None, skel=None):
    """Write a mesh as a binary glTF 2.0 file: skinned with its joint hierarchy when
    ``skel`` is given (with ``joints`` and ``weights``), else static."""
    positions = positions.astype(np.float32)
    normals = normals.astype(np.float32)
    index_type = np.uint16 if len(positions) < 65536 else np.uint32
    indices = faces.astype(index_type).reshape(-1)
    if skel is None:
        return _write_static_glb(path, name, positions, normals, indices, index_type)
    bind = bind_matrices(skel)
    # Rigid inverse [R^T, -R^T t], exact and the same on every machine (no LAPACK).
    inverse_bind = np.zeros_like(bind)
    rt = bind[:, :3, :3].transpose(0, 2, 1)
    inverse_bind[:, :3, :3] = rt
    inverse_bind[:, :3, 3] = -np.einsum("nij,nj->ni", rt, bind[:, :3, 3])
    inverse_bind[:, 3, 3] = 1.0
    inverse_bind = inverse_bind.astype(np.float32)
    # glTF stores matrices column-major: the transpose of row-major numpy, flattened.
    ibm = np.ascontiguousarray(inverse_bind.transpose(0, 2, 1))

    buffers = _Buffers()
    add = buffers.add

    a_pos = add(positions, pygltflib.ARRAY_BUFFER, pygltflib.FLOAT, pygltflib.VEC3, True)
    a_nrm = add(normals, pygltflib.ARRAY_BUFFER, pygltflib.FLOAT, pygltflib.VEC3)
    a_jnt = add(joints, pygltflib.ARRAY_BUFFER, pygltflib.UNSIGNED_BYTE, pygltflib.VEC4)
    a_wgt = add(weights, pygltflib.ARRAY_BUFFER, pygltflib.FLOAT, pygltflib.VEC4)
    index_component = (
        pygltflib.UNSIGNED_SHORT if index_type == np.uint16 else pygltflib.UNSIGNED_INT
    )
    a_idx = add(indices, pygltflib.ELEMENT_ARRAY_BUFFER, index_component, pygltflib.SCALAR)
    a_ibm = add(ibm.reshape(-1, 16), None, pygltflib.FLOAT, pygltflib.MAT4)

    n_joints = skel.n_joints
    nodes = [pygltflib.Node(name=name, mesh=0, skin=0)]
    for j, name in enumerate(skel.joint_names):
        local = skel.rest_local[j]
        children = [1 + c for c in range(n_joints) if skel.parents[c] == j]
        node = pygltflib.Node(
            name=name,
            translation=[float(x) for x in local[:3, 3]],
            children=children or None,
        )
        if not np.allclose(local[:3, :3], np.eye(3)):
            node.rotation = [float(x) for x in _quaternion_xyzw(local[:3, :3])]
        nodes.append(node)

    gltf = pygltflib.GLTF2(
        asset=pygltflib.Asset(version="2.0", generator="mirrorvr models/build_models.py"),
        scene=0,
        scenes=[pygltflib.Scene(name=name, nodes=[0, 1])],
        nodes=nodes,
        meshes=[
            pygltflib.Mesh(
                name=name,
                primitives=[
                    pygltflib.Primitive(
                        attributes=pygltflib.Attributes(
                            POSITION=a_pos, NORMAL=a_nrm, JOINTS_0=a_jnt, WEIGHTS_0=a_wgt
                        ),
                        indices=a_idx,
                        material=0,
                    )
                ],
            )
        ],
        materials=[
            pygltflib.Material(
                name="skin",
                pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
                    baseColorFactor=[0.87, 0.68, 0.56, 1.0], metallicFactor=0.0, roughnessFactor=0.7
                ),
            )
        ],
        skins=[
            pygltflib.Skin(
                name=f"{name}_skin",
                inverseBindMatrices=a_ibm,
                skeleton=1,
                joints=list(range(1, 1 + n_joints)),
            )
        ],
        accessors=buffers.accessors,
        bufferViews=buffers.views,
        buffers=[pygltflib.Buffer(byteLength=buffers.offset)],
    )
    gltf.set_binary_blob(b"".join(buffers.blobs))
    gltf.save_binary(str(path))


def _write_static_glb(path, name, positions, normals, indices, index_type):
    """An unskinned mesh in one node (see :func:`write_glb`)."""
    buffers = _Buffers()
    index_component = (
        pygltflib.UNSIGNED_SHORT if index_type == np.uint16 else pygltflib.UNSIGNED_INT
    )
    buffers.add(positions, pygltflib.ARRAY_BUFFER, pygltflib.FLOAT, pygltflib.VEC3, True)
    buffers.add(normals, pygltflib.ARRAY_BUFFER, pygltflib.FLOAT, pygltflib.VEC3)
    buffers.add(indices, pygltflib.ELEMENT_ARRAY_BUFFER, index_component, pygltflib.SCALAR)
    gltf = pygltflib.GLTF2(
        asset=pygltflib.Asset(version="2.0", generator="mirrorvr models/build_models.py"),
        scene=0,
        scenes=[pygltflib.Scene(name=name, nodes=[0])],
        nodes=[pygltflib.Node(name=name, mesh=0)],
        meshes=[
            pygltflib.Mesh(
                name=name,
                primitives=[
                    pygltflib.Primitive(
                        attributes=pygltflib.Attributes(POSITION=0, NORMAL=1),
                        indices=2,
                        material=0,
                    )
                ],
            )
        ],
        materials=[
            pygltflib.Material(
                name="cloth",
                pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
                    baseColorFactor=[0.36, 0.45, 0.56, 1.0], metallicFactor=0.0,
                    roughnessFactor=0.9,
                ),
            )
        ],
        accessors=buffers.accessors,
        bufferViews=buffers.views,
        buffers=[pygltflib.Buffer(byteLength=buffers.offset)],
    )
    gltf.set_binary_blob(b"".join(buffers.blobs))
    gltf.save_binary(str(path))


def main() -> None:
    r = MIDLINE_REFLECTION[:3, :3]
    for field in (UpperLimbField(), LowerLimbField()):
        for lod, n_triangles in ((0, TARGET_TRIANGLES[field.limb]), (1, LOD1_TRIANGLES[field.limb])):
            positions, normals, faces, joints, weights = build_right_mesh(field, n_triangles)
            name = f"{field.limb}_limb"
            suffix = f"_lod{lod}" if lod else ""
            for side in ("right", "left"):
                mirrored = side == "left"
                write_glb(
                    HERE / f"{name}_{side}{suffix}.glb",
                    f"{name}_{side}",
                    positions @ r if mirrored else positions,
                    normals @ r if mirrored else normals,
                    faces[:, ::-1] if mirrored else faces,
                    joints,
                    weights,
                    skeleton(side, field.limb),
                )
            sys.stdout.write(
                f"wrote {name}_right{suffix}.glb and {name}_left{suffix}.glb: {len(positions)} "
                f"vertices, {len(faces)} triangles, {field.skel.n_joints} joints\n"
            )
    body = BodyField()
    positions, normals, faces = build_surface(body, TARGET_TRIANGLES["body"])
    write_glb(HERE / "body.glb", "body", positions, normals, faces)
    sys.stdout.write(f"wrote body.glb: {len(positions)} vertices, {len(faces)} triangles\n")


if __name__ == "__main__":
    main()
