"""The research-data packages import none of their heavy libraries until used."""

import subprocess
import sys

MODULES = ["mirrorvr.catalog", "mirrorvr.catalog.importer", "mirrorvr.outcomes",
           "mirrorvr.outcomes.course", "mirrorvr.outcomes.report", "mirrorvr.export.bids",
           "mirrorvr.export.csv_tables", "mirrorvr.record.lsl", "mirrorvr.record.recorder",
           "mirrorvr.cli.data"]
HEAVY = ["matplotlib", "mne", "mne_bids", "pylsl", "pyxdf", "pygame", "OpenGL", "alembic"]


def test_data_modules_import_no_heavy_library():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in MODULES)
            + f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
