"""Where an export or a report is written: its folder made, or a clear error naming it.

A path that is a file where a folder is wanted (or a folder where a file is wanted), or
that cannot be created, raises :class:`~mirrorvr.errors.ExportError` naming it before
anything is written.
"""

from __future__ import annotations

from pathlib import Path

from mirrorvr.errors import ExportError


def output_dir(path: str | Path, what: str) -> Path:
    """The folder ``path`` for ``what`` (e.g. "export bids"), created with its parents."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ExportError(f"{what}: output folder {str(path)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"{what}: output folder {str(path)!r} cannot be created: "
                          f"{err.strerror or err}") from err
    return path


def check_output_file(path: str | Path, what: str) -> Path:
    """Refuse ``path`` as ``what``'s output file if it is a folder or lies under a file;
    creates nothing (so a report that then fails leaves no empty folder behind)."""
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{what}: output file {str(path)!r} is a folder (give a file name, "
                          "e.g. report.html)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ExportError(f"{what}: output file {str(path)!r} lies under "
                                  f"{str(parent)!r}, which is a file, not a folder")
            break
    return path


def output_file(path: str | Path, what: str) -> Path:
    """The file ``path`` for ``what`` (e.g. "report"), checked and its folder created."""
    path = check_output_file(path, what)
    output_dir(path.parent, what)
    return path
