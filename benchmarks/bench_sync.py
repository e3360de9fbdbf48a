"""Visual-EMS asynchrony across a real-clock session, beside the naive approach, same run.

mirrorvr: each movement has a presentation timestamp; the scheduler sends its train early
by the stimulation path's latency and the render loop holds the frame's swap until the
timestamp. Asynchrony = predicted contraction onset - predicted photon time (swap + display
latency) of the first frame showing the movement.

naive peer: fire the train when the frame showing the movement is rendered (at its swap);
its contraction is predicted by a twin of the same simulated stimulator (same latency,
jitter, ramp and electromechanical-delay model), for the same movements.

Also printed: the presentation delay D of reactive modes for several envelope settings (the
trade-off between SAFETY.md item 6's ramps and how late a detected movement is shown), each
as a ratio of the plain 0.5 s comfort ramp from 0 (the peer).

    .venv/bin/python benchmarks/bench_sync.py [--duration 40] [--fast-rise] [--delay-only]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mirrorvr.cli.compose import resolve_patient, with_limb_defaults  # noqa: E402
from mirrorvr.clock import FakeClock  # noqa: E402
from mirrorvr.config import build_config  # noqa: E402
from mirrorvr.stim import SimulatedStimulator  # noqa: E402
from mirrorvr.stim.prescription import commands_for, slowest_path_latency_s  # noqa: E402


def _row(name, values_s) -> str:
    v = np.asarray(values_s) * 1000.0
    if v.size == 0:
        return f"  {name:<38} (none)"
    return (f"  {name:<38} median {np.median(v):+8.2f}  p99 |.| "
            f"{np.percentile(np.abs(v), 99):7.2f}  max |.| {np.abs(v).max():7.2f} ms  "
            f"(n = {v.size})")


def session_asynchrony(duration_s: float, seed: int = 0, fast_rise: bool = False):
    import pyxdf

    from mirrorvr.cli import run_demo

    config = build_config({
        "seed": seed,
        "protocol": {"duration_s": duration_s},
        "render": {"headless": True, "saved_frames": 0},
        "stim": {"refractory_s": 1.0, "fast_rise_below_motor_threshold": fast_rise},
    })
    config = with_limb_defaults(resolve_patient(config)[0])  # the demo's simulated patient
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_demo(config, Path(tmp))
        streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    entries = [json.loads(e[0]) for e in by_name["movement_plan"]["time_series"]]
    twin = SimulatedStimulator(FakeClock(0.0), n_channels=config.stim.device.n_channels,
                               seed=seed + 1, motor_threshold_ma={
                                   c.channel: c.motor_threshold_ma
                                   for c in config.patient.stim_channels})
    ours, naive, by_source = [], [], {}
    for e in entries:
        sent = [s for s in e["stim"] if s["status"] == "sent"]
        if not sent or e["photon_s"] is None:
            continue
        ours.append(e["asynchrony_s"])
        by_source.setdefault(e["source"], []).append(e["asynchrony_s"])
        swap_s = e["photon_s"] - config.render.display_latency_s
        cmds = {c.channel: c for c in commands_for(e["movement"], e["onset_s"], config.stim,
                                                    config.patient)[0]}
        onsets = [twin.send(cmds[s["channel"]], swap_s) for s in sent]
        naive.append(min(onsets) - e["photon_s"])
    return summary, ours, naive, by_source


def delay_table():
    rows = []
    for label, stim in [
        ("plain 0.5 s ramp from 0", {"fast_rise_below_motor_threshold": False}),
        ("two-slope: 0 -> motor threshold in 50 ms, then 0.5 s",
         {"fast_rise_below_motor_threshold": True}),
        ("two-slope, 100 ms below the motor threshold",
         {"fast_rise_below_motor_threshold": True, "subthreshold_rise_s": 0.1}),
        ("plain 0.5 s ramp, intensity at max tolerated",
         {"fast_rise_below_motor_threshold": False, "intensity_fraction": 1.0}),
        ("two-slope, intensity at max tolerated",
         {"fast_rise_below_motor_threshold": True, "intensity_fraction": 1.0}),
        ("plain 0.3 s ramp from 0 (below the default)",
         {"fast_rise_below_motor_threshold": False, "ramp_up_s": 0.3}),
        ("plain 0.1 s ramp from 0 (device minimum)",
         {"fast_rise_below_motor_threshold": False, "ramp_up_s": 0.1}),
    ]:
        cfg = with_limb_defaults(resolve_patient(build_config({"stim": stim}))[0])
        stim_s = slowest_path_latency_s(cfg.stim, cfg.patient)
        d_s = max(cfg.protocol.presentation_delay_s,
                  stim_s + cfg.stim.transport_jitter_s + 0.005)
        rows.append((label, stim_s, d_s))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=40.0, help="session length, s")
    p.add_argument("--fast-rise", action="store_true",
                   help="the session uses the two-slope envelope")
    p.add_argument("--delay-only", action="store_true", help="print the D table only")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)

    print("\npresentation delay D of reactive modes (slowest channel of the demo patient)")
    print(f"  {'envelope':<54} {'stim path':>10} {'D':>8} {'D / peer':>9}")
    rows = delay_table()
    peer_d_s = rows[0][2]
    for label, stim_s, d_s in rows:
        print(f"  {label:<54} {stim_s * 1000:7.0f} ms {d_s * 1000:5.0f} ms "
              f"{d_s / peer_d_s:8.2f}x")
    if args.delay_only:
        return 0

    summary, ours, naive, by_source = session_asynchrony(args.duration,
                                                         fast_rise=args.fast_rise)
    fr = summary["frames"]
    envelope = "two-slope" if args.fast_rise else "plain"
    print(f"\nasynchrony, predicted contraction onset - photon time, real clock, "
          f"{summary['duration_s']:.0f} s session, {envelope} envelope, "
          f"{fr['mean_fps']:.1f} frames/s, D = {summary['presentation_delay_s'] * 1000:.0f} ms")
    print(_row("mirrorvr (presentation timestamps)", ours))
    for source, values in sorted(by_source.items()):
        print(_row(f"  of which {source}", values))
    print(_row("naive: fire when the frame is rendered", naive))
    target = np.percentile(np.abs(ours), 99) * 1000 if ours else float("nan")
    print(f"  target |asynchrony| p99 <= 10 ms: {'met' if target <= 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
