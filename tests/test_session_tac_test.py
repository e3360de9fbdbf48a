"""The optional TAC test block: the decoded movement drives the limb towards a ghost target on
the simulated patient; its trials are scored by the one TAC scoring path and recorded."""

import json
from pathlib import Path

import numpy as np
import pytest

from mirrorvr.cli import build_session
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.errors import ConfigError
from mirrorvr.session.protocol import limb_movements, parse_protocol, plan_protocol
from mirrorvr.session.runner import SessionRunner
from mirrorvr.session.summary import format_summary

from fakes import ScriptedWindow, planned_starts, protocol

pyxdf = pytest.importorskip("pyxdf")

T0 = 1000.0
TAC = {"kind": "tac_test", "timeout_s": 6.0, "rest_s": 2.0}
CONFIG = build_config({
                       "render": {"max_fps": 30.0, "saved_frames": 0}})
PROTOCOL = protocol(blocks=[TAC])
ANTAGONIST = {"hand_open": "hand_close"}


class StateRenderer:
    """Keeps what each frame would show (time, cue, affected pose, ghost pose)."""

    def __init__(self, clock):
        self.clock = clock
        self.frames = []

    def draw(self, state):
        self.frames.append((self.clock.now(), state.cue_text, state.right_pose,
                            state.ghost_pose))


def test_a_tac_block_cues_every_movement_with_the_references_times():
    blocks = plan_protocol(protocol(blocks=[{"kind": "tac_test", "repetitions": 2}]),
                           limb_movements("upper"))
    test = blocks[-1]
    active = [m for m in blocks[1].movements if m != "rest"]
    assert [c.movement for c in test.cues] == 2 * active
    # REFERENCES.md: time-out 15-20 s, hold 1-2 s
    spec = test.spec
    assert 15.0 <= spec.timeout_s <= 20.0 and 1.0 <= spec.dwell_s <= 2.0
    assert all(c.end_s - c.start_s == pytest.approx(spec.timeout_s) for c in test.cues)
    assert test.duration_s == pytest.approx(len(test.cues) * (spec.timeout_s + spec.rest_s)
                                            + spec.rest_s)


