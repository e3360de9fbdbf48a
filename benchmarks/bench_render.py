"""Frame time of the full scene, mono and stereo SBS, and the Python CPU time per frame on its
own: mirrorvr's renderer (GPU skinning) beside a naive peer (CPU skinning + VBO re-upload).

Every renderer draws the same animated full scene in the same headless window in one run:
both limbs moving, a translucent ghost of the target pose, cue and status text, and the
therapist's frame-timing overlay. The peer skins every vertex in numpy each frame and
re-uploads the vertex buffers; mirrorvr uploads one array of joint matrices per limb and skins
in the vertex shader. ``glFinish`` ends each frame so GPU work is counted.

Columns:

* ``ms/frame``: wall time per frame (draw + ``glFinish`` + swap). Offscreen on Mesa llvmpipe
  this is dominated by software rasterisation, which a real GPU does in parallel.
* ``draw CPU ms``: CPU time of the rendering thread inside ``Renderer.draw``. With llvmpipe it
  includes the vertex shading the driver runs inline in ``glDrawElements``.
* ``Python CPU ms``: the same, measured in a second pass with the two draw calls
  (``glDrawElements``, ``glDrawArrays``) replaced by no-ops, so it is what the Python side
  costs per frame (poses -> skinning matrices, uniforms, state changes, buffer uploads, HUD)
  with a driver whose draw calls only queue work, as a real GPU's do. The budget is 2 ms so a
  90 Hz stereo headset (11.1 ms per frame) keeps most of the frame for everything else.

    .venv/bin/python benchmarks/bench_render.py [--width 1280 --height 720 --seconds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mirrorvr.config import RenderSettings  # noqa: E402
from mirrorvr.limb.mirror import mirror_pose  # noqa: E402
from mirrorvr.limb.poses import target_pose  # noqa: E402
from mirrorvr.render.scene import SceneState  # noqa: E402
from mirrorvr.render.window import open_window  # noqa: E402

logger = logging.getLogger(__name__)

#: Python CPU budget per frame, ms (90 Hz stereo leaves 11.1 ms per frame in total).
PYTHON_BUDGET_MS = 2.0

PEERS: tuple[tuple[str, str], ...] = (
    ("mirrorvr (GPU skinning)", "gpu"),
    ("naive peer (CPU skinning + VBO upload)", "cpu"),
)
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
    """Replace ``glDrawElements`` and ``glDrawArrays`` by no-ops (restored on exit)."""
    from OpenGL import GL

    saved = GL.glDrawElements, GL.glDrawArrays
    GL.glDrawElements = GL.glDrawArrays = lambda *args: None
    try:
        yield
    finally:
        GL.glDrawElements, GL.glDrawArrays = saved


def _run(renderer, window, frames: int, seconds: float, limb: str, finish: bool = True) -> dict:
    """Draw frames for ``seconds`` (at least ``frames``); return per-frame times, ms.

    ``finish`` waits for the GPU after each frame, outside the timed ``draw``, so a frame's
    CPU time never includes waiting for the previous frame's rasterisation.
    """
    from mirrorvr.render.gl import GL

    n, draw_cpu_s = 0, 0.0
    wall0 = time.perf_counter()
    while n < frames or time.perf_counter() - wall0 < seconds:
        state = full_scene(n / 90.0, limb)
        c0 = time.thread_time()
        renderer.draw(state)
        draw_cpu_s += time.thread_time() - c0
        if finish:
            GL.glFinish()
        window.swap()
        n += 1
    wall_s = time.perf_counter() - wall0
    return {"frames": n, "ms": 1000.0 * wall_s / n, "cpu_ms": 1000.0 * draw_cpu_s / n}


def measure_render(
    width: int = 1280, height: int = 720, seconds: float = 3.0, limb: str = "upper"
) -> list[dict]:
    """Render the full scene for ``seconds`` per (peer, view) and return one row each.

    Returns
    -------
    rows : list of dict
        ``name``, ``view``, ``frames``, ``fps``, ``ms_per_frame``, ``draw_cpu_ms_per_frame``,
        ``python_cpu_ms_per_frame`` (see the module docstring), ``width``, ``height``,
        ``samples`` (MSAA), ``limb``.
    """
    from mirrorvr.render.gl import GL
    from mirrorvr.render.renderer import Renderer

    rows = []
    window = open_window(width, height, headless=True, title="bench_render")
    try:
        for name, skinning in PEERS:
            for view_name, view in VIEWS:
                renderer = Renderer(
                    window,
                    RenderSettings(width=width, height=height),
                    skinning=skinning,
                    view=view,
                    timing_overlay=True,
                )
                try:
                    for i in range(3):  # warm-up: shader compile, first uploads, HUD textures
                        renderer.draw(full_scene(i / 90.0, limb))
                        GL.glFinish()
                        window.swap()
                    full = _run(renderer, window, 10, seconds, limb, finish=True)
                    with draw_calls_disabled():
                        python = _run(renderer, window, 200, seconds / 3.0, limb, finish=True)
                finally:
                    renderer.close()
                rows.append(
                    {
                        "name": name,
                        "view": view_name,
                        "frames": full["frames"],
                        "fps": 1000.0 / full["ms"],
                        "ms_per_frame": full["ms"],
                        "draw_cpu_ms_per_frame": full["cpu_ms"],
                        "python_cpu_ms_per_frame": python["cpu_ms"],
                        "width": width,
                        "height": height,
                        "samples": window.samples,
                        "limb": limb,
                    }
                )
                logger.info("%s / %s: %s", name, view_name, rows[-1])
    finally:
        window.close()
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`measure_render` rows."""
    header = (
        f"{'renderer':<40} {'view':<11} {'frames/s':>8} {'ms/frame':>9} "
        f"{'draw CPU ms':>12} {'Python CPU ms':>14} {'<= 2 ms':>8}"
    )
    first = rows[0]
    lines = [
        f"offscreen {first['width']}x{first['height']} (Mesa llvmpipe), {first['samples']}x "
        f"MSAA, full {first.get('limb', 'upper')}-limb scene (both limbs, ghost, HUD, timing "
        "overlay)",
        header,
        "-" * len(header),
    ]
    for r in rows:
        ok = "yes" if r["python_cpu_ms_per_frame"] <= PYTHON_BUDGET_MS else "NO"
        lines.append(
            f"{r['name']:<40} {r.get('view', 'mono'):<11} {r['fps']:>8.1f} "
            f"{r['ms_per_frame']:>9.2f} {r['draw_cpu_ms_per_frame']:>12.2f} "
            f"{r['python_cpu_ms_per_frame']:>14.3f} {ok:>8}"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seconds", type=float, default=3.0, help="per peer and view, s")
    parser.add_argument("--limb", choices=("upper", "lower"), default="upper")
    args = parser.parse_args(argv)
    rows = measure_render(args.width, args.height, args.seconds, args.limb)
    print(format_table(rows))  # noqa: T201


if __name__ == "__main__":
    main()
