"""Frames on presentation timestamps: what the current block shows, drawn for the photon time.

Each frame is drawn for its predicted photon time (swap + display latency). When a planned
onset falls before the next frame would reach the eye, the swap is held until the onset — a
media player's presentation timestamp — so the seen movement and the contraction start
together. Every frame's timing and both limbs' poses are recorded; chosen frames are read
back for the session folder (encoded after the session: no disk I/O on the render path).
"""

from __future__ import annotations

import numpy as np

from mirrorvr.limb.poses import PoseFollower
from mirrorvr.limb.skeleton import Pose
from mirrorvr.movements import ALL_MOVEMENTS
from mirrorvr.render.scene import SceneState
from mirrorvr.session.blocks.base import Block
from mirrorvr.session.blocks.screens import (
    GUIDE_EXHALE_S,
    GUIDE_HOLD_S,
    GUIDE_INHALE_S,
    breathing_view,
)


class Presenter:
    """Draws, paces, captures and records frames for the runner.

    Parameters
    ----------
    clock, window, renderer, loop
        The session clock, window, renderer and loop (``loop.beat`` keeps the render
        watchdog fed; holding a frame for its timestamp is not a stall).
    plan : MovementPlan
    streams : SessionStreams
    push, marker : callables
        Record samples and markers.
    texts : PatientTexts
        Sides and limb of the scene.
    display_latency_s, max_fps : float
    emg_source
        Its ``insert_marker`` (boards with a marker row) gets each cue, when it has one.
    video : FrameRecorder or None
    """

    def __init__(self, *, clock, window, renderer, loop, plan, streams, push, marker, texts,
                 display_latency_s: float, max_fps: float, emg_source, video=None) -> None:
        self.clock, self.window, self.renderer, self.loop = clock, window, renderer, loop
        self.plan, self.streams, self.push, self.marker = plan, streams, push, marker
        self.texts = texts
        self.latency_s, self.max_fps = float(display_latency_s), float(max_fps)
        self.emg_source, self.video = emg_source, video
        self.follower = PoseFollower(texts.affected, limb=texts.limb)
        self.render_est_s = 0.02
        self.frame_period_est_s = 1.0 / self.max_fps
        self.last_swap_s: float | None = None
        self.swap_times_s: list[float] = []
        self.frames = 0
        self._last_cue_text = ""
        self._captures: list[tuple[float, str]] = []
        #: frames kept for the session folder: (label, (h, w, 3) uint8 pixels)
        self.captured: list[tuple[str, np.ndarray]] = []

    def plan_captures(self, times: list[tuple[float, str]]) -> None:
        """Read back the frames at these (session time s, label), in time order."""
        self._captures = sorted(self._captures + list(times))

    def frame(self, block: Block, status_text) -> None:
        """Draw, hold and swap one frame of ``block``; ``status_text(photon_s)`` is the HUD's
        status line."""
        clock = self.clock
        now = clock.now()
        photon_asap = now + self.render_est_s + self.latency_s
        if self.loop.realtime and self.last_swap_s is not None:  # cap the rate at max_fps
            photon_asap = max(photon_asap, self.last_swap_s + 1.0 / self.max_fps + self.latency_s)
        target = photon_asap
        onset = self.plan.next_onset_after(photon_asap)
        if onset is not None and onset < photon_asap + self.frame_period_est_s:
            target = onset  # present on the onset's timestamp: hold the swap until then
        known = self.plan.known()  # onsets planned after this are not in this frame
        state = self._scene(block, target, status_text(target))
        self.loop.beat("render")
        t0 = clock.now()
        self.renderer.draw(state)
        if self._captures and target >= self._captures[0][0]:
            self.captured.append((self._captures.pop(0)[1], self.window.read_pixels()))
        if self.video is not None:
            self.video.submit(self.window.read_pixels())
        self.window.finish()
        render_s = clock.now() - t0
        self.render_est_s = 0.9 * self.render_est_s + 0.1 * render_s
        self.loop.beat("render")  # holding a frame for its timestamp is not a stall
        clock.sleep_until(target - self.latency_s)
        self.window.swap()
        swap_s = clock.now()
        photon_s = swap_s + self.latency_s
        if self.last_swap_s is not None:
            self.frame_period_est_s = (0.9 * self.frame_period_est_s
                                       + 0.1 * (swap_s - self.last_swap_s))
        self.last_swap_s = swap_s
        self.swap_times_s.append(swap_s)
        self._record(block, state, swap_s, photon_s, render_s, target, known)
        self.frames += 1
        self.loop.beat("render")

    def _scene(self, block: Block, photon_s: float, status: str) -> SceneState:
        view = block.frame(photon_s)
        breathing = view.breathing
        if breathing is None and block.spec.breathing_guide:  # the guide over any block
            breathing = breathing_view(photon_s - block.start_s, GUIDE_INHALE_S,
                                       GUIDE_HOLD_S, GUIDE_EXHALE_S)
        affected = (self.follower.update(view.affected, photon_s) if view.smooth
                    else view.affected)
        if not view.smooth:
            self.follower.update(view.affected, photon_s)  # stays in step for the next block
        intact = view.intact or Pose.rest(self.texts.intact, self.texts.limb)
        left, right = ((intact, affected) if self.texts.intact == "left"
                       else (affected, intact))
        return SceneState(left_pose=left, right_pose=right, cue_text=view.cue_text,
                          status_text=status, affected_side=self.texts.affected,
                          ghost_pose=view.ghost, question=view.question, gauge=view.gauge,
                          breathing=breathing, limb_tension=view.limb_tension)

    def _record(self, block: Block, state: SceneState, swap_s: float, photon_s: float,
                render_s: float, target_s: float, known: int) -> None:
        if state.cue_text != self._last_cue_text:
            cue = " / ".join(line for line in state.cue_text.splitlines() if line.strip())
            self.marker(f"cue {block.name}: {cue}", photon_s)
            self._mark_cue_on_board(block, target_s)
            self._last_cue_text = state.cue_text
        for entry in self.plan.mark_presented(photon_s, known):
            self.push(self.streams.plan, [entry.photon_s], [[_json(entry.timing_record())]])
        self.push(self.streams.frames, [photon_s], [[swap_s, photon_s, render_s * 1000.0]])
        self.push(self.streams.pose_left, [photon_s], [state.left_pose.angles])
        self.push(self.streams.pose_right, [photon_s], [state.right_pose.angles])

    def _mark_cue_on_board(self, block: Block, t_s: float) -> None:
        """Put the cue into the board's own marker row too (boards that have one)."""
        cue = block.cue_at(t_s)
        # 1 + the class index for a movement cue (REFERENCES.md order), 99 for other screens
        value = 1 + ALL_MOVEMENTS.index(cue.movement) if cue is not None else 99
        self.emg_source.insert_marker(value, cue.movement if cue is not None else block.name)


def _json(record: dict) -> str:
    import json

    return json.dumps(record)
