"""Keyboard, gamepad, intact-side EMG and replay sources driving the MirrorDriver."""

import numpy as np
import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.config import SimulatedEmgSettings, SimulatedStimSettings
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import limb_spec
from mirrorvr.record.recorder import Recorder
from mirrorvr.tracking.driver import MirrorDriver
from mirrorvr.tracking.intact_emg import IntactEmgSource, calibrate_on_simulated_patient
from mirrorvr.tracking.manual import GamepadSource, KeyboardSource
from mirrorvr.tracking.replay import ReplaySource
from mirrorvr.tracking.scripted import ScriptedIntactHand, ScriptedMovement, ScriptSource
from mirrorvr.tracking.source import IntactLimbSource


def _run(driver, clock, until_s, step_s=0.005):
    events = []
    while clock.now() < until_s:
        events += driver.step(clock.now())
        clock.advance(step_s)
    return events


def test_keys_handed_over_by_the_event_loop_play_movements_and_levels():
    clock = FakeClock(0.0)
    keys = KeyboardSource("right", "upper")
    assert isinstance(keys, IntactLimbSource)
    driver = MirrorDriver(keys)
    assert not keys.handle_key("6")  # before a mirror block starts: a rating's answer
    driver.start()
    _run(driver, clock, 0.5)
    assert driver.label_at(clock.now()) == "rest"
    assert keys.handle_key("2") and not keys.handle_key("space")  # space stays the e-stop
    keys.handle_key("up")
    _run(driver, clock, 2.0)
    assert driver.movement_at(clock.now()) == ("hand_close", pytest.approx(0.8))
    np.testing.assert_allclose(driver.pose_at(clock.now()).angles,
                               target_pose("hand_close", 0.8, "right").angles, atol=0.02)
    keys.handle_key("0")
    _run(driver, clock, 3.5)
    assert driver.label_at(clock.now()) == "rest"
    driver.stop()
    assert not keys.handle_key("2")  # after the block, digits are left to other screens


def test_gamepad_axes_play_proportional_blended_movements_of_the_lower_limb():
    clock = FakeClock(0.0)
    pad = GamepadSource("left", "lower")
    driver = MirrorDriver(pad)
    driver.start()
    assert pad.handle_key("joyaxis 3 0.55") and not pad.handle_key("joyaxis 9 1.0")
    assert pad.handle_key("joyaxis 1 -1.0")
    _run(driver, clock, 2.0)
    assert pad.levels() == {"knee_flexion": pytest.approx(0.5), "ankle_dorsiflexion": 1.0}
    assert driver.label_at(clock.now()) == "ankle_dorsiflexion"
    spec = limb_spec("lower")
    knee = driver.pose_at(clock.now()).angles[spec.dof_index("knee_flexion")]
    rest = target_pose("rest", 0.0, "left", "lower").angles[spec.dof_index("knee_flexion")]
    full = target_pose("knee_flexion", 1.0, "left", "lower").angles[spec.dof_index("knee_flexion")]
    assert knee == pytest.approx(rest + 0.5 * (full - rest), abs=0.02)


@pytest.mark.gl
def test_the_window_hands_gamepad_sticks_over_as_text(gl_window):
    import pygame

    pygame.event.post(pygame.event.Event(pygame.JOYAXISMOTION, joy=0, instance_id=0, axis=1,
                                         value=-0.5))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a))
    names = gl_window.poll_events()
    assert names == ["joyaxis 1 -0.5000", "a"]
    pad = GamepadSource("left", "lower")
    pad.start()
    assert pad.handle_key(names[0]) and not pad.handle_key(names[1])


def test_a_key_map_with_the_other_limbs_classes_is_refused():
    with pytest.raises(ConfigError, match="'hand_open' is not a lower-limb class"):
        KeyboardSource("left", "lower", keys={"1": "hand_open"})


@pytest.mark.parametrize("limb, movements, shown", [
    ("upper", ("rest", "hand_open", "hand_close", "wrist_flexion"), "hand_close"),
    ("lower", ("rest", "ankle_dorsiflexion", "ankle_plantarflexion"), "ankle_dorsiflexion"),
])
def test_intact_side_emg_drives_the_mirror_on_the_simulated_patient(limb, movements, shown):
    """A decoder calibrated on the intact side moves the intact (and so the mirrored) limb."""
    clock = FakeClock(0.0)
    settings = SimulatedEmgSettings(movements=movements)
    patient = SimulatedPatient(clock, movements=movements, seed=4)
    patient.start()
    decoder, _ = calibrate_on_simulated_patient(patient, clock, settings, repetitions=2)
    source = IntactEmgSource(patient, "left", limb, settings, decoder)
    driver = MirrorDriver(source)
    t0 = clock.now()
    patient.set_intent(shown, 0.7, t0 + 1.0)
    patient.set_intent("rest", 0.0, t0 + 4.0)
    _run(driver, clock, t0 + 3.5, step_s=0.02)
    assert driver.name == "intact_emg"
    assert driver.label_at(clock.now()) == shown
    movement, level = driver.movement_at(clock.now())
    assert 0.3 < level <= 1.0
    np.testing.assert_allclose(driver.pose_at(clock.now()).angles,
                               target_pose(shown, level, "left", limb).angles, atol=0.15)
    _run(driver, clock, t0 + 6.0, step_s=0.02)
    assert driver.label_at(clock.now()) == "rest"


