"""Outcome instruments: definitions as data, scoring against worked examples (missing items
as each instrument's rules say), refusal of answers that are not allowed, licensed text."""

import pytest

from mirrorvr.errors import InstrumentError
from mirrorvr.outcomes import available_instruments, load_instrument

SF_SUBSCALES = {  # Dworkin et al. 2009: the item numbers of each subscale
    "continuous": [1, 5, 6, 8, 9, 10],
    "intermittent": [2, 3, 4, 11, 16, 18],
    "neuropathic": [7, 17, 19, 20, 21, 22],
    "affective": [12, 13, 14, 15],
}


def test_the_issue_s_instruments_are_shipped_and_valid():
    assert {"nrs", "vas", "pgic", "pain_diary", "sf_mpq_2", "bpi_interference"} <= set(
        available_instruments())
    for name in available_instruments():
        instrument = load_instrument(name)
        assert instrument.id == name and instrument.items and instrument.scores


def test_nrs_vas_and_pgic_worked_examples():
    assert load_instrument("nrs").score({"pain": 7}) == {"intensity": 7.0}
    assert load_instrument("vas").score({"pain": 42}) == {"intensity_mm": 42.0}
    pgic = load_instrument("pgic")
    assert pgic.score({"change": 2}) == {"pgic": 2.0, "much_improved": 1.0}
    assert pgic.score({"change": 3}) == {"pgic": 3.0, "much_improved": 0.0}


def test_sf_mpq_2_structure_and_worked_example():
    sf = load_instrument("sf_mpq_2")
    assert len(sf.items) == 22
    rules = {r.id: r for r in sf.scores}
    for name, numbers in SF_SUBSCALES.items():
        assert rules[name].items == tuple(f"q{n:02d}" for n in numbers)
        assert rules[name].method == "mean"
    # every item once in exactly one subscale
    assert sorted(n for ns in SF_SUBSCALES.values() for n in ns) == list(range(1, 23))
    # item k answered k mod 11: continuous 1,5,6,8,9,10 -> mean 39/6 = 6.5;
    # intermittent 2,3,4,0(11),5(16),7(18) -> 21/6 = 3.5; neuropathic 7,6,8,9,10,0 -> 40/6;
    # affective 1,2,3,4 -> 2.5; total = sum(k mod 11) / 22 = 110 / 22 = 5
    answers = {f"q{k:02d}": k % 11 for k in range(1, 23)}
    scores = sf.score(answers)
    assert scores["continuous"] == pytest.approx(6.5)
    assert scores["intermittent"] == pytest.approx(3.5)
    assert scores["neuropathic"] == pytest.approx(40 / 6)
    assert scores["affective"] == pytest.approx(2.5)
    assert scores["total"] == pytest.approx(5.0)
    assert scores["pri_sum"] == pytest.approx(110.0)


def test_sf_mpq_2_missing_item_leaves_its_subscale_and_the_total_unscored():
    sf = load_instrument("sf_mpq_2")
    answers = {f"q{k:02d}": 4 for k in range(1, 23)}
    answers["q12"] = None  # an affective item
    scores = sf.score(answers)
    assert scores["affective"] is None and scores["total"] is None and scores["pri_sum"] is None
    assert scores["continuous"] == scores["intermittent"] == scores["neuropathic"] == 4.0


def test_bpi_interference_needs_four_of_seven_items():
    bpi = load_instrument("bpi_interference")
    assert len(bpi.items) == 7
    four = {"general_activity": 2, "mood": 5, "sleep": 8, "enjoyment_of_life": 6}
    assert bpi.score(four) == {"interference": pytest.approx(21 / 4)}
    three = {k: four[k] for k in list(four)[:3]}
    assert bpi.score(three) == {"interference": None}
    seven = {item.id: 3 for item in bpi.items}
    assert bpi.score(seven) == {"interference": 3.0}


def test_pain_diary_frequency_duration_and_daily_burden():
    diary = load_instrument("pain_diary")
    assert diary.score({"episodes_per_day": 6, "episode_duration_min": 15}) == {
        "episodes_per_day": 6.0, "episode_duration_min": 15.0, "pain_min_per_day": 90.0}
    assert diary.score({"episodes_per_day": 6})["pain_min_per_day"] is None


@pytest.mark.parametrize(("name", "item", "value", "allowed"), [
    ("nrs", "pain", 11, "whole numbers 0-10"),
    ("nrs", "pain", -1, "whole numbers 0-10"),
    ("nrs", "pain", 4.5, "whole numbers 0-10"),
    ("nrs", "pain", "7", "whole numbers 0-10"),
    ("nrs", "pain", True, "whole numbers 0-10"),
    ("vas", "pain", 100.5, "whole numbers 0-100 mm"),
    ("pgic", "change", 8, "one of 1, 2, 3, 4, 5, 6, 7"),
    ("pain_diary", "episode_duration_min", 12, "multiples of 5"),
    ("bpi_interference", "sleep", float("nan"), "whole numbers 0-10"),
])
def test_answers_that_are_not_allowed_are_refused_naming_everything(name, item, value,
                                                                    allowed):
    instrument = load_instrument(name)
    with pytest.raises(InstrumentError) as err:
        instrument.score({item: value})
    text = str(err.value)
    assert repr(name) in text and repr(item) in text and repr(value) in text
    assert allowed.split(" ")[0] in text


def test_unknown_items_and_missing_required_answers_are_refused():
    with pytest.raises(InstrumentError, match="unknown items"):
        load_instrument("nrs").score({"pian": 3})
    with pytest.raises(InstrumentError, match="needs every item"):
        load_instrument("nrs").score({})


def test_licensed_instruments_ship_placeholders_and_take_the_site_s_text(tmp_path,
                                                                         monkeypatch):
    sf = load_instrument("sf_mpq_2")
    assert sf.licensed and sf.text_source == "placeholder"
    assert all("placeholder" in item.prompt for item in sf.items)
    licensed = tmp_path / "sf_mpq_2.toml"
    lines = ['title = "Site title"']
    for k in range(1, 23):
        lines += [f"[items.q{k:02d}]", f'prompt = "site wording {k}"']
    licensed.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("MIRRORVR_LICENSED_TEXTS", str(tmp_path))
    site = load_instrument("sf_mpq_2")
    assert site.title == "Site title" and site.text_source == str(licensed)
    assert [i.prompt for i in site.items] == [f"site wording {k}" for k in range(1, 23)]
    assert site.scores == sf.scores  # the wording changes, never the scoring
    licensed.write_text('[items.q01]\nprompt = "only one"\n')
    with pytest.raises(InstrumentError, match=r"no text for items \['q02'"):
        load_instrument("sf_mpq_2")
    assert load_instrument("nrs").text_source == "public"  # public wording is never replaced


def test_malformed_definitions_name_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "bad"\nversion = "1"\ntitle = "Bad"\n'
                   '[[items]]\nid = "a"\nprompt = "?"\nresponse = "scale"\nmin = 0\nmax = 10\n'
                   '[[scores]]\nid = "s"\nmethod = "mean"\nitems = ["b"]\n')
    with pytest.raises(InstrumentError, match="names item 'b'"):
        load_instrument(bad)
    with pytest.raises(InstrumentError, match="not shipped"):
        load_instrument("mcgill_long_form")
