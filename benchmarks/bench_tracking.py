"""Tracking: filter jitter vs lag, and tracker sample -> photon latency, each beside a peer.

1. One Euro settings on a synthetic tracker (30 Hz, white noise of 2 deg per joint):
   jitter at rest (deg r.m.s.) and lag on a 0.6 rad step (time to 50 % / 90 %), against
   the unfiltered signal and a plain 1 Hz low-pass (beta = 0) in the same run.
2. Sample -> photon on the webcam tracker (MediaPipe process playing a rendered video at
   30 fps, LSL, MirrorDriver, offscreen render at 640x360, swap + 8 ms display latency):
   mirrorvr (control thread polls every 5 ms, the render loop never waits, One Euro) beside
   a naive peer (the render loop waits for each tracker sample, unfiltered). Components per
   frame: inference (the tracker's capture -> push), transport (push -> received), render
   (received -> photon). Needs ./dev tracker-env. Camera exposure is not included.

    .venv/bin/python benchmarks/bench_tracking.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("LSLAPICFG", str(Path(__file__).resolve().parents[1] / "lsl_api.cfg"))

from mirrorvr.clock import FakeClock  # noqa: E402
from mirrorvr.limb.skeleton import limb_spec  # noqa: E402
from mirrorvr.tracking.driver import DriverSettings, MirrorDriver  # noqa: E402
from mirrorvr.tracking.source import PoseSample  # noqa: E402

DISPLAY_LATENCY_S = 0.008
FILTERS = [
    ("unfiltered", DriverSettings(min_cutoff_hz=1e4, beta=0.0)),
    ("low-pass 1 Hz (beta 0)", DriverSettings(min_cutoff_hz=1.0, beta=0.0)),
    ("One Euro 0.5 Hz, beta 0.4", DriverSettings(min_cutoff_hz=0.5, beta=0.4)),
    ("One Euro 1 Hz, beta 0.4 (default)", DriverSettings()),
    ("One Euro 1 Hz, beta 1.0", DriverSettings(min_cutoff_hz=1.0, beta=1.0)),
    ("One Euro 2 Hz, beta 0.4", DriverSettings(min_cutoff_hz=2.0, beta=0.4)),
]


class _Synthetic:
    """30 Hz samples: rest, then a step of 0.6 rad on one joint at ``step_s``, plus noise."""

    name, side, limb, problem = "synthetic", "left", "upper", None

    def __init__(self, noise_rad: float, step_s: float, seed: int = 0) -> None:
        self.noise, self.step_s, self.k = noise_rad, step_s, 0
        self.rng = np.random.default_rng(seed)
        self.j = limb_spec("upper").dof_index("index_pip_flexion")
        from mirrorvr.limb.poses import target_pose

        self.rest = target_pose("rest", 0.0, "left").angles

    def start(self):
        pass

    def stop(self):
        pass

    def read(self, now_s):
        out = []
        while self.k / 30.0 <= now_s:
            t = self.k / 30.0
            a = self.rest + self.rng.normal(0.0, self.noise, self.rest.shape)
            if t >= self.step_s:
                a[self.j] += 0.6
            out.append(PoseSample(t, a, 1.0, now_s))
            self.k += 1
        return out


def filter_table() -> None:
    print("\nOne Euro filter: jitter at rest and lag on a step (synthetic 30 Hz tracker)")
    print(f"{'filter':36s} {'jitter deg rms':>15s} {'vs raw':>7s} {'lag 50 %':>9s} {'lag 90 %':>9s}")
    raw_jitter = None
    for label, settings in FILTERS:
        clock = FakeClock(0.0)
        noisy = MirrorDriver(_Synthetic(np.radians(2.0), 1e9), settings)
        clean = MirrorDriver(_Synthetic(0.0, 4.0), settings)
        j = noisy.source.j
        shown, step = [], []
        while clock.now() < 8.0:
            t = clock.now()
            noisy.step(t)
            clean.step(t)
            if t > 1.0:
                shown.append(noisy.pose_at(t).angles[j])
            step.append((t, clean.pose_at(t).angles[j]))
            clock.advance(1 / 240)
        jitter = float(np.degrees(np.std(shown)))
        raw_jitter = raw_jitter or jitter
        base = clean.source.rest[j]
        lag = []
        for share in (0.5, 0.9):
            t_hit = next(t for t, a in step if t >= 4.0 and a - base >= share * 0.6)
            lag.append(1000 * (t_hit - 4.0))
        print(f"{label:36s} {jitter:15.2f} {jitter / raw_jitter:7.2f} {lag[0]:7.0f} ms {lag[1]:6.0f} ms")


def _latency_run(video: Path, seconds: float, naive: bool) -> np.ndarray:
    from mirrorvr.config import RenderSettings
    from mirrorvr.limb.mirror import mirror_pose
    from mirrorvr.render.renderer import Renderer
    from mirrorvr.render.scene import SceneState
    from mirrorvr.render.window import open_window
    from mirrorvr.tracking.webcam import WebcamSource

    source = WebcamSource("left", "upper", str(video), process_args=["--wait-consumer", "20"])
    settings = DriverSettings(min_cutoff_hz=1e4, beta=0.0) if naive else DriverSettings()
    driver = MirrorDriver(source, settings)
    window = open_window(640, 360, headless=True, samples=0)
    renderer = Renderer(window, RenderSettings(width=640, height=360, msaa_samples=0))
    stop = threading.Event()
    rows = []

    def control() -> None:
        while not stop.is_set():
            driver.step(time.monotonic())
            stop.wait(0.005)

    driver.start()
    thread = None if naive else threading.Thread(target=control, daemon=True)
    try:
        while driver.samples_received == 0 and not stop.wait(0.01):
            driver.step(time.monotonic())
        if thread is not None:
            thread.start()
        end = time.monotonic() + seconds
        last_sample = None
        while time.monotonic() < end:
            if naive:  # the render loop waits for the tracker's next sample
                before = driver.samples_received
                while driver.samples_received == before and time.monotonic() < end:
                    driver.step(time.monotonic())
                    time.sleep(0.0005)
            frame = driver.frame_at(time.monotonic())
            intact = frame.pose
            renderer.draw(SceneState(intact, mirror_pose(intact), affected_side="right"))
            window.finish()
            window.swap()
            photon = time.monotonic() + DISPLAY_LATENCY_S
            if frame.sample_s is not None and frame.sample_s != last_sample:  # first frame showing it
                rows.append((frame.sample_s, frame.processing_s, frame.received_s, photon))
                last_sample = frame.sample_s
    finally:
        stop.set()
        if thread is not None:
            thread.join()
        driver.stop()
        renderer.close()
        window.close()
    return np.array(rows)


def latency_table(seconds: float) -> None:
    from mirrorvr.tracking.known_answer import render_known_answer_video

    with tempfile.TemporaryDirectory() as tmp:
        video = render_known_answer_video(Path(tmp) / "hand.mp4", "left", "upper",
                                          neutral_frames=20, hold_frames=30)
        results = {"mirrorvr (render never waits, One Euro)": _latency_run(video.path, seconds, False),
                   "naive (render waits for each sample, unfiltered)": _latency_run(video.path, seconds, True)}
    print("\nTracker sample -> photon (webcam process on a 30 fps video, 640x360 llvmpipe)")
    print(f"{'pipeline':50s} {'n':>4s} {'inference':>10s} {'transport':>10s} {'render':>8s} "
          f"{'total p50':>10s} {'p90':>6s} {'vs naive':>9s}")
    medians = {k: np.median(v[:, 3] - v[:, 0]) for k, v in results.items()}
    naive = list(medians.values())[1]
    for label, r in results.items():
        sample, proc, received, photon = r.T
        total = 1000 * (photon - sample)
        print(f"{label:50s} {len(r):4d} {1000 * np.median(proc):8.1f}ms "
              f"{1000 * np.median(received - sample - proc):8.1f}ms "
              f"{1000 * np.median(photon - received):6.1f}ms {np.median(total):8.1f}ms "
              f"{np.percentile(total, 90):5.0f} {medians[label] / naive:8.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--skip-latency", action="store_true")
    args = p.parse_args()
    filter_table()
    if not args.skip_latency:
        latency_table(args.seconds)


if __name__ == "__main__":
    main()