def test_a_stimulating_mirror_block_looks_for_intact_side_onsets_at_the_increments():
    """The intact side's decoder takes the block's onset rule: where its movements
    stimulate, stim.onset_windows sure windows at the increments only; elsewhere its own,
    looked for between the increments too."""
    clock = FakeClock(0.0)
    settings = SimulatedEmgSettings(movements=("rest", "hand_open", "hand_close"))
    patient = SimulatedPatient(clock, movements=settings.movements)
    patient.start()
    decoder, _ = calibrate_on_simulated_patient(patient, clock, settings, repetitions=2)
    source = IntactEmgSource(patient, "left", "upper", settings, decoder)
    stimulated = SimulatedStimSettings().onset_windows
    source.set_onset_windows(stimulated, at_increments=True)
    assert decoder.vote.onset_windows == stimulated
    assert not decoder.onsets_between_increments
    source.set_onset_windows(settings.onset_windows)
    assert decoder.vote.onset_windows == settings.onset_windows
    assert decoder.onsets_between_increments


def test_a_decoder_for_other_channels_is_refused():
    clock = FakeClock(0.0)
    settings = SimulatedEmgSettings(movements=("rest", "hand_open", "hand_close"))
    patient = SimulatedPatient(clock, movements=settings.movements)
    patient.start()
    decoder, _ = calibrate_on_simulated_patient(patient, clock, settings, repetitions=2)
    other = SimulatedPatient(clock, n_channels=4, movements=settings.movements)
    with pytest.raises(ConfigError, match="trained on channels"):
        IntactEmgSource(other, "left", "upper", settings, decoder)


def test_a_recorded_pose_stream_replays_as_a_tracker(tmp_path):
    clock = FakeClock(100.0)
    script = ScriptedIntactHand("left", [ScriptedMovement(100.5, 101.5, "wrist_flexion")])
    rec = Recorder(tmp_path, clock)
    stream = rec.add_stream("pose_left", "Pose", limb_spec("upper").dof_names, 0.0, "float32")
    rec.start()
    times = np.arange(100.0, 102.0, 1 / 60)
    rec.push(stream, times, np.stack([script.pose_at(t).angles for t in times]))
    rec.close()
    replay = ReplaySource(tmp_path / "recording.xdf", "left")
    assert (replay.limb, replay.name) == ("upper", "replay")
    clock = FakeClock(5.0)
    driver = MirrorDriver(replay)
    driver.start()
    _run(driver, clock, 6.0)
    j = limb_spec("upper").dof_index("wrist_flexion")
    expected = script.pose_at(101.0).angles[j]
    assert driver.pose_at(5.0 + 1.0).angles[j] == pytest.approx(expected, abs=0.03)
    assert driver.label_at(6.0) == "wrist_flexion"
    events = _run(driver, clock, 7.5)
    assert replay.problem == "the replayed recording ended"
    assert [e.kind for e in events] == ["tracking_lost"] and "recording ended" in events[0].detail


def test_replay_of_a_missing_stream_names_the_streams_there(tmp_path):
    clock = FakeClock(0.0)
    rec = Recorder(tmp_path, clock)
    rec.start()
    rec.close()
    with pytest.raises(ConfigError, match="has no stream 'pose_right'"):
        ReplaySource(tmp_path / "recording.xdf", "right")


def test_the_script_source_can_carry_its_own_movement():
    source = ScriptSource(ScriptedIntactHand("left", [ScriptedMovement(0, 1, "hand_open")]),
                          with_movement=True)
    samples = source.read(0.5)
    assert samples[-1].movement == "hand_open"



class _PulledLead:
    """The simulated intact side's electrodes, whose lead is pulled at ``pulled_at_s``: no
    sample comes after it."""

    def __init__(self, patient, pulled_at_s):
        self.patient, self.pulled_at_s = patient, pulled_at_s
        self.sampling_rate_hz, self.channel_names = patient.sampling_rate_hz, patient.channel_names
        self.finished = False

    def start(self):
        self.patient.start()

    def stop(self):
        self.patient.stop()

    def read(self):
        chunk = self.patient.read()
        if chunk is None or self.patient.clock.now() < self.pulled_at_s:
            return chunk
        return None


