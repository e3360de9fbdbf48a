"""``mirrorvr patients|sessions|course|export|report``: research data commands.

``mirrorvr patients [--json]`` and ``mirrorvr sessions [--patient P] [--json]`` list the
catalogue; ``mirrorvr course PATIENT [--protocol NAME --sessions N]`` plans a patient's
course (the place of each session in it decides which rating blocks run) and lists their
courses; ``mirrorvr export bids DATA_DIR OUT_DIR [--patient P]`` writes EMG-BIDS,
``mirrorvr export csv DATA_DIR OUT_DIR [--patient P]`` flat tables; ``mirrorvr report
PATIENT [--out FILE.html]`` one self-contained HTML report of a patient's course.

Every command first brings the catalogue up to date: sessions left running by a process
that ended are marked incomplete, and session folders not yet in it are imported (folders
made before the catalogue existed). The catalogue is SQLite in the data directory unless
``--catalog-url`` or ``$MIRRORVR_CATALOG_URL`` names another database.

Registered by :func:`mirrorvr.cli._parser` through :func:`add_commands`; each sub-command
sets ``handler`` (``args -> exit code``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from mirrorvr.cli.session import DEFAULT_DATA_DIR


def _data_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   default=Path(os.environ.get("MIRRORVR_DATA", DEFAULT_DATA_DIR)),
                   help="the data directory (default ./data or $MIRRORVR_DATA)")


def _catalog_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--catalog-url", metavar="URL",
                   help="SQLAlchemy URL of the catalogue (default $MIRRORVR_CATALOG_URL, else "
                   "SQLite in the data directory)")


def add_commands(subparsers) -> None:
    """Add ``patients``, ``sessions``, ``export`` and ``report`` to the top-level sub-parsers."""
    patients = subparsers.add_parser("patients", help="list the patients in the catalogue",
                                     description="List the patients (pseudonyms only).")
    _data_dir_option(patients)
    _catalog_option(patients)
    patients.add_argument("--json", action="store_true", help="print JSON instead of a table")
    patients.set_defaults(handler=run_patients)

    sessions = subparsers.add_parser("sessions", help="list the sessions in the catalogue",
                                     description="List sessions: who was seen when, with "
                                     "which profile version and protocol, and how it ended.")
    _data_dir_option(sessions)
    _catalog_option(sessions)
    sessions.add_argument("--patient", metavar="P", help="only this pseudonym")
    sessions.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sessions.set_defaults(handler=run_sessions)

    course = subparsers.add_parser(
        "course", help="plan a patient's course of sessions, or list their courses",
        description="Plan (or re-plan) a course of N sessions of a protocol for a patient; "
        "each session of that protocol then takes the next place in it, and rating blocks "
        "with 'sessions = [1, \"last\"]' run at those places. Without --protocol, list the "
        "patient's courses.")
    course.add_argument("patient", metavar="PATIENT", help="pseudonym")
    course.add_argument("--protocol", metavar="NAME_OR_FILE",
                        help="the course's protocol (built in, or a protocol file)")
    course.add_argument("--sessions", type=int, metavar="N", help="sessions planned")
    course.add_argument("--name", help="the course's name (default <protocol>-<N>)")
    _data_dir_option(course)
    _catalog_option(course)
    course.set_defaults(handler=run_course)

    export = subparsers.add_parser("export", help="export sessions (EMG-BIDS, CSV)",
                                   description="Export a data directory's sessions.")
    export_sub = export.add_subparsers(dest="export_format", metavar="FORMAT")
    export.set_defaults(handler=lambda args: (export.print_help(), 2)[1])
    for name, text in (("bids", "EMG-BIDS 1.11: EDF, sidecars, events, participants"),
                       ("csv", "flat tables for REDCap-style import: sessions, outcome items "
                               "and scores")):
        p = export_sub.add_parser(name, help=text, description=text)
        p.add_argument("data_dir", type=Path, metavar="DATA_DIR")
        p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
        p.add_argument("--patient", metavar="P", help="only this pseudonym")
        _catalog_option(p)
        p.set_defaults(handler=run_export)

    report = subparsers.add_parser(
        "report", help="one self-contained HTML report of a patient's course",
        description="Pain outcomes per session with the IMMPACT 30 %% / 50 %% change bands, "
        "decoder accuracy and confusion, Motion and TAC tests, stimulation dose, adherence, "
        "latency and asynchrony; plots embedded, opens offline.")
    report.add_argument("patient", metavar="PATIENT", help="pseudonym")
    _data_dir_option(report)
    _catalog_option(report)
    report.add_argument("--out", type=Path, metavar="FILE.html",
                        help="where to write it (default <data dir>/<patient>/report.html)")
    report.set_defaults(handler=run_report)


def progress_printer(what: str):
    """A progress callback ``(done, total, label)`` that prints one line per step to stderr."""
    def show(done: int, total: int, label: str) -> None:
        sys.stderr.write(f"{what} [{done}/{total}] {label}\n")
        sys.stderr.flush()
    return show


def open_catalog(data_dir: Path, url: str | None):
    """The data directory's catalogue, recovered and with new session folders imported."""
    from mirrorvr.catalog import Catalog
    from mirrorvr.catalog.importer import import_data_dir
    from mirrorvr.errors import CatalogError

    if Path(data_dir).exists() and not Path(data_dir).is_dir():
        raise CatalogError(f"data directory {str(data_dir)!r} is a file, not a folder")
    if not Path(data_dir).is_dir():
        raise CatalogError(f"data directory {str(data_dir)!r} does not exist")
    if not logging.getLogger("mirrorvr").isEnabledFor(logging.DEBUG):
        for noisy in ("alembic", "pyxdf"):  # their INFO lines would hide the progress
            logging.getLogger(noisy).setLevel(logging.WARNING)
    catalog = Catalog.open(data_dir, url)
    catalog.recover()
    import_data_dir(catalog, progress=progress_printer("importing"))
    return catalog


