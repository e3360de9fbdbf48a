"""Exports of a simulated course: EMG-BIDS validated by bids-validator-deno with 0 errors
(EDF read back by mne), CSV tables, and no identifying data anywhere in them."""

import csv
import json
import shutil
import subprocess

import numpy as np
import pytest

from mirrorvr.catalog import Catalog
from mirrorvr.cli import main
from mirrorvr.record.reader import read_recording, stimulation_trains

from profiles import patient_profile

pytestmark = pytest.mark.slow


def _validator():
    exe = shutil.which("bids-validator-deno")
    if exe is None:
        import sys
        from pathlib import Path

        candidate = Path(sys.executable).parent / "bids-validator-deno"
        exe = str(candidate) if candidate.exists() else None
    if exe is None:
        pytest.skip("bids-validator-deno is not installed (pip install bids-validator-deno)")
    return exe


@pytest.fixture(scope="module")
def bids(simulated_course, tmp_path_factory):
    data_dir, ids = simulated_course
    out = tmp_path_factory.mktemp("bids")
    assert main(["export", "bids", str(data_dir), str(out), "--patient", "sub-sim07"]) == 0
    return data_dir, ids, out


def test_the_bids_export_validates_with_no_errors(bids):
    _, ids, out = bids
    run = subprocess.run([_validator(), str(out), "--format", "json"], capture_output=True,
                         text=True, timeout=600)
    report = json.loads(run.stdout)
    errors = [i for i in report["issues"]["issues"] if i["severity"] == "error"]
    assert errors == []
    assert report["summary"]["subjects"] == ["sim07"]
    assert len(report["summary"]["sessions"]) == len(ids)
    assert "emg" in report["summary"]["modalities"]


def test_the_bids_files_hold_what_the_recording_holds(bids):
    import mne

    data_dir, ids, out = bids
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["BIDSVersion"] == "1.11.0"
    emg_dir = out / "sub-sim07" / "ses-01" / "emg"
    stem = "sub-sim07_ses-01_task-course"
    sidecar = json.loads((emg_dir / f"{stem}_emg.json").read_text())
    assert sidecar["PowerLineFrequency"] == 50.0 and sidecar["TaskName"] == "course"
    assert sidecar["EMGPlacementScheme"] == "Other" and "ring" in sidecar[
        "EMGPlacementSchemeDescription"]
    assert sidecar["SoftwareFilters"] == "n/a" and sidecar["SamplingFrequency"] == 2000.0
    with Catalog.open(data_dir) as catalog:
        session = catalog.sessions("sub-sim07")[0]
    rec = read_recording(session.folder / "recording.xdf")
    raw = mne.io.read_raw_edf(emg_dir / f"{stem}_emg.edf", preload=True, verbose=False)
    assert raw.ch_names == rec.channel_names and raw.info["sfreq"] == 2000.0
    n = rec.emg_v.shape[1]
    # EDF stores 16-bit integers over the signal's range: equal to within one step, give or
    # take the rounding of that range to the header's 8 characters (stimulation artefacts of
    # +-20 mV: "-20231.2" uV rounds the gain by up to ~3 % of a step)
    step = (rec.emg_v.max(axis=1) - rec.emg_v.min(axis=1)) / 65535
    assert np.all(np.abs(raw.get_data()[:, :n] - rec.emg_v) <= step[:, None] * 1.05 + 1e-12)
    with (emg_dir / f"{stem}_channels.tsv").open() as f:
        channels = list(csv.DictReader(f, delimiter="\t"))
    assert [c["name"] for c in channels] == rec.channel_names
    assert {c["type"] for c in channels} == {"EMG"} and {c["units"] for c in channels} == {"µV"}
    with (emg_dir / f"{stem}_events.tsv").open() as f:
        events = list(csv.DictReader(f, delimiter="\t"))
    kinds = {e["trial_type"] for e in events}
    assert {"block", "cue", "movement", "rating", "stimulation"} <= kinds
    ratings = [e["value"] for e in events if e["trial_type"] == "rating"]
    assert any(v.startswith("nrs pre intensity=") for v in ratings)
    trains = stimulation_trains(rec.stimulation)
    stim = [e for e in events if e["trial_type"] == "stimulation"]
    assert len(stim) == len(trains) > 0
    t0 = rec.emg_t_s[0]
    assert float(stim[0]["onset"]) == pytest.approx(trains[0]["start_s"] - t0, abs=1e-6)


def test_participants_carry_pseudonyms_only(bids):
    _, _, out = bids
    with (out / "participants.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["participant_id"] for r in rows] == ["sub-sim07"]
    assert set(rows[0]) == {"participant_id", "amputated_side", "amputation_level"}
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".tsv", ".json", ".edf", ""):
            data = path.read_bytes()
            assert b"Mustermann" not in data and b"1961-02-03" not in data, path


def test_csv_tables_one_row_per_session_item_and_score(simulated_course, tmp_path):
    data_dir, ids = simulated_course
    assert main(["export", "csv", str(data_dir), str(tmp_path)]) == 0
    with (tmp_path / "sessions.csv").open() as f:
        sessions = list(csv.DictReader(f))
    assert [int(r["session_id"]) for r in sessions] == ids
    assert [r["course_position"] for r in sessions] == ["1", "2", "3"]
    assert all(r["record_id"] == "sub-sim07" and r["planned_sessions"] == "4" for r in sessions)
    assert all(0.5 < float(r["decoder_cv_accuracy"]) <= 1 for r in sessions)
    with Catalog.open(data_dir) as catalog:
        outcomes = catalog.outcomes(pseudonym="sub-sim07")
        first = catalog.session(ids[0]).summary
    assert float(sessions[0]["nrs_intensity_pre"]) == first["ratings"]["pre"]
    with (tmp_path / "outcome_items.csv").open() as f:
        items = list(csv.DictReader(f))
    assert len(items) == sum(len(o.answers) for o in outcomes)
    sf = [r for r in items if r["instrument"] == "sf_mpq_2" and r["session_number"] == "1"]
    assert len(sf) == 22
    with (tmp_path / "outcome_scores.csv").open() as f:
        scores = list(csv.DictReader(f))
    assert len(scores) == sum(len(o.scores) for o in outcomes)
    for path in tmp_path.iterdir():
        assert "Mustermann" not in path.read_text()


def test_sessions_without_emg_are_skipped_and_unknown_patients_refused(tmp_path):
    from mirrorvr.catalog.importer import import_session_folder
    from mirrorvr.clock import FakeClock
    from mirrorvr.config import config_to_toml_dict, default_config
    from mirrorvr.errors import ExportError
    from mirrorvr.export.bids import export_bids
    from mirrorvr.record.recorder import Recorder

    folder = tmp_path / "sub-demo01" / "20260101T090000-demo"
    folder.mkdir(parents=True)
    config = config_to_toml_dict(default_config())
    config["patient"] = patient_profile(pseudonym="sub-demo01").model_dump(mode="json")
    (folder / "config.json").write_text(json.dumps(config))
    with Recorder(folder, FakeClock(0.0)) as rec:
        rec.marker(0.0, "session_start")
    with Catalog.open(tmp_path) as catalog:
        sid = import_session_folder(catalog, folder)
        with pytest.raises(ExportError, match=rf"no session with EMG.*{sid}.*holds no EMG"):
            export_bids(catalog, tmp_path / "bids")
        with pytest.raises(ExportError, match="'sub-99' has no sessions"):
            export_bids(catalog, tmp_path / "bids", pseudonym="sub-99")
