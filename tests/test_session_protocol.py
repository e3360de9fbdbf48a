"""Protocols as data: the built-in ones plan and run to their end for their limb, rehearsals
shrink them, and a wrong protocol is refused before anything starts, naming block, field and
value."""

import pytest

from mirrorvr.cli import main, run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.errors import ConfigError
from mirrorvr.session.protocol import (
    BLOCK_SPECS,
    builtin_protocols,
    limb_movements,
    load_protocol,
    parse_protocol,
    plan_protocol,
)

from fakes import NullRenderer, ScriptedWindow, block_spans

REQUIRED = {"demo", "pme-upper", "pme-lower", "mirror-upper", "mirror-lower", "imagery-upper",
            "imagery-lower"}
LEVEL = {"upper": "transradial", "lower": "transtibial"}


def test_the_built_in_protocols_are_there():
    assert REQUIRED <= set(builtin_protocols())


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_built_in_protocol_plans_for_its_limb(name):
    protocol = load_protocol(name)
    allowed = limb_movements(protocol.limb, LEVEL[protocol.limb])
    blocks = plan_protocol(protocol, allowed)
    assert [b.kind for b in blocks] == [b.kind for b in protocol.blocks]
    for block in blocks:
        assert all(m in allowed for m in block.movements)
        for cue in block.cues:
            assert 0 <= cue.start_s < cue.end_s <= block.duration_s + 1e-9
    if name.startswith(("pme", "imagery")):  # the PME trial's sessions: ~90 min
        assert 80 * 60 <= sum(b.duration_s for b in blocks) <= 100 * 60


def test_pme_and_imagery_have_the_same_screens_and_times():
    for limb in ("upper", "lower"):
        allowed = limb_movements(limb, LEVEL[limb])  # six movements, as the imagery arm
        pme = plan_protocol(load_protocol(f"pme-{limb}"), allowed)
        imagery = plan_protocol(load_protocol(f"imagery-{limb}"), allowed)
        assert sum(b.duration_s for b in pme) == pytest.approx(
            sum(b.duration_s for b in imagery))
        assert not any(b.spec.stimulation for b in imagery)


@pytest.mark.parametrize("duration", [40.0, 60.0, 300.0])
def test_a_rehearsal_fills_its_duration_in_order(duration):
    protocol = load_protocol("demo")
    blocks = plan_protocol(protocol, limb_movements("upper"), duration)
    assert [b.kind for b in blocks] == [b.kind for b in protocol.blocks]
    assert sum(b.duration_s for b in blocks) == pytest.approx(duration)


def test_too_short_a_rehearsal_says_what_would_work():
    protocol = load_protocol("pme-upper")
    too_short = r"protocol\.duration_s = 10 s is too short.*>= (\d+)"
    with pytest.raises(ConfigError, match=too_short) as info:
        plan_protocol(protocol, limb_movements("upper"), 10.0)
    needed = float(str(info.value).rsplit(">= ", 1)[1])
    blocks = plan_protocol(protocol, limb_movements("upper"), needed)
    assert sum(b.duration_s for b in blocks) == pytest.approx(needed)


@pytest.mark.parametrize("name", ["mirror-upper", "mirror-lower"])
def test_a_rehearsal_keeps_a_neutral_step_long_enough_to_read(name):
    """Shrunk in proportion, a 5 s neutral step of a 15 s rehearsal would last ~40 ms: too
    few readings for offsets. A rehearsal keeps MIN_NEUTRAL_S of it (or all of a shorter
    one), and the cues follow it."""
    from mirrorvr.session.protocol import MIN_NEUTRAL_S

    protocol = load_protocol(name)
    full = [b.spec.neutral_s for b in plan_protocol(protocol, limb_movements(protocol.limb))
            if b.kind == "mirror"]
    assert max(full) > MIN_NEUTRAL_S  # the shipped step is longer than the floor
    rehearsal = [b for b in plan_protocol(protocol, limb_movements(protocol.limb), 15.0)
                 if b.kind == "mirror"]
    for block, neutral_s in zip(rehearsal, full, strict=True):
        assert block.spec.neutral_s == pytest.approx(min(neutral_s, MIN_NEUTRAL_S)
                                                     if neutral_s else 0.0)
        assert all(c.start_s >= block.spec.neutral_s for c in block.cues)
        assert block.spec.neutral_s < block.duration_s


def _protocol(*blocks, limb="upper"):
    return {"name": "trial", "limb": limb, "blocks": list(blocks)}


