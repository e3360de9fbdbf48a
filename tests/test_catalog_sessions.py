"""The catalogue written while a session runs, on SQLite and on a real PostgreSQL server:
patient, profile version, course place, blocks, outcomes, files and how the session ended;
the rating blocks due at each place of a course; a session killed mid-way (SIGKILL) left
consistent and recovered by the next start; the writes never wait on the database.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mirrorvr.catalog import Catalog
from mirrorvr.cli import run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.errors import CatalogError
from mirrorvr.session.protocol import parse_protocol
from mirrorvr.session.summary import format_summary

from fakes import NullRenderer, ScriptedWindow, block_spans

pyxdf = pytest.importorskip("pyxdf")

T0 = 1000.0
PATIENT = "sub-demo01"  # the demo's simulated patient
COURSE_PROTOCOL = {"name": "course-check", "limb": "upper", "blocks": [
    {"kind": "rating", "name": "rating_pre"},
    {"kind": "rating", "name": "sf_mpq_2_pre", "instrument": "sf_mpq_2", "timepoint": "pre",
     "sessions": [1, "last"]},
    {"kind": "rest", "duration_s": 2.0},
    {"kind": "rating", "name": "rating_post"},
    {"kind": "rating", "name": "pgic_post", "instrument": "pgic", "timepoint": "post",
     "sessions": ["last"]},
]}
CONFIG = build_config({"render": {"max_fps": 20.0, "saved_frames": 0}})


@pytest.fixture
def catalog_env(catalog_url, monkeypatch):
    """Sessions write the catalogue ``$MIRRORVR_CATALOG_URL`` names (SQLite or PostgreSQL)."""
    monkeypatch.setenv("MIRRORVR_CATALOG_URL", catalog_url)
    return catalog_url


def _session(data_dir, keys=None, protocol=None, config=CONFIG, **kwargs):
    clock = FakeClock(T0)
    return run_demo(config, data_dir, protocol=protocol or parse_protocol(COURSE_PROTOCOL),
                    clock=clock, realtime=False, window=ScriptedWindow(clock, keys or {}),
                    renderer=NullRenderer(clock), **kwargs)


def _recorded_outcomes(summary):
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False,
                                select_streams=[{"name": "outcomes"}])
    return [json.loads(row[0]) for row in streams[0]["time_series"]]


def test_a_course_s_sessions_write_their_rows_while_they_run(catalog_env, tmp_path):
    with Catalog.open(tmp_path) as catalog:
        catalog.register_patient(PATIENT)
        catalog.plan_course(PATIENT, "pme-3", "course-check", 3)
    summaries = [_session(tmp_path) for _ in range(3)]
    with Catalog.open(tmp_path) as catalog:
        sessions = catalog.sessions(PATIENT)
        assert [(s.course, s.course_position, s.planned_sessions, s.status, s.protocol)
                for s in sessions] == [("pme-3", k, 3, "complete", "course-check")
                                       for k in (1, 2, 3)]
        assert [str(s.folder) for s in sessions] == [s["session_dir"] for s in summaries]
        # the instruments due at each place of the course, and only those
        assert [s["blocks"] for s in summaries] == [
            ["rating_pre", "sf_mpq_2_pre", "rest", "rating_post"],
            ["rating_pre", "rest", "rating_post"],
            ["rating_pre", "sf_mpq_2_pre", "rest", "rating_post", "pgic_post"]]
        for k, (session, summary) in enumerate(zip(sessions, summaries, strict=True)):
            assert summary["catalogue"] == {"session_id": session.id, "course": "pme-3",
                                            "course_position": k + 1, "planned_sessions": 3,
                                            "failed_writes": 0}
            assert f"session {session.id}: course pme-3, session {k + 1} of 3" in \
                format_summary(summary)
            # the summary as the session ended (summary.json adds the catalogue's id after)
            on_disk = json.loads(Path(summary["session_dir"], "summary.json").read_text())
            assert on_disk.pop("catalogue") == summary["catalogue"]
            assert session.summary == on_disk
            outcomes = catalog.outcomes(session_id=session.id)
            recorded = _recorded_outcomes(summary)
            assert [(o.instrument, o.timepoint, o.answers, o.scores, o.t_s) for o in outcomes] \
                == [(r["instrument"], r["timepoint"], r["answers"], r["scores"], r["t_s"])
                    for r in recorded]
            blocks = catalog.blocks(session.id)
            spans = block_spans(summary["recording"])
            assert [(b.name, b.status) for b in blocks] == [(n, "complete") for n in spans]
            for b in blocks:
                assert (b.start_s, b.end_s) == pytest.approx(spans[b.name])
                assert b.results == summary["results"].get(b.name)
            files = {f.relative: f for f in catalog.files(session.id)}
            assert {"config.json", "protocol.toml", "recording.xdf", "summary.json"} <= set(files)
            assert all(f.size_bytes == f.path.stat().st_size for f in files.values())
        assert "outcomes               sf_mpq_2 pre continuous=" in format_summary(summaries[0])
        assert [[o.instrument for o in catalog.outcomes(session_id=s.id)] for s in sessions] \
            == [["nrs", "sf_mpq_2", "nrs"], ["nrs", "nrs"], ["nrs", "sf_mpq_2", "nrs", "pgic"]]
        # one profile, as config.json states it (an import of the folder would agree)
        assert {s.profile_version for s in sessions} == {1}
        stated = json.loads(Path(summaries[0]["session_dir"], "config.json").read_text())
        assert catalog.profile(PATIENT, 1) == stated["patient"]


def test_a_new_titration_is_a_new_profile_version_the_next_session_runs_with(catalog_env,
                                                                             tmp_path):
    from mirrorvr.sim.demo import demo_patient

    _session(tmp_path)
    _session(tmp_path)  # the same profile: the same version
    patient = demo_patient().model_dump(mode="json", exclude_none=True)
    patient["stim_channels"][0]["motor_threshold_ma"] = 15.5  # titrated again
    retitrated = CONFIG.model_copy(update={"patient": demo_patient().model_validate(patient)})
    summary = _session(tmp_path, config=retitrated)
    with Catalog.open(tmp_path) as catalog:
        assert [s.profile_version for s in catalog.sessions(PATIENT)] == [1, 1, 2]
        assert catalog.profile(PATIENT, 1)["stim_channels"][0]["motor_threshold_ma"] == 14.0
        assert catalog.profile(PATIENT)["stim_channels"][0]["motor_threshold_ma"] == 15.5
        stated = json.loads(Path(summary["session_dir"], "config.json").read_text())
        assert catalog.profile(PATIENT, 2) == stated["patient"]
        assert [p.profile_versions for p in catalog.patients()] == [2]


def test_without_a_course_sessions_are_numbered_by_their_protocol(catalog_env, tmp_path):
    demo_like = dict(COURSE_PROTOCOL, blocks=COURSE_PROTOCOL["blocks"][:3])
    _session(tmp_path, protocol=parse_protocol(demo_like))
    _session(tmp_path, protocol=parse_protocol(demo_like))
    with Catalog.open(tmp_path) as catalog:
        sessions = catalog.sessions(PATIENT)
    assert [(s.course, s.course_position, s.planned_sessions) for s in sessions] == [
        (None, 1, None), (None, 2, None)]
    # 'last' needs a planned course; session 1 asks SF-MPQ-2, session 2 does not
    assert [len(s.summary["blocks"]) for s in sessions] == [3, 2]


def test_a_session_ended_by_the_user_is_aborted_with_its_reason(catalog_env, tmp_path):
    summary = _session(tmp_path, {T0 + 3.0: "escape"})  # during SF-MPQ-2 (from ~2 s)
    assert summary["ended"] == "ended by the user (Esc)"
    with Catalog.open(tmp_path) as catalog:
        [session] = catalog.sessions()
        assert session.status == "aborted" and session.note == "ended by the user (Esc)"
        assert session.summary["ended"] == "ended by the user (Esc)"
        assert [(b.name, b.status) for b in catalog.blocks(session.id)] == [
            ("rating_pre", "complete"), ("sf_mpq_2_pre", "aborted")]
        assert [o.instrument for o in catalog.outcomes(session_id=session.id)] == ["nrs"]
        # an aborted session does not take its place in the course: the next one runs it
        assert catalog.course_place(PATIENT, "course-check").position == 1


def test_an_unreachable_catalogue_refuses_the_session_before_it_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("MIRRORVR_CATALOG_URL",
                       "postgresql+psycopg://clinic:secret@127.0.0.1:1/mirrorvr")
    with pytest.raises(CatalogError, match="127.0.0.1:1/mirrorvr.*cannot be opened") as err:
        _session(tmp_path)
    assert "secret" not in str(err.value)
    assert not list(tmp_path.rglob("config.json"))  # no session folder was made


KILLED_SESSION = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, sys.argv[2])
    from fakes import NullRenderer, ScriptedWindow
    from mirrorvr.cli import build_session
    from mirrorvr.clock import FakeClock
    from mirrorvr.config import build_config
    from mirrorvr.session.protocol import parse_protocol
    from mirrorvr.session.runner import SessionRunner

    protocol = parse_protocol({"name": "killed", "limb": "upper", "blocks": [
        {"kind": "rating", "name": "rating_pre"},
        {"kind": "calibration", "movements": ["rest", "hand_open", "hand_close"],
         "repetitions": 2, "contraction_s": 1.0, "rest_s": 0.5},
        {"kind": "rest", "duration_s": 30.0},
        {"kind": "rating", "name": "rating_post"}]})
    clock = FakeClock(1000.0)
    parts = build_session(build_config({"render": {"max_fps": 20.0, "saved_frames": 0}}),
                          sys.argv[1], protocol=protocol, clock=clock, realtime=False,
                          window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))
    journal = parts.journals[0]

    class Killer:
        def on_block(self, block, start_s):
            if block.name != "rest":
                return
            # what the session wrote so far is in the catalogue and on disk, then it dies
            assert journal.flush(60.0)
            recording = parts.session_dir / "recording.xdf"
            deadline = time.monotonic() + 60
            while (b"block_end calibration" not in recording.read_bytes()
                   and time.monotonic() < deadline):
                time.sleep(0.01)
            print(journal.session_id, parts.session_dir, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        def step(self, now_s):
            pass

    parts.observers.append(Killer())
    SessionRunner(parts).run()
""")


