"""The catalogue on SQLite and on a real throwaway PostgreSQL server: the session engine's
calls, migrations up and down, two writers at once, a session killed mid-way, importing
session folders, and identity kept out of everything but its own table."""

import json
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from sqlalchemy import create_engine, inspect

from mirrorvr.catalog import Catalog, migrate
from mirrorvr.catalog.models import Base
from mirrorvr.errors import CatalogError

TABLES = {"patients", "identities", "profile_versions", "courses", "sessions", "blocks",
          "outcomes", "files"}


def _session(catalog, data_dir, pseudonym, name, *, n_blocks=3, course=None, position=None):
    folder = data_dir / pseudonym / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    version = catalog.record_profile_version(pseudonym, {"pseudonym": pseudonym, "v": 1})
    sid = catalog.begin_session(pseudonym, folder, "pme", profile_version=version,
                                course=course, course_position=position)
    for k in range(n_blocks):
        catalog.begin_block(sid, k, f"block{k}", "phantom", 10.0 * k)
        catalog.end_block(sid, k, 10.0 * k + 9.0, results={"k": k})
        catalog.add_outcome(sid, "nrs", {"pain": k % 11}, {"intensity": float(k % 11)},
                            10.0 * k + 9.0, timepoint=f"t{k}", instrument_version="1")
    (folder / "recording.xdf").write_bytes(b"XDF:")
    catalog.add_file(sid, folder / "recording.xdf", "recording")
    return sid, folder


def test_a_session_s_life_as_the_engine_writes_it(catalog_url, tmp_path):
    with Catalog.open(tmp_path, catalog_url) as catalog:
        catalog.register_patient("sub-01", {"name": "Erika Mustermann", "born": "1961-02-03"})
        assert catalog.register_patient("sub-01") == catalog.register_patient("sub-01")
        assert catalog.record_profile_version("sub-01", {"thr": 14}) == 1
        assert catalog.record_profile_version("sub-01", {"thr": 14}) == 1  # unchanged
        assert catalog.record_profile_version("sub-01", {"thr": 16}) == 2
        assert catalog.profile("sub-01") == {"thr": 16}
        assert catalog.profile("sub-01", 1) == {"thr": 14}
        catalog.plan_course("sub-01", "pme-12", "pme", 12)
        sid, folder = _session(catalog, tmp_path, "sub-01", "s1", course="pme-12", position=1)
        running = catalog.session(sid)
        assert running.status == "running" and running.ended_at is None
        (folder / "summary.json").write_text("{}")
        catalog.end_session(sid, "complete", {"decoder": {"cv_accuracy": 0.9}})
        done = catalog.session(sid)
        assert done.status == "complete" and done.summary == {"decoder": {"cv_accuracy": 0.9}}
        assert (done.course, done.course_position, done.planned_sessions) == ("pme-12", 1, 12)
        assert done.profile_version == 3 and done.folder == folder.resolve()  # _session's
        assert [b.name for b in catalog.blocks(sid)] == ["block0", "block1", "block2"]
        assert catalog.blocks(sid)[2].results == {"k": 2}
        outcomes = catalog.outcomes(pseudonym="sub-01")
        assert [(o.timepoint, o.scores["intensity"]) for o in outcomes] == [
            ("t0", 0.0), ("t1", 1.0), ("t2", 2.0)]
        # end_session lists every file of the folder, with its size
        files = {f.relative: f for f in catalog.files(sid)}
        assert set(files) == {"config.json", "recording.xdf", "summary.json"}
        assert files["recording.xdf"].kind == "recording" and files["recording.xdf"].size_bytes == 4
        [patient] = catalog.patients()
        assert (patient.pseudonym, patient.n_sessions, patient.n_complete,
                patient.profile_versions) == ("sub-01", 1, 1, 3)
        assert catalog.identity("sub-01")["name"] == "Erika Mustermann"
        # identity is in no listing
        listed = json.dumps([s.to_dict() for s in catalog.sessions()], default=str)
        listed += json.dumps([p.__dict__ for p in catalog.patients()], default=str)
        assert "Mustermann" not in listed and "1961" not in listed


