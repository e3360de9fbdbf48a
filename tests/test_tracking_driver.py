"""MirrorDriver on the fake clock: conditioning, neutral offsets, loss -> ease to rest, gaps."""

import numpy as np
import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import Pose, limb_spec
from mirrorvr.tracking.driver import ASSUMED_ARRIVAL_LAG_S, DriverSettings, MirrorDriver
from mirrorvr.tracking.scripted import ScriptedIntactHand, ScriptedMovement, ScriptSource
from mirrorvr.tracking.source import IntactLimbSource, PoseSample


class GatedSource:
    """A script source whose delivery can be cut, made unconfident or broken (a test double)."""

    def __init__(self, inner):
        self.inner, self.name, self.side, self.limb = inner, "script", inner.side, inner.limb
        self.delivering, self.confidence, self.problem = True, 1.0, None
        self.bias = np.zeros(limb_spec(inner.limb).n_dofs)

    def start(self):
        self.inner.start()

    def read(self, now_s):
        samples = self.inner.read(now_s)
        if not self.delivering:
            return []
        return [PoseSample(s.t_s, s.angles + self.bias, self.confidence, s.received_s)
                for s in samples]

    def stop(self):
        pass


def _run(driver, clock, until_s, frame_s=1 / 60, control_s=0.005):
    """Step the control side every 5 ms and take a frame every 1/60 s; return frames, events."""
    frames, events, next_frame = [], [], clock.now()
    while clock.now() < until_s:
        events += driver.step(clock.now())
        if clock.now() >= next_frame:
            frames.append((clock.now(), driver.frame_at(clock.now())))
            next_frame += frame_s
        clock.advance(control_s)
    return frames, events


def _hand(side="left", limb="upper", script=()):
    return ScriptedIntactHand(side, list(script), limb=limb)


def test_a_script_source_satisfies_the_protocol():
    assert isinstance(ScriptSource(_hand()), IntactLimbSource)


@pytest.mark.parametrize("limb, movement",
                         [("upper", "hand_close"), ("lower", "ankle_dorsiflexion")])
def test_the_tracked_pose_follows_the_limb_and_its_movement_is_classified(limb, movement):
    clock = FakeClock(10.0)
    source = ScriptSource(_hand("left", limb, [ScriptedMovement(11.0, 12.5, movement)]))
    driver = MirrorDriver(source)
    driver.start()
    frames, _ = _run(driver, clock, 14.0)
    at = dict((round(t, 3), f) for t, f in frames)
    full = target_pose(movement, 1.0, "left", limb).angles
    shown = min(at.items(), key=lambda kv: abs(kv[0] - 12.4))[1]
    np.testing.assert_allclose(shown.pose.angles, full, atol=0.02)
    assert driver.label_at(12.0) == movement and driver.label_at(10.8) == "rest"
    assert driver.label_at(13.9) == "rest"
    assert driver.name == "script" and shown.tracking


