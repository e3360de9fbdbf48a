"""LSL pose streams with pylsl: the format, and a live outlet driving the mirror block."""

import threading
import time

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from mirrorvr.clock import SessionClock  # noqa: E402
from mirrorvr.errors import ConfigError  # noqa: E402
from mirrorvr.limb.skeleton import limb_spec  # noqa: E402
from mirrorvr.tracking.lsl_pose import (  # noqa: E402
    LslPoseSource,
    PoseOutlet,
    PoseStreamLayout,
    layout_from_info_xml,
    pose_stream_info,
    resolve_pose_streams,
)
from mirrorvr.tracking.scripted import ScriptedIntactHand, ScriptedMovement  # noqa: E402


def test_layout_refuses_labels_outside_the_skeleton_naming_them():
    with pytest.raises(ConfigError, match=r"\['elbow_yaw'\] are not DOFs of the upper limb"):
        PoseStreamLayout.from_labels("left", "upper", ["wrist_flexion", "elbow_yaw"])
    with pytest.raises(ConfigError, match="no channel is a DOF"):
        PoseStreamLayout.from_labels("left", "lower", ["confidence"])


def test_stream_header_carries_side_limb_labels_and_units():
    info = pose_stream_info("glove", "right", "upper", ["wrist_flexion", "index_mcp_flexion"])
    xml = info.as_xml()
    layout = layout_from_info_xml(xml, "glove")
    assert (layout.side, layout.limb) == ("right", "upper")
    spec = limb_spec("upper")
    assert list(layout.dof_index) == [spec.dof_index("wrist_flexion"),
                                      spec.dof_index("index_mcp_flexion")]
    assert layout.confidence_channel == 2 and layout.processing_channel == 3
    assert "<unit>radians</unit>" in xml and info.type() == "MirrorVR.Pose"


def _publish(outlet, script, side, stop, rate_hz=60.0):
    period = 1.0 / rate_hz
    t0 = pylsl.local_clock()
    k = 0
    while not stop.is_set():
        t = t0 + k * period
        if pylsl.local_clock() >= t:
            outlet.push(script.pose_at(t).angles, t, confidence=0.95, processing_s=0.002)
            k += 1
        stop.wait(0.002)


MIRROR_ONLY = {"name": "mirror-lsl-test", "limb": "upper", "blocks": [
    {"kind": "mirror", "duration_s": 9.0, "stimulation": False}]}


def test_an_lsl_outlet_drives_a_mirror_session_and_the_recorded_pose_follows(tmp_path):
    """A lab tracker publishing a pose script moves the mirrored hand of a real-time session
    (tracker.source = "lsl"): the recorded virtual pose correlates with the script, at a
    delay of the presentation delay plus the filter's lag."""
    import json

    import pyxdf

    from mirrorvr.cli import build_session
    from mirrorvr.config import build_config
    from mirrorvr.session.protocol import parse_protocol
    from mirrorvr.session.runner import SessionRunner

    from fakes import NullRenderer, ScriptedWindow

    config = build_config({"tracker": {"source": "lsl", "stream_name": "test-glove"},
                           "stim": {"enabled": False},
                           "render": {"max_fps": 60.0, "saved_frames": 0}})
    clock = SessionClock()
    parts = build_session(config, tmp_path, clock=clock, protocol=parse_protocol(MIRROR_ONLY),
                          window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))
    start = time.monotonic() + 1.0
    # the first movement after the inlet has found the stream and the pose has eased in
    moves = [ScriptedMovement(start + 2.0 + 1.5 * k, start + 2.8 + 1.5 * k, m)
             for k, m in enumerate(["hand_close", "wrist_flexion", "hand_close", "hand_open"])]
    script = ScriptedIntactHand("left", moves, transition_s=0.3)
    outlet = PoseOutlet("test-glove", "left", "upper", rate_hz=60.0, tracker="pose script")
    stop = threading.Event()
    publisher = threading.Thread(target=_publish, args=(outlet, script, "left", stop))
    publisher.start()
    try:
        summary = SessionRunner(parts).run()
    finally:
        stop.set()
        publisher.join()
    assert summary["results"]["mirror"]["intact_limb_source"] == "lsl:test-glove"
    streams = {s["info"]["name"][0]: s for s in
               pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)[0]}
    markers = list(zip(streams["markers"]["time_stamps"],
                       (m[0] for m in streams["markers"]["time_series"]), strict=True))
    found_s = next(t for t, m in markers if m.startswith("tracking_found"))
    assert found_s < moves[0].start_s
    shown = streams["pose_right"]  # the mirrored, affected side, at each frame's photon time
    t = np.asarray(shown["time_stamps"])
    j = limb_spec("upper").dof_index("index_pip_flexion")
    eased_in_s = found_s + config.tracker.ease_s
    keep = (t > eased_in_s) & (t < moves[-1].end_s + 0.5)
    got = np.asarray(shown["time_series"])[keep, j]
    lags = np.arange(0, 0.4, 0.005)
    truth = np.array([[script.pose_at(s - lag).angles[j] for s in t[keep]] for lag in lags])
    corr = np.array([np.corrcoef(got, row)[0, 1] for row in truth])
    best = lags[int(np.argmax(corr))]
    delay_s = summary["presentation_delay_s"]
    assert corr.max() > 0.97
    assert delay_s <= best <= delay_s + 0.15, best
    plan = [json.loads(v[0]) for v in streams["movement_plan"]["time_series"]]
    assert [e["movement"] for e in plan] == [m.movement for m in moves]
    assert all(e["source"] == "mirror:lsl:test-glove" for e in plan)


def test_resolve_lists_pose_streams_with_their_problems():
    outlet = PoseOutlet("listed-imu", "right", "lower", ["knee_flexion", "ankle_dorsiflexion"])
    try:
        found = {s["name"]: s for s in resolve_pose_streams(1.0)}
    finally:
        del outlet
    assert found["listed-imu"]["limb"] == "lower" and found["listed-imu"]["problem"] is None
    assert found["listed-imu"]["channels"][:2] == ["knee_flexion", "ankle_dorsiflexion"]


def test_a_stream_for_the_other_side_is_refused_with_a_reason():
    outlet = PoseOutlet("wrong-side", "right", "upper")
    source = LslPoseSource("left", "upper", stream_name="wrong-side")
    source.start()
    try:
        done = threading.Event()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and "tracks the right" not in (source.problem or ""):
            done.wait(0.02)
    finally:
        source.stop()
        del outlet
    assert "tracks the right upper limb, the session needs the left upper limb" in source.problem
