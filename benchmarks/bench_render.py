"""Frame time of the full scene against a plain lit mesh of the same triangle count, mono and
stereo SBS, at render scale 1 and with the adaptive scale; and the naive peer's cost of
skinning on the CPU.

Every row draws in the same headless window in one run, interleaved round by round so that
other work on the machine disturbs all rows alike:

* ``mirrorvr, scale 1``: the animated full scene (``full_scene``: both limbs moving, the
  ghost of the target pose, trunk, room, contact shadows, cue, status and the timing
  overlay), every pixel at the window's resolution;
* ``mirrorvr, auto scale``: the same with ``render_scale = "auto"`` and the default
  ``frame_budget_ms``; the controller is fed the measured draw-to-finish time;
* ``plain mesh, same triangles``: one lit mesh (a sphere) with as many triangles as the
  scene draws, in the scene's program without skinning, room, shadows or HUD: the cost of
  the geometry alone on this rasteriser, the floor the scene is compared against;
* ``naive peer``: mirrorvr at scale 1 with numpy skinning and a vertex-buffer upload per
  limb per frame (``skinning="cpu"``).

Columns: frames/s, the mean frame time (draw + ``glFinish`` + swap), its 50th/95th/99th
percentiles, the ratio to the plain mesh of the same view (target: <= 2), the mean render
scale, and "Python CPU ms": the render thread's CPU time in ``Renderer.draw`` with the draw
calls stubbed out (what the Python side costs per frame, as with a GPU whose draw calls
only queue work; budget 2 ms).

    .venv/bin/python benchmarks/bench_render.py [--width 1280 --height 720 --seconds 6]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mirrorvr.config import RenderSettings  # noqa: E402
from mirrorvr.limb.mirror import mirror_pose  # noqa: E402
from mirrorvr.limb.poses import target_pose  # noqa: E402
from mirrorvr.render.scene import SceneLayout, SceneState  # noqa: E402
from mirrorvr.render.window import open_window  # noqa: E402

logger = logging.getLogger(__name__)

#: Python CPU budget per frame, ms (90 Hz stereo leaves 11.1 ms per frame in total).
PYTHON_BUDGET_MS = 2.0
VIEWS: tuple[tuple[str, str], ...] = (("mono", "mono"), ("stereo SBS", "stereo_sbs"))


def full_scene(t_s: float, limb: str = "upper") -> SceneState:
    """The benchmark's frame at ``t_s`` seconds: both limbs closing and opening (upper) or
    dorsiflexing (lower) at 0.3 Hz, the ghost of the full movement, cue and status text
    (the status changes once a second)."""
    level = 0.5 + 0.5 * math.sin(2.0 * t_s)
    movement = "hand_close" if limb == "upper" else "ankle_dorsiflexion"
    left = target_pose(movement, level, "left", limb)
    return SceneState(
        left,
        mirror_pose(left),
        cue_text="Close your hand" if limb == "upper" else "Lift your toes",
        status_text=f"mirror mode | t = {int(t_s)} s",
        affected_side="right",
        ghost_pose=target_pose(movement, 1.0, "right", limb),
    )


@contextlib.contextmanager
def draw_calls_disabled():
    """Replace the GL draw calls by no-ops (restored on exit)."""
    from OpenGL import GL

    names = ("glDrawElements", "glDrawArrays", "glDrawArraysInstanced")
    saved = {n: getattr(GL, n) for n in names}
    for n in names:
        setattr(GL, n, lambda *args: None)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(GL, n, f)


def scene_triangles(renderer, limb: str = "upper") -> int:
    """Triangles the full scene draws per eye: two limbs, the ghost, the scenery, one
    shadow quad per capsule and the HUD's quads."""
    from mirrorvr.render.shadows import CAPSULES

    limb_tris = renderer.meshes[limb, "right"].indices.size // 3
    scenery = renderer.scenery[limb].indices.size // 3
    return 3 * limb_tris + scenery + 2 * 2 * len(CAPSULES[limb]) + 2 * 4


