"""The webcam tracker process on rendered videos whose answer is known.

Our own hand and leg models are rendered at known joint angles (both sides, three skin
tones), written as MP4, and the tracker process (MediaPipe, its own environment) publishes
what it recovers on LSL, read by the same source a session uses. The per-joint errors are
logged (``pytest -o log_cli=true``) and stated in the README.
"""

import json
import logging
import threading
import time

import numpy as np
import pytest

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import limb_spec
from mirrorvr.tracking.known_answer import render_known_answer_video
from mirrorvr.tracking.neutral import NeutralPoseCalibration
from mirrorvr.tracking.webcam import WebcamSource

pytestmark = [pytest.mark.tracker_env, pytest.mark.gl, pytest.mark.slow, pytest.mark.serial]

#: Neutral frames the tracker takes its palm reference from (the rest set the offsets).
REFERENCE_FRAMES = 10

log = logging.getLogger(__name__)


def _track(video, tmp_path, side, limb):
    """Run the process on ``video`` through a WebcamSource; samples in frame order."""
    jsonl = tmp_path / f"{side}_{limb}.jsonl"
    source = WebcamSource(side, limb, str(video.path), process_args=[
        "--pace", "none", "--wait-consumer", "20", "--neutral-frames", str(REFERENCE_FRAMES),
        "--jsonl", str(jsonl)])
    samples, tick = [], threading.Event()
    source.start()
    try:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline and len(samples) < len(video.labels):
            samples += source.read(time.monotonic())
            if source.process.poll() is not None and not samples and source.problem:
                break
            tick.wait(0.01)
        code = source.wait(10.0)
    finally:
        source.stop()
    assert code == 0, source.log_tail()
    return samples, [json.loads(x) for x in jsonl.read_text().splitlines()]


def _errors(video, samples):
    spec = limb_spec(video.limb)
    got = np.stack([s.angles for s in samples])
    confident = np.array([s.confidence >= 0.5 for s in samples])
    neutral = NeutralPoseCalibration(video.side, video.limb, min_samples=3)
    for i, label in enumerate(video.labels):
        if label == "neutral" and i >= REFERENCE_FRAMES and confident[i]:
            neutral.add(got[i])
    corrected = neutral.result("webcam").apply(got)
    labels = video.labels
    held = [i for i in range(len(labels)) if labels[i] != "neutral"
            and (i + 1 == len(labels) or labels[i + 1] != labels[i])]
    found = [i for i in held if confident[i]]
    err = np.degrees(np.abs(corrected[found] - video.truth[found]))
    table = {n: float(np.nanmedian(err[:, j])) for j, n in enumerate(spec.dof_names)
             if np.isfinite(err[:, j]).any()}
    missed = [labels[i] for i in held if not confident[i]]
    return table, missed, len(found) / len(held), err


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_webcam_tracker_recovers_our_rendered_hand(side, tracker_env, tmp_path):
    video = render_known_answer_video(tmp_path / f"hand_{side}.mp4", side, "upper",
                                      neutral_frames=2 * REFERENCE_FRAMES, hold_frames=4)
    samples, frames = _track(video, tmp_path, side, "upper")
    assert len(samples) == len(video.labels) == len(frames)
    assert all(s.t_s <= s.received_s for s in samples)  # capture time precedes arrival
    table, missed, rate, err = _errors(video, samples)
    log.info("%s hand: detected %.0f %% of held poses; missed %s", side, 100 * rate, missed)
    for name, median in table.items():
        log.info("  %-22s median error %5.1f deg", name, median)
    assert rate >= 0.8, missed
    spec = limb_spec("upper")
    flex = [spec.dof_index(f"{f}_{j}_flexion") for f in ("index", "middle", "ring", "little")
            for j in ("mcp", "pip", "dip")]
    # What MediaPipe reaches on these renders (README, "Webcam tracker accuracy").
    assert np.nanmedian(err[:, flex]) < 20.0
    assert table["wrist_flexion"] < 20.0
    assert table["thumb_mcp_flexion"] < 15.0


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_webcam_tracker_recovers_our_rendered_leg(side, tracker_env, tmp_path):
    # The whole seated body (head, trunk, arms, both legs) from a tripod in front and to the
    # side: MediaPipe Pose's person detector needs a body with a face (a lone leg was found
    # in about half of the frames on the left, none on the right).
    video = render_known_answer_video(tmp_path / f"leg_{side}.mp4", side, "lower",
                                      neutral_frames=2 * REFERENCE_FRAMES, hold_frames=4)
    samples, frames = _track(video, tmp_path, side, "lower")
    assert len(samples) == len(video.labels) == len(frames)
    table, missed, rate, err = _errors(video, samples)
    log.info("%s leg: detected %.0f %% of held poses; missed %s", side, 100 * rate, missed)
    for name, median in table.items():
        log.info("  %-22s median error %5.1f deg (max %5.1f)", name, median,
                 np.nanmax(err[:, limb_spec("lower").dof_index(name)]))
    assert rate >= 0.9, missed
    assert set(table) == {"knee_flexion", "ankle_dorsiflexion"}
    # What MediaPipe reaches on these renders (README, "Webcam tracker accuracy"): the knee
    # well, the ankle roughly (full dorsiflexion, the foot turned up towards the camera, is
    # not seen: its error is ~35 deg).
    assert table["knee_flexion"] < 10.0
    assert table["ankle_dorsiflexion"] < 15.0


def test_a_missing_video_is_refused_before_anything_starts():
    with pytest.raises(ConfigError, match="not a camera index"):
        WebcamSource("left", "upper", "/no/such/video.mp4")
