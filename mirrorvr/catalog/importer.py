"""Bring existing session folders into the catalogue (folders made before it existed, or
copied from another site), from their ``config.json``, ``summary.json`` and
``recording.xdf``: patient, profile version, protocol, start time, blocks (from the
``block_start``/``block_end`` markers), outcomes (the ``outcomes`` stream, or the NRS
``ratings`` of older recordings) and files. Importing a folder twice changes nothing.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

from mirrorvr.catalog.catalog import Catalog
from mirrorvr.errors import CatalogError, RecordingError
from mirrorvr.record.reader import blocks, read_recording

logger = logging.getLogger(__name__)


def session_folders(data_dir: str | Path) -> list[Path]:
    """Every session folder under ``data_dir`` (``<pseudonym>/<stamp>-<kind>`` holding a
    ``config.json``), oldest first."""
    data_dir = Path(data_dir)
    return sorted((p.parent for p in data_dir.glob("*/*/config.json")),
                  key=lambda p: (p.name, p.parent.name))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as err:
        raise CatalogError(f"{str(path)!r} is not valid JSON: {err}") from None


def _stamp_time(folder: Path) -> _dt.datetime | None:
    try:
        local = _dt.datetime.strptime(folder.name.split("-")[0], "%Y%m%dT%H%M%S")
    except ValueError:
        return None
    return local.astimezone(_dt.timezone.utc)


def _read_events(path: Path) -> tuple[dict, list, list, list]:
    """Header fields, markers, instrument results and NRS ratings; empty without a
    readable recording (the rest of the folder is still imported)."""
    if not path.is_file():
        return {}, [], [], []
    try:
        rec = read_recording(path, emg=False)
    except RecordingError as err:
        logger.warning("%s", err)
        return {}, [], [], []
    return rec.header, rec.markers, rec.outcome_results, rec.ratings


def session_kind(folder: Path) -> str:
    """The protocol kind of ``<stamp>-<kind>[-<n>]`` (``-<n>`` tells apart folders made in
    the same second)."""
    name = folder.name.split("-", 1)[1] if "-" in folder.name else "unknown"
    return re.sub(r"-\d+$", "", name) or "unknown"


def block_kind(name: str) -> str:
    """A block's kind from its name (``rating_pre`` -> ``rating``)."""
    return "rating" if name.startswith("rating") else name


def _legacy_nrs(markers, ratings) -> list[dict]:
    """NRS ratings of recordings made before instruments: the ``rating <name> nrs=<v>``
    markers name each value of the ``ratings`` stream."""
    names = {round(t, 6): text.split()[1] for t, text in markers
             if text.startswith("rating ") and len(text.split()) >= 3}
    out = []
    for t, value in ratings:
        out.append({"instrument": "nrs", "version": "1", "answers": {"pain": int(value)},
                    "scores": {"intensity": float(value)}, "t_s": t,
                    "timepoint": names.get(round(t, 6), ""), "text_source": "public"})
    return out


def import_session_folder(catalog: Catalog, folder: str | Path, *, course: str | None = None,
                          course_position: int | None = None) -> int:
    """Put one session folder into the catalogue (idempotent); returns its session id.

    Raises
    ------
    CatalogError
        If the folder has no ``config.json`` or it names no pseudonym.
    """
    folder = Path(folder).resolve()
    existing = catalog.session_by_folder(folder)
    if existing is not None:
        return existing
    config = _read_json(folder / "config.json")
    if config is None:
        raise CatalogError(f"{str(folder)!r} is not a session folder (no config.json)")
    try:
        pseudonym = config["patient"]["pseudonym"]
    except (KeyError, TypeError):
        raise CatalogError(f"{str(folder / 'config.json')!r} names no patient.pseudonym") from None
    summary = _read_json(folder / "summary.json")
    fields, markers, results, ratings = _read_events(folder / "recording.xdf")
    started = None
    if "datetime" in fields:
        try:
            started = _dt.datetime.fromisoformat(fields["datetime"])
        except ValueError:
            started = None
    started = started or _stamp_time(folder) or _dt.datetime.now(_dt.timezone.utc)
    protocol = session_kind(folder)

    catalog.register_patient(pseudonym)
    version = catalog.record_profile_version(pseudonym, config["patient"])
    session_id = catalog.begin_session(pseudonym, folder, protocol, profile_version=version,
                                       course=course, course_position=course_position,
                                       started_at=started)
    for position, (name, start_s, end_s) in enumerate(blocks(markers)):
        catalog.begin_block(session_id, position, name, block_kind(name), start_s)
        if end_s is not None:
            catalog.end_block(session_id, position, end_s)
    for result in results or _legacy_nrs(markers, ratings):
        catalog.add_outcome(session_id, result["instrument"], result["answers"],
                            result["scores"], result["t_s"],
                            timepoint=result.get("timepoint", ""),
                            instrument_version=result.get("version", ""))
    if summary is not None:
        duration = summary.get("duration_s")
        ended = None if duration is None else started + _dt.timedelta(seconds=float(duration))
        catalog.end_session(session_id, "complete", summary, note="imported", ended_at=ended)
    else:
        catalog.end_session(session_id, "incomplete",
                            note="imported: no summary.json (the session did not finish)")
    return session_id


def import_data_dir(catalog: Catalog, data_dir: str | Path | None = None,
                    progress: Callable[[int, int, Path], None] | None = None) -> list[int]:
    """Import every session folder of the data directory not yet in the catalogue."""
    folders = [f for f in session_folders(data_dir or catalog.data_dir)
               if catalog.session_by_folder(f) is None]
    ids = []
    for k, folder in enumerate(folders):
        if progress is not None:
            progress(k, len(folders), folder)
        ids.append(import_session_folder(catalog, folder))
    return ids
