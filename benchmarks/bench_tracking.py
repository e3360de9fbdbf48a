"""Tracking: filter jitter vs lag, and tracker sample -> photon in real sessions, each beside
a peer in the same run.

1. One Euro settings on a synthetic tracker (30 Hz, white noise of 2 deg per joint):
   jitter at rest (deg r.m.s.) and lag on a 0.6 rad step (time to 50 % / 90 %), against
   the unfiltered signal and a plain 1 Hz low-pass (beta = 0) in the same run.
2. Sample -> photon through the session engine: for every tracker source a real session
   (real clock, headless GL at the default 1280x720, render_scale auto, stimulation off)
   plays a mirror block; its recording's ``tracking`` stream gives, per tracker sample, the
   first frame that showed it (presentation timestamp; and the frame's swap + display
   latency from the ``frames`` stream). Beside it, for the trackers outside the process
   (LSL, webcam), a naive peer in the same run: the render loop reads the tracker itself,
   waits for each new sample and draws it at once, unfiltered, no presentation delay, on
   the same window size and renderer. Camera exposure is not included (the webcam's time
   starts at the frame's capture by OpenCV). Without stimulation D = 0: a frame shows the
   newest sample, and frames start as samples arrive (render.frames_on_input);
   ``--continuous`` adds, per source, the same session with frames drawn continuously.

    .venv/bin/python benchmarks/bench_tracking.py [--seconds 10] [--skip-latency]
        [--sources lsl,webcam] [--continuous]
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
    print(f"{'filter':36s} {'jitter deg rms':>15s} {'vs raw':>7s} {'lag 50 %':>9s} "
          f"{'lag 90 %':>9s}")
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
        print(f"{label:36s} {jitter:15.2f} {jitter / raw_jitter:7.2f} {lag[0]:7.0f} ms "
              f"{lag[1]:6.0f} ms")


#: Sources of the latency table: (label, [tracker] settings; None: built in the run).
SOURCES = ("simulated", "keyboard", "gamepad", "replay", "intact_emg", "lsl", "webcam",
           "webcam-lite")


def _session(tracker: dict, seconds: float, data_dir: Path, movements=None,
             frames_on_input: bool = True) -> dict:
    """One real-time session of a single mirror block driven by ``tracker``; its summary."""
    from mirrorvr.cli.compose import run_demo
    from mirrorvr.config import build_config
    from mirrorvr.session.protocol import parse_protocol

    config = build_config({"tracker": tracker, "stim": {"enabled": False},
                           "render": {"headless": True, "saved_frames": 0,
                                      "frames_on_input": frames_on_input}})
    block = {"kind": "mirror", "duration_s": seconds}
    if movements:
        block["movements"] = list(movements)
    protocol = parse_protocol({"name": "bench-mirror", "limb": "upper", "blocks": [block]})
    return run_demo(config, data_dir, protocol=protocol)


def _first_shown(summary: dict) -> np.ndarray:
    """Per tracker sample, its first frame: (sample, processing, received, photon (the
    presentation timestamp), photon from the frame's swap) s, from the recording."""
    import pyxdf

    from mirrorvr.tracking.driver import FRAME_CHANNELS

    streams = {s["info"]["name"][0]: s
               for s in pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)[0]}
    rows = np.asarray(streams["tracking"]["time_series"], dtype=float)
    col = {c: FRAME_CHANNELS.index(c) for c in FRAME_CHANNELS}
    rows = rows[rows[:, col["tracking"]] == 1.0]
    sample = rows[:, col["sample_s"]]
    first = rows[np.diff(sample, prepend=np.nan) != 0]
    # the frame's swap: the first recorded photon time at or after its presentation time
    # (a frame is never shown before its timestamp, and the next frame's timestamp lies
    # after this frame's swap)
    swapped = np.sort(np.asarray(streams["frames"]["time_stamps"], dtype=float))
    presented = first[:, col["photon_s"]]
    actual = swapped[np.minimum(np.searchsorted(swapped, presented - 1e-9), swapped.size - 1)]
    return np.column_stack([first[:, [col["sample_s"], col["processing_s"], col["received_s"],
                                      col["photon_s"]]], actual])


