"""The webcam tracker process: camera or video file -> MediaPipe -> joint angles -> LSL.

Runs in its own environment (``./dev tracker-env``: MediaPipe 0.10.21, which ships its
models in the wheel and pins numpy < 2), started by :class:`mirrorvr.tracking.webcam.WebcamSource`
as a subprocess; the session never waits on it. It imports only numpy, OpenCV, MediaPipe,
pylsl and mirrorvr's numpy-only modules (:mod:`~mirrorvr.tracking.landmarks`,
:mod:`~mirrorvr.tracking.lsl_pose`)::

    .venv-tracker/bin/python -m mirrorvr.tracking.webcam_process --input 0 --limb upper \\
        --side left --name mirrorvr-webcam

Per frame: capture time (LSL ``local_clock()`` when the frame was taken from the camera),
MediaPipe Hands (upper limb, world landmarks) or Pose (lower limb), the angles of
:mod:`mirrorvr.tracking.landmarks`, and one sample on the pose stream (timestamp = capture
time; ``processing_s`` = capture to push; confidence = MediaPipe's handedness score or the
leg landmarks' lowest visibility; no limb found: NaN angles and confidence 0). Hands: the
wrist is measured relative to the palm's orientation over the first ``--neutral-frames``
confident frames (the neutral step: hand flat on the table).

Exit codes: 0 end of file or SIGTERM/SIGINT; 2 bad arguments or input that cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time

import numpy as np

from mirrorvr.tracking import landmarks as lm
from mirrorvr.tracking.lsl_pose import PoseOutlet, pose_stream_info

log = logging.getLogger("mirrorvr.tracking.webcam_process")


def _arguments(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="webcam_process", description=__doc__.split("\n")[0])
    p.add_argument("--input", default="0",
                   help="camera index (0), a V4L2 device (/dev/video0) or a video file")
    p.add_argument("--limb", choices=["upper", "lower"], required=True)
    p.add_argument("--side", choices=["left", "right"], required=True,
                   help="the side of the limb in view (the intact side)")
    p.add_argument("--name", default="mirrorvr-webcam", help="LSL stream name")
    p.add_argument("--landmarks", action="store_true",
                   help="also publish the landmarks (stream <name>-landmarks)")
    p.add_argument("--pace", choices=["source", "none"], default="source",
                   help="video files: play at the file's frame rate like a camera (source) or "
                   "as fast as inference allows (none)")
    p.add_argument("--wait-consumer", type=float, default=0.0, metavar="S",
                   help="wait up to S seconds for a reader before the first frame")
    p.add_argument("--neutral-frames", type=int, default=10,
                   help="hands: confident frames whose palm orientation is the neutral one")
    p.add_argument("--min-detection", type=float, default=0.5)
    p.add_argument("--model-complexity", type=int, choices=[0, 1], default=1)
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: never)")
    p.add_argument("--linger", type=float, default=1.0, metavar="S",
                   help="keep the stream S seconds after the last frame (readers drain it)")
    p.add_argument("--jsonl", default="", help="also write every frame's angles to this file")
    return p.parse_args(argv)


def _open(source: str):
    import cv2

    cap = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not cap.isOpened():
        raise SystemExit(f"webcam_process: input {source!r} cannot be opened")
    is_file = not source.isdigit() and not source.startswith("/dev/")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    return cap, is_file, fps


def _mean_frame(frames: list[np.ndarray]) -> np.ndarray:
    """The rotation nearest to the mean of ``frames`` (SVD projection), (3, 3)."""
    u, _, vt = np.linalg.svd(np.mean(frames, axis=0))
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    return r


class _Tracker:
    """MediaPipe for one limb: frame (RGB) -> (angles, confidence, landmarks (n, 3))."""

    def __init__(self, args) -> None:
        import mediapipe as mp

        self.limb, self.side = args.limb, args.side
        self.neutral_frames = int(args.neutral_frames)
        self._palms: list[np.ndarray] = []
        self.reference: np.ndarray | None = None
        if self.limb == "upper":
            self.model = mp.solutions.hands.Hands(
                static_image_mode=False, max_num_hands=1, model_complexity=args.model_complexity,
                min_detection_confidence=args.min_detection, min_tracking_confidence=0.5)
            self.n_landmarks = lm.N_HAND_LANDMARKS
        else:
            self.model = mp.solutions.pose.Pose(
                static_image_mode=False, model_complexity=args.model_complexity,
                min_detection_confidence=args.min_detection, min_tracking_confidence=0.5)
            self.n_landmarks = lm.N_POSE_LANDMARKS

    def process(self, rgb: np.ndarray):
        result = self.model.process(rgb)
        if self.limb == "upper":
            if not result.multi_hand_world_landmarks:
                return None
            world = np.array([[p.x, p.y, p.z]
                              for p in result.multi_hand_world_landmarks[0].landmark])
            image = np.array([[p.x, p.y, p.z] for p in result.multi_hand_landmarks[0].landmark])
            confidence = float(result.multi_handedness[0].classification[0].score)
            if self.reference is None:
                self._palms.append(lm.palm_frame(lm.as_right_hand(world, self.side)))
                if len(self._palms) >= self.neutral_frames:
                    self.reference = _mean_frame(self._palms)
                    log.info("neutral palm orientation set from %d frames", len(self._palms))
            return lm.hand_angles(world, self.side, self.reference), confidence, image
        if result.pose_world_landmarks is None:
            return None
        world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark])
        image = np.array([[p.x, p.y, p.z] for p in result.pose_landmarks.landmark])
        used = lm.LEG_LANDMARKS[self.side]
        confidence = float(min(result.pose_landmarks.landmark[i].visibility for i in used))
        return lm.leg_angles(world, self.side), confidence, image


def _wait_for_reader(outlet, wait_s: float) -> None:
    """Wait up to ``wait_s`` for a reader that stays subscribed for 0.5 s (a reader's first
    look at the stream header connects briefly, then its data connection follows)."""
    deadline = time.monotonic() + wait_s
    since = None
    while time.monotonic() < deadline:
        if outlet.have_consumers():
            since = since or time.monotonic()
            if time.monotonic() - since >= 0.5:
                return
        else:
            since = None
        time.sleep(0.01)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="webcam_process %(levelname)s %(message)s")
    args = _arguments(argv)
    import cv2
    import pylsl

    stop = {"now": False}

    def _stop(signum, frame) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    cap, is_file, fps = _open(args.input)
    tracker = _Tracker(args)
    what = "MediaPipe Hands 0.10" if args.limb == "upper" else "MediaPipe Pose 0.10"
    outlet = PoseOutlet(args.name, args.side, args.limb, rate_hz=fps, tracker=what)
    marks = None
    if args.landmarks:
        marks = pylsl.StreamOutlet(pose_stream_info(f"{args.name}-landmarks", args.side,
                                                    args.limb, rate_hz=fps, tracker=what,
                                                    landmarks=tracker.n_landmarks))
    _wait_for_reader(outlet, args.wait_consumer)
    jsonl = open(args.jsonl, "w", encoding="utf-8") if args.jsonl else None  # noqa: SIM115
    n_dofs = outlet.spec.n_dofs
    k, t0 = 0, pylsl.local_clock()
    try:
        while not stop["now"] and (not args.max_frames or k < args.max_frames):
            if is_file and args.pace == "source":
                wait = t0 + k / fps - pylsl.local_clock()
                if wait > 0:
                    time.sleep(wait)
            ok, frame = cap.read()
            capture_s = pylsl.local_clock()
            if not ok:
                break
            found = tracker.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if found is None:
                angles, confidence, image = np.full(n_dofs, np.nan), 0.0, None
            else:
                angles, confidence, image = found
            processing_s = pylsl.local_clock() - capture_s
            outlet.push(angles, capture_s, confidence, processing_s)
            if marks is not None:
                row = (np.full(3 * tracker.n_landmarks, np.nan) if image is None
                       else image.reshape(-1))
                marks.push_sample(row.tolist(), capture_s)
            if jsonl is not None:
                jsonl.write(json.dumps({"frame": k, "capture_s": capture_s,
                                        "confidence": confidence,
                                        "processing_s": processing_s,
                                        "angles": [None if not np.isfinite(a) else float(a)
                                                   for a in angles],
                                        "landmarks": None if image is None
                                        else np.round(image, 5).tolist()}) + "\n")
            k += 1
    finally:
        cap.release()
        if jsonl is not None:
            jsonl.close()
        if not stop["now"]:  # let readers take the last samples of a file (not when told
            time.sleep(args.linger)  # to stop: the reader is leaving)
    log.info("%d frames processed", k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
