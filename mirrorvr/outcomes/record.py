"""Instrument results in the session recording: an ``outcomes`` string stream (one JSON
object per administered instrument) and a marker, so the XDF holds every outcome and
:func:`mirrorvr.catalog.importer.import_session_folder` can rebuild the catalogue's
outcomes from a recording alone."""

from __future__ import annotations

import json

from mirrorvr.outcomes.form import InstrumentResult
from mirrorvr.record.reader import OUTCOME_STREAM


def open_outcome_stream(recorder):
    """Register the ``outcomes`` stream with a :class:`~mirrorvr.record.recorder.Recorder`."""
    return recorder.add_stream(OUTCOME_STREAM, "Outcomes", ["result"], 0.0, "string")


def record_result(recorder, handle, result: InstrumentResult, timepoint: str) -> None:
    """Record one instrument's answers and scores at ``result.t_s`` (never blocks)."""
    entry = {**result.to_dict(), "timepoint": timepoint}
    recorder.push(handle, [result.t_s], [[json.dumps(entry)]])
    shown = " ".join(f"{k}={v:g}" for k, v in result.scores.items() if v is not None)
    recorder.marker(result.t_s, f"outcome {result.instrument} {timepoint} {shown}".rstrip())