def _naive(source, seconds: float) -> np.ndarray:
    """The naive peer: the render loop reads ``source`` itself, waits for each new sample
    and draws it at once (unfiltered, no presentation delay). Rows as :func:`_first_shown`."""
    from mirrorvr.cli.compose import open_session_window, patient_appearance, resolve_patient
    from mirrorvr.config import build_config
    from mirrorvr.limb.mirror import mirror_pose
    from mirrorvr.limb.poses import target_pose
    from mirrorvr.limb.skeleton import Pose
    from mirrorvr.render.renderer import Renderer
    from mirrorvr.render.scene import SceneState

    config, _ = resolve_patient(build_config({"render": {"headless": True}}))
    window = open_session_window(config)
    renderer = Renderer(window, config.render, appearance=patient_appearance(config))
    rest = target_pose("rest", 0.0, "left").angles
    rows = []
    source.start()
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            samples = source.read(time.monotonic())
            if not samples:
                time.sleep(0.0005)
                continue
            newest = samples[-1]
            angles = np.where(np.isfinite(newest.angles), newest.angles, rest)
            intact = Pose.unchecked("left", angles).clipped()  # as the driver's limits do
            renderer.draw(SceneState(intact, mirror_pose(intact), affected_side="right"))
            window.finish()
            window.swap()
            photon = time.monotonic() + config.render.display_latency_s
            received = newest.received_s if newest.received_s is not None else np.nan
            rows.append((newest.t_s, newest.processing_s, received, photon, photon))
    finally:
        source.stop()
        renderer.close()
        window.close()
    return np.array(rows).reshape(-1, 5)


def _publish(outlet, script, stop: threading.Event, rate_hz: float = 60.0) -> None:
    import pylsl

    t0, k = pylsl.local_clock(), 0
    while not stop.is_set():
        t = t0 + k / rate_hz
        if pylsl.local_clock() >= t:
            outlet.push(script.pose_at(t).angles, t, confidence=0.95)
            k += 1
        stop.wait(0.001)


def _lsl_outlet(name: str):
    """A lab tracker on LSL (60 Hz) playing a hand movement every 1.5 s; (stop, thread)."""
    from mirrorvr.tracking.lsl_pose import PoseOutlet
    from mirrorvr.tracking.scripted import ScriptedIntactHand, ScriptedMovement

    start = time.monotonic()
    script = ScriptedIntactHand("left", [ScriptedMovement(start + 1.5 * k, start + 1.5 * k + 0.7,
                                                          "hand_close") for k in range(200)])
    outlet = PoseOutlet(name, "left", "upper", rate_hz=60.0, tracker="bench script")
    stop = threading.Event()
    thread = threading.Thread(target=_publish, args=(outlet, script, stop), daemon=True)
    thread.start()
    return stop, thread, outlet


def _intact_decoder(path: Path) -> str:
    """A decoder of the simulated patient's intact side (the twin the sessions use),
    calibrated offline on a fake clock."""
    from mirrorvr.cli.compose import open_intact_emg_source, resolve_patient
    from mirrorvr.clock import FakeClock
    from mirrorvr.config import SimulatedEmgSettings, build_config
    from mirrorvr.movements import UPPER_LIMB_MOVEMENTS
    from mirrorvr.tracking.intact_emg import calibrate_on_simulated_patient

    config, _ = resolve_patient(build_config({"tracker": {"source": "intact_emg"}}))
    clock = FakeClock(0.0)
    twin, _ = open_intact_emg_source(config, clock, "upper", UPPER_LIMB_MOVEMENTS)
    twin.start()
    decoder, report = calibrate_on_simulated_patient(
        twin, clock, SimulatedEmgSettings(movements=UPPER_LIMB_MOVEMENTS), repetitions=2)
    decoder.save(path, report)
    return str(path)