def test_bad_calls_are_refused_with_what_was_wrong(catalog_url, tmp_path):
    with Catalog.open(tmp_path, catalog_url) as catalog:
        with pytest.raises(CatalogError, match="'sub-9' is not in the catalogue"):
            catalog.begin_session("sub-9", tmp_path / "x", "pme")
        with pytest.raises(CatalogError, match="pseudonym 'Erika M.'"):
            catalog.register_patient("Erika M.")
        catalog.register_patient("sub-01")
        with pytest.raises(CatalogError, match="profile version 3"):
            catalog.begin_session("sub-01", tmp_path / "x", "pme", profile_version=3)
        with pytest.raises(CatalogError, match="course 'c' of 'sub-01' is not planned"):
            catalog.begin_session("sub-01", tmp_path / "x", "pme", course="c")
        sid = catalog.begin_session("sub-01", tmp_path / "x", "pme")
        with pytest.raises(CatalogError, match="already in the catalogue"):
            catalog.begin_session("sub-01", tmp_path / "x", "pme")
        with pytest.raises(CatalogError, match="status 'done'"):
            catalog.end_session(sid, "done")
        with pytest.raises(CatalogError, match="block 4 was never begun"):
            catalog.end_block(sid, 4, 1.0)
        with pytest.raises(CatalogError, match="file kind 'movie'"):
            catalog.add_file(sid, "a.mp4", "movie")
        with pytest.raises(CatalogError, match="planned_sessions 0"):
            catalog.plan_course("sub-01", "c", "pme", 0)


def test_an_unreachable_catalogue_is_named_without_its_password(tmp_path):
    with pytest.raises(CatalogError) as err:
        Catalog.open(tmp_path, "postgresql+psycopg://user:secret@127.0.0.1:1/none")
    assert "127.0.0.1:1/none" in str(err.value) and "secret" not in str(err.value)


