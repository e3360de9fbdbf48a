"""What writing the catalogue costs the session's render thread: the catalogue journal
(``mirrorvr.catalog.journal.CatalogJournal``, which queues each write for its own thread)
beside its peer, the same writes made synchronously on the calling thread
(``Catalog.begin_block`` / ``add_outcome`` / ``end_block``), in the same run.

    .venv/bin/python benchmarks/bench_journal.py [--blocks 200] [--no-postgres]

Each engine (SQLite in a temporary folder; a throwaway PostgreSQL server on 127.0.0.1 when
its binaries are installed) gets ``--blocks`` block boundaries (begin, an outcome, end),
timed per call on the caller's thread; then the same again while another writer holds the
database's write lock for 0.2 s in the middle (as a second session or a listing would).
Prints per-call percentiles on the caller's thread and the ratio of the synchronous peer
to the journal, and how long the journal's thread took to write everything.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _result(t_s: float):
    from mirrorvr.outcomes import InstrumentForm, answer_form, load_instrument

    return answer_form(InstrumentForm(load_instrument("nrs")), {"pain": 4}, t_s)


def _hold_lock(url: str, data_dir: Path, hold_s: float, started: threading.Event) -> None:
    """Another writer: takes the write lock (a row lock on PostgreSQL) and keeps it."""
    from sqlalchemy import text

    from mirrorvr.catalog import Catalog

    catalog = Catalog.open(data_dir, url)
    with catalog.engine.connect() as conn:
        if url.startswith("sqlite"):  # the catalogue's engine begins with BEGIN IMMEDIATE
            conn.exec_driver_sql("SELECT 1")
        else:
            conn.execute(text("LOCK TABLE blocks IN EXCLUSIVE MODE"))
        started.set()
        time.sleep(hold_s)
        conn.rollback()
    catalog.close()


def _run(url: str, data_dir: Path, n: int, journal: bool, contended: bool):
    """Per-call caller-thread times (s) of n block boundaries, and the time to written."""
    from mirrorvr.catalog import Catalog
    from mirrorvr.catalog.journal import CatalogJournal

    folder = data_dir / "sub-bench" / f"{'journal' if journal else 'sync'}-{contended}"
    folder.mkdir(parents=True)
    if journal:
        writer = CatalogJournal.open(data_dir, "sub-bench", {"v": 1}, "bench", url)
        writer.session_started(folder, "bench", 0.0)
        writer.flush(60.0)
    else:
        catalog = Catalog.open(data_dir, url)
        catalog.register_patient("sub-bench")
        sid = catalog.begin_session("sub-bench", folder, "bench")
    result = _result(0.0)
    times, blocker = [], None
    started = time.perf_counter()
    for k in range(n):
        if contended and k == n // 2:
            held = threading.Event()
            blocker = threading.Thread(target=_hold_lock, args=(url, data_dir, 0.2, held))
            blocker.start()
            held.wait(30.0)
        t0 = time.perf_counter()
        if journal:
            writer.block_started(k, f"b{k}", "rating", float(k))
            writer.outcome(result, "pre")
            writer.block_finished(k, k + 0.5, {"k": k}, True)
        else:
            catalog.begin_block(sid, k, f"b{k}", "rating", float(k))
            catalog.add_outcome(sid, "nrs", result.answers, result.scores, result.t_s,
                                timepoint="pre")
            catalog.end_block(sid, k, k + 0.5, results={"k": k})
        times.append(time.perf_counter() - t0)
    if journal:
        writer.flush(120.0)
    written_s = time.perf_counter() - started
    if blocker is not None:
        blocker.join()
    if journal:
        writer.session_ended("completed", True, {})
    else:
        catalog.end_session(sid, "complete", {})
        catalog.close()
    return np.array(times), written_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    engines = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-journal-"))
    engines.append(("SQLite", f"sqlite:///{tmp / 'sqlite' / 'catalog.sqlite'}",
                    tmp / "sqlite"))
    server = None
    if not args.no_postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from postgres_server import PostgresServer, find_binaries

        binaries = find_binaries()
        if binaries is not None:
            server = PostgresServer(*binaries)
            engines.append(("PostgreSQL", server.new_database(), tmp / "pg"))
    try:
        rows = []
        for engine, url, data_dir in engines:
            data_dir.mkdir(parents=True, exist_ok=True)
            for contended in (False, True):
                sync, sync_s = _run(url, data_dir, args.blocks, False, contended)
                journal, journal_s = _run(url, data_dir, args.blocks, True, contended)
                for name, t, total in (("synchronous (peer)", sync, sync_s),
                                       ("journal (queued)", journal, journal_s)):
                    rows.append((engine, "yes" if contended else "no", name,
                                 1e6 * np.median(t), 1e6 * np.percentile(t, 99),
                                 1e3 * t.max(), total,
                                 np.percentile(sync, 99) / np.percentile(t, 99)))
    finally:
        if server is not None:
            server.stop()
    import os

    print(f"catalogue writes of {args.blocks} block boundaries (begin + outcome + end), time "
          f"on the calling (render) thread; load average {os.getloadavg()[0]:.1f}")
    print("| engine | lock held 0.2 s | path | p50 µs | p99 µs | max ms | all written s | "
          "peer p99 / p99 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.0f} | {r[4]:.0f} | {r[5]:.1f} | "
              f"{r[6]:.2f} | {r[7]:.0f}x |")


if __name__ == "__main__":
    main()