def test_silent_intact_side_emg_is_lost_tracking_with_its_reason():
    """SAFETY.md 14: when the intact side's EMG stops, tracking is lost (on that event the
    mirror block stops stimulation) and the HUD says why."""
    clock = FakeClock(0.0)
    settings = SimulatedEmgSettings(movements=("rest", "hand_open", "hand_close"))
    patient = SimulatedPatient(clock, movements=settings.movements, seed=4)
    patient.start()
    decoder, _ = calibrate_on_simulated_patient(patient, clock, settings, repetitions=2)
    t0 = clock.now()
    lead = _PulledLead(patient, pulled_at_s=t0 + 2.0)
    driver = MirrorDriver(IntactEmgSource(lead, "left", "upper", settings, decoder,
                                          silence_s=0.5))
    driver.start()
    events = _run(driver, clock, t0 + 1.9, step_s=0.02)
    assert [e.kind for e in events] == ["tracking_found"] and driver.tracking
    events = _run(driver, clock, t0 + 3.0, step_s=0.02)
    # the driver misses the decisions first (lost_after_s), the source names the cause once
    # the stream has been silent for silence_s
    assert [e.kind for e in events] == ["tracking_lost"]
    lost_after_s = driver.settings.lost_after_s
    assert t0 + 2.0 + lost_after_s - 0.06 <= events[0].t_s <= t0 + 2.0 + lost_after_s + 0.03
    assert driver.hud_text.startswith("Tracking lost: intact-side EMG stopped (no samples)")


@pytest.mark.parametrize("background", [True, False])
def test_an_intact_side_calibration_that_fails_says_why_and_a_bug_in_it_is_raised(background,
                                                                               monkeypatch):
    """Too little EMG for a class: the HUD says the calibration failed (the session goes on
    without a tracked limb); an unexpected error reaches the control thread (the session
    ends, stimulation off) instead of dying with the worker."""
    import threading

    from mirrorvr.emg.calibration import CueSegment

    clock = FakeClock(0.0)
    settings = SimulatedEmgSettings(movements=("rest", "hand_open"))
    patient = SimulatedPatient(clock, movements=settings.movements, seed=4)
    source = IntactEmgSource(patient, "left", "upper", settings, train_in_background=background)
    driver = MirrorDriver(source)
    driver.start()
    # 0.1 s of hand_open: no complete 200 ms window
    source.calibrate([CueSegment("hand_open", 0.0, 0.1, 0), CueSegment("rest", 0.1, 1.0, 0)])
    deadline = threading.Event()
    while source.calibrating and clock.now() < 5.0:
        driver.step(clock.now())
        clock.advance(0.01)
        if background:
            deadline.wait(0.001)
    assert "no calibration segments for classes ['hand_open']" in source.calibration_error
    driver.step(clock.now())
    assert driver.hud_text.startswith("Tracking lost: intact-side calibration failed:")

    import mirrorvr.tracking.intact_emg as module

    def broken(*args, **kwargs):
        raise ValueError("a bug in training")

    monkeypatch.setattr(module, "train_decoder", broken)
    source.calibrate([CueSegment("hand_open", 5.0, 6.0, 0), CueSegment("rest", 6.0, 7.0, 0)])
    with pytest.raises(ValueError, match="a bug in training"):
        while clock.now() < 10.0:
            driver.step(clock.now())
            clock.advance(0.01)
            if background:
                deadline.wait(0.001)


def test_an_intact_side_calibration_trains_on_a_worker_while_reads_go_on():
    """In real time the decoder trains on a worker: reads keep returning at once (no pose
    yet), then the trained decoder drives the limb."""
    import threading

    from mirrorvr.session.protocol import Cue
    from mirrorvr.tracking.intact_emg import calibration_segments

    clock = FakeClock(0.0)
    settings = SimulatedEmgSettings(movements=("rest", "hand_open", "hand_close"))
    patient = SimulatedPatient(clock, movements=settings.movements, seed=4)
    source = IntactEmgSource(patient, "left", "upper", settings, train_in_background=True)
    driver = MirrorDriver(source)
    driver.start()
    cues = [Cue(m, 3.5 * k, 3.5 * k + 1.75, k // 2)
            for k, m in enumerate(["hand_open", "hand_close"] * 3)]
    segments = calibration_segments(cues, settings.movements, 0.0, 2)
    source.calibrate(segments)
    for s in segments:  # the patient performs the cues with the intact hand
        patient.set_intent(s.movement, 0.0 if s.movement == "rest" else 0.7, s.start_s + 0.2)
    reads_while_training, wait = 0, threading.Event()
    while source.calibrating and clock.now() < 30.0:
        driver.step(clock.now())
        clock.advance(0.01)
        if clock.now() > source.calibration_end_s + 0.05:
            reads_while_training += 1 if source.calibrating else 0
            wait.wait(0.002)  # real time passes while the worker trains
    assert source.decoder is not None and source.report.accuracy > 0.8
    assert source.decoder.model.movements == ("rest", "hand_open", "hand_close")
    assert reads_while_training > 0  # the control thread went on reading meanwhile
    patient.set_intent("hand_close", 0.7, clock.now())
    _run(driver, clock, clock.now() + 2.0, step_s=0.02)
    assert driver.label_at(clock.now()) == "hand_close"