def test_a_killed_session_is_left_consistent_and_recovered_by_the_next(catalog_env, tmp_path):
    earlier = _session(tmp_path)  # a complete session first: it must stay untouched
    with Catalog.open(tmp_path) as catalog:
        [done] = catalog.sessions()
        before = (catalog.session(done.id), catalog.blocks(done.id),
                  catalog.outcomes(session_id=done.id), catalog.files(done.id))
    out = subprocess.run(
        [sys.executable, "-c", KILLED_SESSION, str(tmp_path), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert out.returncode == -signal.SIGKILL, out.stderr
    killed_id, folder = out.stdout.split()
    killed_id, folder = int(killed_id), Path(folder)

    with Catalog.open(tmp_path) as catalog:
        killed = catalog.session(killed_id)
        assert killed.status == "running"  # nobody has looked yet
        assert [(b.name, b.status) for b in catalog.blocks(killed_id)] == [
            ("rating_pre", "complete"), ("calibration", "complete"), ("rest", "running")]
    # the next session's start recovers it
    after = _session(tmp_path)
    with Catalog.open(tmp_path) as catalog:
        killed = catalog.session(killed_id)
        assert killed.status == "incomplete" and "ended without closing" in killed.note
        assert killed.folder == folder and killed.course_position == 1
        assert [(b.name, b.status) for b in catalog.blocks(killed_id)] == [
            ("rating_pre", "complete"), ("calibration", "complete"), ("rest", "incomplete")]
        assert [(o.instrument, o.timepoint) for o in catalog.outcomes(session_id=killed_id)] \
            == [("nrs", "pre")]
        files = {f.relative: f for f in catalog.files(killed_id)}
        assert {"config.json", "protocol.toml", "recording.xdf", "decoder.npz"} <= set(files)
        assert "summary.json" not in files  # it never finished
        streams, _ = pyxdf.load_xdf(str(files["recording.xdf"].path),
                                    dejitter_timestamps=False)
        markers = [m[0] for s in streams if s["info"]["name"][0] == "markers"
                   for m in s["time_series"]]
        assert "block_end calibration" in markers  # what was flushed before the kill
        assert (catalog.session(done.id), catalog.blocks(done.id),
                catalog.outcomes(session_id=done.id), catalog.files(done.id)) == before
        statuses = [(s.folder.name, s.status) for s in catalog.sessions()]
        assert statuses == [(Path(earlier["session_dir"]).name, "complete"),
                            (folder.name, "incomplete"),
                            (Path(after["session_dir"]).name, "complete")]
    if catalog_env.startswith("sqlite"):
        with sqlite3.connect(catalog_env.removeprefix("sqlite:///")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_journal_never_waits_on_the_database(tmp_path):
    """While another writer holds SQLite's write lock, the session's calls return at once;
    the rows arrive, in order, once the lock is released."""
    from mirrorvr.catalog.journal import CatalogJournal
    from mirrorvr.outcomes import InstrumentForm, answer_form, load_instrument

    folder = tmp_path / PATIENT / "s1"
    folder.mkdir(parents=True)
    journal = CatalogJournal.open(tmp_path, PATIENT, {"pseudonym": PATIENT}, "demo")
    journal.session_started(folder, "demo", T0)
    assert journal.flush(30.0) and journal.session_id is not None
    blocker = sqlite3.connect(tmp_path / "catalog.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        journal.block_started(0, "rating_pre", "rating", T0)
        journal.outcome(answer_form(InstrumentForm(load_instrument("nrs")), {"pain": 3},
                                    T0 + 1), "pre")
        journal.block_finished(0, T0 + 1.5, {"value": 3}, True)
        assert not journal.flush(0.2)  # queued, not written: nobody waited
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    journal.session_ended("completed", True, {"ended": "completed"})
    with Catalog.open(tmp_path) as catalog:
        [session] = catalog.sessions()
        assert session.status == "complete" and session.summary == {"ended": "completed"}
        [block] = catalog.blocks(session.id)
        assert (block.name, block.end_s, block.results) == ("rating_pre", T0 + 1.5,
                                                            {"value": 3})
        [nrs] = catalog.outcomes(session_id=session.id)
        assert (nrs.instrument, nrs.timepoint, nrs.scores) == ("nrs", "pre", {"intensity": 3.0})


def test_a_session_s_place_as_listings_show_it(tmp_path):
    with Catalog.open(tmp_path) as catalog:
        catalog.register_patient(PATIENT)
        catalog.plan_course(PATIENT, "c", "pme-upper", 12)
        ids = [catalog.begin_session(PATIENT, tmp_path / name, "pme-upper", **kw)
               for name, kw in (("a", {"course": "c", "course_position": 3}),
                                ("b", {"course_position": 2}), ("c", {}))]
        assert [catalog.session(i).place for i in ids] == ["3/12", "#2", "-"]
