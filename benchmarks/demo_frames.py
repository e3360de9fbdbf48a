"""The default demo's frames, as the lead's acceptance check counts them: frame-interval
percentiles (from the recording's ``frames`` stream, read back with pyxdf), the renderer's
own draw-to-finish times and render scale, and the render-watchdog trips (each one cut
stimulation), for ``--runs`` consecutive demos.

    .venv/bin/python benchmarks/demo_frames.py [--runs 3] [--duration 60] [--render-scale auto]
                                               [--max-fps 60]

It builds the demo exactly as ``mirrorvr demo --headless`` does, except that it keeps a
handle on the renderer to print :meth:`Renderer.render_stats`. The acceptance target
(issue 12): at 1280x720, 0 watchdog trips and a frame-interval p99 <= 50 ms in each run.
Wall-clock figures depend on what else the machine runs: the load average is printed too.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mirrorvr.render.scale import frame_time_summary  # noqa: E402


class _TripCounter(logging.Handler):
    """Counts the watchdog's "render loop silent" errors."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.trips = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "render loop silent" in record.getMessage():
            self.trips += 1


def run_once(duration_s: float, render_scale, data_dir: Path, max_fps: float = 60.0) -> dict:
    import pyxdf

    from mirrorvr.cli import open_session_window, patient_appearance, run_demo
    from mirrorvr.config import build_config
    from mirrorvr.render.renderer import Renderer

    config = build_config({
        "render": {"headless": True, "render_scale": render_scale, "max_fps": max_fps},
        "protocol": {"duration_s": duration_s},
    })
    window = open_session_window(config)
    renderer = Renderer(window, config.render, appearance=patient_appearance(config),
                        view=config.render.view, timing_overlay=config.render.timing_overlay)
    counter = _TripCounter()
    logging.getLogger("mirrorvr.stim.watchdog").addHandler(counter)
    try:
        summary = run_demo(config, data_dir, window=window, renderer=renderer)
    finally:
        logging.getLogger("mirrorvr.stim.watchdog").removeHandler(counter)
    streams, _ = pyxdf.load_xdf(summary["recording"])
    frames = next(s for s in streams if s["info"]["name"][0] == "frames")
    swaps = np.asarray(frames["time_series"])[:, 0]
    return {
        "interval": frame_time_summary(np.diff(swaps) * 1000.0),
        "renderer": renderer.render_stats(),
        "trips": counter.trips,
        "load": os.getloadavg()[0],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=60.0, help="session length, s")
    parser.add_argument("--render-scale", default="auto", help="'auto' or 0.25..1")
    parser.add_argument("--max-fps", type=float, default=60.0, help="render.max_fps")
    args = parser.parse_args(argv)
    scale = args.render_scale if args.render_scale == "auto" else float(args.render_scale)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(f"{'run':>3} {'trips':>5} {'interval p50':>12} {'p95':>6} {'p99':>6} {'max':>6} "
          f"{'draw p50':>8} {'p99':>6} {'scale mean':>10} {'min':>5} {'load':>5}")
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_once(args.duration, scale, Path(tmp), args.max_fps)
        i, d, s = r["interval"], r["renderer"]["frame_ms"], r["renderer"]["render_scale"]
        print(f"{run:>3} {r['trips']:>5} {i['p50_ms']:>12.1f} {i['p95_ms']:>6.1f} "
              f"{i['p99_ms']:>6.1f} {i['max_ms']:>6.1f} {d['p50_ms']:>8.1f} {d['p99_ms']:>6.1f} "
              f"{s['mean']:>10.2f} {s['min']:>5.2f} {r['load']:>5.1f}", flush=True)


if __name__ == "__main__":
    main()