def latency_runs(seconds: float, tmp: Path, sources=SOURCES, continuous: bool = False
                 ) -> tuple[dict, dict, dict, dict]:
    """Engine rows per source, naive rows per source that has a peer, each source's D, and
    (``continuous``) engine rows with frames drawn continuously (frames_on_input off)."""
    from mirrorvr.tracking.known_answer import render_known_answer_video
    from mirrorvr.tracking.lsl_pose import LslPoseSource
    from mirrorvr.tracking.webcam import WebcamSource

    video = render_known_answer_video(tmp / "hand.mp4", "left", "upper", neutral_frames=20,
                                      hold_frames=int(30 * seconds / 6) + 10,
                                      tones=("light",))
    engine, naive, delay, engine_continuous = {}, {}, {}, {}
    recorded = None
    for name in sources:
        if name == "replay" and recorded is None:
            raise SystemExit("bench_tracking: replay plays the simulated session's recording "
                             "(name simulated before replay in --sources)")
        tracker: dict = {"source": name.removesuffix("-lite")}
        stop = None
        if name == "replay":
            tracker["replay_file"] = recorded
        elif name == "intact_emg":
            tracker["decoder_file"] = _intact_decoder(tmp / "intact.npz")
        elif name == "lsl":
            stop, thread, outlet = _lsl_outlet("bench-tracker")
            tracker["stream_name"] = "bench-tracker"
        elif name.startswith("webcam"):  # webcam-lite: MediaPipe's lite model
            tracker["camera"] = str(video.path)
            tracker["model_complexity"] = 0 if name.endswith("-lite") else 1
        print(f"  session with {name} ...", flush=True)
        try:
            summary = _session(tracker, seconds, tmp / name)
            if continuous:
                print(f"  session with {name}, continuous frames ...", flush=True)
                engine_continuous[name] = _first_shown(
                    _session(tracker, seconds, tmp / f"{name}-continuous",
                             frames_on_input=False))
            if name == "lsl":
                print("  naive peer with lsl ...", flush=True)
                naive[name] = _naive(LslPoseSource("left", "upper", "bench-tracker"), seconds)
        finally:
            if stop is not None:
                stop.set()
                thread.join()
                del outlet
        if name == "simulated":
            recorded = summary["recording"]
        if name.startswith("webcam"):
            print(f"  naive peer with {name} ...", flush=True)
            naive[name] = _naive(WebcamSource("left", "upper", str(video.path),
                                              model_complexity=tracker["model_complexity"]),
                                 seconds)
        engine[name] = _first_shown(summary)
        delay[name] = summary["presentation_delay_s"]
    return engine, naive, delay, engine_continuous


def latency_table(seconds: float, sources=SOURCES, continuous: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine, naive, delay, engine_continuous = latency_runs(seconds, Path(tmp), sources,
                                                               continuous)
    print("\nTracker sample -> photon, ms (first frame showing each sample; real sessions, "
          "1280x720 llvmpipe, stimulation off)")
    header = (f"{'source':32s} {'n':>5s} {'process':>8s} {'transp.':>8s} {'arr->ph':>8s} "
              f"{'p50':>6s} {'p90':>6s} {'p99':>6s} {'p50 swap':>9s} {'vs naive':>9s}")
    print(header)

    def row(label: str, r: np.ndarray, peer: np.ndarray | None) -> None:
        sample, proc, received, photon, swapped = r.T
        total = 1000 * (photon - sample)
        p50, p90, p99 = np.percentile(total, (50, 90, 99)) if total.size else (np.nan,) * 3
        ratio = "-"
        if peer is not None and len(peer):
            ratio = f"{p50 / np.median(1000 * (peer[:, 3] - peer[:, 0])):.2f}x"
        transport = np.nanmedian(1000 * (received - sample - proc)) if total.size else np.nan
        print(f"{label:32s} {len(r):5d} {1000 * np.median(proc):8.1f} {transport:8.1f} "
              f"{np.nanmedian(1000 * (photon - received)):8.1f} {p50:6.1f} {p90:6.1f} "
              f"{p99:6.1f} {np.median(1000 * (swapped - sample)):9.1f} {ratio:>9s}")

    for name in sources:
        row(f"{name} (engine, D {1000 * delay[name]:.0f} ms)", engine[name], naive.get(name))
        if name in engine_continuous:
            row(f"{name} (engine, continuous)", engine_continuous[name], naive.get(name))
        if name in naive:
            row(f"{name} (naive peer)", naive[name], naive[name])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="length of each session")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--continuous", action="store_true",
                   help="also run each session with frames drawn continuously "
                   "(render.frames_on_input = false)")
    p.add_argument("--sources", default=",".join(SOURCES),
                   help=f"comma-separated sources of the latency table (of {', '.join(SOURCES)})")
    args = p.parse_args()
    sources = tuple(x.strip() for x in args.sources.split(",") if x.strip())
    unknown = [x for x in sources if x not in SOURCES]
    if unknown:
        p.error(f"--sources: {unknown} unknown (allowed: {list(SOURCES)})")
    filter_table()
    if not args.skip_latency:
        latency_table(args.seconds, sources, args.continuous)


if __name__ == "__main__":
    main()
