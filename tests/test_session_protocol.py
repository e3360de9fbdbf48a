"""The demo protocol scales with the duration and refuses durations too short to calibrate."""

import pytest

from mirrorvr.config import EmgSettings, ProtocolSettings
from mirrorvr.errors import ConfigError
from mirrorvr.session.protocol import build_demo_protocol


@pytest.mark.parametrize("duration", [40.0, 60.0, 300.0])
def test_blocks_fill_the_duration_in_order(duration):
    blocks = build_demo_protocol(ProtocolSettings(duration_s=duration), EmgSettings())
    assert [b.kind for b in blocks] == ["rating", "calibration", "phantom", "mirror", "rating"]
    assert sum(b.duration_s for b in blocks) == pytest.approx(duration)


def test_calibration_cues_every_class_each_repetition_without_overlap():
    emg = EmgSettings()
    blocks = build_demo_protocol(ProtocolSettings(calibration_repetitions=3), emg)
    calib = blocks[1]
    assert len(calib.cues) == 3 * len(emg.movements)
    for rep in range(3):
        assert sorted(c.movement for c in calib.cues if c.repetition == rep) == sorted(
            emg.movements
        )
    for a, b in zip(calib.cues, calib.cues[1:], strict=False):
        assert a.start_s < a.end_s <= b.start_s
    assert calib.cues[-1].end_s <= calib.duration_s


def test_movement_blocks_cue_only_movements():
    blocks = build_demo_protocol(ProtocolSettings(), EmgSettings())
    for block in blocks[2:4]:
        assert block.cues and all(c.movement != "rest" for c in block.cues)


def test_too_short_duration_says_what_would_work():
    with pytest.raises(
        ConfigError, match=r"duration_s: 10 s is too short.*use duration_s >= \d+"
    ) as info:
        build_demo_protocol(ProtocolSettings(duration_s=10), EmgSettings())
    needed = float(str(info.value).rsplit(">= ", 1)[1])
    build_demo_protocol(ProtocolSettings(duration_s=needed + 1), EmgSettings())
