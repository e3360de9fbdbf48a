"""The mirror block: the intact limb's movement, reflected, is the virtual limb.

The intact limb comes from the session's :class:`~mirrorvr.tracking.driver.MirrorDriver`
(any intact-limb source — a tracker, intact-side EMG, a keyboard, the scripted limb of a
simulated patient — filtered, offset and watched for loss): a sample at ``t`` is shown,
reflected, at ``t + D``. Onsets are planned on the control thread from the movement the
driver reports, at the capture time of the sample that first showed it ``+ D`` (the frame
that shows that sample), so stimulation can meet them; each names the driver's source
(``mirror:<source>``). While tracking is lost the movement is rest (no onsets) and running
trains are stopped. A neutral-pose step first ("rest your hand flat on the table"), when
the protocol asks for one, stores per-joint offsets; no onset is planned while it lasts (a
flat hand reads as partly open). Every frame adds a row to the ``tracking`` stream
(:mod:`mirrorvr.session.tracking_record`).

Intact-side EMG: without a trained decoder, the first mirror block's first cue cycles
calibrate it (the hands demonstrate each cue, the patient moves the intact limb; those
onsets name the source ``cue``), then the decoder drives the limb. Its movements trigger
stimulation only while :class:`~mirrorvr.session.intact_emg.IntactEmgWatch` trusts them.
"""

from __future__ import annotations

import logging

from mirrorvr.errors import ConfigError
from mirrorvr.limb.mirror import mirror_pose
from mirrorvr.limb.poses import target_pose
from mirrorvr.movements import REST
from mirrorvr.session.blocks.base import BlockView
from mirrorvr.session.blocks.movement import _CuedBlock
from mirrorvr.session.intact_emg import IntactEmgWatch
from mirrorvr.session.tracking_record import TrackingRecord
from mirrorvr.tracking.driver import MirrorDriver
from mirrorvr.tracking.intact_emg import IntactEmgSource, calibration_segments

log = logging.getLogger(__name__)


