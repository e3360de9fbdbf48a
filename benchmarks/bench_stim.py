"""Stimulation timing on this machine, each beside a naive peer measured in the same run.

1. Scheduler firing jitter (actual - planned send time) while the main thread renders the
   scene offscreen, for mirrorvr's timing thread vs the naive peer "fire from the render
   loop" (a command goes out at the first frame boundary after its send time).
2. Emergency-stop latency: key event -> every channel off, with the key polled at each
   frame start as the session does (the render loop is busy drawing in between), and the
   governor's own part (call -> driver stop).
3. Watchdog latency: a loop stops beating -> all channels off, beyond the 100 ms timeout.

    .venv/bin/python benchmarks/bench_stim.py [--commands 300 --width 1280 --height 720]
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mirrorvr.clock import SessionClock  # noqa: E402
from mirrorvr.config import RenderSettings, SessionConfig  # noqa: E402
from mirrorvr.stim import (  # noqa: E402
    SafetyGovernor,
    SimulatedStimulator,
    SyncScheduler,
    Watchdog,  # noqa: E402
)
from mirrorvr.stim.prescription import commands_for  # noqa: E402


def _stats_ms(values_s) -> str:
    v = np.asarray(values_s) * 1000.0
    return (f"p50 {np.percentile(v, 50):7.3f}  p99 {np.percentile(v, 99):7.3f}  "
            f"max {v.max():7.3f} ms  (n = {v.size})")


def _rig(clock):
    cfg = SessionConfig()
    driver = SimulatedStimulator(clock, n_channels=cfg.stim.device.n_channels)
    gov = SafetyGovernor(cfg.stim.device, cfg.patient, driver, clock)
    gov.arm()
    return cfg, driver, gov


def _renderer(width, height):
    from mirrorvr.render.renderer import Renderer
    from mirrorvr.render.scene import SceneState
    from mirrorvr.render.window import open_window

    window = open_window(width, height, headless=True, title="bench_stim")
    renderer = Renderer(window, RenderSettings(width=width, height=height))

    def frame(i):
        renderer.draw(SceneState.at_rest(cue_text="Close your hand",
                                         status_text=f"frame {i}"))
        window.finish()
        window.swap()

    return window, frame


def jitter_while_rendering(n_commands, width, height):
    clock = SessionClock()
    cfg, driver, gov = _rig(clock)
    scheduler = SyncScheduler(gov, clock, 0.03, late_tolerance_s=0.05)
    window, frame = _renderer(width, height)
    scheduler.start()
    t0 = clock.now() + 0.5
    rng = np.random.default_rng(0)
    onsets = t0 + np.cumsum(rng.uniform(0.03, 0.09, n_commands))
    for i, onset in enumerate(onsets):
        cmd = commands_for("hand_close" if i % 2 else "hand_open", onset, cfg.stim, cfg.patient)
        scheduler.schedule(float(onset), cmd[0])
    frame_ends = []
    i = 0
    while clock.now() < onsets[-1] + 0.2:
        frame(i)
        frame_ends.append(clock.now())
        i += 1
    scheduler.stop()
    window.close()
    recs = [r for r in scheduler.records() if r.status == "sent"]
    ours = [r.actual_send_s - r.planned_send_s for r in recs]
    ends = np.asarray(frame_ends)
    naive = []
    for r in recs:  # naive peer: the render loop fires it at the next frame boundary
        k = np.searchsorted(ends, r.planned_send_s)
        if k < ends.size:
            naive.append(ends[k] - r.planned_send_s)
    fps = len(frame_ends) / (frame_ends[-1] - frame_ends[0])
    return ours, naive, fps, len(scheduler.records()) - len(recs)


def estop_latency(n, width, height):
    """Keys pressed at random moments; the loop polls at each frame start, like the session."""
    clock = SessionClock()
    cfg, driver, gov = _rig(clock)
    window, frame = _renderer(width, height)
    rng = np.random.default_rng(1)
    key_total, governor_part = [], []
    press = [None]

    def presser():
        for _ in range(n):
            time.sleep(rng.uniform(0.05, 0.15))
            press[0] = clock.now()
            while press[0] is not None:
                time.sleep(0.001)

    thread = threading.Thread(target=presser, daemon=True)
    thread.start()
    i = 0
    while thread.is_alive() or press[0] is not None:
        if press[0] is not None:  # poll_events at frame start sees the key
            gov.submit(commands_for("hand_close", 0.0, cfg.stim, cfg.patient)[0][0])
            t_call = clock.now()
            gov.emergency_stop("bench key")
            t_off = clock.now()
            key_total.append(t_off - press[0])
            governor_part.append(t_off - t_call)
            gov.rearm()
            press[0] = None
        frame(i)
        i += 1
    window.close()
    return key_total, governor_part


def watchdog_latency(n, timeout_s=0.1):
    clock = SessionClock()
    cfg, driver, gov = _rig(clock)
    off_at = []
    fired = threading.Event()

    def on_timeout(reason):
        gov.all_off(reason)
        off_at.append(clock.now())
        fired.set()

    dog = Watchdog(clock, timeout_s, on_timeout)
    dog.start()
    late = []
    for _ in range(n):
        for _ in range(5):
            dog.beat("control")
            dog.beat("render")
            time.sleep(0.01)
        fired.clear()
        gov.submit(commands_for("hand_close", 0.0, cfg.stim, cfg.patient)[0][0])
        dog.beat("control")
        dog.beat("render")
        last = clock.now()  # both loops stall from here
        fired.wait(2.0)
        late.append(off_at[-1] - (last + timeout_s))
        assert not driver.active_channels()
    dog.stop()
    return late


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--commands", type=int, default=300)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)

    ours, naive, fps, unsent = jitter_while_rendering(args.commands, args.width, args.height)
    print(f"\nscheduler firing jitter, actual - planned send, while rendering "
          f"{args.width}x{args.height} offscreen at {fps:.1f} frames/s")
    print(f"  mirrorvr timing thread         {_stats_ms(ours)}  ({unsent} not sent)")
    print(f"  naive: fire from render loop   {_stats_ms(naive)}")

    total, gov_part = estop_latency(40, args.width, args.height)
    print("\nemergency stop, key event -> all channels off (key polled at frame start)")
    print(f"  key -> off (incl. frame wait)  {_stats_ms(total)}")
    print(f"  governor call -> driver off    {_stats_ms(gov_part)}")

    late = watchdog_latency(30)
    print("\nwatchdog, 100 ms timeout: all channels off after (last beat + timeout)")
    print(f"  beyond timeout                 {_stats_ms(late)}")
    print(f"  total from last beat           {_stats_ms(np.asarray(late) + 0.1)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
