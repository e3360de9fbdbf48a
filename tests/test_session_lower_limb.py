"""A lower-limb patient is a first-class patient: a left transtibial amputee gets the seated
leg scene, the lower-limb classes of REFERENCES.md, texts about the foot and the left side,
the leg's muscles in the simulated residual limb, and the leg's stimulation channels."""

import json

import pytest

from mirrorvr.cli import run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.movements import LOWER_LIMB_MOVEMENTS, UPPER_LIMB_MOVEMENTS
from mirrorvr.session.texts import PatientTexts
from mirrorvr.stim.prescription import DEFAULT_MOVEMENT_CHANNELS

from fakes import ScriptedWindow, block_spans

pyxdf = pytest.importorskip("pyxdf")

LEFT_TRANSTIBIAL = {
    "pseudonym": "sub-31", "amputated_side": "left", "amputation_level": "transtibial",
    "screening": {},
    "stim_channels": [
        {"channel": 0, "site": "tibialis anterior", "electrode_area_cm2": 25,
         "sensory_threshold_ma": 7, "motor_threshold_ma": 15, "max_tolerated_ma": 28},
        {"channel": 1, "site": "gastrocnemius", "electrode_area_cm2": 25,
         "sensory_threshold_ma": 8, "motor_threshold_ma": 17, "max_tolerated_ma": 30}]}


@pytest.mark.parametrize("affected, intact", [("left", "right"), ("right", "left")])
@pytest.mark.parametrize("limb, part, movement", [("upper", "hand", "hand_close"),
                                                  ("lower", "foot", "ankle_dorsiflexion")])
def test_texts_follow_the_profiles_sides_and_limb(affected, intact, limb, part, movement):
    texts = PatientTexts(affected, intact, limb)
    assert texts.movement("rest") == f"Relax your {part}"
    assert texts.phantom(movement).endswith(f"with your phantom {part}")
    mirror = texts.mirror(movement)
    assert f"({intact} {part})" in mirror and mirror.endswith(f"watch the {affected}")
    assert texts.neutral.startswith(f"Rest your {intact} {part} flat")
    other = "foot" if part == "hand" else "hand"
    for text in (texts.phantom(movement), mirror, texts.neutral, texts.calibration):
        assert other not in text


def test_knee_movements_speak_of_the_leg():
    assert PatientTexts("left", "right", "lower").phantom("knee_flexion") == (
        "Bend your knee with your phantom leg")


class SceneLog:
    """Keeps each frame's scene."""

    def __init__(self, clock):
        self.clock, self.states = clock, []

    def draw(self, state):
        self.states.append((self.clock.now(), state))


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    config = build_config({"patient": LEFT_TRANSTIBIAL,
                           "protocol": {"name": "pme-lower", "duration_s": 180.0},
                           "render": {"max_fps": 20.0, "saved_frames": 0}})
    clock = FakeClock(1000.0)
    scenes = SceneLog(clock)
    summary = run_demo(config, tmp_path_factory.mktemp("data"), clock=clock, realtime=False,
                       window=ScriptedWindow(clock, {}), renderer=scenes)
    return summary, scenes.states


def test_a_left_transtibial_pme_session_decodes_the_leg(session):
    summary, _ = session
    decoder = summary["decoder"]
    transtibial = [m for m in LOWER_LIMB_MOVEMENTS if not m.startswith("knee")]
    assert decoder["classes"] == transtibial
    chance = 1 / len(transtibial)
    assert decoder["cv_accuracy"] > 4 * chance  # far above chance (seed 0: 0.93)
    assert summary["limb"] == "lower" and "/sub-31/" in summary["session_dir"]


def test_the_scene_is_the_left_leg_and_the_texts_speak_of_the_foot(session):
    summary, states = session
    assert {s.affected_side for _, s in states} == {"left"}
    assert {s.limb for _, s in states} == {"lower"}
    cues = {s.cue_text for _, s in states}
    assert "Pull your foot up with your phantom foot" in cues
    assert any("foot" in c for c in cues)
    assert not [c for c in cues if "hand" in c or "wrist" in c or "palm" in c]
    assert not [c for c in cues if any(m.replace("_", " ") in c
                                       for m in UPPER_LIMB_MOVEMENTS[1:])]


def test_the_legs_channels_accompany_the_legs_movements(session):
    summary, _ = session
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    stim = next(s for s in streams if s["info"]["name"][0] == "stimulation")
    sent = [json.loads(e[0]) for e in stim["time_series"]]
    sent = [e for e in sent if e["kind"] == "sent"]
    assert sent, "the phantom blocks stimulated"
    mapping = DEFAULT_MOVEMENT_CHANNELS["transtibial"]
    for event in sent:
        assert (event["channel"],) == mapping[event["detail"]["movement"]]
    spans = block_spans(summary["recording"])
    assert all(any(a <= e["t_s"] <= b for name, (a, b) in spans.items()
                   if name.startswith("pme")) for e in sent)
