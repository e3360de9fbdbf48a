"""The calibration block: cued contractions the virtual limb demonstrates, then training.

Cue onsets are known ahead, so the movements are planned at the block's start and their
stimulation (when the block stimulates) can be exact. At the end the decoder is trained on a
worker (the render loop keeps drawing), saved in the session folder, and the stimulation
gate learns its cross-validated accuracy (SAFETY.md 14).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from mirrorvr.emg.blanking import blank_chunks
from mirrorvr.emg.calibration import CalibrationRecording, CueSegment, ramp_windows, train_decoder
from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import MirrorVRError
from mirrorvr.movements import REST
from mirrorvr.session.blocks.base import Block, BlockView

log = logging.getLogger(__name__)

#: The trained decoder in the session folder (:meth:`mirrorvr.emg.decoder.Decoder.save`).
DECODER_FILE = "decoder.npz"
#: Time step of a ramp's level (the demonstrating limb and the attempt), s.
RAMP_STEP_S = 0.05
#: The share of maximum voluntary contraction a calibration asks for (the ramps' peak and
#: the level the proportional control is scaled to).
CALIBRATION_LEVEL = 0.7


def ramp_steps(cue) -> list[float]:
    """Times (s from block start) at which a ramp cue's level changes."""
    n = max(2, int(round((cue.end_s - cue.start_s) / RAMP_STEP_S)))
    return [cue.start_s + (cue.end_s - cue.start_s) * k / n for k in range(n)]


class CalibrationBlock(Block):
    """Cued contractions of every class, recorded for the decoder."""

    kind = "calibration"
    source = "cue"

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        self.chunks: list[EmgChunk] = []
        #: pulses blanked from the EMG the decoder trains on
        self.blanked_pulses = 0
        plan = self.ctx.plan
        for cue in self.cues:
            onset = start_s + cue.start_s
            if cue.ramp:  # demonstrated at the asked share of full flexion; no onset
                for tau in ramp_steps(cue):
                    plan.add_target(start_s + tau, cue.movement, cue.ramp_fraction(tau))
                plan.add_target(start_s + cue.end_s, REST, 0.0)
                continue
            plan.add_target(onset, cue.movement, 1.0 if cue.movement != REST else 0.0)
            plan.add_target(start_s + cue.end_s, REST, 0.0)
            if cue.movement != REST:
                self.onset(plan.add_onset(onset, cue.movement, self.source))

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list:
        self.chunks.append(chunk)
        return []

    def frame(self, photon_s: float) -> BlockView:
        movement, level = self.ctx.plan.target_at(photon_s)
        return BlockView(self.pose(movement, level), self.cue_text(photon_s))

    def finish(self) -> None:
        """Train on a worker while frames go on; the decoder goes into the context."""
        self.ctx.background(self._train)

    # ------------------------------------------------------------------ training

    def _train(self) -> None:
        ctx = self.ctx
        if not self.chunks:
            raise MirrorVRError("calibration recorded no EMG: is the source streaming?")
        start = self.start_s
        segments = [CueSegment(c.movement, start + c.start_s, start + c.end_s, c.repetition)
                    for c in self.cues if not c.ramp]
        ramps = [CueSegment(c.movement, start + c.start_s, start + c.end_s)
                 for c in self.cues if c.ramp]
        recording = CalibrationRecording.from_chunks(
            self._training_chunks(), ctx.emg_rate_hz, segments, channel_names=ctx.emg_channels)
        settings = ctx.emg_settings.model_copy(update={"movements": tuple(self.movements)})
        decoder, report = train_decoder(recording, settings,
                                        keep_fraction=self.spec.keep_fraction)
        acc = report.accuracy
        ctx.marker(f"decoder_trained cv_accuracy={acc:.4f}")
        log.info("decoder trained: %.1f %% cross-validated accuracy", 100 * acc)
        ctx.gate.min_decoder_accuracy = self.spec.min_accuracy_for_stim
        ctx.gate.set_decoder_accuracy(acc, len(report.classes))
        held = ctx.gate.reason("decoder")
        if held:
            ctx.marker(f"stimulation_from_decoder_off {held}")
            log.warning("stimulation from the decoder stays off: %s", held)
        level_calibration = None
        if ramps:  # the proportional level's full scale from the ramps (after training)
            level_calibration = decoder.model.calibrate_levels_from_ramps(
                ramp_windows(recording, decoder.model, ramps, CALIBRATION_LEVEL))
            ctx.marker("levels_from_ramps " + json.dumps(
                {c: round(f["max_mav_v"], 9) for c, f in level_calibration.items()}))
        ctx.use_decoder(decoder, report)
        model_file = self._save(decoder, report)
        ctx.results[self.name] = {
            "cv_accuracy": round(float(acc), 4),
            "fold_accuracies": [round(float(a), 4) for a in report.fold_accuracies],
            "classes": list(report.classes),
            "confusion_matrix": report.confusion.tolist(),
            "features": list(settings.features),
            "classifier": settings.classifier,
            "model_file": None if model_file is None else str(model_file),
            "channel_names": list(decoder.model.channel_names_),
            "training_data_sha256": decoder.model.training_data_sha256_,
            "level_calibration": "ramps" if level_calibration else "contractions",
            "rest_mav_v": decoder.model.rest_mav_v_,
            "max_mav_v": dict(decoder.model.max_mav_v_),
            "min_accuracy_for_stim": self.spec.min_accuracy_for_stim,
            "pulses_blanked": self.blanked_pulses,
        }

    def _training_chunks(self) -> list[EmgChunk]:
        """The EMG to train on: with stimulation during calibration and ``stim.blank_emg``,
        every pulse sent is blanked by the rule the live decoder blanks with
        (:func:`blank_chunks`), so the training windows hold no artefact. The recording
        keeps the EMG as it came."""
        pulses = list(self.ctx.pulses_before_decoder)
        chunks = self.chunks
        if not pulses or not self.ctx.blank_emg:
            return chunks
        first_s, last_s = float(chunks[0].t_s[0]), float(chunks[-1].t_s[-1])
        blanked, n_samples = blank_chunks(chunks, pulses)
        self.blanked_pulses = sum(1 for a, b in pulses if b >= first_s and a <= last_s)
        self.ctx.marker(f"calibration_emg_blanked pulses={self.blanked_pulses} "
                        f"samples={n_samples}")
        return blanked

    def _save(self, decoder, report) -> Path | None:
        """Keep the trained decoder with the session. A failed write is logged and the
        session goes on with the decoder in memory; the results then name no file."""
        path = Path(self.ctx.session_dir) / DECODER_FILE
        try:
            decoder.save(path, report)
        except OSError as err:
            log.error("decoder not saved to %s: %s", path, err)
            self.ctx.marker(f"decoder_not_saved {err}")
            return None
        self.ctx.marker(f"decoder_saved {path.name} "
                        f"training_data_sha256={decoder.model.training_data_sha256_}")
        return path
