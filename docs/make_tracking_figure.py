"""docs/tracking_known_answer.png: a known-answer test frame with the webcam tracker's
landmarks (left) beside the mirrored virtual limb built from the recovered angles (right).

    .venv/bin/python docs/make_tracking_figure.py      (needs ./dev tracker-env)
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("LSLAPICFG", str(ROOT / "lsl_api.cfg"))

BONES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10),
         (10, 11), (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18),
         (18, 19), (19, 20)]
POSE = "light:hand_open"


def main() -> None:
    import pygame

    from mirrorvr.config import RenderSettings
    from mirrorvr.limb.mirror import mirror_pose
    from mirrorvr.limb.skeleton import Pose
    from mirrorvr.render.renderer import Renderer
    from mirrorvr.render.scene import SceneState
    from mirrorvr.render.window import open_window
    from mirrorvr.tracking.known_answer import render_known_answer_video
    from mirrorvr.tracking.neutral import NeutralPoseCalibration
    from mirrorvr.tracking.webcam import tracker_python

    with tempfile.TemporaryDirectory() as tmp:
        video = render_known_answer_video(Path(tmp) / "hand.mp4", "left", "upper",
                                          neutral_frames=20, hold_frames=4, tones=("light",))
        jsonl = Path(tmp) / "frames.jsonl"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        subprocess.run([str(tracker_python()), "-m", "mirrorvr.tracking.webcam_process",
                        "--input", str(video.path), "--limb", "upper", "--side", "left",
                        "--pace", "none", "--linger", "0", "--jsonl", str(jsonl)],
                       check=True, env=env, capture_output=True)
        rows = [json.loads(x) for x in jsonl.read_text().splitlines()]
        k = max(i for i, label in enumerate(video.labels) if label == POSE)
        import imageio_ffmpeg

        reader = imageio_ffmpeg.read_frames(str(video.path))
        meta = next(reader)
        w, h = meta["size"]
        frame = None
        for i, raw in enumerate(reader):
            if i == k:
                frame = np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy()
                break
    angles = np.array([[np.nan if a is None else a for a in r["angles"]] for r in rows])
    neutral = NeutralPoseCalibration("left", "upper", min_samples=3)
    for i in range(10, 20):
        if rows[i]["confidence"] > 0.5:
            neutral.add(angles[i])
    recovered = neutral.result("webcam").apply(angles[k])
    rest = Pose.rest("left").angles
    intact = Pose.unchecked("left", np.where(np.isfinite(recovered), recovered, rest)).clipped()
    window = open_window(w, h, headless=True, samples=4)
    renderer = Renderer(window, RenderSettings(width=w, height=h, render_scale=1.0))
    renderer.draw(SceneState(intact, mirror_pose(intact), cue_text="Mirrored from the webcam",
                             affected_side="right"))
    scene = window.read_pixels()
    renderer.close()
    window.close()
    pygame.init()
    sheet = pygame.Surface((2 * w, h))
    left = pygame.surfarray.make_surface(frame.swapaxes(0, 1))
    marks = rows[k]["landmarks"]
    for a, b in BONES:
        pygame.draw.line(left, (40, 220, 120), (marks[a][0] * w, marks[a][1] * h),
                         (marks[b][0] * w, marks[b][1] * h), 2)
    for x, y, _ in marks:
        pygame.draw.circle(left, (255, 60, 60), (int(x * w), int(y * h)), 4)
    sheet.blit(left, (0, 0))
    sheet.blit(pygame.surfarray.make_surface(scene.swapaxes(0, 1)), (w, 0))
    out = ROOT / "docs" / "tracking_known_answer.png"
    pygame.image.save(sheet, str(out))
    print(f"wrote {out} (frame {k}, {POSE})")


if __name__ == "__main__":
    main()
