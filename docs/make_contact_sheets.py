"""Render docs/movements_upper.png and docs/movements_lower.png: every movement class of
each limb at full level, on both sides (the left column: the movement on the left side with
the right side at rest; the right column: on the right side), offscreen.

    .venv/bin/python docs/make_contact_sheets.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mirrorvr.config import RenderSettings  # noqa: E402
from mirrorvr.limb.poses import target_pose  # noqa: E402
from mirrorvr.movements import HAND_MOVEMENTS, LOWER_LIMB_MOVEMENTS  # noqa: E402
from mirrorvr.render.capture import contact_sheet  # noqa: E402
from mirrorvr.render.scene import SceneState  # noqa: E402
from mirrorvr.render.window import open_window  # noqa: E402


def main() -> None:
    from mirrorvr.render.renderer import Renderer

    window = open_window(640, 360, headless=True, title="contact sheet")
    renderer = Renderer(window, RenderSettings())
    try:
        for limb, movements in (("upper", HAND_MOVEMENTS), ("lower", LOWER_LIMB_MOVEMENTS)):
            images, labels = [], []
            for movement in movements:
                for side in ("left", "right"):
                    rest = {s: target_pose("rest", 0.0, s, limb) for s in ("left", "right")}
                    rest[side] = target_pose(movement, 1.0, side, limb)
                    renderer.draw(SceneState(rest["left"], rest["right"], affected_side=side))
                    images.append(window.read_pixels())
                    labels.append(f"{movement.replace('_', ' ')} - {side}")
                    window.swap()
            path = contact_sheet(images, labels, HERE / f"movements_{limb}.png", 4, 400)
            sys.stdout.write(f"wrote {path}\n")
    finally:
        renderer.close()
        window.close()


if __name__ == "__main__":
    main()
