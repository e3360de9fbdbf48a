"""Importing session folders into the catalogue: from a recording made as a session makes
it (outcomes stream, markers, ratings), idempotently; older NRS-only recordings too."""

import json

import pytest

from mirrorvr.catalog import Catalog
from mirrorvr.catalog.importer import import_data_dir, import_session_folder, session_kind
from mirrorvr.clock import FakeClock
from mirrorvr.config import config_to_toml_dict, default_config
from mirrorvr.errors import CatalogError
from mirrorvr.outcomes import InstrumentForm, answer_form, load_instrument
from mirrorvr.outcomes.record import open_outcome_stream, record_result
from mirrorvr.record.recorder import Recorder

from profiles import patient_profile

pytest.importorskip("pyxdf")


def _folder(data_dir, name, *, outcomes=True, summary=True):
    folder = data_dir / "sub-07" / name
    folder.mkdir(parents=True)
    config = config_to_toml_dict(default_config())
    config["patient"] = patient_profile(pseudonym="sub-07").model_dump(mode="json")
    (folder / "config.json").write_text(json.dumps(config))
    clock = FakeClock(50.0)
    with Recorder(folder, clock) as rec:
        ratings = rec.add_stream("ratings", "NRS", ["nrs"], 0.0, "float32")
        handle = open_outcome_stream(rec) if outcomes else None
        rec.marker(50.0, "block_start rating_pre")
        rec.push(ratings, [51.0], [[6.0]])
        rec.marker(51.0, "rating pre nrs=6")
        if outcomes:
            result = answer_form(InstrumentForm(load_instrument("vas")), {"pain": 64}, 51.5)
            record_result(rec, handle, result, "pre")
        rec.marker(52.0, "block_end rating_pre")
        rec.marker(52.0, "block_start phantom")
    if summary:
        (folder / "summary.json").write_text(json.dumps({"duration_s": 12.0}))
    return folder


def test_a_folder_is_imported_once_with_its_blocks_outcomes_and_files(tmp_path):
    folder = _folder(tmp_path, "20260102T100000-demo")
    with Catalog.open(tmp_path) as catalog:
        sid = import_session_folder(catalog, folder)
        assert import_session_folder(catalog, folder) == sid
        assert import_data_dir(catalog) == []
        session = catalog.session(sid)
        assert (session.pseudonym, session.protocol, session.status) == ("sub-07", "demo",
                                                                          "complete")
        assert (session.ended_at - session.started_at).total_seconds() == pytest.approx(12.0)
        assert session.profile_version == 1
        assert catalog.profile("sub-07")["pseudonym"] == "sub-07"
        assert [(b.name, b.start_s, b.end_s) for b in catalog.blocks(sid)] == [
            ("rating_pre", 50.0, 52.0), ("phantom", 52.0, None)]
        [vas] = catalog.outcomes(session_id=sid)
        assert (vas.instrument, vas.timepoint, vas.answers, vas.scores, vas.t_s) == (
            "vas", "pre", {"pain": 64}, {"intensity_mm": 64.0}, 51.5)
        assert {f.relative for f in catalog.files(sid)} == {"config.json", "recording.xdf",
                                                            "summary.json"}


def test_older_recordings_give_their_nrs_ratings_and_unfinished_ones_stay_incomplete(tmp_path):
    _folder(tmp_path, "20260101T090000-demo", outcomes=False)
    _folder(tmp_path, "20260101T090000-demo-1", outcomes=False, summary=False)
    with Catalog.open(tmp_path) as catalog:
        first, second = import_data_dir(catalog)
        [nrs] = catalog.outcomes(session_id=first)
        assert (nrs.instrument, nrs.timepoint, nrs.scores) == ("nrs", "pre", {"intensity": 6.0})
        assert catalog.session(second).status == "incomplete"
        assert catalog.session(second).protocol == "demo"


def test_session_kind_and_bad_folders():
    from pathlib import Path

    assert session_kind(Path("20260101T090000-demo-12")) == "demo"
    assert session_kind(Path("20260101T090000-pme-home")) == "pme-home"


def test_a_folder_without_config_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    with Catalog.open(tmp_path) as catalog, pytest.raises(CatalogError, match="no config.json"):
        import_session_folder(catalog, tmp_path / "x")
