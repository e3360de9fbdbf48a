"""The session runner: plays a protocol's blocks in order, knowing no kind in particular.

The CLI (the composition root) builds every backend and hands them over as
:class:`SessionParts`. The runner opens the recording, arms stimulation, starts the loop (real
time or stepped), and for each block: enters it, draws its frames until it is done, and
finishes it. The control step (EMG in, quality, the current block's decoding) runs on the
loop. Whoever watches the screen (a simulated patient in demos and tests) is an observer that
sees each block start. Every way a session ends writes ``summary.json`` with its reason.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mirrorvr.clock import Clock
from mirrorvr.config import SessionConfig
from mirrorvr.emg.decoder import warm_up as warm_up_decoder
from mirrorvr.emg.liveness import StreamWatch
from mirrorvr.emg.onset import EnvelopeTrace
from mirrorvr.emg.source import EmgChunk, EmgSource
from mirrorvr.errors import RecordingError, RenderError, StimulationError
from mirrorvr.outcomes.record import record_result
from mirrorvr.session.blocks import BLOCK_KINDS, Block
from mirrorvr.session.context import SessionContext, SessionObserver
from mirrorvr.session.estop_control import EStopButton, parse_click
from mirrorvr.session.frames import Presenter
from mirrorvr.session.journal import Journals, SessionJournal
from mirrorvr.session.loop import SessionLoop
from mirrorvr.session.plan import MovementPlan
from mirrorvr.session.ports import Recorder, Renderer, Window
from mirrorvr.session.protocol import BlockPlan
from mirrorvr.session.quality import PROBLEM_BITS, QualityTracker
from mirrorvr.session.stim_gate import StimulationGate
from mirrorvr.session.stimulation import StimulationPath
from mirrorvr.session.streams import SessionStreams
from mirrorvr.session.summary import session_summary, write_summary
from mirrorvr.session.texts import PatientTexts

if TYPE_CHECKING:  # pragma: no cover - types only: the runner imports no device or GL code
    from mirrorvr.render.capture import FrameRecorder
    from mirrorvr.stim.governor import SafetyGovernor, StimEvent
    from mirrorvr.stim.scheduler import SyncScheduler
    from mirrorvr.stim.watchdog import Watchdog
    from mirrorvr.tracking.driver import MirrorDriver

log = logging.getLogger(__name__)

#: Frames on input (``render.frames_on_input``): without a new sample, a frame still
#: starts this long after the last one (20 frames/s: the HUD and easing go on), s.
LONGEST_WAIT_FOR_INPUT_S = 0.05


@dataclass
class SessionParts:
    """Everything a session runs on, built by the CLI (the composition root)."""

    config: SessionConfig
    protocol: str
    limb: str
    blocks: list[BlockPlan]
    session_dir: Path
    clock: Clock
    emg_source: EmgSource
    window: Window
    renderer: Renderer
    governor: SafetyGovernor
    scheduler: SyncScheduler
    watchdog: Watchdog
    recorder: Recorder
    loop: SessionLoop
    observers: list[SessionObserver] = field(default_factory=list)
    #: also told every governor event (the simulated patient feels its stimulator twin's
    #: trains)
    stim_listeners: list[Callable[[StimEvent], None]] = field(default_factory=list)
    #: the mirror blocks' intact-limb driver (None: no tracker and no simulated patient)
    intact_limb: MirrorDriver | None = None
    #: told every key and gamepad event name from the window (a keyboard or gamepad tracker)
    input_listeners: list[Callable[[str], None]] = field(default_factory=list)
    save_frames_to: Path | None = None
    #: encodes the frames on its own thread, drops them if behind (--record-video)
    video: FrameRecorder | None = None
    #: why stimulation must not be armed (e.g. no profile behind a real stimulator, SAFETY.md
    #: 12); None: arm as usual
    stim_refusal: str | None = None
    #: told the session's start, block boundaries, outcomes and end (the catalogue)
    journals: list[SessionJournal] = field(default_factory=list)


class SessionRunner:
    """Runs one session's blocks and returns its summary."""

    def __init__(self, parts: SessionParts) -> None:
        self.p = parts
        cfg = self.cfg = parts.config
        self.clock = parts.clock
        src = parts.emg_source
        self.texts = PatientTexts(cfg.patient.amputated_side, cfg.patient.intact_side,
                                  parts.limb)
        self.plan = MovementPlan()
        #: EMG signal quality, checked on the control thread (never the render thread)
        self.quality = QualityTracker(src.channel_names, src.sampling_rate_hz, cfg.emg.mains_hz)
        self.gate = StimulationGate(0.8)  # a calibration block sets its own threshold
        #: silences and the end of the EMG stream
        self.stream_watch = StreamWatch(cfg.emg.silence_s)
        self.streams: SessionStreams | None = None
        self.stimulation = StimulationPath(cfg, parts.governor, parts.scheduler, self.gate,
                                           self.quality, self._dose_log)
        #: D of each block played (reactive onsets are shown this long after detection), s
        self.presentation_delays: dict[str, float] = {}
        #: the EMG envelope of the whole session (EMG onsets are estimated from it after)
        self.envelope = EnvelopeTrace(len(src.channel_names), src.sampling_rate_hz,
                                      cfg.emg.bandpass_hz, cfg.emg.mains_hz)
        self.ctx = SessionContext(
            clock=self.clock, plan=self.plan, texts=self.texts,
            presentation_delay_s=cfg.protocol.presentation_delay_s, gate=self.gate,
            emg_rate_hz=src.sampling_rate_hz, emg_channels=tuple(src.channel_names),
            marker=self._marker, record_intents=self._record_intents,
            stimulate=self.stimulation.on_onset, background=self._background,
            session_dir=parts.session_dir, emg_settings=cfg.emg, blank_emg=cfg.stim.blank_emg,
            stimulated_onset_windows=cfg.stim.onset_windows,
            record_rating=self._record_rating, stop_stimulation=self.stimulation.stop_all,
            record_outcome=self._record_outcome,
            screen_size_px=(cfg.render.width, cfg.render.height), view=cfg.render.view,
            open_stream=self._open_stream, push=self._push, intact_limb=parts.intact_limb,
            use_decoder=self._use_decoder,
            pulses_before_decoder=self.stimulation.pulses_before_decoder,
        )
        self.blocks: list[Block] = [BLOCK_KINDS[b.kind](b, self.ctx) for b in parts.blocks]
        self.journal = Journals(parts.journals)
        self.block: Block | None = None
        self._control_lock = threading.Lock()
        self._quit = False
        self._recording_failed = False
        self.estop_button = EStopButton()
        self.estops = 0
        #: how the session ended ("completed", "ended by the user (Esc)", ...); None: running
        self.end_reason: str | None = None
        self.presenter: Presenter | None = None
        self.video_summary: dict | None = None

    def presentation_delay_for(self, block: Block) -> float:
        """D for ``block``'s reactive onsets, s. Without stimulation, the least D
        (``protocol.presentation_delay_s``; 0: the next frame shows it). A block that
        stimulates waits long enough for both paths to meet the onset: the stimulation
        path (transport + device + rise to the motor threshold + EMD, ARCHITECTURE.md;
        in a mirror block after the tracker's sample has arrived) and a frame drawn and
        swapped for it."""
        least = self.cfg.protocol.presentation_delay_s
        if not self._stimulates(block):
            return least
        render = self.cfg.render
        visual_s = 0.02 + render.display_latency_s + 1.0 / render.max_fps
        delay_s = max(visual_s, self.stimulation.path_latency_s())
        driver = self.p.intact_limb
        if block.kind == "mirror" and driver is not None:
            delay_s += driver.arrival_lag_s  # a tracked onset is known only when it arrives
        return max(least, delay_s)

    def _stimulates(self, block: Block) -> bool:
        return bool(block.spec.stimulation and self.stimulation.armed)

    def _use_block_timing(self, block: Block) -> float:
        """D for ``block``, and how sure the decoder must be of an onset: where an onset
        stimulates, ``stim.onset_windows`` sure windows in a row at the increments (a wrong
        one would stimulate the wrong muscles), elsewhere ``emg.onset_windows``, looked for
        every ``emg.onset_step_s``. Returns D, s."""
        delay_s = self.ctx.presentation_delay_s = self.presentation_delay_for(block)
        self.presentation_delays[block.name] = delay_s
        if self.ctx.decoder is not None:
            stimulates = self._stimulates(block)
            self.ctx.decoder.set_onset_windows(
                self.cfg.stim.onset_windows if stimulates else self.cfg.emg.onset_windows,
                at_increments=stimulates)
        return delay_s

    @property
    def presentation_delay_s(self) -> float:
        """The longest D of the blocks played so far, s."""
        return max(self.presentation_delays.values(),
                   default=self.cfg.protocol.presentation_delay_s)

    # ------------------------------------------------------------------ small services

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

    def _open_stream(self, name, kind, channels, rate_hz, fmt):
        return self.p.recorder.add_stream(name, kind, list(channels), rate_hz, fmt)

    def _recording_failed_with(self, err: RecordingError) -> None:
        """The recording cannot be written (disk full, ...): say so once and end the session;
        what was flushed stays in the file."""
        if self._recording_failed:
            return
        self._recording_failed = True
        log.error("recording failed, ending the session: %s", err)
        self.request_stop(f"recording failed: {err}")

    def _stim_event(self, event) -> None:
        self.stimulation.on_event(event)
        for listener in self.p.stim_listeners:
            listener(event)

    def _dose_log(self, event) -> None:
        self._push(self.streams.stim, [event.t_s], [[event.to_json()]])

    def _record_intents(self, intents) -> None:
        classes = list(self.ctx.decoder.model.movements)
        t = np.array([i.t_s for i in intents])
        values = np.array([[classes.index(i.movement), i.level, i.confidence] for i in intents])
        self._push(self.streams.intent, t, values)

    def _record_rating(self, name: str, value: float, t_s: float) -> None:
        self._push(self.streams.ratings, [t_s], [[float(value)]])

    def _record_outcome(self, result, timepoint: str) -> None:
        try:
            record_result(self.p.recorder, self.streams.outcomes, result, timepoint)
        except RecordingError as err:
            self._recording_failed_with(err)
        self.journal.outcome(result, timepoint)

    def _use_decoder(self, decoder, report) -> None:
        self.ctx.decoder, self.ctx.calibration_report = decoder, report
        self.stimulation.decoder = decoder

    def _background(self, work) -> None:
        """``work`` off the render thread while frames of a waiting screen go on."""
        waiting = BLOCK_KINDS["rest"](_waiting_plan(), self.ctx)
        waiting.enter(self.clock.now())

        def draw() -> bool:
            if not self._quit:
                self._frame(waiting)
            return not self._quit

        self.p.loop.background(work, draw)

    def request_stop(self, reason: str) -> None:
        """End the session at the next frame, recording ``reason`` (signals, the console).
        Safe to call from a signal handler: it only sets flags."""
        if self.end_reason is None:
            self.end_reason = reason
        self._quit = True

    # ------------------------------------------------------------------ run

    def run(self) -> dict:
        """Play every block; always leaves stimulation off and the recording closed.

        Every way the session ends writes ``summary.json`` with the true reason
        (:attr:`end_reason`); an error is re-raised after the summary is written.
        """
        p, clock = self.p, self.clock
        self.streams = SessionStreams.open(p.recorder, p.emg_source, self.texts.limb)
        p.recorder.start()
        p.governor.set_event_listener(self._stim_event)  # the dose log (SAFETY.md 11)
        p.emg_source.set_event_listener(lambda t_s, text: self._marker(text, t_s))
        self.presenter = Presenter(
            clock=clock, window=p.window, renderer=p.renderer, loop=p.loop, plan=self.plan,
            streams=self.streams, push=self._push, marker=self._marker, texts=self.texts,
            display_latency_s=self.cfg.render.display_latency_s,
            max_fps=self.cfg.render.max_fps, emg_source=p.emg_source, video=p.video)
        self.t_start_s = clock.now()
        self._marker(f"session_start protocol={p.protocol}")
        self._marker("signal_quality_bits " + json.dumps(PROBLEM_BITS))
        warm_up_decoder(self.cfg.emg)  # before the watchdog runs: loading stalls ~0.4 s
        p.emg_source.start()
        self.stimulation.arm(p.stim_refusal)
        if not self.stimulation.armed and self.cfg.stim.enabled:
            self._marker(f"stimulation_not_armed {self.stimulation.note}")
        failure: BaseException | None = None
        self.journal.session_started(p.session_dir, p.protocol, self.t_start_s)
        try:
            p.loop.start(self._control_step, self._control_failed)
            for position, block in enumerate(self.blocks):
                self._play(position, block)
                if self._quit:
                    break
        except BaseException as err:
            # SAFETY.md item 9: an unexpected exception anywhere -> all channels off.
            failure = err
            self.request_stop(f"error: {type(err).__name__}: {err}")
            self.stimulation.all_off(f"session error: {type(err).__name__}")
            self._marker(f"session_error {type(err).__name__}: {err}")
        finally:
            self._close(failure)
        failure = failure or p.loop.error
        summary = self._summary()
        if failure is None:
            summary["frames_saved"] = [str(x) for x in self._save_captures()]
        write_summary(summary, p.session_dir)
        self.journal.session_ended(self.end_reason, self.end_reason == "completed", summary)
        if failure is not None:
            raise failure
        return summary

    def _close(self, failure) -> None:
        p = self.p
        p.loop.stop()
        self.stim_state_at_end = p.governor.state
        try:
            p.governor.close("session end")  # all off, disarmed, device released
        except StimulationError as err:  # a fault, already recorded; keep closing up
            log.error("stimulator fault at session end: %s", err)
        p.emg_source.stop()
        if p.video is not None:
            try:
                self.video_summary = p.video.close()
            except RenderError as err:  # the session's other records are kept either way
                log.error("video recording failed: %s", err)
        self.t_end_s = self.clock.now()
        if self.end_reason is None:
            self.end_reason = "completed"
        self._marker(f"session_end reason={self.end_reason}")
        try:
            p.recorder.close()
        except RecordingError as err:  # what was flushed before stays in the file
            log.error("recording not closed cleanly: %s", err)

    def _play(self, position: int, block: Block) -> None:
        start = self.clock.now()
        self._marker(f"block_start {block.name}", start)
        log.info("block %s (%s, %.1f s)", block.name, block.kind, block.duration_s)
        self.journal.block_started(position, block.name, block.kind, start)
        with self._control_lock:
            delay_s = self._use_block_timing(block)
            block.enter(start)
            self.block = block
        self._marker(f"presentation_delay_s {delay_s:.4f} block={block.name}", start)
        for observer in self.p.observers:
            observer.on_block(block, start)
        if self.p.save_frames_to is not None:
            self.presenter.plan_captures(block.capture_times(
                max(1, self.cfg.render.saved_frames // 3)))
        while not self._quit and not block.done(self.clock.now()):
            self._frame(block)
        with self._control_lock:
            self.block = None
        end, completed = self.clock.now(), not self._quit
        self._marker(f"block_end {block.name}", end)
        if completed:
            block.finish()
        self.journal.block_finished(position, end, self.ctx.results.get(block.name), completed)

    def _frame(self, block: Block) -> None:
        start_s = self.clock.now()
        shown = block.input_count() if self.cfg.render.frames_on_input else None
        for key in self.p.window.poll_events() + self.ctx.pressed():
            self._handle_key(key, block)
        self.presenter.frame(block, lambda t_s: self._status_text(block, t_s))
        loop = self.p.loop
        loop.after_frame(start_s + 1.0 / self.cfg.render.max_fps)
        if shown is not None:  # the next frame starts when the next sample is in
            loop.wait_for_input(lambda: block.input_count() != shown,
                                start_s + LONGEST_WAIT_FOR_INPUT_S)
        if loop.error is not None:
            self._quit = True

    def _control_failed(self, err: BaseException) -> None:
        self.request_stop(f"error in the control loop: {type(err).__name__}: {err}")
        self.stimulation.all_off(f"control loop error: {type(err).__name__}")

    # ------------------------------------------------------------------ control

    def _control_step(self, now: float) -> None:
        with self._control_lock:
            for observer in self.p.observers:
                observer.step(now)
            chunk = self.p.emg_source.read()
            block = self.block
            self._watch_stream(now, chunk)
            if chunk is not None and chunk.n_samples:
                self._push(self.streams.emg, chunk.t_s, chunk.data.T)
                self.quality.push(chunk.t_s, chunk.data)
                clean = _finite(chunk)
                self.envelope.push(clean.t_s, clean.data)
                self._check_quality()
                if block is not None:
                    intents = block.on_emg(clean, now)
                    if intents:
                        self._record_intents(intents)
            if block is not None:
                block.step(now)
        self.p.loop.beat("control")

    def _watch_stream(self, now: float, chunk: EmgChunk | None) -> None:
        """Notice the EMG stopping (and coming back): a recorded gap, the therapist told, and
        EMG-triggered stimulation stopped while it lasts (SAFETY.md 14)."""
        got = chunk is not None and chunk.n_samples > 0
        ended = self.p.emg_source.finished
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
            self.stimulation.stop_all(why)
            log.warning("%s at %.3f s", why, gap.start_s)
        else:
            self.gate.set_stream("")
            self._marker(f"emg_stream_resumed gap_s={gap.end_s - gap.start_s:.3f}", gap.end_s)
            log.info("EMG stream resumed after %.3f s", gap.end_s - gap.start_s)

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

    # ------------------------------------------------------------------ keys and HUD

    def _handle_key(self, key: str, block: Block) -> None:
        governor = self.p.governor
        click = parse_click(key)
        r = self.cfg.render
        if click is not None and self.estop_button.hit(click[0], click[1], r.width, r.height):
            # SAFETY.md item 8: the on-screen control, same action as the key
            governor.emergency_stop("emergency stop button")
            self.estops += 1
            self._marker("emergency_stop button")
        elif key in ("quit", "escape"):
            self.request_stop("ended by the user (Esc)" if key == "escape"
                              else "the window was closed")
            self.stimulation.all_off(self.end_reason)
        elif key == "space":
            # SAFETY.md item 8: one key stops every channel, from any screen.
            governor.emergency_stop("emergency stop key")
            self.estops += 1
            self._marker("emergency_stop key")
        elif key == "f9" and self.stimulation.armed:
            governor.rearm()
            self._marker("stimulation_rearmed")
        else:
            for listener in self.p.input_listeners:
                listener(key)
            block.handle_key(key)

    def _status_text(self, block: Block, t_s: float) -> str:
        left = max(0.0, block.duration_s - (t_s - block.start_s))
        gov = self.p.governor
        armed = self.stimulation.armed
        stim = gov.state if armed else "off"
        if stim == "faulted":  # SAFETY.md item 9: the patient is told
            stim = f"OFF (device fault{': ' + gov.last_fault[:60] if gov.last_fault else ''})"
        elif not armed and self.stimulation.note.startswith("not armed"):
            stim = "off (not armed: see the console)"  # the reason is in the summary and log
        elif armed and block.spec.stimulation and self.gate.reason(block.source):
            stim = f"paused ({self.gate.reason(block.source)[:70]})"  # SAFETY.md 14
        button = self.estop_button.label(gov.state) if armed else ""
        emg = ("EMG: NO SIGNAL" if self.stream_watch.open_gap is not None  # SAFETY.md 14
               else self.quality.hud_text)  # the worst channel's problem, "" when all are ok
        emg = f"{emg}   " if emg else ""
        return (f"{block.name}  {left:4.1f} s left   {emg}EMS: {stim}   [space] stop EMS"
                f"  [esc] end   {button}")

    # ------------------------------------------------------------------ results

    def _save_captures(self) -> list[Path]:
        from mirrorvr.render.capture import save_png

        paths = []
        for n, (label, pixels) in enumerate(self.presenter.captured):
            path = self.p.save_frames_to / f"frame_{n:02d}_{label.split(':')[0]}.png"
            save_png(pixels, path)
            paths.append(path)
        return paths

    @property
    def captured(self) -> list[tuple[str, np.ndarray]]:
        return self.presenter.captured if self.presenter is not None else []

    def _summary(self) -> dict:
        return session_summary(self)


def _waiting_plan() -> BlockPlan:
    from mirrorvr.session.protocol import RestSpec

    long_s = 4 * 3600.0  # until the work is done
    return BlockPlan(RestSpec(kind="rest", name="training", duration_s=long_s,
                              message="Training the decoder..."), "training", long_s)


def _finite(chunk: EmgChunk) -> EmgChunk:
    """``chunk`` with non-finite samples (a board's NaN) set to 0 V for the decoder: one NaN
    would stay in its filters' state for good. The recording keeps them as they came."""
    if np.isfinite(chunk.data).all():
        return chunk
    return EmgChunk(chunk.t_s, np.nan_to_num(chunk.data, nan=0.0, posinf=0.0, neginf=0.0))
