"""Flat CSV tables for REDCap-style import: ``sessions.csv`` (one row per session),
``outcome_items.csv`` (one row per instrument item answered) and ``outcome_scores.csv``
(one row per score). Every table starts with ``record_id`` (the pseudonym) so it imports
as repeating data of one record; nothing identifying is written.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mirrorvr.catalog import Catalog
from mirrorvr.errors import ExportError
from mirrorvr.export.metrics import SESSION_COLUMNS, session_row
from mirrorvr.export.output import output_dir
from mirrorvr.record.reader import read_recording

ITEM_COLUMNS = ("record_id", "session_id", "session_number", "instrument",
                "instrument_version", "timepoint", "t_s", "item", "answer")
SCORE_COLUMNS = ("record_id", "session_id", "session_number", "instrument",
                 "instrument_version", "timepoint", "t_s", "score", "value")


@dataclass(frozen=True)
class CsvExport:
    """Paths written and row counts."""

    sessions: Path
    items: Path
    scores: Path
    n_sessions: int
    n_items: int
    n_scores: int


def _write(path: Path, columns, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})


def export_csv(catalog: Catalog, out_dir: str | Path, *, pseudonym: str | None = None,
               progress: Callable[[int, int, str], None] | None = None) -> CsvExport:
    """Write the three tables for the catalogue's sessions (of one patient, or all)."""
    sessions = catalog.sessions(pseudonym)
    if pseudonym is not None and not sessions:
        raise ExportError(f"patient {pseudonym!r} has no sessions in the catalogue")
    out = output_dir(out_dir, "export csv")
    session_rows, item_rows, score_rows = [], [], []
    numbers: dict[str, int] = {}
    for k, s in enumerate(sessions):
        numbers[s.pseudonym] = number = numbers.get(s.pseudonym, 0) + 1
        if progress is not None:
            progress(k, len(sessions), f"{s.pseudonym} session {number}")
        outcomes = catalog.outcomes(session_id=s.id)
        path = s.folder / "recording.xdf"
        recording = read_recording(path, emg=False) if path.is_file() else None
        session_rows.append(session_row(s, number, outcomes, recording))
        for o in outcomes:
            base = {"record_id": s.pseudonym, "session_id": s.id, "session_number": number,
                    "instrument": o.instrument, "instrument_version": o.instrument_version,
                    "timepoint": o.timepoint, "t_s": round(o.t_s, 6)}
            item_rows += [{**base, "item": item, "answer": answer}
                          for item, answer in o.answers.items()]
            score_rows += [{**base, "score": score, "value": value}
                           for score, value in o.scores.items()]
    extra = sorted({key for row in session_rows for key in row} - set(SESSION_COLUMNS))
    paths = (out / "sessions.csv", out / "outcome_items.csv", out / "outcome_scores.csv")
    _write(paths[0], [*SESSION_COLUMNS, *extra], session_rows)
    _write(paths[1], ITEM_COLUMNS, item_rows)
    _write(paths[2], SCORE_COLUMNS, score_rows)
    if progress is not None:
        progress(len(sessions), len(sessions), "done")
    return CsvExport(*paths, len(session_rows), len(item_rows), len(score_rows))
