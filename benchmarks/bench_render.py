"""Offscreen frame rate of the full scene: GPU skinning vs a naive CPU-skinning peer.

Both renderers draw the same animated scene (both hands opening and closing, HUD text) into
the same headless window in one run. The peer skins every vertex in numpy each frame and
re-uploads the vertex buffers; mirrorvr's renderer uploads 17 joint matrices per hand and
skins in the vertex shader. ``glFinish`` ends each frame so GPU work is counted.

    .venv/bin/python benchmarks/bench_render.py [--width 1280 --height 720 --seconds 3]
"""

from __future__ import annotations

import argparse
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


def _state(t_s: float) -> SceneState:
    """Both hands opening and closing at 0.3 Hz; the texts change once a second."""
    level = 0.5 + 0.5 * math.sin(2.0 * t_s)
    left = target_pose("hand_close", level, "left")
    return SceneState(
        left,
        mirror_pose(left),
        cue_text="Close your hand",
        status_text=f"mirror mode | t = {int(t_s)} s",
    )


def measure_render(width: int = 1280, height: int = 720, seconds: float = 3.0) -> list[dict]:
    """Render for ``seconds`` per skinning mode and return one row per mode.

    Returns
    -------
    rows : list of dict
        ``name``, ``frames``, ``fps``, ``ms_per_frame``, ``draw_ms_per_frame`` (wall time in
        ``Renderer.draw``, i.e. issuing the frame), ``python_cpu_ms_per_frame`` (CPU time of
        the rendering thread, which with Mesa llvmpipe includes vertex shading),
        ``process_cpu_ms_per_frame`` (all threads, incl. llvmpipe rasteriser threads),
        ``width``, ``height``, ``samples`` (MSAA).
    """
    from mirrorvr.render.gl import GL
    from mirrorvr.render.renderer import Renderer

    rows = []
    window = open_window(width, height, headless=True, title="bench_render")
    try:
        for name, skinning in (
            ("mirrorvr (GPU skinning)", "gpu"),
            ("naive peer (CPU skinning + VBO upload)", "cpu"),
        ):
            renderer = Renderer(
                window, RenderSettings(width=width, height=height), skinning=skinning
            )
            try:
                for i in range(3):  # warm-up: shader compile, first uploads
                    renderer.draw(_state(i * 0.016))
                    GL.glFinish()
                    window.swap()
                frames, draw_s = 0, 0.0
                wall0, thread0, cpu0 = time.perf_counter(), time.thread_time(), time.process_time()
                while time.perf_counter() - wall0 < seconds:
                    t0 = time.perf_counter()
                    renderer.draw(_state(frames / 60.0))
                    draw_s += time.perf_counter() - t0
                    GL.glFinish()
                    window.swap()
                    frames += 1
                wall = time.perf_counter() - wall0
                thread = time.thread_time() - thread0
                cpu = time.process_time() - cpu0
            finally:
                renderer.close()
            rows.append(
                {
                    "name": name,
                    "frames": frames,
                    "fps": frames / wall,
                    "ms_per_frame": 1000.0 * wall / frames,
                    "draw_ms_per_frame": 1000.0 * draw_s / frames,
                    "python_cpu_ms_per_frame": 1000.0 * thread / frames,
                    "process_cpu_ms_per_frame": 1000.0 * cpu / frames,
                    "width": width,
                    "height": height,
                    "samples": window.samples,
                }
            )
    finally:
        window.close()
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`measure_render` rows."""
    header = (
        f"{'renderer':<40} {'frames/s':>8} {'ms/frame':>9} {'draw ms':>8} "
        f"{'Python CPU ms':>14} {'process CPU ms':>15}"
    )
    first = rows[0]
    lines = [
        f"offscreen {first['width']}x{first['height']}, {first['samples']}x MSAA, full scene",
        header,
        "-" * len(header),
    ]
    for r in rows:
        lines.append(
            f"{r['name']:<40} {r['fps']:>8.1f} {r['ms_per_frame']:>9.2f} "
            f"{r['draw_ms_per_frame']:>8.2f} "
            f"{r['python_cpu_ms_per_frame']:>14.2f} {r['process_cpu_ms_per_frame']:>15.2f}"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    print(format_table(measure_render(args.width, args.height, args.seconds)))  # noqa: T201


if __name__ == "__main__":
    main()
