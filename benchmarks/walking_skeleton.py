"""The walking skeleton's numbers: decode cost per window and offscreen frames per second.

Each figure sits beside a naive peer measured in the same run, on the same machine:
- decode: mirrorvr's vectorised pipeline vs per-window/per-channel Python loops;
- render: GPU skinning vs CPU skinning with a VBO re-upload every frame (1280x720, offscreen).

Run: ``.venv/bin/python benchmarks/walking_skeleton.py [--seconds 3]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_decode import format_table as format_decode  # noqa: E402
from bench_decode import measure_decode  # noqa: E402
from bench_render import format_table as format_render  # noqa: E402
from bench_render import measure_render  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="render time per peer, s")
    parser.add_argument("--repeats", type=int, default=5, help="decode repeats per peer")
    args = parser.parse_args(argv)
    print(
        "## Decode cost per window (2 kHz, 200 ms windows / 50 ms, MAV WL ZC SSC + LDA + vote 5)"
    )  # noqa: T201
    print(format_decode(measure_decode(repeats=args.repeats)))  # noqa: T201
    print()  # noqa: T201
    print("## Offscreen rendering, 1280x720, full scene")  # noqa: T201
    print(format_render(measure_render(1280, 720, args.seconds)))  # noqa: T201


if __name__ == "__main__":
    main()