def test_lost_tracking_eases_to_rest_without_jumps_and_comes_back():
    clock = FakeClock(0.0)
    source = GatedSource(ScriptSource(_hand(script=[ScriptedMovement(0.0, 10.0, "hand_close")])))
    settings = DriverSettings(lost_after_s=0.25, ease_s=0.5)
    driver = MirrorDriver(source, settings)
    driver.start()
    _, events = _run(driver, clock, 2.0)
    assert [e.kind for e in events] == ["tracking_found"]
    assert driver.tracking and driver.hud_text == ""
    assert driver.label_at(clock.now()) == "hand_close"
    source.delivering = False
    lost_frames, events = _run(driver, clock, 3.5)
    assert [e.kind for e in events] == ["tracking_lost"]
    lost_at = events[0].t_s
    assert 2.25 <= lost_at <= 2.26
    assert "no pose from script" in events[0].detail and "no pose" in driver.hud_text
    assert driver.label_at(clock.now()) == "rest"  # stimulation pauses
    assert driver.gaps[-1].end_s is None
    rest = target_pose("rest", 0.0, "left").angles
    closed = target_pose("hand_close", 1.0, "left").angles
    steps = np.abs(np.diff([f.pose.angles for _, f in lost_frames], axis=0))
    # smoothstep over 0.5 s: its steepest slope is 1.5 / 0.5 s of the way per second
    frame_dt = np.diff([t for t, _ in lost_frames]).max()
    ease_step = 1.5 * frame_dt / 0.5 * np.abs(closed - rest)
    assert np.all(steps <= ease_step + 1e-6)
    np.testing.assert_allclose(lost_frames[-1][1].pose.angles, rest, atol=1e-9)
    held = [f for t, f in lost_frames if t < lost_at]
    np.testing.assert_allclose(held[-1].pose.angles, closed, atol=0.02)
    source.delivering = True
    back, events = _run(driver, clock, 4.5)
    assert [e.kind for e in events] == ["tracking_found"]
    assert "gap_s=" in events[0].detail
    gap = driver.gaps[-1]
    assert gap.end_s == pytest.approx(events[0].t_s) and gap.end_s - gap.start_s > 1.0
    steps = np.abs(np.diff([f.pose.angles for _, f in back], axis=0))
    assert np.all(steps <= ease_step + 0.02)
    np.testing.assert_allclose(back[-1][1].pose.angles, closed, atol=0.02)
    # stimulation waits until the pose is fully back
    assert not driver.stimulation_allowed(events[0].t_s + 0.25)
    assert driver.stimulation_allowed(events[0].t_s + 0.55)


def test_low_confidence_counts_as_lost_with_its_reason_and_a_broken_source_with_its_own():
    clock = FakeClock(0.0)
    source = GatedSource(ScriptSource(_hand()))
    driver = MirrorDriver(source, DriverSettings(min_confidence=0.6))
    _run(driver, clock, 1.0)
    source.confidence = 0.3
    _, events = _run(driver, clock, 1.5)
    assert events[0].kind == "tracking_lost" and "low confidence from script (0.30 < 0.60)" in (
        events[0].detail)
    source.confidence, source.problem = 1.0, "tracker process exited (code 1)"
    _, events = _run(driver, clock, 2.0)
    assert events == [] and "tracker process exited" in driver.hud_text


def test_before_any_sample_the_limb_rests_and_the_hud_says_it_waits():
    driver = MirrorDriver(GatedSource(ScriptSource(_hand())))
    frame = driver.frame_at(0.0)
    assert frame.sample_s is None and not frame.tracking
    np.testing.assert_allclose(frame.pose.angles, target_pose("rest", 0.0, "left").angles)
    driver.step(0.0)
    assert driver.tracking  # the first confident sample arrived
    assert "waiting" not in driver.hud_text


def test_neutral_offsets_remove_a_trackers_bias():
    clock = FakeClock(0.0)
    rest_flat = Pose.rest("left")  # the neutral step's pose: hand flat on the table

    class Flat(ScriptSource):
        def read(self, now_s):
            return [PoseSample(s.t_s, rest_flat.angles, 1.0, now_s) for s in super().read(now_s)]

    source = GatedSource(Flat(_hand()))
    wrist = limb_spec("upper").dof_index("wrist_flexion")
    source.bias[wrist] = 0.2
    driver = MirrorDriver(source)
    _run(driver, clock, 0.5)
    assert driver.pose_at(clock.now()).angles[wrist] == pytest.approx(0.2, abs=1e-3)
    driver.begin_neutral()
    _run(driver, clock, 1.5)
    offsets, event = driver.finish_neutral(clock.now())
    assert offsets.offsets_rad[wrist] == pytest.approx(0.2)
    assert event.kind == "neutral_offsets" and "wrist_flexion=0.2000" in event.detail
    _run(driver, clock, 2.5)
    assert driver.pose_at(clock.now()).angles[wrist] == pytest.approx(0.0, abs=1e-3)


