"""``mirrorvr patients`` and ``mirrorvr sessions``: tables and JSON from the catalogue, which
they bring up to date first (session folders imported, dead sessions marked incomplete)."""

import json

import pytest

from mirrorvr.catalog import Catalog
from mirrorvr.cli import main
from mirrorvr.clock import FakeClock
from mirrorvr.config import config_to_toml_dict, default_config
from mirrorvr.record.recorder import Recorder

from profiles import patient_profile

pytest.importorskip("pyxdf")


def _recorded_folder(data_dir, pseudonym, name):
    folder = data_dir / pseudonym / name
    folder.mkdir(parents=True)
    config = config_to_toml_dict(default_config())
    config["patient"] = patient_profile(pseudonym=pseudonym).model_dump(mode="json")
    (folder / "config.json").write_text(json.dumps(config))
    with Recorder(folder, FakeClock(10.0)) as rec:
        rec.marker(10.0, "block_start rating_pre")
    (folder / "summary.json").write_text(json.dumps({"duration_s": 30.0}))
    return folder


@pytest.fixture
def data_dir(tmp_path):
    _recorded_folder(tmp_path, "sub-01", "20260101T090000-demo")
    _recorded_folder(tmp_path, "sub-01", "20260108T090000-demo")
    _recorded_folder(tmp_path, "sub-02", "20260102T100000-demo")
    with Catalog.open(tmp_path) as catalog:  # and one left running by a process that died
        catalog.register_patient("sub-02", {"name": "Max Mustermann"})
        sid = catalog.begin_session("sub-02", tmp_path / "sub-02" / "x", "pme")
        from sqlalchemy import update

        from mirrorvr.catalog.models import SessionRow

        with catalog.engine.begin() as conn:
            conn.execute(update(SessionRow).where(SessionRow.id == sid).values(pid=2 ** 22 + 7))
    return tmp_path


