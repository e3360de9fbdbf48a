"""NRS ratings: keys on screen, or a script in the demo."""

import pytest

from mirrorvr.errors import ConfigError
from mirrorvr.session.ratings import RatingInput, check_nrs


def test_keys_set_and_confirm_a_rating():
    r = RatingInput()
    for key in ["7", "left", "left", "right"]:
        r.handle_key(key)
    assert r.answer is None and r.value == 6
    r.handle_key("return")
    assert r.answer == 6
    r.handle_key("2")  # after confirming, keys change nothing
    assert r.answer == 6


def test_ten_is_typed_as_one_zero_and_arrows_stay_on_the_scale():
    r = RatingInput()
    r.handle_key("1")
    r.handle_key("0")
    assert r.value == 10
    r.handle_key("right")
    assert r.value == 10
    r.handle_key("0")
    r.handle_key("left")
    assert r.value == 0


@pytest.mark.parametrize("bad", [-1, 11, 3.5, True, "4"])
def test_values_off_the_scale_are_refused(bad):
    with pytest.raises(ConfigError, match="NRS rating.*allowed: whole numbers 0-10"):
        check_nrs(bad)
