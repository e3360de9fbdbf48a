"""Rating blocks show outcome instruments: a patient answers with keys, a gamepad or clicks
(side-by-side stereo too), the simulated patient through the same keys; answers and scores
go to the recording's ``outcomes`` stream, ``ratings`` (NRS), the results and the catalogue.

Fake clock, scripted window and null renderer (no GL); the GL picture is in
test_session_rating_screen.py.
"""

import json

import pytest

from mirrorvr.catalog import Catalog
from mirrorvr.cli import build_session, run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.outcomes import InstrumentForm, load_instrument
from mirrorvr.render.screens import click_fraction, option_boxes, slider_track
from mirrorvr.session.protocol import parse_protocol
from mirrorvr.session.runner import SessionRunner

from fakes import NullRenderer, ScriptedWindow

pyxdf = pytest.importorskip("pyxdf")

T0 = 1000.0
W, H = 640, 360


def _protocol(*blocks):
    return parse_protocol({"name": "ratings", "limb": "upper", "blocks": list(blocks)})


def _config(view="mono", **extra):
    return build_config({"render": {"width": W, "height": H, "max_fps": 20.0,
                                    "saved_frames": 0, "view": view}, **extra})


def _run(tmp_path, protocol, keys, view="mono", **kwargs):
    clock = FakeClock(T0)
    return run_demo(_config(view), tmp_path, protocol=protocol, clock=clock, realtime=False,
                    window=ScriptedWindow(clock, keys), renderer=NullRenderer(clock), **kwargs)


def _recorded(summary):
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    outcomes = [json.loads(row[0]) for row in by_name["outcomes"]["time_series"]]
    markers = [row[0] for row in by_name["markers"]["time_series"]]
    ratings = [float(row[0]) for row in by_name["ratings"]["time_series"]]
    return outcomes, markers, ratings


def _click(x_frac, y_frac, view="mono", eye="left"):
    """The window pixels of a click at viewport fractions (in one eye's half in stereo)."""
    if view == "stereo_sbs":
        half = W // 2
        x_px = x_frac * half if eye == "left" else half + x_frac * (W - half)
    else:
        x_px = x_frac * W
    x_px, y_px = round(x_px), round(y_frac * H)
    assert click_fraction(x_px, y_px, W, H, view) == pytest.approx((x_frac, y_frac), abs=0.01)
    return f"click {x_px} {y_px}"


def _option_centre(instrument, k):
    left, top, right, bottom = option_boxes(InstrumentForm(load_instrument(instrument)).view())[k]
    return (left + right) / 2, (top + bottom) / 2


def test_a_patient_answers_with_keys_a_gamepad_and_clicks(tmp_path):
    protocol = _protocol(
        {"kind": "rating", "name": "rating_pre"},
        {"kind": "rating", "name": "pgic_post", "instrument": "pgic", "timepoint": "post"},
        {"kind": "rating", "name": "vas_post", "instrument": "vas", "timepoint": "post"},
        {"kind": "rating", "name": "diary_post", "instrument": "pain_diary",
         "timepoint": "post"})
    x0, x1, y_line = slider_track()
    keys = {
        T0 + 0.5: "7", T0 + 0.55: "return",  # NRS 7
        # PGIC on the gamepad: the d-pad down twice (option 1, then 2), A confirms
        T0 + 1.0: "gamepad down", T0 + 1.05: "gamepad down", T0 + 1.1: "gamepad a",
        # VAS: a click on the line at 64 mm, Enter
        T0 + 1.5: _click(x0 + 0.64 * (x1 - x0), y_line), T0 + 1.55: "return",
        # diary: 12 episodes, then 30 min typed
        T0 + 2.0: "1", T0 + 2.05: "2", T0 + 2.1: "return", T0 + 2.2: "3", T0 + 2.25: "0",
        T0 + 2.3: "return",
    }
    summary = _run(tmp_path, protocol, keys, ask_ratings=True)
    assert summary["ended"] == "completed"
    results = summary["results"]
    assert results["rating_pre"]["answers"] == {"pain": 7} and results["rating_pre"]["value"] == 7
    assert results["pgic_post"]["answers"] == {"change": 2}
    assert results["pgic_post"]["scores"] == {"pgic": 2.0, "much_improved": 1.0}
    assert results["vas_post"]["answers"] == {"pain": 64}
    assert results["diary_post"]["answers"] == {"episodes_per_day": 12,
                                                "episode_duration_min": 30}
    assert summary["ratings"] == {"pre": 7}  # the NRS summary row, as before instruments
    outcomes, markers, ratings = _recorded(summary)
    assert [(o["instrument"], o["timepoint"], o["answers"]) for o in outcomes] == [
        (r["instrument"], r["timepoint"], r["answers"]) for r in results.values()]
    assert [o["scores"] for o in outcomes] == [r["scores"] for r in results.values()]
    assert ratings == [7.0]  # the NRS stream old readers know holds the NRS only
    assert "rating pre nrs=7" in markers
    assert "outcome pgic post pgic=2 much_improved=1" in markers
    # each block ended when its last item was answered, on the next frame
    assert results["diary_post"]["t_s"] == pytest.approx(T0 + 2.3, abs=0.06)


