"""The session runner: the main loop that drives a whole therapy session.

The runner owns no concrete backend: the CLI (the composition root) builds the EMG source,
window, renderer, safety governor, scheduler, watchdog and recorder and hands them over as
:class:`SessionParts`. Everything runs on one session clock.

Threads (``realtime=True``): the main thread polls events and renders; a control thread
reads EMG, decodes and updates the movement plan; the scheduler fires stimulation on its
own timing thread; the watchdog cuts stimulation when either loop stops beating; the
recorder writes on its own thread. With ``realtime=False`` (tests, fake clock) the same
steps run in order inside the frame loop, and the clock advances one frame per frame.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirrorvr.config import SessionConfig
from mirrorvr.emg.blanking import blank_chunks
from mirrorvr.emg.calibration import (
    CalibrationRecording,
    CueSegment,
    ramp_windows,
    train_decoder,
)
from mirrorvr.emg.decoder import warm_up as warm_up_decoder
from mirrorvr.emg.liveness import StreamWatch
from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import MirrorVRError, RecordingError, RenderError, StimulationError
from mirrorvr.limb.poses import PoseFollower, target_pose
from mirrorvr.limb.skeleton import DOF_NAMES, Pose
from mirrorvr.movements import ALL_MOVEMENTS, REST
from mirrorvr.render.scene import SceneState
from mirrorvr.session.control import (
    GuidedController,
    MirrorController,
    MotionTestController,
    PatientScript,
    PhantomController,
    TacTestController,
    attempts_for,
)
from mirrorvr.session.estop_control import EStopButton, parse_click
from mirrorvr.session.plan import MovementPlan, PlannedMovement
from mirrorvr.session.protocol import Block, build_demo_protocol
from mirrorvr.session.quality import PROBLEM_BITS, QualityTracker
from mirrorvr.session.ratings import Rating, RatingInput
from mirrorvr.session.stim_gate import StimulationGate
from mirrorvr.session.summary import (
    asynchrony_stats_ms,
    interval_percentiles_ms,
    write_summary,
)
from mirrorvr.stim.dose import DoseLedger
from mirrorvr.stim.prescription import commands_for, slowest_path_latency_s
from mirrorvr.tracking.scripted import ScriptedIntactHand, ScriptedMovement

log = logging.getLogger(__name__)

#: The simulated patient starts an attempt this long after the cue appears, s.
REACTION_S = 0.2
#: Level of the simulated patient's attempts (fraction of maximum voluntary contraction).
ATTEMPT_LEVEL = 0.7
#: How often the control thread polls the EMG source, s.
CONTROL_PERIOD_S = 0.005
#: Time allowed for the control thread to hand a command to the timing thread, s.
SCHEDULING_MARGIN_S = 0.005
#: Blanked after each EMS pulse on top of the pulse, the transport jitter and the blanker's
#: own margins (1 ms before, 5 ms after): the amplifier's recovery from the pulse, s.
STIM_BLANK_MARGIN_S = 0.005
#: The trained decoder in the session folder (:meth:`mirrorvr.emg.decoder.Decoder.save`).
DECODER_FILE = "decoder.npz"
#: When a TAC test frame is saved, after its cue: reaction + display delay + part of the way.
TAC_CAPTURE_S = 1.6


@dataclass
class SessionParts:
    """Concrete backends for one session, built by the CLI."""

    config: SessionConfig
    session_dir: Path
    clock: object
    emg_source: object
    window: object
    renderer: object
    governor: object
    scheduler: object
    watchdog: object
    recorder: object
    tracker: object | None = None  # intact-limb pose source; None: the demo's scripted hand
    simulated_patient: object | None = None
    rater: object | None = None
    realtime: bool = True
    save_frames_to: Path | None = None
    video: object | None = None  # a FrameRecorder: encodes on its own thread, drops if behind
    #: why stimulation must not be armed in this session (e.g. no patient profile behind a
    #: real stimulator, SAFETY.md 12); None: arm as usual
    stim_refusal: str | None = None


@dataclass
class _Streams:
    emg: object = None
    intent: object = None
    pose_left: object = None
    pose_right: object = None
    frames: object = None
    stim: object = None
    ratings: object = None
    plan: object = None
    quality: object = None


@dataclass
class _Counters:
    frames: int = 0
    stim_skipped: int = 0
    estops: int = 0


class SessionRunner:
    """Runs the demo protocol (ratings, calibration, phantom, mirror) and returns a summary."""

    def __init__(self, parts: SessionParts) -> None:
        self.p = parts
        self.cfg = parts.config
        self.clock = parts.clock
        self.plan = MovementPlan()
        self.blocks = build_demo_protocol(self.cfg.protocol, self.cfg.emg)
        self.affected = self.cfg.patient.amputated_side
        self.intact = self.cfg.patient.intact_side
        self.follower = PoseFollower(self.affected)
        self.decoder = None
        self.calibration_report = None
        #: per class, the ramp fit that set the level's full scale (None: no ramps)
        self.level_calibration: dict | None = None
        #: the Motion Test's trials and summary (None: no motion_test block ran)
        self.motion_test: dict | None = None
        #: the TAC test's trials and summary (None: no tac_test block ran)
        self.tac_test: dict | None = None
        #: the trained decoder as saved in the session folder (None: not trained or not saved)
        self.decoder_file: Path | None = None
        self.ratings: dict[str, Rating] = {}
        self.counters = _Counters()
        self.streams = _Streams()
        self._control_lock = threading.Lock()
        self._controller = None
        self._patient_script: PatientScript | None = None
        self._stop = threading.Event()
        self._quit = False
        self._control_thread: threading.Thread | None = None
        self._render_est_s = 0.02
        self._frame_period_est_s = 1.0 / self.cfg.render.max_fps
        self._last_swap_s: float | None = None
        self._last_train_s: dict[int, float] = {}
        self._capture_times: list[tuple[float, str]] = []
        #: frames kept for the session folder: (label, (h, w, 3) uint8 pixels)
        self.captured: list[tuple[str, np.ndarray]] = []
        self._last_cue_text = ""
        self._control_error: BaseException | None = None
        self.stim_armed = False
        self.video_summary: dict | None = None
        self.stim_note = ""
        self.presentation_delay_s = self._choose_presentation_delay()
        self.estop_button = EStopButton()
        self._artefact_trains: dict[int, int] = {}  # stimulator channel -> simulated train
        self.blanked_pulses = 0
        #: every EMS pulse sent before the decoder was trained: (first, last) time to blank, s
        self._stim_pulses: list[tuple[float, float]] = []
        #: pulses blanked from the calibration EMG the decoder was trained on
        self.calibration_blanked_pulses = 0
        src = parts.emg_source
        #: EMG signal quality, checked on the control thread (never the render thread)
        self.quality = QualityTracker(src.channel_names, src.sampling_rate_hz,
                                      self.cfg.emg.mains_hz)
        #: SAFETY.md 14: EMG-triggered stimulation only from a decoder and EMG to trust
        self.gate = StimulationGate(self.cfg.protocol.min_decoder_accuracy)
        #: silences and the end of the EMG stream
        self.stream_watch = StreamWatch(self.cfg.emg.silence_s)
        #: every train as it went: delivered or cut short (SAFETY.md 9, 11)
        self.ledger = DoseLedger()
        self._swap_times_s: list[float] = []
        self._recording_failed = False
        #: how the session ended ("completed", "ended by the user (Esc)", ...); None: running
        self.end_reason: str | None = None

    # ------------------------------------------------------------------ set-up

    def _choose_presentation_delay(self) -> float:
        """D for reactive modes: long enough for both the visual and the stimulation path.

        The stimulation path is transport + device + electromechanical delay + the ramp's
        time to the motor threshold, for the slowest channel in use (ARCHITECTURE.md).
        """
        visual_s = self._render_est_s + self.cfg.render.display_latency_s + self._frame_period_est_s
        stim_s = 0.0
        if self.cfg.stim.enabled:
            # the jitter is uniform in [0, transport_jitter_s]: allow all of it
            stim_s = (
                slowest_path_latency_s(self.cfg.stim, self.cfg.patient)
                + self.cfg.stim.transport_jitter_s
                + SCHEDULING_MARGIN_S
            )
        return max(self.cfg.protocol.presentation_delay_s, visual_s, stim_s)

    def _open_streams(self) -> None:
        rec = self.p.recorder
        src = self.p.emg_source

        self.streams.emg = rec.add_stream(
            "EMG", "EMG", list(src.channel_names), src.sampling_rate_hz, "float32"
        )
        self.streams.intent = rec.add_stream(
            "decoder", "Intent", ["class_index", "level", "confidence"], 0.0, "float32"
        )
        self.streams.pose_left = rec.add_stream(
            "pose_left", "Pose", list(DOF_NAMES), 0.0, "float32"
        )
        self.streams.pose_right = rec.add_stream(
            "pose_right", "Pose", list(DOF_NAMES), 0.0, "float32"
        )
        self.streams.frames = rec.add_stream(
            "frames", "FrameTiming", ["swap_s", "photon_s", "render_ms"], 0.0, "double64"
        )
        self.streams.stim = rec.add_stream("stimulation", "StimEvents", ["event"], 0.0, "string")
        self.streams.ratings = rec.add_stream("ratings", "NRS", ["nrs"], 0.0, "float32")
        self.streams.plan = rec.add_stream(
            "movement_plan", "MovementPlan", ["entry"], 0.0, "string"
        )
        # per channel: OR of the problem bits (session.quality.PROBLEM_BITS), 0 = ok; the
        # bits are named in a 'signal_quality_bits' marker and the reasons in markers
        self.streams.quality = rec.add_stream(
            "signal_quality", "SignalQuality", list(src.channel_names), 0.0, "int32"
        )

    def _marker(self, text: str, t_s: float | None = None) -> None:
        try:
            self.p.recorder.marker(self.clock.now() if t_s is None else t_s, text)
        except RecordingError as err:
            self._recording_failed_with(err)

    def _push(self, handle, t_s, samples) -> None:
        try:
            self.p.recorder.push(handle, t_s, samples)
        except RecordingError as err:
            self._recording_failed_with(err)

    def _recording_failed_with(self, err: RecordingError) -> None:
        """The recording cannot be written (disk full, ...): say so once and end the session;
        what was flushed stays in the file."""
        if self._recording_failed:
            return
        self._recording_failed = True
        log.error("recording failed, ending the session: %s", err)
        self.request_stop(f"recording failed: {err}")

    def _arm_stimulation(self) -> None:
        if not self.cfg.stim.enabled:
            self.stim_note = "disabled in the configuration"
            return
        refusal = self.p.stim_refusal or self._untitrated_refusal()
        if refusal:
            self.stim_note = f"not armed: {refusal}"
            log.warning("stimulation %s", self.stim_note)
            self._marker(f"stimulation_not_armed {refusal}")
            return
        try:
            self.p.governor.arm()
        except StimulationError as err:
            self.stim_note = f"not armed: {err}"
            log.warning("stimulation %s", self.stim_note)
            return
        self.stim_armed = True
        self.stim_note = "armed"

    def _untitrated_refusal(self) -> str:
        """Why no movement could ever stimulate with this profile ("" when one can)."""
        stim, patient = self.cfg.stim, self.cfg.patient
        if any(commands_for(m, 0.0, stim, patient)[0] for m in stim.movement_channels):
            return ""
        mapped = sorted({ch for chans in stim.movement_channels.values() for ch in chans})
        return (f"patient {patient.pseudonym} has no titrated channel among the mapped "
                f"channels {mapped} (stim.movement_channels): titrate with 'mirrorvr stim "
                "titrate' first")

    def request_stop(self, reason: str) -> None:
        """End the session at the next frame, recording ``reason`` (signals, the console).
        Safe to call from a signal handler: it only sets flags."""
        if self.end_reason is None:
            self.end_reason = reason
        self._quit = True

    # ------------------------------------------------------------------ run

    def run(self) -> dict:
        """Run every block; always leaves stimulation off and the recording closed.

        Every way the session ends writes ``summary.json`` with the true reason
        (:attr:`end_reason`): completed, ended by the user, a signal, a recording failure,
        or an error (then re-raised after the summary is written).
        """
        clock = self.clock
        self._open_streams()
        self.p.recorder.start()
        self.p.governor.set_event_listener(self._stim_event)  # the dose log (SAFETY.md 11)
        listen = getattr(self.p.emg_source, "set_event_listener", None)
        if listen is not None:  # board losses, reconnections and gaps go into the markers
            listen(lambda t_s, text: self._marker(text, t_s))
        self.t_start_s = clock.now()
        self._marker(f"session_start presentation_delay_s={self.presentation_delay_s:.4f}")
        self._marker("signal_quality_bits " + json.dumps(PROBLEM_BITS))
        warm_up_decoder(self.cfg.emg)  # before the watchdog runs: loading stalls ~0.4 s
        self.p.emg_source.start()
        self._arm_stimulation()
        failure: BaseException | None = None
        try:
            if self.p.realtime:
                self.p.scheduler.start()
                self.p.watchdog.start()
                self._control_thread = threading.Thread(
                    target=self._control_loop, name="mirrorvr-control", daemon=True
                )
                self._control_thread.start()
            for block in self.blocks:
                self._run_block(block)
                if self._quit:
                    break
        except BaseException as err:
            # SAFETY.md item 9: an unexpected exception anywhere -> all channels off.
            failure = err
            self.request_stop(f"error: {type(err).__name__}: {err}")
            self._all_off_quietly(f"session error: {type(err).__name__}")
            self._marker(f"session_error {type(err).__name__}: {err}")
        finally:
            self._stop.set()
            if self._control_thread is not None:
                self._control_thread.join(timeout=2.0)
            if self.p.realtime:
                self.p.watchdog.stop()
                self.p.scheduler.stop()
            self.stim_state_at_end = self.p.governor.state
            try:
                self.p.governor.close("session end")  # all off, disarmed, device released
            except StimulationError as err:  # a fault, already recorded; keep closing up
                log.error("stimulator fault at session end: %s", err)
            self.p.emg_source.stop()
            self._close_video()
            self.t_end_s = clock.now()
            if failure is None and self._control_error is not None:
                failure = self._control_error
            if self.end_reason is None:
                self.end_reason = "completed"
            self._marker(f"session_end reason={self.end_reason}")
            self._close_recording()
        summary = self._summary()
        if failure is None:
            summary["frames_saved"] = [str(p) for p in self._save_captures()]
        if self.video_summary is not None:
            summary["video"] = {k: (str(v) if isinstance(v, Path) else v)
                                for k, v in self.video_summary.items()}
        write_summary(summary, self.p.session_dir)
        if failure is not None:
            raise failure
        return summary

    def _all_off_quietly(self, reason: str) -> None:
        try:
            self.p.governor.all_off(reason)
        except StimulationError as err:  # a fault: recorded by the governor
            log.error("all channels off failed: %s", err)

    def _close_recording(self) -> None:
        try:
            self.p.recorder.close()
        except RecordingError as err:  # what was flushed before stays in the file
            log.error("recording not closed cleanly: %s", err)

    def _close_video(self) -> None:
        if self.p.video is None:
            return
        try:
            self.video_summary = self.p.video.close()
        except RenderError as err:  # the session's other records are kept either way
            log.error("video recording failed: %s", err)

    def _run_block(self, block: Block) -> None:
        start = self.clock.now()
        self._marker(f"block_start {block.name}", start)
        log.info("block %s (%.1f s)", block.name, block.duration_s)
        self._plan_captures(block, start)
        with self._control_lock:
            self._controller = self._make_controller(block, start)
        rating = RatingInput() if block.kind == "rating" and self.p.rater is None else None
        end = start + block.duration_s
        while not self._quit:
            now = self.clock.now()
            if block.kind == "rating":
                if self._rating_done(block, start, now, rating):
                    break
            elif now >= end:
                break
            self._frame(block, start, rating)
        with self._control_lock:
            controller, self._controller = self._controller, None
        self._marker(f"block_end {block.name}")
        if block.kind == "calibration" and not self._quit:
            self._train_while_rendering(block, start, controller)
        if isinstance(controller, MotionTestController):
            result = controller.result(block, start)
            self.motion_test = result.to_dict()
            self._marker("motion_test " + json.dumps(result.summary))
        if isinstance(controller, TacTestController):
            result = controller.result()
            self.tac_test = result.to_dict()
            self._marker("tac_test " + json.dumps(result.summary))

    def _make_controller(self, block: Block, start: float):
        script = (
            attempts_for(block, start, REACTION_S, ATTEMPT_LEVEL)
            if block.kind in ("calibration", "phantom", "motion_test", "tac_test")
            else []
        )
        self._patient_script = PatientScript(self.p.simulated_patient, script)
        if block.kind == "calibration":
            # Guided onsets are known ahead, so stimulation can be exact; off by default since
            # the evoked contractions would be in the EMG the decoder is trained on
            # (stim.stimulate_in_calibration); the pulses are blanked from it before training.
            guided_stim = self._on_onset if self.cfg.stim.stimulate_in_calibration else None
            return GuidedController(block, start, self.plan, on_onset=guided_stim)
        if block.kind == "phantom" and self.decoder is not None:
            return PhantomController(
                self.decoder, self.plan, self.presentation_delay_s, self._on_onset
            )
        if block.kind == "motion_test" and self.decoder is not None:
            return MotionTestController(self.decoder, self.plan, self.presentation_delay_s)
        if block.kind == "tac_test" and self.decoder is not None:
            proto = self.cfg.protocol
            return TacTestController(
                self.decoder, block, start, self.presentation_delay_s,
                target_distance=proto.tac_test_target_distance,
                allowance=proto.tac_test_allowance, dwell_s=proto.tac_test_dwell_s,
                patient=self.p.simulated_patient, reaction_s=REACTION_S, level=ATTEMPT_LEVEL,
            )
        if block.kind == "mirror":
            tracker = self.p.tracker or ScriptedIntactHand(
                self.intact,
                [
                    ScriptedMovement(start + c.start_s, start + c.end_s, c.movement)
                    for c in block.cues
                ],
            )
            return MirrorController(tracker, self.plan, self.presentation_delay_s, self._on_onset)
        return None

    # ------------------------------------------------------------------ control

    def _control_loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._control_step(self.clock.now())
                self._stop.wait(CONTROL_PERIOD_S)
        except BaseException as err:  # the main loop re-raises it; stimulation goes off now
            self._control_error = err
            self.request_stop(f"error in the control loop: {type(err).__name__}: {err}")
            self._all_off_quietly(f"control loop error: {type(err).__name__}")

    def _control_step(self, now: float) -> None:
        with self._control_lock:
            if self._patient_script is not None:
                self._patient_script.step(now)
            chunk = self.p.emg_source.read()
            controller = self._controller
            self._watch_stream(now, chunk)
            if chunk is not None and chunk.n_samples:
                self._push(self.streams.emg, chunk.t_s, chunk.data.T)
                self.quality.push(chunk.t_s, chunk.data)
                self._check_quality()
                if controller is not None:
                    intents = controller.on_emg(_finite(chunk), now)
                    if intents:
                        self._record_intents(intents)
            if controller is not None:
                controller.step(now)
        self._beat("control")

    def _watch_stream(self, now: float, chunk: EmgChunk | None) -> None:
        """Notice the EMG stopping (and coming back): a recorded gap, the therapist told, and
        EMG-triggered stimulation stopped while it lasts (SAFETY.md 14)."""
        got = chunk is not None and chunk.n_samples > 0
        ended = getattr(self.p.emg_source, "finished", False)
        gap = self.stream_watch.update(
            now, float(chunk.t_s[0]) if got else None, float(chunk.t_s[-1]) if got else None,
            "the playback file ended" if ended and not got else None)
        if gap is None:
            return
        if gap.end_s is None:
            why = f"EMG stream stopped ({gap.reason})"
            self.gate.set_stream(why)
            self._marker(f"emg_stream_stopped reason={gap.reason} last_sample_s="
                         f"{gap.start_s:.6f}", now)
            if self.stim_armed:
                self.p.scheduler.cancel_all(why)
                self._all_off_quietly(why)
            log.warning("%s at %.3f s", why, gap.start_s)
        else:
            self.gate.set_stream("")
            self._marker(f"emg_stream_resumed gap_s={gap.end_s - gap.start_s:.3f}", gap.end_s)
            log.info("EMG stream resumed after %.3f s", gap.end_s - gap.start_s)

    def _beat(self, loop: str) -> None:
        """A heartbeat of ``loop``. On the fake clock no watchdog thread watches between
        steps, so a stall inside a step (a slow frame) is checked for here, before the
        beat that ends it, as the thread would have seen it."""
        if not self.p.realtime:
            self.p.watchdog.check(self.clock.now())
        self.p.watchdog.beat(loop)

    def _check_quality(self) -> None:
        """Every 250 ms of EMG: check the last second, record it, mark what changed."""
        checked = self.quality.check_due()
        if checked is None:
            return
        t_s, codes, changes = checked
        self._push(self.streams.quality, [t_s], codes[None, :])
        self.gate.set_quality([name for name, code in zip(self.quality.channel_names, codes,
                                                          strict=True) if code])
        for text in changes:
            self._marker(f"signal_quality {text}", t_s)

    def _record_intents(self, intents) -> None:
        classes = self.cfg.emg.movements
        t = np.array([i.t_s for i in intents])
        values = np.array([[classes.index(i.movement), i.level, i.confidence] for i in intents])
        self._push(self.streams.intent, t, values)

    # ------------------------------------------------------------------ stimulation

    def _on_onset(self, entry: PlannedMovement) -> None:
        """Schedule the stimulation that should start with ``entry``'s seen movement."""
        if not self.stim_armed:
            return
        held = self.gate.hold(entry.source)
        if held:  # SAFETY.md 14: not from a signal we cannot trust
            entry.stim_note = held
            return
        proposed, untitrated = commands_for(
            entry.movement, entry.onset_s, self.cfg.stim, self.cfg.patient
        )
        self.counters.stim_skipped += len(untitrated)
        commands = []
        for cmd in proposed:
            last = self._last_train_s.get(cmd.channel)
            if last is not None and entry.onset_s - last < self.cfg.stim.refractory_s:
                self.counters.stim_skipped += 1
                continue
            self._last_train_s[cmd.channel] = entry.onset_s
            commands.append(cmd)
        if not commands:
            return
        entry.stim_channels = tuple(c.channel for c in commands)
        entry.stim = self.p.scheduler.schedule(entry.onset_s, commands)

    def _stim_event(self, event) -> None:
        """Called by the governor for every event: record it (dose log, SAFETY.md item 11)."""
        self.ledger.add(event)
        self._push(self.streams.stim, [event.t_s], [[event.to_json()]])
        if event.kind == "sent":
            self._train_started(event.channel, event.detail)
        elif event.kind == "stopped":
            self._train_stopped(event.channel, event.detail)

    def _train_started(self, channel: int, d: dict) -> None:
        """A train was sent: its pulses are blanked from the decoder's EMG and, with the
        simulated patient, put into that EMG as artefacts (the simulated stimulator's
        current). The first pulse leaves the device transport + device latency after the
        send (+ up to the transport jitter, which the blanking covers)."""
        stim = self.cfg.stim
        first_s = d["start_s"] + stim.transport_latency_s + stim.device_latency_s
        end_s = first_s + d["on_time_s"]
        patient = self.p.simulated_patient
        if patient is not None and hasattr(patient, "add_stimulation"):
            self._artefact_trains[channel] = patient.add_stimulation(
                first_s, end_s, d["frequency_hz"],
                patient.artefact_amplitudes_v(d["movement"], d["amplitude_ma"]),
                pulse_width_us=d["pulse_width_us"], ramp_up_s=d["ramp_up_s"],
                ramp_down_s=d["ramp_down_s"],
            )
        n = math.ceil(d["on_time_s"] * d["frequency_hz"] - 1e-9)
        after_s = 2e-6 * d["pulse_width_us"] + stim.transport_jitter_s + STIM_BLANK_MARGIN_S
        pulses = [float(p) for p in first_s + np.arange(n) / d["frequency_hz"]]
        for pulse_s in pulses:  # an artefact is not an electrode problem
            self.quality.blank(pulse_s, pulse_s + after_s)
        decoder = self.decoder
        if decoder is None:
            # before training: kept for the calibration EMG, blanked from it before training
            # (stimulate_in_calibration); later pulses are blanked live only
            self._stim_pulses.extend((pulse_s, pulse_s + after_s) for pulse_s in pulses)
        if decoder is None or not self.cfg.stim.blank_emg:  # off: for comparisons
            return
        for pulse_s in pulses:
            decoder.blank(pulse_s, pulse_s + after_s)
        self.blanked_pulses += n

    def _train_stopped(self, channel: int, d: dict) -> None:
        """A train ended (on time, superseded, e-stop): its artefacts end with it. Its later
        pulses stay blanked: blanking a little clean EMG is harmless."""
        train = self._artefact_trains.pop(channel, None)
        if train is not None:
            self.p.simulated_patient.stop_stimulation(
                train, d["stop_s"] + self.cfg.stim.transport_latency_s
                + self.cfg.stim.device_latency_s)

    # ------------------------------------------------------------------ frames

    def _frame(self, block: Block, block_start: float, rating: RatingInput | None) -> None:
        clock = self.clock
        for key in self.p.window.poll_events():
            self._handle_key(key, rating)
        now = clock.now()
        latency = self.cfg.render.display_latency_s
        photon_asap = now + self._render_est_s + latency
        if self.p.realtime and self._last_swap_s is not None:  # cap the frame rate at max_fps
            photon_asap = max(
                photon_asap, self._last_swap_s + 1.0 / self.cfg.render.max_fps + latency
            )
        target = photon_asap
        # Present on the onset's timestamp when the next frame would otherwise overshoot it
        # (a media player's presentation timestamp): hold the swap until onset - latency.
        onset = self.plan.next_onset_after(photon_asap)
        if onset is not None and onset < photon_asap + self._frame_period_est_s:
            target = onset
        state = self._scene_state(block, block_start, target, rating)
        self._beat("render")
        t0 = clock.now()
        self.p.renderer.draw(state)
        capture = self._capture_due(target)
        if capture is not None:
            self._capture(capture)
        if self.p.video is not None:
            self.p.video.submit(self.p.window.read_pixels())
        self.p.window.finish()
        render_s = clock.now() - t0
        self._render_est_s = 0.9 * self._render_est_s + 0.1 * render_s
        self._beat("render")  # holding a frame for its timestamp is not a stall
        clock.sleep_until(target - latency)
        self.p.window.swap()
        swap_s = clock.now()
        photon_s = swap_s + latency
        if self._last_swap_s is not None:
            self._frame_period_est_s = 0.9 * self._frame_period_est_s + 0.1 * (
                swap_s - self._last_swap_s
            )
        self._last_swap_s = swap_s
        if state.cue_text != self._last_cue_text:
            self._marker(f"cue {block.name}: {state.cue_text}", photon_s)
            self._mark_cue_on_board(block, block_start, target)
            self._last_cue_text = state.cue_text
        for entry in self.plan.mark_presented(photon_s):
            self._record_plan_entry(entry)
        self._swap_times_s.append(swap_s)
        self._push(self.streams.frames, [photon_s], [[swap_s, photon_s, render_s * 1000.0]])
        self._push(self.streams.pose_left, [photon_s], [state.left_pose.angles])
        self._push(self.streams.pose_right, [photon_s], [state.right_pose.angles])
        self.counters.frames += 1
        self._beat("render")
        if not self.p.realtime:
            self._advance_simulated(1.0 / self.cfg.render.max_fps)
        elif self._control_error is not None:
            self._quit = True

    def _advance_simulated(self, dt_s: float) -> None:
        """Simulated time: do what the control, timing and watchdog threads would do in ``dt_s``."""
        clock, scheduler = self.clock, self.p.scheduler
        end_s = clock.now() + dt_s
        while True:
            self._control_step(clock.now())
            next_send = scheduler.next_send_s()
            step_end = min(end_s, clock.now() + CONTROL_PERIOD_S)
            if next_send is not None and next_send <= step_end:
                clock.sleep_until(next_send)
                scheduler.fire_due()
            else:
                clock.sleep_until(step_end)
            self.p.governor.poll()
            self.p.watchdog.check(clock.now())
            if clock.now() >= end_s:
                return

    def _scene_state(self, block: Block, block_start: float, photon_s: float, rating) -> SceneState:
        ghost = None
        controller = self._controller
        if block.kind == "mirror" and isinstance(controller, MirrorController):
            intact = controller.tracker.pose_at(photon_s)
            affected = controller.mirrored_pose_at(photon_s)
            self.follower.update(affected, photon_s)
        elif isinstance(controller, TacTestController):
            # the TAC posture moving towards the target, which is shown as a ghost limb
            intact = Pose.rest(self.intact, controller.limb)
            affected = self.follower.update(controller.pose_at(photon_s, self.affected),
                                            photon_s)
            ghost = controller.ghost_at(photon_s, self.affected)
        else:
            intact = Pose.rest(self.intact)
            movement, level = self.plan.target_at(photon_s)
            affected = self.follower.update(target_pose(movement, level, self.affected), photon_s)
        left, right = (intact, affected) if self.intact == "left" else (affected, intact)
        return SceneState(
            left_pose=left,
            right_pose=right,
            cue_text=self._cue_text(block, block_start, photon_s, rating),
            status_text=self._status_text(block, block_start, photon_s),
            affected_side=self.affected,
            ghost_pose=ghost,
        )

    @staticmethod
    def _cue_at(block: Block, block_start: float, t_s: float):
        rel = t_s - block_start
        for cue in block.cues:
            if cue.start_s <= rel < cue.end_s:
                return cue
        return None

    def _mark_cue_on_board(self, block: Block, block_start: float, t_s: float) -> None:
        """Put the cue into the board's own marker row too (boards that have one)."""
        insert = getattr(self.p.emg_source, "insert_marker", None)
        if insert is None:
            return
        cue = self._cue_at(block, block_start, t_s)
        # 1 + the class index for a movement cue (REFERENCES.md order), 99 for other screens
        value = 1 + ALL_MOVEMENTS.index(cue.movement) if cue is not None else 99
        insert(value, cue.movement if cue is not None else block.name)

    def _cue_text(self, block: Block, block_start: float, t_s: float, rating) -> str:
        if block.kind == "rating":
            return rating.screen_text() if rating is not None else "Rate your phantom pain (0-10)"
        if block.kind == "training":
            return "Training the decoder..."
        cue = self._cue_at(block, block_start, t_s)
        if cue is None:
            return "Relax" if block.kind != "mirror" else "Watch your right hand"
        if block.kind == "mirror":
            return f"{cue.text} (left hand) - watch the right"
        if block.kind == "phantom":
            return f"{cue.text} with your phantom hand"
        if block.kind == "tac_test":
            controller = self._controller
            if isinstance(controller, TacTestController) and controller.completed_at(t_s):
                return "Target reached - relax"
            return f"{cue.text} to the outline and hold"
        return cue.text

    def _status_text(self, block: Block, block_start: float, t_s: float) -> str:
        left = max(0.0, block.duration_s - (t_s - block_start))
        gov = self.p.governor
        stim = gov.state if self.stim_armed else "off"
        if stim == "faulted":  # SAFETY.md item 9: the patient is told
            stim = f"OFF (device fault{': ' + gov.last_fault[:60] if gov.last_fault else ''})"
        elif not self.stim_armed and self.stim_note.startswith("not armed"):
            stim = "off (not armed: see the console)"  # the reason is in the summary and log
        elif self.stim_armed and block.kind in ("phantom",) and self.gate.reason("decoder"):
            stim = f"paused ({self.gate.reason('decoder')[:70]})"  # SAFETY.md 14
        button = self.estop_button.label(gov.state) if self.stim_armed else ""
        gap = self.stream_watch.open_gap
        emg = ("EMG: NO SIGNAL" if gap is not None  # SAFETY.md 14: the gap is shown
               else self.quality.hud_text)  # the worst channel's problem, "" when all are ok
        emg = f"{emg}   " if emg else ""
        return (f"{block.name}  {left:4.1f} s left   {emg}EMS: {stim}   [space] stop EMS"
                f"  [esc] end   {button}")

    def _handle_key(self, key: str, rating: RatingInput | None) -> None:
        click = parse_click(key)
        if click is not None:
            r = self.cfg.render
            if self.estop_button.hit(click[0], click[1], r.width, r.height):
                # SAFETY.md item 8: the on-screen control, same action as the key
                self.p.governor.emergency_stop("emergency stop button")
                self.counters.estops += 1
                self._marker("emergency_stop button")
            return
        if key in ("quit", "escape"):
            self.request_stop("ended by the user (Esc)" if key == "escape"
                              else "the window was closed")
            self._all_off_quietly(self.end_reason)
        elif key == "space":
            # SAFETY.md item 8: one key stops every channel, from any screen.
            self.p.governor.emergency_stop("emergency stop key")
            self.counters.estops += 1
            self._marker("emergency_stop key")
        elif key == "f9" and self.stim_armed:
            self.p.governor.rearm()
            self._marker("stimulation_rearmed")
        elif rating is not None:
            rating.handle_key(key)

    # ------------------------------------------------------------------ ratings

    def _rating_done(self, block: Block, start: float, now: float, rating) -> bool:
        name = block.name.removeprefix("rating_")
        if rating is None:  # scripted (demo): the answer comes when the screen has been up
            if now - start < block.duration_s:
                return False
            value = self.p.rater.answer(name)
        else:
            if rating.answer is None:
                return False
            value = rating.answer
        self.ratings[name] = Rating(name, value, now)
        self._push(self.streams.ratings, [now], [[float(value)]])
        self._marker(f"rating {name} nrs={value}", now)
        return True

    # ------------------------------------------------------------------ calibration

    def _train_while_rendering(
        self, block: Block, start: float, controller: GuidedController
    ) -> None:
        """Train on a worker thread; the render loop keeps drawing (it never blocks)."""
        if not self.p.realtime:
            self._train(block, start, controller)
            return
        failure: list[BaseException] = []

        def work() -> None:
            try:
                self._train(block, start, controller)
            except BaseException as err:  # handed to the main thread below
                failure.append(err)

        worker = threading.Thread(target=work, name="mirrorvr-training", daemon=True)
        worker.start()
        training = Block("training", "training", 0.0)
        t0 = self.clock.now()
        while worker.is_alive() and not self._quit:
            self._frame(training, t0, None)
        worker.join()
        if failure:
            raise failure[0]

    def _train(self, block: Block, start: float, controller: GuidedController) -> None:
        if not controller.chunks:
            raise MirrorVRError("calibration recorded no EMG: is the source streaming?")
        segments = [
            CueSegment(cue.movement, start + cue.start_s, start + cue.end_s, cue.repetition)
            for cue in block.cues if not cue.ramp
        ]
        ramps = [CueSegment(cue.movement, start + cue.start_s, start + cue.end_s)
                 for cue in block.cues if cue.ramp]
        recording = CalibrationRecording.from_chunks(
            self._calibration_chunks(controller.chunks),
            self.p.emg_source.sampling_rate_hz,
            segments,
            channel_names=tuple(self.p.emg_source.channel_names),
        )
        self.decoder, self.calibration_report = train_decoder(
            recording, self.cfg.emg, keep_fraction=self.cfg.protocol.keep_fraction
        )
        acc = self.calibration_report.accuracy
        self._marker(f"decoder_trained cv_accuracy={acc:.4f}")
        self.gate.set_decoder_accuracy(acc, len(self.calibration_report.classes))
        held = self.gate.reason(PhantomController.source)
        if held:
            self._marker(f"stimulation_from_decoder_off {held}")
            log.warning("stimulation from the decoder stays off: %s", held)
        log.info("decoder trained: %.1f %% cross-validated accuracy", 100 * acc)
        if ramps:  # the proportional level's full scale from the ramps (after training)
            self.level_calibration = self.decoder.calibrate_levels_from_ramps(
                ramp_windows(recording, self.decoder, ramps, ATTEMPT_LEVEL))
            self._marker("levels_from_ramps " + json.dumps(
                {c: round(f["max_mav_v"], 9) for c, f in self.level_calibration.items()}))
        self._save_decoder()

    def _calibration_chunks(self, chunks: list[EmgChunk]) -> list[EmgChunk]:
        """The calibration EMG to train on: with stimulation during calibration
        (``stim.stimulate_in_calibration``) and ``stim.blank_emg``, every pulse sent is
        blanked by the rule the live decoder blanks with (:func:`blank_chunks`), so the
        training windows hold no artefact. The recording keeps the EMG as it came."""
        pulses = list(self._stim_pulses)
        if not pulses or not self.cfg.stim.blank_emg:
            return chunks
        first_s, last_s = float(chunks[0].t_s[0]), float(chunks[-1].t_s[-1])
        blanked, n_samples = blank_chunks(chunks, pulses)
        self.calibration_blanked_pulses = sum(1 for a, b in pulses
                                              if b >= first_s and a <= last_s)
        self._marker(f"calibration_emg_blanked pulses={self.calibration_blanked_pulses} "
                     f"samples={n_samples}")
        return blanked

    def _save_decoder(self) -> None:
        """Keep the trained decoder with the session (off the render thread: training runs on
        a worker). A failed write is logged and the session goes on with the decoder in
        memory; the summary then names no model file."""
        path = Path(self.p.session_dir) / DECODER_FILE
        try:
            self.decoder.save(path, self.calibration_report)
        except OSError as err:
            log.error("decoder not saved to %s: %s", path, err)
            self._marker(f"decoder_not_saved {err}")
            return
        self.decoder_file = path
        self._marker(f"decoder_saved {path.name} "
                     f"training_data_sha256={self.decoder.training_data_sha256}")

    # ------------------------------------------------------------------ capture

    def _plan_captures(self, block: Block, start: float) -> None:
        """Frames worth saving: two well-developed movements of each movement block."""
        if self.p.save_frames_to is None or not block.cues:
            return
        per_block = max(1, self.cfg.render.saved_frames // 3)
        first_of_each = {}
        for cue in block.cues:
            if cue.movement != REST:
                first_of_each.setdefault(cue.movement, cue)
        distinct = list(first_of_each.values())
        step = max(1, len(distinct) // per_block)
        picks = distinct[step // 2 :: step][:per_block]
        for cue in picks:
            # a well-developed movement; in the TAC test the hand on its way to the target
            into_cue_s = (TAC_CAPTURE_S if block.kind == "tac_test"
                          else 0.9 * (cue.end_s - cue.start_s))
            self._capture_times.append(
                (start + cue.start_s + into_cue_s, f"{block.name}: {cue.movement}")
            )

    def _capture_due(self, t_s: float) -> str | None:
        if self._capture_times and t_s >= self._capture_times[0][0]:
            return self._capture_times.pop(0)[1]
        return None

    def _capture(self, label: str) -> None:
        # Read back now, encode after the session: no disk I/O on the render path.
        self.captured.append((label, self.p.window.read_pixels()))

    def _save_captures(self) -> list[Path]:
        from mirrorvr.render.capture import save_png

        paths = []
        for n, (label, pixels) in enumerate(self.captured):
            path = self.p.save_frames_to / f"frame_{n:02d}_{label.split(':')[0]}.png"
            save_png(pixels, path)
            paths.append(path)
        return paths

    # ------------------------------------------------------------------ results

    def _record_plan_entry(self, entry: PlannedMovement) -> None:
        self._push(
            self.streams.plan,
            [entry.photon_s],
            [
                [
                    json.dumps(entry.timing_record())
                ]
            ],
        )

    def _stim_cut_short(self, entry: PlannedMovement) -> bool:
        return any(r.actual_send_s is not None
                   and self.ledger.is_cut_short(r.command.channel, r.actual_send_s)
                   for r in entry.stim)

    def _acquisition_gaps(self) -> list[dict]:
        """Every stretch without EMG the session saw, with the board's own account of the
        losses it bridged by reconnecting (reason, attempts) where one overlaps."""
        fs = self.p.emg_source.sampling_rate_hz
        gaps = [g.to_dict(fs) for g in self.stream_watch.gaps]
        for board_gap in getattr(self.p.emg_source, "gaps", []):
            seen = next((g for g in gaps if g["start_s"] <= board_gap.end_s
                         and (g["end_s"] is None or g["end_s"] >= board_gap.start_s)), None)
            if seen is None:
                gaps.append({"start_s": board_gap.start_s, "detected_s": None,
                             "end_s": board_gap.end_s, "reason": board_gap.reason,
                             "duration_s": board_gap.duration_s,
                             "missing_samples": board_gap.missing_samples})
                continue
            seen["reason"] = board_gap.reason
            seen["reconnection_attempts"] = board_gap.attempts
        return sorted(gaps, key=lambda g: g["start_s"])

    def _summary(self) -> dict:
        counts = Counter(r.status for r in self.p.scheduler.records())
        elapsed = self.t_end_s - self.t_start_s
        rep = self.calibration_report
        return {
            "session_dir": str(self.p.session_dir),
            "recording": str(Path(self.p.session_dir) / "recording.xdf"),
            "clock": "real" if self.p.realtime else "simulated",
            "ended": self.end_reason,
            "duration_s": round(elapsed, 3),
            "blocks": [b.name for b in self.blocks],
            "decoder": None
            if rep is None
            else {
                "cv_accuracy": round(float(rep.accuracy), 4),
                "fold_accuracies": [round(float(a), 4) for a in rep.fold_accuracies],
                "classes": list(rep.classes),
                "confusion_matrix": np.asarray(rep.confusion).tolist(),
                "features": list(self.cfg.emg.features),
                "classifier": self.cfg.emg.classifier,
                "model_file": None if self.decoder_file is None else str(self.decoder_file),
                "channel_names": list(self.decoder.channel_names),
                "training_data_sha256": self.decoder.training_data_sha256,
                "level_calibration": "ramps" if self.level_calibration else "contractions",
                "rest_mav_v": self.decoder.rest_mav_v,
                "max_mav_v": dict(self.decoder.max_mav_v),
            },
            "frames": {
                "rendered": self.counters.frames,
                "mean_fps": round(self.counters.frames / elapsed, 2) if elapsed > 0 else 0.0,
                "width": self.cfg.render.width,
                "height": self.cfg.render.height,
                "headless": bool(self.p.window.headless),
                "interval_ms": interval_percentiles_ms(self._swap_times_s),
            },
            "watchdog": {
                "timeout_s": self.p.watchdog.timeout_s,
                "trips": len(self.p.watchdog.fired_at_s),
                "trip_times_s": [round(t, 4) for t in self.p.watchdog.fired_at_s],
            },
            "ems": {
                "state": self.stim_note if not self.stim_armed else self.stim_state_at_end,
                "sent": counts.get("sent", 0),
                "refused": counts.get("refused", 0),
                "late": counts.get("late", 0),
                "blocked": counts.get("failed", 0),  # not armed (e-stop) or driver fault
                "skipped": self.counters.stim_skipped,
                "emergency_stops": self.counters.estops,
                **self.ledger.summary(),
                "held_by_safety_gate": dict(self.gate.held),
                "pulses_blanked_from_decoder": self.blanked_pulses,
                "pulses_blanked_from_calibration": self.calibration_blanked_pulses,
            },
            "presentation_delay_s": round(self.presentation_delay_s, 4),
            "movements_seen": sum(1 for m in self.plan.movements if m.photon_s is not None),
            # SAFETY.md 9: a movement whose train was cut short is not counted as in sync
            "asynchrony": asynchrony_stats_ms([m for m in self.plan.movements
                                               if not self._stim_cut_short(m)]),
            "acquisition_gaps": self._acquisition_gaps(),
            "signal_quality": self.quality.summary(),
            "ratings": {name: r.value for name, r in self.ratings.items()},
            "motion_test": self.motion_test,
            "tac_test": self.tac_test,
        }


def _finite(chunk: EmgChunk) -> EmgChunk:
    """``chunk`` with non-finite samples (a board's NaN) set to 0 V for the decoder: one NaN
    would stay in its filters' state for good. The recording keeps them as they came."""
    if np.isfinite(chunk.data).all():
        return chunk
    return EmgChunk(chunk.t_s, np.nan_to_num(chunk.data, nan=0.0, posinf=0.0, neginf=0.0))
