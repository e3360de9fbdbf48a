"""LSL pose streams with pylsl: the format, discovery, refusals. A live outlet driving
mirror-upper and mirror-lower is in test_tracking_sessions.py."""

import threading
import time

import pytest

pylsl = pytest.importorskip("pylsl")

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

#: LSL discovery sees every stream on this machine: run alone (./dev test)
pytestmark = pytest.mark.serial


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