@pytest.mark.parametrize("data, says", [
    (_protocol({"kind": "calibration"}, {"kind": "dance", "duration_s": 3}),
     ["block 2 (dance): kind", "unknown block kind", "phantom"]),
    (_protocol({"kind": "calibration"}, {"kind": "phantom", "duration_s": 10,
                                         "contraction_s": 3}),
     ["block 2 (phantom): contraction_s = 3", "not a field of a phantom block"]),
    (_protocol({"kind": "rest", "duration_s": -5}),
     ["block 1 (rest): duration_s = -5", "greater than 0"]),
    (_protocol({"kind": "rest", "duration_s": 5, "stimulation": True}),
     ["block 1 (rest): stimulation = True"]),
    (_protocol({"kind": "phantom", "duration_s": 10, "cue_s": "four"}),
     ["block 1 (phantom): cue_s = 'four'"]),
])
def test_a_wrong_protocol_is_refused_naming_block_field_and_value(data, says):
    with pytest.raises(ConfigError) as info:
        parse_protocol(data, "trial.toml")
    for fragment in says:
        assert fragment in str(info.value)


@pytest.mark.parametrize("blocks, limb, says", [
    (({"kind": "calibration", "movements": ["rest", "ankle_dorsiflexion"]},), "upper",
     "block 1 (calibration): movements = ['rest', 'ankle_dorsiflexion']: 'ankle_dorsiflexion' "
     "is not a movement this patient's limb has"),
    (({"kind": "phantom", "duration_s": 10},), "upper",
     "block 1 (phantom): needs a trained decoder"),
    (({"kind": "calibration", "contraction_s": 0.3},), "upper",
     "block 1 (calibration): contraction_s = 0.3: keeps 210 ms"),
    (({"kind": "mirror", "duration_s": 4, "neutral_s": 5},), "lower",
     "block 1 (mirror): neutral_s = 5: must be shorter than the block"),
])
def test_a_protocol_that_cannot_run_for_this_patient_is_refused(blocks, limb, says):
    protocol = parse_protocol(_protocol(*blocks, limb=limb))
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        plan_protocol(protocol, limb_movements(limb, LEVEL[limb]))


def test_transhumeral_is_refused_naming_what_is_missing():
    with pytest.raises(ConfigError, match="'transhumeral': elbow movements"):
        limb_movements("upper", "transhumeral")


def test_every_block_kind_has_a_class_and_a_spec():
    from mirrorvr.session.blocks import BLOCK_KINDS

    assert set(BLOCK_KINDS) == set(BLOCK_SPECS)


def test_protocols_command_lists_and_shows(capsys, tmp_path):
    assert main(["protocols"]) == 0
    out = capsys.readouterr().out
    for name in REQUIRED:
        assert name in out
    assert main(["protocols", "show", "pme-lower"]) == 0
    shown = capsys.readouterr().out
    copy = tmp_path / "mine.toml"
    copy.write_text(shown.replace('name = "pme-lower"', 'name = "mine"'))
    assert load_protocol(copy).blocks == load_protocol("pme-lower").blocks


# ---------------------------------------------------------------- runs


LOWER_PATIENT = {"pseudonym": "sub-31", "amputated_side": "left",
                 "amputation_level": "transtibial", "screening": {},
                 "stim_channels": [
                     {"channel": 0, "site": "tibialis anterior", "electrode_area_cm2": 25,
                      "sensory_threshold_ma": 7, "motor_threshold_ma": 15,
                      "max_tolerated_ma": 28},
                     {"channel": 1, "site": "gastrocnemius", "electrode_area_cm2": 25,
                      "sensory_threshold_ma": 8, "motor_threshold_ma": 17,
                      "max_tolerated_ma": 30}]}


def _run(tmp_path, name, duration_s, patient=None):
    data = {"protocol": {"name": name, "duration_s": duration_s},
            "render": {"max_fps": 20.0, "saved_frames": 0}}
    if patient is not None:
        data["patient"] = patient
    clock = FakeClock(1000.0)
    return run_demo(build_config(data), tmp_path, clock=clock, realtime=False,
                    window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REQUIRED - {"demo"}))
def test_a_built_in_protocol_runs_to_its_end_as_a_rehearsal(tmp_path, name):
    protocol = load_protocol(name)
    patient = LOWER_PATIENT if protocol.limb == "lower" else None
    with pytest.raises(ConfigError, match=r">= (\d+)") as info:
        _run(tmp_path / "short", name, 1.0, patient)
    shortest = float(str(info.value).rsplit(">= ", 1)[1])
    summary = _run(tmp_path, name, shortest, patient)
    assert summary["ended"] == "completed" and summary["protocol"] == name
    assert summary["limb"] == protocol.limb
    spans = block_spans(summary["recording"])
    assert list(spans) == summary["blocks"]  # every block started and ended, in order
    # each block ends on the first frame after its time (20 frames/s); a rating block a
    # frame later: its last answer is pressed on the control step, taken by the next frame
    n_ratings = sum(1 for b in protocol.blocks if b.kind == "rating")
    assert shortest <= summary["duration_s"] <= shortest + (len(spans) + n_ratings) / 20 + 0.1
    assert f"-{name}" in summary["session_dir"]  # the folder is named after the protocol
    assert set(summary["ratings"]) == {"pre", "post"}
    if name.startswith("pme"):
        assert summary["decoder"]["cv_accuracy"] > 0.5
        assert summary["motion_test"] is not None and summary["tac_test"] is not None
