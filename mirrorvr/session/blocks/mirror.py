"""The mirror block: the intact limb's movement, reflected, is the virtual limb.

The intact limb comes from the session's :class:`~mirrorvr.tracking.driver.MirrorDriver`
(any intact-limb source — a tracker, intact-side EMG, a keyboard, the scripted limb of a
simulated patient — filtered, offset and watched for loss): a sample at ``t`` is shown,
reflected, at ``t + D``. Onsets are planned on the control thread from the movement the
driver reports, so stimulation can meet them; while tracking is lost the movement is rest
(no onsets) and running trains are stopped. A neutral-pose step first ("rest your hand flat
on the table"), when the protocol asks for one, stores per-joint offsets.
"""

from __future__ import annotations

import logging

from mirrorvr.errors import ConfigError
from mirrorvr.limb.mirror import mirror_pose
from mirrorvr.movements import REST
from mirrorvr.session.blocks.base import BlockView
from mirrorvr.session.blocks.movement import _CuedBlock
from mirrorvr.tracking.driver import MirrorDriver

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
        # 0.0: no neutral step (or it is over)
        self._neutral_until_s = start_s + self.spec.neutral_s if self.spec.neutral_s else 0.0
        if self._neutral_until_s:
            driver.begin_neutral()
        driver.start()
        self.ctx.marker(f"mirror_source {driver.name}", start_s)

    def step(self, now_s: float) -> None:
        super().step(now_s)
        driver = self.driver
        for event in driver.step(now_s):
            self.ctx.marker(event.marker, event.t_s)
            if event.kind == "tracking_lost" and self.spec.stimulation:
                self.ctx.stop_stimulation(f"tracking lost ({driver.name})")
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
        label = driver.label_at(now_s)
        if label != self._label:
            if label != REST:
                present_s = now_s + self.ctx.presentation_delay_s
                self.onset(self.ctx.plan.add_onset(present_s, label, self.source,
                                                   detected_s=now_s))
            self._label = label

    def frame(self, photon_s: float) -> BlockView:
        delay_s = self.ctx.presentation_delay_s
        affected = mirror_pose(self.driver.pose_at(photon_s - delay_s))
        view = super().frame(photon_s)
        return BlockView(affected, view.cue_text, intact=self.driver.pose_at(photon_s),
                         smooth=False)

    def cue_text(self, t_s: float) -> str:
        texts = self.ctx.texts
        if self._neutral_until_s and t_s < self._neutral_until_s:
            return texts.neutral
        cue = self.cue_at(t_s)
        text = texts.mirror_watch if cue is None else texts.mirror(cue.movement)
        hud = self.driver.hud_text
        return f"{text}\n{hud}" if hud else text

    def finish(self) -> None:
        self.driver.stop()
        result = self.ctx.results.setdefault(self.name, {})
        result["intact_limb_source"] = self.driver.name
        result["tracking_gaps"] = len(self.driver.gaps)