def sphere_arrays(n_triangles: int) -> dict[str, np.ndarray]:
    """A UV sphere of radius 0.1 m with about ``n_triangles`` triangles, in front of the
    table-scene camera, skin-coloured (the arrays of ``static.vert``)."""
    rings = max(3, int(round(math.sqrt(n_triangles / 4))))
    segments = max(3, int(round(n_triangles / (2 * rings))))
    theta = np.linspace(0, np.pi, rings + 1)
    phi = np.linspace(0, 2 * np.pi, segments + 1)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    normals = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1)
    normals = normals.reshape(-1, 3)
    positions = 0.1 * normals + np.array([0.0, 0.10, -0.30])
    idx = np.arange((rings + 1) * (segments + 1)).reshape(rings + 1, segments + 1)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    tris = np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])
    n = len(positions)
    return {
        "in_position": positions.astype(np.float32),
        "in_normal": normals.astype(np.float32),
        "in_color_0": np.tile(np.float32([0.87, 0.68, 0.56]), (n, 1)),
        "in_material": np.zeros((n, 1), np.float32),
        "indices": tris.astype(np.uint32),
    }


class PlainMesh:
    """One lit mesh drawn per eye, cleared and finished like a frame of the scene."""

    def __init__(self, window, n_triangles: int, view: str) -> None:
        from mirrorvr.render.mesh import Mesh
        from mirrorvr.render.shader import ShaderProgram

        arrays = sphere_arrays(n_triangles)
        indices = arrays.pop("indices")
        self.triangles = len(indices)
        self.mesh = Mesh(arrays, indices, name="plain")
        self.mesh.upload()
        self.program = ShaderProgram("static.vert", "lit.frag")
        self.window, self.view = window, view
        self.camera = SceneLayout.upper().camera

    def draw(self, _state=None) -> None:
        from mirrorvr.render.gl import GL

        w, h = self.window.width, self.window.height
        GL.glViewport(0, 0, w, h)
        GL.glClearColor(0.8, 0.8, 0.8, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glEnable(GL.GL_CULL_FACE)
        eyes = [(0, 0, w, h)] if self.view == "mono" else [(0, 0, w // 2, h),
                                                            (w // 2, 0, w - w // 2, h)]
        p = self.program
        p.use()
        p.set_uniform("u_model", np.eye(4))
        p.set_uniform("u_view", self.camera.view_matrix())
        p.set_uniform("u_light_direction", (0.0, 0.93, -0.37))
        p.set_uniform("u_alpha", 1.0)
        for x, y, ew, eh in eyes:
            GL.glViewport(x, y, ew, eh)
            p.set_uniform("u_projection", self.camera.projection_matrix(ew / eh))
            self.mesh.draw()

    def close(self) -> None:
        self.mesh.release()
        self.program.release()


def _frames(drawer, window, n: int, t0_s: float, limb: str = "upper"):
    """Draw ``n`` frames; per-frame ms (draw + glFinish + swap) and draw CPU ms in total."""
    times, cpu = [], 0.0
    for i in range(n):
        state = full_scene(t0_s + i / 30.0, limb)
        w0 = time.perf_counter()
        c0 = time.thread_time()
        drawer.draw(state)
        cpu += time.thread_time() - c0
        window.finish()
        window.swap()
        times.append(1000.0 * (time.perf_counter() - w0))
    return times, 1000.0 * cpu


def measure_render(width: int = 1280, height: int = 720, seconds: float = 6.0,
                   limb: str = "upper", rounds: int = 6) -> list[dict]:
    """Measure every row (see the module docstring); ``seconds`` of frames per row."""
    from mirrorvr.render.renderer import Renderer

    rows = []
    window = open_window(width, height, headless=True, title="bench_render", samples=0)
    try:
        for view_name, view in VIEWS:
            drawers = {
                "mirrorvr, scale 1": Renderer(window, RenderSettings(render_scale=1.0),
                                              view=view, timing_overlay=True),
                "mirrorvr, auto scale": Renderer(window, RenderSettings(render_scale="auto"),
                                                 view=view, timing_overlay=True),
                "naive peer (CPU skinning)": Renderer(
                    window, RenderSettings(render_scale=1.0), skinning="cpu", view=view,
                    timing_overlay=True),
            }
            n_tris = scene_triangles(drawers["mirrorvr, scale 1"], limb)
            drawers["plain mesh, same triangles"] = PlainMesh(window, n_tris, view)
            times: dict[str, list[float]] = {k: [] for k in drawers}
            cpu: dict[str, float] = {k: 0.0 for k in drawers}
            try:
                for d in drawers.values():  # warm-up: compiles, uploads, text textures
                    _frames(d, window, 3, 0.0, limb)
                per_round = max(2, int(seconds * 10 / rounds))
                for r in range(rounds):
                    for name, d in drawers.items():
                        t, c = _frames(d, window, per_round, r * per_round / 30.0, limb)
                        times[name] += t
                        cpu[name] += c
                python = {}
                for name in ("mirrorvr, scale 1", "naive peer (CPU skinning)"):
                    with draw_calls_disabled():
                        _, c = _frames(drawers[name], window, 30, 0.0, limb)
                    python[name] = c / 30
                scales = {name: (d.render_stats()["render_scale"]["mean"]
                                 if isinstance(d, Renderer) else 1.0)
                          for name, d in drawers.items()}
            finally:
                for d in drawers.values():
                    d.close()
            plain_ms = float(np.mean(times["plain mesh, same triangles"]))
            for name, t in times.items():
                t = np.asarray(t)
                rows.append({
                    "name": name, "view": view_name, "frames": len(t),
                    "fps": 1000.0 / t.mean(), "ms_per_frame": float(t.mean()),
                    "p50_ms": float(np.percentile(t, 50)), "p95_ms": float(np.percentile(t, 95)),
                    "p99_ms": float(np.percentile(t, 99)),
                    "vs_plain": float(t.mean()) / plain_ms,
                    "scale": scales[name], "triangles": n_tris,
                    "draw_cpu_ms_per_frame": cpu[name] / len(t),
                    "python_cpu_ms_per_frame": python.get(name),
                    "width": width, "height": height, "limb": limb,
                })
                logger.info("%s / %s: %s", name, view_name, rows[-1])
    finally:
        window.close()
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`measure_render` rows."""
    first = rows[0]
    header = (f"{'renderer':<28} {'view':<10} {'frames/s':>8} {'ms/frame':>8} {'p50':>6} "
              f"{'p95':>6} {'p99':>6} {'x plain':>7} {'scale':>5} {'Python CPU ms':>13}")
    lines = [
        f"offscreen {first['width']}x{first['height']} (Mesa llvmpipe, no MSAA), full "
        f"{first['limb']}-limb scene vs a plain lit mesh of {first['triangles']} triangles "
        "(per eye)",
        header,
        "-" * len(header),
    ]
    for r in rows:
        py = r["python_cpu_ms_per_frame"]
        py_text = "" if py is None else f"{py:.2f}" + ("" if py <= PYTHON_BUDGET_MS else " (!)")
        lines.append(
            f"{r['name']:<28} {r['view']:<10} {r['fps']:>8.1f} {r['ms_per_frame']:>8.1f} "
            f"{r['p50_ms']:>6.1f} {r['p95_ms']:>6.1f} {r['p99_ms']:>6.1f} "
            f"{r['vs_plain']:>6.2f}x {r['scale']:>5.2f} {py_text:>13}"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seconds", type=float, default=6.0, help="of frames per row")
    parser.add_argument("--limb", choices=("upper", "lower"), default="upper")
    args = parser.parse_args(argv)
    rows = measure_render(args.width, args.height, args.seconds, args.limb)
    print(format_table(rows))


if __name__ == "__main__":
    main()
