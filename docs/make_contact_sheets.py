"""Render the documentation's pictures offscreen (1280x720 frames, shown as contact sheets):

* ``docs/movements_upper.png``: the table scene at rest and every upper-limb movement class
  (hand open/close, wrist, forearm, the grasps: power grasp, pinch, key grip, point), each on
  the right side with the left at rest;
* ``docs/movements_lower.png``: the seated scene at rest and every lower-limb class;
* ``docs/views.png``: mirror therapy as the patient sees it: mirrored movement (mono), the
  mirror-box split screen, side-by-side stereo, the residual limb drawn distinct and hidden,
  the TAC test's ghost target;
* ``docs/screens.png``: the patient screens: NRS, VAS, PGIC, the biofeedback gauge with the
  limb's tension tint, the paced-breathing guide.

:func:`sheet` renders any list of :class:`~mirrorvr.render.scene.SceneState` into a labelled
grid, e.g. one frame per block of a session.

    .venv/bin/python docs/make_contact_sheets.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mirrorvr.limb.mirror import mirror_pose  # noqa: E402
from mirrorvr.limb.poses import target_pose  # noqa: E402
from mirrorvr.movements import HAND_MOVEMENTS, LOWER_LIMB_MOVEMENTS  # noqa: E402
from mirrorvr.render.appearance import Appearance  # noqa: E402
from mirrorvr.render.capture import contact_sheet, render_states  # noqa: E402
from mirrorvr.render.scene import SceneState  # noqa: E402
from mirrorvr.render.screens import BreathingView, GaugeView, QuestionView  # noqa: E402
from mirrorvr.render.window import open_window  # noqa: E402

SIZE = (1280, 720)


def sheet(window, states, labels, path, columns=4, thumb_width=480, **renderer_options):
    """Render ``states`` (SceneState each) in ``window`` and write a labelled grid to
    ``path``; ``renderer_options`` go to the Renderer (``view``, ``appearance``, ...)."""
    images = render_states(states, window, **renderer_options)
    return contact_sheet(images, labels, path, columns, thumb_width)


def movement_states(limb, movements):
    """Rest, then each movement on the right side (the left at rest)."""
    left = target_pose("rest", 0.0, "left", limb)
    states = [SceneState.at_rest(limb, cue_text="Rest")]
    for movement in [m for m in movements if m != "rest"]:
        name = movement.replace("_", " ")
        states.append(SceneState(left, target_pose(movement, 1.0, "right", limb),
                                 cue_text=name[0].upper() + name[1:]))
    return states, ["rest", *(m.replace("_", " ") for m in movements if m != "rest")]


def view_states():
    grip = target_pose("hand_close", 0.8, "left")
    mirrored = SceneState(grip, mirror_pose(grip), cue_text="Close your hand",
                          status_text="mirror | the right hand is the reflection")
    tac = SceneState(target_pose("rest", 0.0, "left"), target_pose("wrist_extension", 0.4, "right"),
                     ghost_pose=target_pose("wrist_extension", 0.8, "right"),
                     cue_text="Reach the target", status_text="TAC test")
    return [
        (mirrored, "mirror mode (mono)", {}),
        (mirrored, "mirror box split screen", {"view": "mirror_box"}),
        (mirrored, "stereo side by side", {"view": "stereo_sbs"}),
        (mirrored, "residual limb distinct (transradial)",
         {"appearance": Appearance(amputation_level="transradial", residual="distinct")}),
        (mirrored, "residual limb hidden (transradial)",
         {"appearance": Appearance(amputation_level="transradial", residual="hidden")}),
        (tac, "TAC test: ghost target", {}),
    ]


def screen_states():
    nrs = QuestionView(
        title="Pain intensity (NRS)", prompt="How strong is your phantom limb pain right now?",
        kind="scale", options=tuple(str(k) for k in range(11)),
        anchors=("no pain", "worst pain imaginable"), selected=6, item=1, n_items=3,
        hint="digits or arrows, Enter to confirm")
    vas = QuestionView(title="Pain (VAS)", prompt="Mark how strong your pain is now",
                       kind="slider", anchors=("no pain", "worst pain imaginable"),
                       selected=0.35, item=2, n_items=3, hint="arrows or click, Enter to confirm")
    pgic = QuestionView(
        title="PGIC", prompt="Since the start of the treatment, my pain is", kind="choice",
        options=("very much improved", "much improved", "minimally improved", "no change",
                 "minimally worse", "much worse", "very much worse"), selected=2, item=3,
        n_items=3)
    return [
        (SceneState.at_rest(question=nrs), "rating: NRS 0-10"),
        (SceneState.at_rest(question=vas), "rating: VAS slider"),
        (SceneState.at_rest(question=pgic), "rating: PGIC choice"),
        (SceneState.at_rest(gauge=GaugeView(0.52, ((0.4, 0.6),), True, "forearm flexors"),
                            limb_tension=0.5, cue_text="Hold in the green band"),
         "biofeedback: gauge + tension"),
        (SceneState.at_rest(breathing=BreathingView("in", 0.6), cue_text="Relax"),
         "relaxation: breathing in"),
        (SceneState.at_rest(breathing=BreathingView("out", 0.7), cue_text="Relax"),
         "relaxation: breathing out"),
    ]


def main() -> None:
    window = open_window(*SIZE, headless=True, title="contact sheets", samples=0)
    try:
        written = []
        for limb, movements in (("upper", HAND_MOVEMENTS), ("lower", LOWER_LIMB_MOVEMENTS)):
            states, labels = movement_states(limb, movements)
            written.append(sheet(window, states, labels, HERE / f"movements_{limb}.png"))
        images, labels = [], []
        for state, label, options in view_states():
            images += render_states([state], window, **options)
            labels.append(label)
        written.append(contact_sheet(images, labels, HERE / "views.png", 3, 480))
        states, labels = zip(*screen_states(), strict=True)
        written.append(sheet(window, states, labels, HERE / "screens.png", 3))
    finally:
        window.close()
    for path in written:
        sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main()
