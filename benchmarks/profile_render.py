"""Where a frame's time goes: the full scene on this machine's rasteriser, each pass timed
on its own (``glFinish`` before and after it), at render scale 1 and 0.5, beside the 4x MSAA
window of the same run.

The scene is the benchmark's animated frame (``bench_render.full_scene``: both limbs
moving, the ghost, cue, status and timing texts). Every pass of ``Renderer`` is wrapped by
a timer that waits for the GPU before and after it, so a row is the time that pass takes
alone; "frame" is the whole draw plus ``glFinish`` without the timers. The minimum over the
frames is reported beside the median: on a machine shared with other work (Mesa llvmpipe
rasterises on the same CPU cores) the minimum is the least disturbed.

    .venv/bin/python benchmarks/profile_render.py [--width 1280 --height 720 --frames 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_render import full_scene  # noqa: E402

from mirrorvr.config import RenderSettings  # noqa: E402
from mirrorvr.render.window import open_window  # noqa: E402

#: (label, object path on the renderer, method): the passes timed one by one.
PASSES = (
    ("limbs (2 skinned + ghost)", "", "_draw_limb"),
    ("scenery (trunk, table, floor, walls: 1 mesh)", "", "_draw_scenery"),
    ("contact shadows (capsule decals)", "", "_draw_shadows"),
    ("HUD texts (cached textures)", "", "_draw_overlay"),
    ("upscale to the window", "target", "upscale"),
)


def _timed(totals, label, method):
    from mirrorvr.render.gl import GL

    def wrapper(*args, **kwargs):
        GL.glFinish()
        t0 = time.perf_counter()
        out = method(*args, **kwargs)
        GL.glFinish()
        totals[label] += 1000.0 * (time.perf_counter() - t0)
        return out

    return wrapper


def _profile_renderer(renderer, window, frames: int) -> dict[str, list[float]]:
    """Per-pass times (ms per frame) and the untimed frame, read-back and finish."""
    from mirrorvr.render.gl import GL

    rows: dict[str, list[float]] = defaultdict(list)
    for i in range(3):  # warm-up: shader compiles, first uploads, the offscreen target
        renderer.draw(full_scene(i / 30.0))
        GL.glFinish()
        window.swap()
    for i in range(frames):  # the plain frame, no timers inside
        t0 = time.perf_counter()
        renderer.draw(full_scene(i / 30.0))
        GL.glFinish()
        rows["frame (draw + glFinish)"].append(1000.0 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        window.read_pixels()
        rows["read_pixels (a saved frame)"].append(1000.0 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        GL.glFinish()
        rows["glFinish with nothing queued"].append(1000.0 * (time.perf_counter() - t0))
        window.swap()
    saved = {}
    totals: dict[str, float] = defaultdict(float)
    for label, path, name in PASSES:
        obj = getattr(renderer, path) if path else renderer
        if obj is not None:
            saved[path, name] = (obj, getattr(obj, name))
            setattr(obj, name, _timed(totals, label, getattr(obj, name)))
    try:
        for i in range(frames):
            totals.clear()
            renderer.draw(full_scene(i / 30.0))
            GL.glFinish()
            window.swap()
            for label, _, _ in PASSES:
                if label in totals:
                    rows[label].append(totals[label])
    finally:
        for (path, name), (obj, method) in saved.items():
            setattr(obj, name, method)
    return rows


def profile(width: int, height: int, frames: int) -> list[tuple[str, str, float, float]]:
    """Rows of (configuration, part, median ms, minimum ms)."""
    from mirrorvr.render.renderer import Renderer

    out = []
    for samples in (0, 4):
        window = open_window(width, height, headless=True, title="profile_render",
                             samples=samples)
        scales = (1.0, 0.5) if samples == 0 else (1.0,)
        try:
            for scale in scales:
                renderer = Renderer(window, RenderSettings(render_scale=scale),
                                    timing_overlay=True)
                try:
                    if scale < 1:  # make the offscreen target before wrapping its method
                        renderer.draw(full_scene(0.0))
                        window.swap()
                    rows = _profile_renderer(renderer, window, frames)
                finally:
                    renderer.close()
                config = f"scale {scale:g}, {window.samples}x MSAA"
                for part, times in rows.items():
                    out.append((config, part, statistics.median(times), min(times)))
        finally:
            window.close()
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=20, help="frames per configuration")
    args = parser.parse_args(argv)
    rows = profile(args.width, args.height, args.frames)
    print(f"frame profile, offscreen {args.width}x{args.height} mono, ms per frame")
    print(f"{'configuration':<20} {'part':<42} {'median':>7} {'min':>7}")
    for config, part, median, minimum in rows:
        print(f"{config:<20} {part:<42} {median:>7.1f} {minimum:>7.1f}")


if __name__ == "__main__":
    main()