def _table(header: list[str], rows: list[list]) -> str:
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in cells)) if cells else len(h)
              for k, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def run_patients(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr patients``."""
    with open_catalog(args.data_dir, args.catalog_url) as catalog:
        patients = catalog.patients()
    if args.json:
        sys.stdout.write(json.dumps([{
            "pseudonym": p.pseudonym, "sessions": p.n_sessions, "complete": p.n_complete,
            "last_session_at": None if p.last_session_at is None
            else p.last_session_at.isoformat(),
            "profile_versions": p.profile_versions} for p in patients], indent=2) + "\n")
        return 0
    sys.stdout.write(_table(
        ["patient", "sessions", "complete", "profile versions", "last session (UTC)"],
        [[p.pseudonym, p.n_sessions, p.n_complete, p.profile_versions,
          None if p.last_session_at is None
          else p.last_session_at.strftime("%Y-%m-%d %H:%M")] for p in patients]) + "\n")
    return 0


def run_sessions(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr sessions``."""
    from mirrorvr.errors import CatalogError

    with open_catalog(args.data_dir, args.catalog_url) as catalog:
        if args.patient is not None:
            known = [p.pseudonym for p in catalog.patients()]
            if args.patient not in known:
                shown = ", ".join(known[:20]) + (f", ... ({len(known)} in all)"
                                                 if len(known) > 20 else "")
                raise CatalogError(f"patient {args.patient!r} is not in the catalogue of "
                                   f"{str(args.data_dir)!r} (patients: {shown or 'none'})")
        sessions = catalog.sessions(args.patient)
    if args.json:
        sys.stdout.write(json.dumps([s.to_dict() for s in sessions], indent=2) + "\n")
        return 0
    rows = []
    for s in sessions:
        rows.append([s.id, s.pseudonym, s.started_at.strftime("%Y-%m-%d %H:%M"), s.protocol,
                     s.profile_version, s.place, s.status, s.folder.name])
    sys.stdout.write(_table(["id", "patient", "started (UTC)", "protocol", "profile",
                             "course", "status", "folder"], rows) + "\n")
    return 0


def run_course(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr course``."""
    from mirrorvr.errors import ConfigError
    from mirrorvr.session.protocol import load_protocol

    plan = args.protocol is not None or args.sessions is not None
    if plan and (args.protocol is None or args.sessions is None):
        raise ConfigError("mirrorvr course: --protocol and --sessions plan a course together "
                          f"(given --protocol {args.protocol!r}, --sessions {args.sessions!r})")
    if plan:
        protocol = load_protocol(args.protocol).name
        Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    with open_catalog(args.data_dir, args.catalog_url) as catalog:
        if plan:
            catalog.register_patient(args.patient)
            name = args.name or f"{protocol}-{args.sessions}"
            catalog.plan_course(args.patient, name, protocol, args.sessions)
            sys.stdout.write(f"planned course {name} of {args.patient}: {args.sessions} "
                             f"sessions of {protocol}\n")
        courses = catalog.courses(args.patient)
        sessions = catalog.sessions(args.patient)
        rows = []
        for name, protocol, planned in courses:
            done = sum(1 for s in sessions if s.course == name and s.status == "complete")
            place = catalog.course_place(args.patient, protocol)
            rows.append([name, protocol, planned, done,
                         place.position if place.course == name else "-"])
    sys.stdout.write(_table(["course", "protocol", "planned", "complete", "next session"],
                            rows) + "\n")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr export bids|csv``."""
    import time

    started = time.perf_counter()
    with open_catalog(args.data_dir, args.catalog_url) as catalog:
        if args.export_format == "bids":
            from mirrorvr.export.bids import export_bids

            result = export_bids(catalog, args.out_dir, pseudonym=args.patient,
                                 progress=progress_printer("export bids"))
            elapsed = time.perf_counter() - started
            sys.stdout.write(
                f"EMG-BIDS dataset in {args.out_dir}: {len(result.sessions)} sessions, "
                f"{result.emg_minutes:.1f} min of EMG, {elapsed:.1f} s\n")
            for sid, reason in result.skipped.items():
                sys.stdout.write(f"  skipped session {sid}: {reason}\n")
        else:
            from mirrorvr.export.csv_tables import export_csv

            result = export_csv(catalog, args.out_dir, pseudonym=args.patient,
                                progress=progress_printer("export csv"))
            sys.stdout.write(
                f"{result.sessions} ({result.n_sessions} sessions), {result.items} "
                f"({result.n_items} items), {result.scores} ({result.n_scores} scores)\n")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr report``."""
    from mirrorvr.outcomes.report import write_report

    out = args.out or args.data_dir / args.patient / "report.html"
    with open_catalog(args.data_dir, args.catalog_url) as catalog:
        path = write_report(catalog, args.patient, out, progress=progress_printer("report"))
    sys.stdout.write(f"report of {args.patient}: {path}\n")
    return 0