def test_patients_as_json_and_as_a_table(data_dir, capsys):
    assert main(["patients", "--data-dir", str(data_dir), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["pseudonym"], p["sessions"], p["complete"]) for p in listed] == [
        ("sub-01", 2, 2), ("sub-02", 2, 1)]
    assert main(["patients", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["patient", "sessions", "complete"]
    assert "sub-02" in out and "Mustermann" not in out


def test_sessions_of_one_patient(data_dir, capsys):
    assert main(["sessions", "--data-dir", str(data_dir), "--patient", "sub-02",
                 "--json"]) == 0
    sessions = json.loads(capsys.readouterr().out)
    assert [(s["protocol"], s["status"]) for s in sessions] == [
        ("demo", "complete"), ("pme", "incomplete")]
    assert "ended without closing" in sessions[1]["note"]
    assert main(["sessions", "--data-dir", str(data_dir)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["id", "patient", "started", "(UTC)", "protocol", "profile",
                                "course", "status", "folder"]
    assert len(table) == 1 + 4


def test_a_missing_data_directory_is_an_error_naming_it(tmp_path, capsys):
    assert main(["sessions", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_report_of_an_unknown_patient_is_an_error(data_dir, capsys):
    assert main(["report", "sub-99", "--data-dir", str(data_dir)]) == 2
    assert "'sub-99' has no sessions" in capsys.readouterr().err


def test_the_listing_works_on_postgresql(data_dir, postgres_server, capsys):
    url = postgres_server.new_database()
    assert main(["patients", "--data-dir", str(data_dir), "--catalog-url", url, "--json"]) == 0
    assert [p["pseudonym"] for p in json.loads(capsys.readouterr().out)] == ["sub-01",
                                                                            "sub-02"]


def test_a_course_is_planned_and_listed(tmp_path, capsys):
    data_dir = tmp_path / "new"
    assert main(["course", "sub-07", "--protocol", "pme-upper", "--sessions", "12",
                 "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "planned course pme-upper-12 of sub-07: 12 sessions of pme-upper"
    assert out[1].split() == ["course", "protocol", "planned", "complete", "next", "session"]
    assert out[2].split() == ["pme-upper-12", "pme-upper", "12", "0", "1"]
    with Catalog.open(data_dir) as catalog:
        assert catalog.courses("sub-07") == [("pme-upper-12", "pme-upper", 12)]
        place = catalog.course_place("sub-07", "pme-upper")
        assert (place.course, place.position, place.planned) == ("pme-upper-12", 1, 12)
    # re-planned under its name; listed without planning
    assert main(["course", "sub-07", "--protocol", "pme-upper", "--sessions", "15", "--name",
                 "pme-upper-12", "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    assert main(["course", "sub-07", "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:3] == ["pme-upper-12", "pme-upper",
                                                                   "15"]


@pytest.mark.parametrize("args, message", [
    (["--sessions", "12"], "--protocol and --sessions plan a course together"),
    (["--protocol", "pme-upper", "--sessions", "0"], "planned_sessions 0"),
    (["--protocol", "pme-middle", "--sessions", "3"], "'pme-middle': neither a built-in"),
])
def test_a_wrong_course_is_refused_naming_what(tmp_path, capsys, args, message):
    assert main(["course", "sub-07", *args, "--data-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_sessions_of_an_unknown_patient_is_an_error_naming_the_patients(data_dir, capsys):
    # a typo in the pseudonym is not an empty listing
    assert main(["sessions", "--patient", "sub-99", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "patient 'sub-99' is not in the catalogue" in err and "sub-01, sub-02" in err


def test_a_data_directory_that_is_a_file_is_named(data_dir, capsys):
    afile = data_dir / "notes.txt"
    afile.write_text("")
    assert main(["patients", "--data-dir", str(afile)]) == 2
    assert f"data directory '{afile}' is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["notaurl", "nosuchengine://host/db"])
def test_a_catalogue_url_that_is_no_url_is_named(data_dir, capsys, url):
    assert main(["patients", "--data-dir", str(data_dir), "--catalog-url", url]) == 2
    err = capsys.readouterr().err
    assert f"catalogue '{url}' cannot be opened" in err and "SQLAlchemy URL" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("fmt", ["bids", "csv"])
def test_an_export_into_a_file_is_refused_naming_it(data_dir, tmp_path_factory, capsys, fmt):
    afile = tmp_path_factory.mktemp("out") / "taken"
    afile.write_text("keep me")
    assert main(["export", fmt, str(data_dir), str(afile)]) == 2
    assert f"export {fmt}: output folder '{afile}' is a file" in capsys.readouterr().err
    assert main(["export", fmt, str(data_dir), str(afile / "below")]) == 2
    assert f"output folder '{afile / 'below'}' cannot be created" in capsys.readouterr().err
    assert afile.read_text() == "keep me"


def test_a_report_into_a_folder_or_under_a_file_is_refused_naming_it(data_dir, tmp_path_factory,
                                                                      capsys):
    out = tmp_path_factory.mktemp("out")
    assert main(["report", "sub-01", "--data-dir", str(data_dir), "--out", str(out)]) == 2
    assert f"report: output file '{out}' is a folder" in capsys.readouterr().err
    afile = out / "taken"
    afile.write_text("")
    assert main(["report", "sub-01", "--data-dir", str(data_dir), "--out",
                 str(afile / "r.html")]) == 2
    assert f"lies under '{afile}', which is a file" in capsys.readouterr().err
    # an unknown patient's report leaves no folder behind in the data directory
    assert main(["report", "sub-99", "--data-dir", str(data_dir)]) == 2
    assert not (data_dir / "sub-99").exists()


def test_long_work_shows_its_progress_in_the_terminal(data_dir, capsys):
    """Import, export and report print one line per step on stderr (stdout keeps the result)."""
    assert main(["export", "csv", str(data_dir), str(data_dir.parent / "csv")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if line.startswith("importing [")][:1] == [
        f"importing [0/3] {data_dir / 'sub-01' / '20260101T090000-demo'}"]
    assert "export csv [0/4] sub-01 session 1" in err and "export csv [4/4] done" in err
    assert main(["report", "sub-01", "--data-dir", str(data_dir), "--out",
                 str(data_dir.parent / "r.html")]) == 0
    captured = capsys.readouterr()
    steps = [line for line in captured.err.splitlines() if line.startswith("report [")]
    assert steps[0] == "report [0/8] reading session 1" and steps[-1] == "report [8/8] done"
    assert "report [" not in captured.out
    # the EMG-BIDS export shows each session as it goes (these have no EMG: all skipped)
    assert main(["export", "bids", str(data_dir), str(data_dir.parent / "bids")]) == 2
    assert "export bids [0/4] sub-01 session 1" in capsys.readouterr().err.splitlines()
