"""The patient-facing instrument form: keys, clicks (through the renderer's own hit test),
gamepad names, going back, skipping, and a scripted rater on the same path."""

import pytest

from mirrorvr.errors import InstrumentError
from mirrorvr.outcomes import InstrumentForm, answer_form, keys_for_answers, load_instrument
from mirrorvr.render.screens import option_boxes, slider_track


def _press(form, *keys):
    for key in keys:
        form.handle_key(key)


def _centre(box):
    left, top, right, bottom = box
    return (left + right) / 2, (top + bottom) / 2


def test_nrs_by_digits_arrows_and_enter():
    form = InstrumentForm(load_instrument("nrs"))
    view = form.view()
    assert view.kind == "scale" and view.options == tuple(str(k) for k in range(11))
    assert view.selected is None and view.anchors == ("no pain", "worst pain imaginable")
    _press(form, "return")  # nothing chosen yet: Enter does nothing
    assert not form.done
    _press(form, "1", "0")
    assert form.view().selected == 10
    _press(form, "left", "left")
    assert form.selected == 8
    _press(form, "return")
    assert form.done and form.answers() == {"pain": 8}
    assert form.result(12.5).scores == {"intensity": 8.0}


def test_result_before_the_end_is_refused():
    form = InstrumentForm(load_instrument("nrs"))
    with pytest.raises(InstrumentError, match="not finished"):
        form.result(0.0)


def test_vas_slider_by_click_on_the_drawn_track_then_arrows():
    form = InstrumentForm(load_instrument("vas"))
    x0, x1, y = slider_track()
    form.handle_click(x0 + 0.25 * (x1 - x0), y)
    assert form.selected == 25 and form.view().selected == pytest.approx(0.25)
    form.handle_click(0.5, 0.05)  # far from the line: ignored
    assert form.selected == 25
    _press(form, "right", "right", "return")
    assert form.done and form.answers() == {"pain": 27}


def test_pgic_by_mouse_click_twice_and_by_gamepad():
    form = InstrumentForm(load_instrument("pgic"))
    boxes = option_boxes(form.view())
    assert len(boxes) == 7
    x, y = _centre(boxes[1])
    form.handle_event(f"click {x * 1280:.0f} {y * 720:.0f}", 1280, 720)
    assert form.selected == 2 and not form.done
    form.handle_event(f"click {x * 1280:.0f} {y * 720:.0f}", 1280, 720)  # again: confirms
    assert form.done and form.result(3.0).scores == {"pgic": 2.0, "much_improved": 1.0}

    pad = InstrumentForm(load_instrument("pgic"))
    # the first move selects the first option, then one option per move
    _press(pad, "gamepad down", "gamepad down", "gamepad down", "gamepad down", "gamepad up",
           "gamepad a")
    assert pad.done and pad.answers() == {"change": 3}


def test_backspace_deletes_a_digit_then_goes_back_an_item():
    form = InstrumentForm(load_instrument("pain_diary"))
    _press(form, "1", "2")
    assert form.selected == 12
    _press(form, "backspace")
    assert form.selected == 1
    _press(form, "return")
    assert form.index == 1 and form.view().item == 2 and form.view().n_items == 2
    _press(form, "backspace")  # nothing typed: back to item 1, with its answer selected
    assert form.index == 0 and form.selected == 1
    _press(form, "5", "return", "3", "0", "return")
    assert form.done and form.answers() == {"episodes_per_day": 5, "episode_duration_min": 30}
    assert form.result(0.0).scores["pain_min_per_day"] == 150.0


def test_skipping_only_where_the_instrument_allows_it():
    nrs = InstrumentForm(load_instrument("nrs"))
    _press(nrs, "tab")
    assert not nrs.done and nrs.index == 0
    bpi = InstrumentForm(load_instrument("bpi_interference"))
    _press(bpi, "tab", "tab", "tab", "tab", "5", "return", "6", "return", "7", "return")
    assert bpi.done
    assert bpi.result(0.0).scores == {"interference": None}  # 3 of 7 answered


def test_a_scripted_rater_goes_through_the_same_keys():
    sf = load_instrument("sf_mpq_2")
    answers = {f"q{k:02d}": (k * 3) % 11 for k in range(1, 23)}
    answers["q05"] = None
    keys = keys_for_answers(sf, answers)
    assert keys[:3] == ["3", "return", "6"] and "tab" in keys
    result = answer_form(InstrumentForm(sf), answers, 7.0)
    assert result.answers == answers and result.scores["continuous"] is None
    assert result.scores["intermittent"] == pytest.approx(sf.score(answers)["intermittent"])
    with pytest.raises(InstrumentError, match="out of range"):
        keys_for_answers(sf, {"q01": 12})


def test_the_number_item_shows_its_value_to_the_patient():
    form = InstrumentForm(load_instrument("pain_diary"))
    _press(form, "7")
    view = form.view()
    assert view.kind == "slider" and "7 episodes" in view.prompt
    assert view.selected == pytest.approx(7 / 50)
