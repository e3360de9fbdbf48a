"""Shared fixtures. GL: one small offscreen window per test module (Mesa llvmpipe via EGL).

LSL discovery stays on this machine (``lsl_api.cfg``: ResolveScope = machine), set before
pylsl is first imported.
"""

import os
from pathlib import Path

import pytest

# Lab Streaming Layer discovery stays on this machine in tests and CI; liblsl reads this when
# pylsl is first imported, so it is set before any test module imports it.
os.environ.setdefault("LSLAPICFG", str(Path(__file__).resolve().parent.parent / "lsl_api.cfg"))


@pytest.fixture(scope="module")
def gl_window():
    """A headless 320x240 OpenGL 3.3 window, closed at the end of the module."""
    from mirrorvr.render.window import open_window

    window = open_window(320, 240, headless=True, title="mirrorvr-test")
    yield window
    window.close()


@pytest.fixture(scope="session")
def tracker_env():
    """The webcam tracker's interpreter (``.venv-tracker``); skipped when it is missing,
    except under ``./dev test`` (MIRRORVR_REQUIRE_TRACKER_ENV), which makes it."""
    from mirrorvr.errors import ConfigError
    from mirrorvr.tracking.webcam import tracker_python

    try:
        return tracker_python()
    except ConfigError as err:
        if os.environ.get("MIRRORVR_REQUIRE_TRACKER_ENV"):
            pytest.fail(str(err))
        pytest.skip(str(err))


@pytest.fixture(autouse=True, scope="session")
def _device_locks_in_a_private_folder(tmp_path_factory):
    """The stimulator owner locks (SAFETY.md item 13) of this test run live in a folder of
    its own; subprocesses inherit it through the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MIRRORVR_LOCK_DIR", str(tmp_path_factory.mktemp("device-locks")))
        yield


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server on 127.0.0.1 (skipped when PostgreSQL is absent)."""
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install "
                        "'psycopg[binary]')")
    from postgres_server import PostgresServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed "
                    "(Debian: apt-get install postgresql)")
    server = PostgresServer(*binaries)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path):
    """A fresh catalogue URL on each engine: SQLite in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue("postgres_server").new_database()


def _load_course_script():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "scripts" / "simulated_course.py"
    spec = importlib.util.spec_from_file_location("simulated_course", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The course fixture's protocol: the demo's blocks with a Motion Test (the TAC test is left
#: out for time) and instruments at some sessions of the course, as a protocol file says.
COURSE_RATINGS_PRE = [
    {"kind": "rating", "name": "vas_pre", "instrument": "vas", "timepoint": "pre"},
    {"kind": "rating", "name": "sf_mpq_2_pre", "instrument": "sf_mpq_2", "timepoint": "pre",
     "sessions": [1, 3]},
    {"kind": "rating", "name": "bpi_pre", "instrument": "bpi_interference",
     "timepoint": "pre", "sessions": [1]},
]
COURSE_RATINGS_POST = [
    {"kind": "rating", "name": "vas_post", "instrument": "vas", "timepoint": "post"},
    {"kind": "rating", "name": "pgic_post", "instrument": "pgic", "timepoint": "post",
     "sessions": ["last", 3]},
]


def course_protocol():
    from mirrorvr.session.protocol import load_protocol, parse_protocol

    data = load_protocol("demo").model_dump(mode="json", exclude_none=True)
    first, *middle, last = data["blocks"]
    data["name"] = "course"
    data["blocks"] = [first, *COURSE_RATINGS_PRE, *middle, {"kind": "motion_test"}, last,
                      *COURSE_RATINGS_POST]
    return parse_protocol(data, "the course fixture")


@pytest.fixture(scope="session")
def simulated_course(tmp_path_factory):
    """A data directory with a 3-session simulated course (4 planned) of ``sub-sim07``, run
    by the session engine (60 s rehearsals on the fake clock, no frames drawn) and
    catalogued as it ran, whose catalogue also holds the patient's identity (which must
    never leave it)."""
    from mirrorvr.catalog import Catalog
    from mirrorvr.outcomes.course import simulate_course
    from mirrorvr.sim.rater import PainTrajectory

    data_dir = tmp_path_factory.mktemp("course")
    script = _load_course_script()
    protocol = course_protocol()
    with Catalog.open(data_dir) as catalog:
        catalog.register_patient("sub-sim07", {"name": "Erika Mustermann",
                                               "birth_date": "1961-02-03"})
        ids = simulate_course(
            catalog, "sub-sim07", 3,
            script.course_session_runner(data_dir, "sub-sim07", PainTrajectory(3, seed=7),
                                         protocol, duration_s=60.0, seed=7, size=(320, 180)),
            protocol=protocol.name, planned_sessions=4)
    return data_dir, ids