class MirrorBlock(_CuedBlock):
    """Mirror therapy on the session's intact-limb driver."""

    kind = "mirror"
    source = "mirror"

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        driver = self.ctx.intact_limb
        if not isinstance(driver, MirrorDriver):
            raise ConfigError(f"block {self.name} (mirror): no intact-limb source is configured "
                              "([tracker] in the configuration), and the patient is not "
                              "simulated")
        self.driver = driver
        self._label = REST
        self._looked_s: float | None = None  # the previous step's time
        self._gaps_before = len(driver.gaps)
        self._held: dict[str, int] = {}
        self.record = TrackingRecord(self.ctx)
        self.intact_emg = None
        calibrating = False
        if isinstance(driver.source, IntactEmgSource):
            source = driver.source
            calibrating = (source.decoder is None and not source.calibrating
                           and source.calibration_error is None)  # a failed one is not retried
            if calibrating:
                self._calibrate_intact_side(source, start_s)
            self.intact_emg = IntactEmgWatch(source, self.ctx, source.min_accuracy_for_stim)
            source.set_onset_windows(self.ctx.stimulated_onset_windows if self.spec.stimulation
                                     else source.settings.onset_windows,
                                     at_increments=self.spec.stimulation)
        # 0.0: no neutral step (or it is over); an uncalibrated decoder shows no pose yet
        self._neutral_until_s = (start_s + self.spec.neutral_s
                                 if self.spec.neutral_s and not calibrating else 0.0)
        if self._neutral_until_s:
            driver.begin_neutral()
        driver.start()
        self.ctx.marker(f"mirror_source {driver.name}", start_s)

    def _calibrate_intact_side(self, source: IntactEmgSource, start_s: float) -> None:
        """The first cue cycles calibrate the intact-side decoder: each cue is demonstrated
        by the hands (plan targets; onsets from the ``cue``, not stimulated)."""
        segments = calibration_segments(self.cues, self.movements, start_s,
                                        source.calibration_repetitions)
        source.calibrate(segments)
        plan = self.ctx.plan
        for seg in segments:
            if seg.movement != REST:
                plan.add_target(seg.start_s, seg.movement, 1.0)
                plan.add_onset(seg.start_s, seg.movement, "cue")
            else:
                plan.add_target(seg.start_s, REST, 0.0)
        self.ctx.marker(f"intact_calibration_start cues={len(segments) // 2} "
                        f"until_s={source.calibration_end_s:.3f}", start_s)

    def _calibrating(self) -> bool:
        return self.intact_emg is not None and self.driver.source.calibrating

    def step(self, now_s: float) -> None:
        super().step(now_s)
        driver = self.driver
        for event in driver.step(now_s):
            self.ctx.marker(event.marker, event.t_s)
            if event.kind == "tracking_lost" and self.spec.stimulation:
                self.ctx.stop_stimulation(f"tracking lost ({driver.name})")
        if self.intact_emg is not None:
            self.intact_emg.step(now_s)
        if self._neutral_until_s and now_s >= self._neutral_until_s:
            self._neutral_until_s = 0.0
            try:
                offsets, event = driver.finish_neutral(now_s)
            except ConfigError as err:  # moved or not seen: the offsets stay as they were
                self.ctx.marker(f"neutral_refused {err}", now_s)
                log.warning("neutral step refused: %s", err)
            else:
                self.ctx.marker(event.marker, event.t_s)
                self.ctx.results.setdefault(self.name, {})["neutral_offsets"] = (
                    offsets.to_dict())
        label, sample_s = driver.label_since(now_s, self._looked_s)
        self._looked_s = now_s
        if self._neutral_until_s:  # the limb is held in the neutral pose, which is no
            self._label = label  # movement (a flat hand reads as partly open): no onset
            return
        if label != self._label:
            if label != REST:
                # the frame showing the sample that first had the movement: sample + D
                present_s = sample_s + self.ctx.presentation_delay_s
                entry = self.ctx.plan.add_onset(present_s, label, f"mirror:{driver.name}",
                                                detected_s=now_s, source_onset_s=sample_s)
                self._stimulate(entry)
            self._label = label

    def _stimulate(self, entry) -> None:
        """Stimulate with a tracked onset, unless the intact-side decoder is not trusted."""
        held = self.intact_emg.stimulation_hold() if self.intact_emg is not None else ""
        if held and self.spec.stimulation:
            entry.stim_note = held
            key = held.split(" (")[0]
            self._held[key] = self._held.get(key, 0) + 1
            return
        self.onset(entry)

    def frame(self, photon_s: float) -> BlockView:
        delay_s = self.ctx.presentation_delay_s
        shown = self.driver.frame_at(photon_s - delay_s)
        self.record.frame(shown, photon_s)
        if self._calibrating():  # both hands demonstrate the cue; the patient copies it
            movement, level = self.ctx.plan.target_at(photon_s)
            intact = target_pose(movement, level, self.ctx.intact, self.ctx.limb)
            return BlockView(self.pose(movement, level), self.cue_text(photon_s), intact=intact)
        view = super().frame(photon_s)
        return BlockView(mirror_pose(shown.pose), view.cue_text,
                         intact=self.driver.pose_at(photon_s), smooth=False)

    def input_count(self) -> int | None:
        """Tracker samples taken in, while a frame shows the newest at once (D = 0, not
        calibrating the intact side)."""
        if self.ctx.presentation_delay_s > 0 or self._calibrating():
            return None
        return self.driver.samples_done

    def cue_text(self, t_s: float) -> str:
        texts = self.ctx.texts
        if self._neutral_until_s and t_s < self._neutral_until_s:
            return texts.neutral
        cue = self.cue_at(t_s)
        text = texts.mirror_watch if cue is None else texts.mirror(cue.movement)
        if self._calibrating():
            return f"{text}\n{texts.intact_calibration}"
        hud = self.driver.hud_text
        return f"{text}\n{hud}" if hud else text

    def finish(self) -> None:
        driver = self.driver
        driver.stop()
        end_s = self.ctx.clock.now()
        gaps = driver.gaps[self._gaps_before:]
        result = self.ctx.results.setdefault(self.name, {})
        result["intact_limb_source"] = driver.name
        result["tracking_gaps"] = len(gaps)
        result["tracking_lost_s"] = round(float(sum(
            (end_s if g.end_s is None else g.end_s) - g.start_s for g in gaps)), 3)
        result.update(self.record.summary())
        if self.intact_emg is not None:
            result["intact_emg"] = self.intact_emg.results()
        if self._held:
            result["stimulation_held"] = dict(self._held)
