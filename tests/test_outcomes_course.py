"""A simulated course run by the session engine: each session catalogued live at its place,
the instruments its protocol schedules asked by its own rating blocks and answered as the
pain trajectory says, the same in the recording as in the catalogue."""

import pytest

from mirrorvr.catalog import Catalog
from mirrorvr.errors import CatalogError
from mirrorvr.outcomes import load_instrument
from mirrorvr.outcomes.course import simulate_course
from mirrorvr.record.reader import read_recording
from mirrorvr.sim.rater import PainTrajectory

pytestmark = pytest.mark.slow


def test_each_session_asked_what_its_place_in_the_course_schedules(simulated_course):
    data_dir, ids = simulated_course
    with Catalog.open(data_dir) as catalog:
        sessions = [catalog.session(i) for i in ids]
        asked = [sorted({(o.instrument, o.timepoint) for o in catalog.outcomes(session_id=i)})
                 for i in ids]
    assert [(s.course, s.course_position, s.planned_sessions, s.status) for s in sessions] == [
        ("simulated-course", k, 4, "complete") for k in (1, 2, 3)]
    every = [("nrs", "post"), ("nrs", "pre"), ("vas", "post"), ("vas", "pre")]
    # conftest's course protocol: SF-MPQ-2 at sessions 1 and 3, BPI at 1, PGIC at 3 (and
    # at the 'last', the 4th, which this course does not reach)
    assert asked == [
        sorted(every + [("bpi_interference", "pre"), ("sf_mpq_2", "pre")]),
        every,
        sorted(every + [("pgic", "post"), ("sf_mpq_2", "pre")])]


def test_the_answers_are_the_trajectory_s_and_the_recording_holds_them(simulated_course):
    data_dir, ids = simulated_course
    trajectory = PainTrajectory(3, seed=7)  # conftest's
    with Catalog.open(data_dir) as catalog:
        for k, sid in enumerate(ids, start=1):
            outcomes = catalog.outcomes(session_id=sid)
            for o in outcomes:
                expected = trajectory.answers(load_instrument(o.instrument), o.timepoint, k)
                assert o.answers == load_instrument(o.instrument).check_answers(expected)
            recording = read_recording(catalog.session(sid).folder / "recording.xdf", emg=False)
            assert [(r["instrument"], r["timepoint"], r["answers"], r["t_s"])
                    for r in recording.outcome_results] == [
                (o.instrument, o.timepoint, o.answers, o.t_s) for o in outcomes]
            # each answered inside its own rating block of the session, not added afterwards
            for o in outcomes:
                [block] = [b for b in catalog.blocks(sid) if b.kind == "rating"
                           and (b.results["instrument"], b.results["timepoint"])
                           == (o.instrument, o.timepoint)]
                assert block.start_s <= o.t_s <= block.end_s
                assert block.results["answers"] == o.answers
    # the NRS ratings stream, as before instruments, for the NRS only
    nrs = [value for _, value in recording.ratings]
    assert nrs == [o.answers["pain"] for o in outcomes if o.instrument == "nrs"]


def test_a_session_that_is_not_where_the_course_expects_is_refused(tmp_path):
    def stray_session(number):
        folder = tmp_path / "sub-01" / f"stray-{number}"
        folder.mkdir(parents=True)
        with Catalog.open(tmp_path) as catalog:  # catalogued, but outside the course
            sid = catalog.begin_session("sub-01", folder, "demo")
            catalog.end_session(sid, "complete", {})
        return folder

    def uncatalogued_session(number):
        return tmp_path / "nowhere"

    with Catalog.open(tmp_path) as catalog:
        with pytest.raises(CatalogError, match="catalogued as patient 'sub-01', course None, "
                           "position None, status 'complete'"):
            simulate_course(catalog, "sub-01", 2, stray_session, protocol="demo")
        with pytest.raises(CatalogError, match="session 1 .* is not in the catalogue"):
            simulate_course(catalog, "sub-01", 1, uncatalogued_session, protocol="demo")
        assert catalog.courses("sub-01") == [("simulated-course", "demo", 1)]  # re-planned


def test_the_identity_in_the_catalogue_reaches_no_session_file(simulated_course):
    """conftest registers the patient's name and birth date before the sessions run: only
    the catalogue holds them, no recording, configuration or summary of a session."""
    data_dir, ids = simulated_course
    with Catalog.open(data_dir) as catalog:
        assert catalog.identity("sub-sim07")["name"] == "Erika Mustermann"  # it is there
        folders = [catalog.session(i).folder for i in ids]
    files = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "recording.xdf" for p in files) and any(
        p.name == "config.json" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in (b"Mustermann", b"Erika", b"1961-02-03"):
            assert secret not in data, (path, secret)