def test_migrations_up_and_down_and_models_match_them(catalog_url, tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(catalog_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []  # the models and the migration describe the same schema
        migrate.downgrade(engine, "base")
        assert not TABLES & set(inspect(engine).get_table_names())
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)  # and up again on the emptied database
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    # a catalogue opened later finds its schema current and its data intact
    with Catalog.open(tmp_path, catalog_url) as catalog:
        catalog.register_patient("sub-01")
    with Catalog.open(tmp_path, catalog_url) as catalog:
        assert [p.pseudonym for p in catalog.patients()] == ["sub-01"]


def test_two_sessions_written_at_once_are_both_complete(catalog_url, tmp_path):
    n_blocks = 15
    errors = []
    ids = {}
    with Catalog.open(tmp_path, catalog_url) as catalog:
        start = threading.Barrier(2)

        def writer(name: str) -> None:
            try:
                start.wait(timeout=30)
                # both register the same new patient and profile at the same moment
                catalog.register_patient("sub-01")
                sid, _ = _session(catalog, tmp_path, "sub-01", name, n_blocks=n_blocks)
                catalog.end_session(sid, "complete", {"writer": name})
                ids[name] = sid
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        sessions = {s.id: s for s in catalog.sessions("sub-01")}
        assert len(sessions) == 2 and len(catalog.patients()) == 1
        for name, sid in ids.items():
            assert sessions[sid].status == "complete" and sessions[sid].summary == {"writer": name}
            assert len(catalog.blocks(sid)) == n_blocks
            assert len(catalog.outcomes(session_id=sid)) == n_blocks
            assert {f.relative for f in catalog.files(sid)} == {"config.json", "recording.xdf"}
        assert {s.profile_version for s in sessions.values()} == {1}


KILLED_SESSION = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from mirrorvr.catalog import Catalog
    from mirrorvr.clock import FakeClock
    from mirrorvr.record.recorder import Recorder
    data_dir, url = sys.argv[1], sys.argv[2]
    catalog = Catalog.open(data_dir, url)
    catalog.register_patient("sub-01")
    folder = os.path.join(data_dir, "sub-01", "s2")
    os.makedirs(folder)
    open(os.path.join(folder, "config.json"), "w").write("{}")
    sid = catalog.begin_session("sub-01", folder, "pme")
    catalog.begin_block(sid, 0, "rating_pre", "rating", 1.0)
    catalog.end_block(sid, 0, 2.0)
    catalog.add_outcome(sid, "nrs", {"pain": 5}, {"intensity": 5.0}, 2.0, timepoint="pre")
    catalog.begin_block(sid, 1, "phantom", "phantom", 2.0)
    clock = FakeClock(0.0)
    recorder = Recorder(folder, clock, flush_interval_s=0.01)
    emg = recorder.add_stream("EMG", "EMG", ["EMG1", "EMG2"], 1000.0, "float32")
    recorder.start()
    recorder.push(emg, np.arange(100) / 1000.0, np.ones((100, 2)))
    recorder.marker(0.05, "block_start phantom")
    import time
    deadline = time.monotonic() + 30  # until the writer thread has written the samples
    while recorder._writer.sample_count(emg.stream_id) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder._writer.flush()  # (the writer flushes after each batch; this makes it certain)
    print(sid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the session dies here: no end_session, no close
""")


def test_a_killed_session_leaves_the_catalogue_consistent(catalog_url, tmp_path):
    pyxdf = pytest.importorskip("pyxdf")
    with Catalog.open(tmp_path, catalog_url) as catalog:
        catalog.register_patient("sub-01")
        sid1, folder1 = _session(catalog, tmp_path, "sub-01", "s1")
        catalog.end_session(sid1, "complete", {"ok": True})
        before = (catalog.session(sid1), catalog.blocks(sid1),
                  catalog.outcomes(session_id=sid1), catalog.files(sid1))

    out = subprocess.run([sys.executable, "-c", KILLED_SESSION, str(tmp_path), catalog_url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr
    sid2 = int(out.stdout.split()[0])

    with Catalog.open(tmp_path, catalog_url) as catalog:
        killed = catalog.session(sid2)
        assert killed.status == "running"  # nobody has looked yet
        assert catalog.recover() == [sid2]
        assert catalog.recover() == []
        killed = catalog.session(sid2)
        assert killed.status == "incomplete" and "ended without closing" in killed.note
        assert [(b.name, b.status) for b in catalog.blocks(sid2)] == [
            ("rating_pre", "complete"), ("phantom", "incomplete")]
        assert [o.scores for o in catalog.outcomes(session_id=sid2)] == [{"intensity": 5.0}]
        files = {f.relative: f for f in catalog.files(sid2)}
        assert set(files) == {"config.json", "recording.xdf"}
        streams, _ = pyxdf.load_xdf(str(files["recording.xdf"].path))
        emg = [s for s in streams if s["info"]["name"][0] == "EMG"][0]
        assert len(emg["time_stamps"]) == 100  # what was flushed before the kill is there
        after = (catalog.session(sid1), catalog.blocks(sid1),
                 catalog.outcomes(session_id=sid1), catalog.files(sid1))
        assert after == before  # the earlier session is untouched
        assert [s.status for s in catalog.sessions()] == ["complete", "incomplete"]
    if catalog_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(catalog_url.removeprefix("sqlite:///")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_running_session_of_a_live_process_is_not_recovered(tmp_path):
    with Catalog.open(tmp_path) as catalog:
        catalog.register_patient("sub-01")
        sid, _ = _session(catalog, tmp_path, "sub-01", "s1")
        assert catalog.recover() == []  # this process is alive
        assert catalog.session(sid).status == "running"
        assert catalog.recover(stale_after_s=-1.0) == [sid]  # unless it is stale


def _process_writer(data_dir, url, name, barrier, n_blocks):
    from pathlib import Path

    with Catalog.open(Path(data_dir), url) as catalog:
        barrier.wait(timeout=60)
        catalog.register_patient("sub-01")
        sid, _ = _session(catalog, Path(data_dir), "sub-01", name, n_blocks=n_blocks)
        catalog.end_session(sid, "complete", {"writer": name})


def test_two_processes_writing_at_once_keep_both_sessions(catalog_url, tmp_path):
    import multiprocessing

    Catalog.open(tmp_path, catalog_url).close()  # schema first, as a session start would
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=_process_writer,
                           args=(str(tmp_path), catalog_url, name, barrier, 15))
               for name in ("p1", "p2")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=180)
    assert [w.exitcode for w in workers] == [0, 0]
    with Catalog.open(tmp_path, catalog_url) as catalog:
        sessions = catalog.sessions("sub-01")
        assert sorted(s.summary["writer"] for s in sessions) == ["p1", "p2"]
        for s in sessions:
            assert s.status == "complete" and len(catalog.blocks(s.id)) == 15
            assert len(catalog.outcomes(session_id=s.id)) == 15
