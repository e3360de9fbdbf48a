"""Contact sheets of whole sessions, one frame per block, every block kind:
``docs/session_upper.png`` (the demo's right transradial patient) and
``docs/session_lower.png`` (a left transtibial patient): each runs a protocol of every block
kind (rating, relaxation, calibration, phantom, guided, imagery, biofeedback, mirror, Motion
Test, TAC test, rest) as a rehearsal on the simulated patient, on the fake clock with the
real renderer, and keeps the session's own contact sheet.

    .venv/bin/python docs/make_session_sheets.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mirrorvr.cli import run_demo  # noqa: E402
from mirrorvr.clock import FakeClock  # noqa: E402
from mirrorvr.config import build_config  # noqa: E402
from mirrorvr.session.protocol import parse_protocol  # noqa: E402

#: A left transtibial amputee with titrated leg channels.
LOWER_PATIENT = {
    "pseudonym": "sub-docs02", "amputated_side": "left", "amputation_level": "transtibial",
    "screening": {},
    "stim_channels": [
        {"channel": 0, "site": "tibialis anterior", "electrode_area_cm2": 25,
         "sensory_threshold_ma": 7, "motor_threshold_ma": 15, "max_tolerated_ma": 28},
        {"channel": 1, "site": "gastrocnemius", "electrode_area_cm2": 25,
         "sensory_threshold_ma": 8, "motor_threshold_ma": 17, "max_tolerated_ma": 30}],
}
#: Movements of each limb's sheet (the calibration's; the other blocks use them).
MOVEMENTS = {
    "upper": ["rest", "hand_open", "hand_close", "wrist_flexion", "wrist_extension"],
    "lower": ["rest", "ankle_dorsiflexion", "ankle_plantarflexion", "toe_flexion",
              "toe_extension"],
}


def every_block(limb: str):
    """A protocol holding one block of every kind."""
    return parse_protocol({
        "name": f"every-block-{limb}", "limb": limb, "title": "Every block kind",
        "blocks": [
            {"kind": "rating", "name": "rating_pre"},
            {"kind": "relaxation", "duration_s": 8},
            {"kind": "calibration", "movements": MOVEMENTS[limb], "repetitions": 2,
             "contraction_s": 1.5, "rest_s": 1.0},
            {"kind": "phantom", "duration_s": 8, "cue_s": 4.0, "attempt_fraction": 0.55},
            {"kind": "guided", "duration_s": 8, "cue_s": 4.0, "attempt_fraction": 0.55},
            {"kind": "imagery", "duration_s": 8, "cue_s": 4.0, "attempt_fraction": 0.55},
            {"kind": "biofeedback", "duration_s": 8},
            {"kind": "mirror", "duration_s": 8, "cue_s": 4.0, "attempt_fraction": 0.5},
            {"kind": "motion_test"},
            {"kind": "tac_test"},
            {"kind": "rest", "duration_s": 4},
        ]}, "make_session_sheets.py")


def run(limb: str, out: Path) -> None:
    data = {"render": {"width": 1280, "height": 720, "headless": True, "max_fps": 20,
                       "saved_frames": 3}, "protocol": {"duration_s": 120.0}}
    if limb == "lower":
        data["patient"] = LOWER_PATIENT
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_demo(build_config(data), Path(tmp), protocol=every_block(limb),
                           clock=FakeClock(1000.0), realtime=False)
        shutil.copy(summary["contact_sheet"], out)
    sys.stdout.write(f"wrote {out}\n")


if __name__ == "__main__":
    for limb in ("upper", "lower"):
        run(limb, HERE / f"session_{limb}.png")