def test_a_neutral_step_with_movement_is_refused_naming_the_joint():
    clock = FakeClock(0.0)
    driver = MirrorDriver(ScriptSource(_hand(script=[ScriptedMovement(0.3, 0.8, "wrist_flexion")])))
    driver.begin_neutral()
    _run(driver, clock, 1.2)
    with pytest.raises(ConfigError, match="wrist_flexion moved"):
        driver.finish_neutral(clock.now())


def test_offsets_of_another_limb_are_refused():
    from mirrorvr.tracking.neutral import NeutralOffsets

    with pytest.raises(ConfigError, match="right upper limb, the source tracks the left"):
        MirrorDriver(ScriptSource(_hand()), offsets=NeutralOffsets.zero("right", "upper"))


def test_filter_settings_trade_jitter_for_lag():
    clock_a, clock_b = FakeClock(0.0), FakeClock(0.0)
    noisy = dict(noise_rad=np.radians(2.0), seed=3)
    raw = MirrorDriver(ScriptSource(_hand(), **noisy), DriverSettings(min_cutoff_hz=1000.0))
    smooth = MirrorDriver(ScriptSource(_hand(), **noisy), DriverSettings(min_cutoff_hz=1.0))
    fa, _ = _run(raw, clock_a, 2.0)
    fb, _ = _run(smooth, clock_b, 2.0)
    jitter = [np.std([f.pose.angles for _, f in fr[30:]], axis=0).max() for fr in (fa, fb)]
    assert jitter[1] < jitter[0] / 3


class LateSource(GatedSource):
    """Samples that arrive ``lag_s`` after their capture (a tracker's processing and
    transport), delivered when they arrive."""

    def __init__(self, inner, lag_s):
        super().__init__(inner)
        self.lag_s, self._waiting = lag_s, []

    def read(self, now_s):
        self._waiting += self.inner.read(now_s - self.lag_s)
        due = [s for s in self._waiting if s.t_s + self.lag_s <= now_s + 1e-9]
        self._waiting = self._waiting[len(due):]
        return [PoseSample(s.t_s, s.angles, 1.0, s.t_s + self.lag_s) for s in due]


def test_a_movement_is_dated_by_the_sample_that_first_showed_it_not_by_its_arrival():
    clock = FakeClock(0.0)
    lag_s = 0.04
    source = LateSource(ScriptSource(_hand(script=[ScriptedMovement(1.0, 2.0, "hand_close")]),
                                     rate_hz=50.0), lag_s)
    driver = MirrorDriver(source)
    driver.start()
    assert driver.arrival_lag_s == ASSUMED_ARRIVAL_LAG_S  # nothing arrived yet
    seen = []
    while clock.now() < 2.5:
        driver.step(clock.now())
        label, sample_s = driver.label_since(clock.now())
        if label != "rest" and not seen:
            seen.append((clock.now(), sample_s))
        clock.advance(0.005)
    (known_s, first_s), = seen
    # the first sample labelled hand_close: on the 50 Hz grid, after the movement began,
    # known only when it arrived (lag_s later, at the next control step)
    assert 1.0 < first_s < 1.5 and round(first_s / 0.02, 6) == round(first_s / 0.02)
    assert known_s == pytest.approx(first_s + lag_s, abs=0.0051)
    assert driver.label_since(1.9) == ("hand_close", first_s)  # the run's first sample
    # samples that had arrived at a previous look without being reported (easing in) do
    # not date it: the first one that arrived since does, else the newest
    label, since_s = driver.label_since(1.9, arrived_after_s=1.8)
    assert label == "hand_close" and since_s == pytest.approx(1.78)
    label, since_s = driver.label_since(1.9, arrived_after_s=1.95)
    assert label == "hand_close" and 1.88 - 1e-9 <= since_s <= 1.9
    assert driver.label_since(0.5) == ("rest", None)
    assert driver.arrival_lag_s == pytest.approx(lag_s, abs=1e-9)
    driver.start()  # a new stretch keeps the lag it learnt until samples arrive again
    assert driver.arrival_lag_s == pytest.approx(lag_s, abs=1e-9)