@pytest.mark.parametrize("eye", ["left", "right"])
def test_clicks_in_either_eye_of_side_by_side_stereo_answer(tmp_path, eye):
    protocol = _protocol({"kind": "rating", "name": "pgic", "instrument": "pgic",
                          "timepoint": "post"})
    x, y = _option_centre("pgic", 5)
    click = _click(x, y, "stereo_sbs", eye)
    # a click selects the option, a second click on it confirms
    summary = _run(tmp_path, protocol, {T0 + 0.5: click, T0 + 0.6: click}, view="stereo_sbs",
                   ask_ratings=True)
    assert summary["results"]["pgic"]["answers"] == {"change": 6}


def test_a_click_off_the_options_and_the_stop_button_changes_nothing(tmp_path):
    protocol = _protocol({"kind": "rating", "name": "pgic", "instrument": "pgic",
                          "timepoint": "post"})
    x, y = _option_centre("pgic", 0)
    keys = {T0 + 0.4: _click(0.02, 0.98), T0 + 0.5: _click(x, y),
            T0 + 0.6: "return"}
    summary = _run(tmp_path, protocol, keys, ask_ratings=True)
    assert summary["results"]["pgic"]["answers"] == {"change": 1}
    assert summary["ems"]["emergency_stops"] == 0


def test_the_simulated_patient_answers_every_instrument_through_the_form(tmp_path):
    from mirrorvr.sim.rater import FixedPain

    names = ["nrs", "vas", "pgic", "pain_diary", "sf_mpq_2", "bpi_interference"]
    protocol = _protocol(*({"kind": "rating", "name": f"{n}_pre", "instrument": n,
                            "timepoint": "pre"} for n in names))
    rater = FixedPain({"pre": 6}, seed=3)
    summary = _run(tmp_path, protocol, {}, rater=rater)
    results = summary["results"]
    for name in names:
        instrument = load_instrument(name)
        expected = rater.answers(instrument, "pre", 1)
        assert results[f"{name}_pre"]["answers"] == instrument.check_answers(expected), name
        assert results[f"{name}_pre"]["scores"] == instrument.score(expected), name
    # item by item, the last when the screen's time (2 s) is up: 22 items take no longer
    starts = [results[f"{n}_pre"]["t_s"] for n in names]
    gaps = [b - a for a, b in zip([T0, *starts], starts, strict=False)]
    assert all(2.0 <= g <= 2.0 + 0.11 for g in gaps), gaps


def test_an_instrument_the_patient_left_does_not_count(tmp_path):
    protocol = _protocol({"kind": "rating", "name": "rating_pre"},
                         {"kind": "rating", "name": "sf", "instrument": "sf_mpq_2",
                          "timepoint": "pre"})
    keys = {T0 + 0.5: "4", T0 + 0.55: "return", T0 + 1.0: "3", T0 + 1.05: "return",
            T0 + 1.5: "escape"}
    summary = _run(tmp_path, protocol, keys, ask_ratings=True)
    assert summary["ended"] == "ended by the user (Esc)"
    assert "sf" not in summary["results"]
    outcomes, _, _ = _recorded(summary)
    assert [o["instrument"] for o in outcomes] == ["nrs"]


def test_bad_rating_blocks_are_refused_before_anything_starts(tmp_path):
    from mirrorvr.errors import ConfigError

    with pytest.raises(ConfigError, match=r"block 1 \(rating\): instrument = 'bdi'.*available"):
        _protocol({"kind": "rating", "instrument": "bdi"})
    with pytest.raises(ConfigError, match="prompt: replaces the question of a one-item.*22"):
        _protocol({"kind": "rating", "instrument": "sf_mpq_2", "prompt": "How is it?"})
    with pytest.raises(ConfigError, match="sessions = \\[0\\]: 0 is not a session position"):
        _protocol({"kind": "rating", "sessions": [0]})
    # a simulated patient with no pain level for a timepoint: refused, nothing recorded
    protocol = _protocol({"kind": "rating", "name": "mid", "timepoint": "mid"})
    with pytest.raises(ConfigError, match="rating block 'mid'.*timepoint 'mid'"):
        build_session(_config(), tmp_path, protocol=protocol, clock=FakeClock(T0),
                      realtime=False, window=ScriptedWindow(FakeClock(T0), {}),
                      renderer=NullRenderer())
    assert not list(tmp_path.glob("*/*/config.json"))


def test_a_one_item_prompt_replaces_the_question(tmp_path):
    protocol = _protocol({"kind": "rating", "name": "rating_pre",
                          "prompt": "Phantom hand pain now?"})
    clock = FakeClock(T0)
    parts = build_session(_config(), tmp_path, protocol=protocol, clock=clock, realtime=False,
                          window=ScriptedWindow(clock, {}), renderer=NullRenderer())
    runner = SessionRunner(parts)
    block = runner.blocks[0]
    block.enter(T0)
    view = block.frame(T0).question
    assert view.prompt == "Phantom hand pain now?" and view.title == "Pain intensity (NRS)"
    assert view.options == tuple(str(k) for k in range(11))
    runner.run()
    with Catalog.open(tmp_path) as catalog:
        [session] = catalog.sessions()
        assert session.status == "complete"
