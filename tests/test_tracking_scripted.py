"""The scripted intact hand moves smoothly through its script."""

import numpy as np
import pytest

from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import target_pose
from mirrorvr.tracking.scripted import ScriptedIntactHand, ScriptedMovement


def test_pose_follows_script_with_smooth_onsets():
    hand = ScriptedIntactHand(
        "left", [ScriptedMovement(1.0, 2.0, "hand_close", 1.0)], transition_s=0.3
    )
    assert hand.movement_at(0.5) == ("rest", 0.0)
    assert hand.label_at(1.5) == "hand_close" and hand.label_at(2.1) == "rest"
    assert hand.movement_at(1.5) == ("hand_close", 1.0)
    levels = [hand.movement_at(t)[1] for t in np.arange(0.9, 2.5, 0.01)]
    assert max(np.abs(np.diff(levels))) < 0.06  # no popping
    np.testing.assert_allclose(
        hand.pose_at(1.5).angles, target_pose("hand_close", 1.0, "left").angles
    )


def test_overlapping_script_is_refused():
    with pytest.raises(ConfigError, match="starts before"):
        ScriptedIntactHand(
            "left", [ScriptedMovement(0, 2, "hand_open"), ScriptedMovement(1, 3, "hand_close")]
        )
