"""LSL pose streams with pylsl: the format, and a live outlet driving the mirror block."""

import threading
import time

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from mirrorvr.errors import ConfigError  # noqa: E402
from mirrorvr.limb.skeleton import limb_spec  # noqa: E402
from mirrorvr.session.control import MirrorController  # noqa: E402
from mirrorvr.session.plan import MovementPlan  # noqa: E402
from mirrorvr.tracking.driver import MirrorDriver  # noqa: E402
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


def test_an_lsl_outlet_drives_the_mirror_block_and_the_virtual_pose_follows():
    """A lab tracker publishing a pose script moves the mirrored hand: high correlation and
    a delay of the presentation delay plus the filter's lag."""
    start = time.monotonic() + 1.0
    moves = [ScriptedMovement(start + 1.0 + 1.5 * k, start + 1.8 + 1.5 * k, m)
             for k, m in enumerate(["hand_close", "wrist_flexion", "hand_close", "hand_open"])]
    script = ScriptedIntactHand("left", moves, transition_s=0.3)
    outlet = PoseOutlet("test-glove", "left", "upper", rate_hz=60.0, tracker="pose script")
    stop = threading.Event()
    publisher = threading.Thread(target=_publish, args=(outlet, script, "left", stop))
    publisher.start()
    source = LslPoseSource("left", "upper", stream_name="test-glove")
    driver = MirrorDriver(source)
    onsets = []
    delay_s = 0.05
    controller = MirrorController(driver, MovementPlan(), delay_s, onsets.append)
    driver.start()
    shown, events = [], []
    try:
        deadline = start + 7.5
        next_frame = time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            events += driver.step(now)
            controller.step(now)
            if now >= next_frame:
                shown.append((now, controller.mirrored_pose_at(now)))
                next_frame += 1 / 60
            stop.wait(0.005)
    finally:
        stop.set()
        publisher.join()
        driver.stop()
    assert driver.name == "lsl:test-glove" and source.connected_stream == "test-glove"
    assert events and events[0].kind == "tracking_found"
    assert all(p.side == "right" for _, p in shown)  # the mirrored, affected side
    t = np.array([s for s, _ in shown])
    keep = t > start + 0.5
    j = limb_spec("upper").dof_index("index_pip_flexion")
    got = np.array([p.angles[j] for _, p in shown])[keep]
    lags = np.arange(0, 0.4, 0.005)
    truth = np.array([[script.pose_at(s - lag).angles[j] for s in t[keep]] for lag in lags])
    corr = np.array([np.corrcoef(got, row)[0, 1] for row in truth])
    best = lags[int(np.argmax(corr))]
    assert corr.max() > 0.97
    assert delay_s <= best <= delay_s + 0.15, best
    assert [e.movement for e in onsets] == [m.movement for m in moves]
    assert all(e.source == "mirror" for e in onsets)


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
