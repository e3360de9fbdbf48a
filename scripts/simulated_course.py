"""Simulate a course of sessions with the session engine, catalogued live, and render the
patient's report.

    .venv/bin/python scripts/simulated_course.py [--data-dir DIR] [--sessions 6] [--seed 0]
        [--protocol pme-upper] [--duration 120] [--screenshot docs/report_course.png]

Each session is a rehearsal of the protocol (``mirrorvr.cli.build_session`` on the fake
clock), run to its end by the simulated patient, who answers the instruments its rating
blocks ask at that place of the course (``sessions = [1, "last"]`` ...) through their forms,
as a seeded pain trajectory says (:class:`mirrorvr.sim.rater.PainTrajectory`); each session
writes itself into the catalogue while it runs
(:func:`mirrorvr.outcomes.course.simulate_course` plans the course and checks each one).
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


def course_session_runner(data_dir: Path, pseudonym: str, trajectory, protocol, *,
                          duration_s: float, seed: int, size=(640, 360), draw: bool = False):
    """``session number -> session folder``: the next session of ``protocol`` (a name, a
    file or a :class:`~mirrorvr.session.protocol.Protocol`) as a rehearsal of ``duration_s``,
    the patient answering as ``trajectory`` says; ``draw`` renders its frames offscreen with
    OpenGL (slower; the data is the same)."""
    from mirrorvr.cli import build_session
    from mirrorvr.clock import FakeClock
    from mirrorvr.config import build_config
    from mirrorvr.session.runner import SessionRunner
    from mirrorvr.sim.demo import demo_patient

    def run(number: int) -> Path:
        patient = demo_patient().model_dump(mode="json", exclude_none=True)
        patient["pseudonym"] = pseudonym
        data = {"seed": seed * 100 + number, "patient": patient,
                "protocol": {"duration_s": duration_s},
                "render": {"width": size[0], "height": size[1], "headless": True,
                           "max_fps": 30.0, "saved_frames": 0}}
        clock = FakeClock(1000.0)
        unseen = None if draw else _Unseen(clock)
        parts = build_session(build_config(data, "simulated course"), data_dir, clock=clock,
                              realtime=False, protocol=protocol, window=unseen,
                              renderer=unseen, rater=trajectory)
        try:
            summary = SessionRunner(parts).run()  # writes summary.json and the catalogue
        finally:
            parts.window.close()
        if summary["ended"] != "completed":
            raise RuntimeError(f"session {number} ended: {summary['ended']}")
        return parts.session_dir

    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("out/simulated-course"))
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protocol", default="pme-upper",
                        help="an upper-limb protocol, built in or a file (default pme-upper)")
    parser.add_argument("--duration", type=float, default=120.0,
                        help="each session as a rehearsal of this length, s (default 120)")
    parser.add_argument("--draw", action="store_true",
                        help="render the sessions' frames offscreen (slower; same data)")
    parser.add_argument("--screenshot", type=Path, help="PNG of the report in headless Chromium")
    args = parser.parse_args(argv)

    from mirrorvr.catalog import Catalog
    from mirrorvr.cli.data import progress_printer
    from mirrorvr.outcomes.course import simulate_course
    from mirrorvr.outcomes.report import write_report
    from mirrorvr.session.protocol import load_protocol
    from mirrorvr.sim.rater import PainTrajectory

    pseudonym = f"sub-sim{args.seed:02d}"
    protocol = load_protocol(args.protocol)
    trajectory = PainTrajectory(args.sessions, seed=args.seed)
    started = time.perf_counter()
    with Catalog.open(args.data_dir) as catalog:
        simulate_course(
            catalog, pseudonym, args.sessions,
            course_session_runner(args.data_dir, pseudonym, trajectory, protocol,
                                  duration_s=args.duration, seed=args.seed, draw=args.draw),
            protocol=protocol.name, progress=progress_printer("course"))
        course_s = time.perf_counter() - started
        started = time.perf_counter()
        report = write_report(catalog, pseudonym, args.data_dir / pseudonym / "report.html",
                              progress=progress_printer("report"))
    report_s = time.perf_counter() - started
    print(f"{args.sessions} sessions of {protocol.name} in {course_s:.0f} s; report {report} "
          f"in {report_s:.1f} s")
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