@pytest.mark.parametrize("bad, match", [
    ({"allowance": 0.6}, r"block 2 \(tac_test\) = .*allowance: 0.6 must be smaller than "
                         r"target_distance \(0.6\)"),
    ({"dwell_s": 5.0, "timeout_s": 4.0}, r"dwell_s: 5.0 must be shorter than timeout_s"),
    ({"target_distance": 1.5}, r"block 2 \(tac_test\): target_distance = 1.5"),
])
def test_bad_tac_settings_are_refused_naming_the_block_and_field(bad, match):
    data = {"name": "t", "limb": "upper", "blocks": [
        {"kind": "calibration"}, {"kind": "tac_test", **bad}]}
    with pytest.raises(ConfigError, match=match):
        parse_protocol(data)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A demo rehearsal + a TAC block; in the first TAC trial (hand_open) the simulated
    patient attempts hand_close instead."""
    clock = FakeClock(T0)
    renderer = StateRenderer(clock)
    parts = build_session(CONFIG, tmp_path_factory.mktemp("data"), clock=clock,
                          realtime=False, protocol=PROTOCOL,
                          window=ScriptedWindow(clock, {}), renderer=renderer)
    tac_start = planned_starts(CONFIG, T0, PROTOCOL)["tac_test"]
    first_cue = parts.blocks[-1].cues[0]
    wrong_from, wrong_until = tac_start - 1.0, tac_start + first_cue.end_s + 0.5
    limb = parts.emg_source
    attempt = limb.set_intent

    def confused(movement, level, t_s=None):
        if t_s is not None and wrong_from <= t_s < wrong_until:
            movement = ANTAGONIST.get(movement, movement)
        attempt(movement, level, t_s)

    limb.set_intent = confused
    summary = SessionRunner(parts).run()
    return summary, renderer.frames, tac_start


def test_session_runs_and_records_the_tac_test(session):
    summary, _, _ = session
    assert summary["blocks"][-1] == "tac_test"
    tac = summary["tac_test"]
    assert tac["test"] == "tac" and len(tac["trials"]) == 4
    spec = PROTOCOL.blocks[-1]
    settings = {k: getattr(spec, k) for k in ("target_distance", "allowance", "dwell_s",
                                               "timeout_s")}
    assert {k: tac["settings"][k] for k in settings} == settings
    saved = json.loads((Path(summary["session_dir"]) / "summary.json").read_text())
    assert saved["tac_test"] == tac
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    markers = next(s for s in streams if s["info"]["name"][0] == "markers")
    texts = [m[0] for m in markers["time_series"]]
    recorded = [t for t in texts if t.startswith("tac_test {")]
    assert len(recorded) == 1 and json.loads(recorded[0].split(" ", 1)[1]) == tac["summary"]
    assert any(t.startswith("block_start tac_test") for t in texts)
    assert f"TAC test               {100 * tac['summary']['completion_rate']:.0f} % of 4 " \
        "trials completed" in format_summary(summary)


def test_the_simulated_patient_reaches_and_holds_the_targets(session):
    tac = session[0]["tac_test"]
    others = [t for t in tac["trials"] if t["movement"] != "hand_open"]
    # seed 0: hand_close and wrist_flexion complete (2.7 s, 2.8 s; path efficiency 91 %,
    # 85 %); wrist_extension times out 0.17 from the target (its half-level corrections are
    # decoded as rest)
    assert any(t["completed"] for t in others)
    for t in others:
        if t["completed"]:
            assert 1.0 + 0.2 < t["completion_time_s"] < 6.0  # reaction + travel + 1 s hold
            assert 30.0 < t["path_efficiency_pct"] <= 100.0
            # each of the 2 degrees of freedom (grip, wrist) within the allowance
            assert t["final_distance"] <= 0.1 * np.sqrt(2) + 1e-9
    per = tac["summary"]["per_movement"]
    assert per["hand_close"]["n_trials"] == 1


def test_the_wrong_movement_fails_the_trial(session):
    trial = session[0]["tac_test"]["trials"][0]
    assert trial["movement"] == "hand_open"
    assert not trial["completed"] and trial["completion_time_s"] is None
    assert trial["path_efficiency_pct"] is None
    assert trial["final_distance"] > 0.6  # it went the other way, past the start
    assert session[0]["tac_test"]["summary"]["completion_rate"] <= 0.75


def test_the_limb_moves_towards_the_ghost_target(session):
    summary, frames, tac_start = session
    tac = [f for f in frames if f[0] >= tac_start]
    cued = [f for f in tac if "to the outline and hold" in f[1]]
    assert cued and all(f[3] is not None for f in cued)  # the target as a ghost limb
    assert all(f[3] is None for f in tac if f[1] == "Relax")  # none between trials
    reached = [f for f in tac if f[1] == "Target reached - relax"]
    assert reached and all(f[3] is not None for f in reached)

    def gap(frame):
        return float(np.abs(frame[2].angles - frame[3].angles).max())

    # a completed trial: far from the target at its cue, close to it when reached
    first_reached = reached[0]
    trial_cued = [f for f in cued if f[0] < first_reached[0] and
                  f[3] is not None and np.array_equal(f[3].angles, first_reached[3].angles)]
    assert gap(trial_cued[0]) > 3 * gap(first_reached)


def test_the_catalogue_csv_row_and_report_carry_the_tac_results(session):
    """The results the engine writes are the ones the CSV row and the report read (a renamed
    summary key would otherwise leave their TAC columns silently empty)."""
    from mirrorvr.catalog import Catalog
    from mirrorvr.export.metrics import session_row
    from mirrorvr.outcomes.report import build_report

    summary, _, _ = session
    data_dir = Path(summary["session_dir"]).parent.parent
    tac = summary["tac_test"]["summary"]
    with Catalog.open(data_dir) as catalog:
        [info] = catalog.sessions()
        row = session_row(info, 1, catalog.outcomes(session_id=info.id))
        page = build_report(catalog, info.pseudonym)
    assert (row["tac_test_completion_rate"], row["tac_test_completion_time_s"],
            row["tac_test_path_efficiency_pct"]) == (
        tac["completion_rate"], tac["completion_time_s"], tac["path_efficiency_pct"])
    assert tac["path_efficiency_pct"] is not None
    section = page[page.index("<section id='realtime-tests'>"):]
    section = section[:section.index("</section>")]
    assert "No Motion Test or TAC test" not in section
    cells = section[section.index("<table>"):]
    assert f"<td>{tac['path_efficiency_pct']:.3g}</td>" in cells
