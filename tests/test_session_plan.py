"""The movement plan: targets on presentation timestamps, onsets, what was seen when."""

from types import SimpleNamespace

import pytest

from mirrorvr.session.plan import MovementPlan


def test_target_at_follows_presentation_times_not_insertion_order():
    plan = MovementPlan()
    plan.add_target(2.0, "hand_close", 0.8)
    plan.add_target(1.0, "hand_open", 0.5)
    assert plan.target_at(0.5) == ("rest", 0.0)
    assert plan.target_at(1.0) == ("hand_open", 0.5)
    assert plan.target_at(1.99) == ("hand_open", 0.5)
    assert plan.target_at(5.0) == ("hand_close", 0.8)


def test_prune_keeps_the_target_in_force():
    plan = MovementPlan()
    for i in range(10):
        plan.add_target(float(i), "hand_close", i / 10)
    plan.prune_before(5.5)
    assert plan.target_at(5.6) == ("hand_close", 0.5)
    assert plan.target_at(9.0) == ("hand_close", 0.9)


def test_onsets_are_marked_seen_at_the_first_photon_after_them():
    plan = MovementPlan()
    a = plan.add_onset(1.00, "hand_close", "cue")
    b = plan.add_onset(1.50, "hand_open", "cue")
    assert plan.next_onset_after(0.0) == 1.0
    assert plan.mark_presented(0.99) == []
    assert plan.mark_presented(1.01) == [a]
    assert a.photon_s == 1.01 and b.photon_s is None
    assert plan.next_onset_after(1.01) == 1.5


def test_asynchrony_uses_sent_trains_only():
    plan = MovementPlan()
    m = plan.add_onset(1.0, "hand_close", "decoder")
    m.photon_s = 1.004
    assert m.asynchrony_s() is None
    m.stim = [
        SimpleNamespace(status="refused", predicted_onset_s=None),
        SimpleNamespace(status="sent", predicted_onset_s=1.001),
    ]
    assert m.asynchrony_s() == pytest.approx(-0.003)
