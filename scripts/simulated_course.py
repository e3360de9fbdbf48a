"""Simulate a course of demo sessions, catalogue it and render the patient's report.

    .venv/bin/python scripts/simulated_course.py [--data-dir DIR] [--sessions 6] [--seed 0]
        [--duration 40] [--screenshot docs/report_course.png]

Each session is the current demo (``mirrorvr.cli.build_session``) on the fake clock, its NRS
ratings following a seeded pain trajectory (:class:`mirrorvr.outcomes.course.PainTrajectory`);
the course logic (trajectory, planned sessions, scheduled instruments, cataloguing) is in
:func:`mirrorvr.outcomes.course.simulate_course`. When the session engine runs protocols,
``demo_session_runner`` is what changes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


class _Unseen:
    """Window and renderer for sessions nobody watches: the course's data (EMG, decoder,
    stimulation, ratings, timing plan) is the same, only no pixels are drawn (faster)."""

    headless = True

    def __init__(self, clock) -> None:
        self.clock = clock

    def poll_events(self) -> list[str]:
        return []

    def draw(self, state) -> None:
        pass

    def finish(self) -> None:
        pass

    def swap(self) -> float:
        return self.clock.now()

    def read_pixels(self):
        import numpy as np

        return np.zeros((9, 16, 3), np.uint8)

    def close(self) -> None:
        pass


def demo_session_runner(data_dir: Path, pseudonym: str, *, duration_s: float, seed: int,
                        size=(640, 360), realtime_tests: tuple[str, ...] = ("motion", "tac"),
                        draw: bool = False):
    """``(session number, NRS before, NRS after) -> session folder``: one demo session, with
    the real-time test blocks named in ``realtime_tests`` ("motion", "tac") at its end;
    ``draw`` renders its frames offscreen with OpenGL (slower; the data is the same)."""
    from mirrorvr.cli import build_session
    from mirrorvr.clock import FakeClock
    from mirrorvr.config import build_config
    from mirrorvr.session.protocol import load_protocol, parse_protocol
    from mirrorvr.session.runner import SessionRunner
    from mirrorvr.sim.demo import demo_patient

    demo = load_protocol("demo").model_dump(mode="json", exclude_none=True)
    tests = {"motion": {"kind": "motion_test"}, "tac": {"kind": "tac_test", "timeout_s": 8.0}}
    demo["blocks"] += [tests[t] for t in realtime_tests]
    protocol = parse_protocol(demo, "simulated course")

    def run(number: int, pre: int, post: int) -> Path:
        patient = demo_patient().model_dump(mode="json", exclude_none=True)
        patient["pseudonym"] = pseudonym
        data = {"seed": seed * 100 + number, "patient": patient,
                # the demo's blocks in duration_s, each real-time test in 20 s more
                "protocol": {"duration_s": duration_s + 20.0 * len(realtime_tests)},
                "render": {"width": size[0], "height": size[1], "headless": True,
                           "max_fps": 30.0, "saved_frames": 0}}
        clock = FakeClock(1000.0)
        unseen = None if draw else _Unseen(clock)
        parts = build_session(build_config(data, "simulated course"), data_dir, clock=clock,
                              realtime=False, protocol=protocol, window=unseen,
                              renderer=unseen, ratings={"pre": pre, "post": post})
        try:
            SessionRunner(parts).run()  # writes summary.json
        finally:
            parts.window.close()
        return parts.session_dir

    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("out/simulated-course"))
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=40.0, help="per session, s")
    parser.add_argument("--no-realtime-tests", action="store_true",
                        help="skip the Motion Test and TAC test blocks (faster)")
    parser.add_argument("--draw", action="store_true",
                        help="render the sessions' frames offscreen (slower; same data)")
    parser.add_argument("--screenshot", type=Path, help="PNG of the report in headless Chromium")
    args = parser.parse_args(argv)

    from mirrorvr.catalog import Catalog
    from mirrorvr.cli.data import progress_printer
    from mirrorvr.outcomes.course import PainTrajectory, simulate_course
    from mirrorvr.outcomes.report import write_report

    pseudonym = f"sub-sim{args.seed:02d}"
    catalog = Catalog.open(args.data_dir)
    started = time.perf_counter()
    simulate_course(
        catalog, pseudonym, PainTrajectory(args.sessions, seed=args.seed),
        demo_session_runner(args.data_dir, pseudonym, duration_s=args.duration, seed=args.seed,
                            realtime_tests=() if args.no_realtime_tests else ("motion", "tac"),
                            draw=args.draw),
        progress=progress_printer("course"))
    course_s = time.perf_counter() - started
    started = time.perf_counter()
    report = write_report(catalog, pseudonym, args.data_dir / pseudonym / "report.html",
                          progress=progress_printer("report"))
    report_s = time.perf_counter() - started
    print(f"{args.sessions} sessions in {course_s:.0f} s; report {report} in {report_s:.1f} s")
    if args.screenshot:
        screenshot(report, args.screenshot)
        print(f"screenshot {args.screenshot}")
    return 0


def screenshot(page: Path, png: Path, width: int = 1200, height: int = 8000) -> None:
    """The whole page as headless Chromium renders it, blank space below cut off."""
    import numpy as np
    from PIL import Image

    png.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--screenshot={png.resolve()}",
                    f"--window-size={width},{height}", page.resolve().as_uri()],
                   check=True, capture_output=True, timeout=180)
    image = Image.open(png).convert("RGB")
    pixels = np.asarray(image)
    drawn = np.flatnonzero((pixels < 250).any(axis=(1, 2)))
    bottom = min(pixels.shape[0], int(drawn[-1]) + 24) if drawn.size else pixels.shape[0]
    image.crop((0, 0, width, bottom)).save(png, optimize=True)


if __name__ == "__main__":
    sys.exit(main())
