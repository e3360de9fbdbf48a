"""Research-data throughput on a catalogued data directory: EMG-BIDS export, CSV export and
the patient report, each beside the peer every tool pays first, reading the same recordings
with pyxdf (the reference XDF reader), measured in the same run.

    .venv/bin/python benchmarks/bench_data.py DATA_DIR PATIENT [--repeats 3]

(``scripts/simulated_course.py`` makes such a directory.) Prints seconds per minute of
recorded session and the ratio to reading the recordings.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("patient")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import logging

    import pyxdf

    from mirrorvr.catalog import Catalog
    from mirrorvr.export.bids import export_bids
    from mirrorvr.export.csv_tables import export_csv
    from mirrorvr.outcomes.report import build_report

    logging.getLogger("pyxdf").setLevel(logging.WARNING)
    catalog = Catalog.open(args.data_dir)
    sessions = catalog.sessions(args.patient)
    recordings = [s.folder / "recording.xdf" for s in sessions]
    minutes = sum((s.summary or {}).get("duration_s", 0.0) for s in sessions) / 60.0
    with tempfile.TemporaryDirectory() as tmp:
        steps = {
            "read recordings (pyxdf, peer)": lambda: [pyxdf.load_xdf(str(p)) for p in recordings],
            "export bids (EDF + sidecars + events)": lambda: export_bids(
                catalog, Path(tmp) / "bids", pseudonym=args.patient),
            "export csv": lambda: export_csv(catalog, Path(tmp) / "csv", pseudonym=args.patient),
            "report (HTML, 7+ plots)": lambda: build_report(catalog, args.patient),
        }
        build_report(catalog, args.patient)  # warm-up: matplotlib, mne imports
        export_bids(catalog, Path(tmp) / "warm", pseudonym=args.patient)
        results = {name: _best(fn, args.repeats) for name, fn in steps.items()}
    peer = results["read recordings (pyxdf, peer)"]
    print(f"{len(sessions)} sessions of {args.patient}, {minutes:.1f} session-minutes, "
          f"best of {args.repeats}")
    print("| step | s | s per session-minute | × reading |")
    print("|---|---|---|---|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.2f} | {seconds / minutes:.2f} | {seconds / peer:.1f}× |")


if __name__ == "__main__":
    main()
