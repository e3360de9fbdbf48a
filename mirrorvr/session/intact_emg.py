"""Intact-side EMG in a session: recorded, checked, and trusted before it triggers EMS.

When intact-side EMG drives the mirror blocks
(:class:`~mirrorvr.tracking.intact_emg.IntactEmgSource`), each mirror block keeps an
:class:`IntactEmgWatch` that

- records every chunk in the stream ``EMG_intact`` (volts, per sample);
- checks its quality like the residual side's
  (:class:`~mirrorvr.session.quality.QualityTracker`; each change is an
  ``intact_signal_quality`` marker);
- when the block calibrated the intact-side decoder, records its cross-validated accuracy
  (``intact_decoder_trained`` marker) and saves it as ``intact_decoder.npz`` in the session
  folder (usable as ``tracker.decoder_file`` while the electrodes stay in place);
- says whether the decoder's movements may trigger stimulation (SAFETY.md 14): its
  accuracy must reach ``min_accuracy_for_stim`` and every channel's quality check pass (a
  stopped stream is a lost tracker, which stops stimulation on its own).

Chunks arrive on the control thread (the driver reads the source there).
"""

from __future__ import annotations

import logging
from pathlib import Path

from mirrorvr.session.quality import QualityTracker

log = logging.getLogger(__name__)

#: The intact-side decoder a mirror block calibrated, in the session folder.
INTACT_DECODER_FILE = "intact_decoder.npz"


class IntactEmgWatch:
    """One mirror block's view of the intact-side EMG.

    Parameters
    ----------
    source : IntactEmgSource
    ctx : SessionContext
    min_accuracy_for_stim : float
        Cross-validated accuracy the intact-side decoder needs before its movements may
        trigger stimulation, 0..1.
    """

    def __init__(self, source, ctx, min_accuracy_for_stim: float) -> None:
        self.source, self.ctx = source, ctx
        self.min_accuracy = float(min_accuracy_for_stim)
        emg = source.emg_source
        channels = list(emg.channel_names)
        self.stream = ctx.shared_stream("EMG_intact", "EMG", channels, emg.sampling_rate_hz,
                                        "float32")
        self.quality = QualityTracker(channels, emg.sampling_rate_hz, source.settings.mains_hz)
        self.calibrated_here = source.calibrating
        self.model_file: Path | None = None
        self._reported = False
        source.on_chunk = self._on_chunk

    def _on_chunk(self, chunk) -> None:
        self.ctx.push(self.stream, chunk.t_s, chunk.data.T)
        self.quality.push(chunk.t_s, chunk.data)
        checked = self.quality.check_due()
        if checked is not None:
            for text in checked[2]:
                self.ctx.marker(f"intact_signal_quality {text}", checked[0])

    def step(self, now_s: float) -> None:
        """Control thread: record the end of a calibration made in this block, once."""
        source = self.source
        if self._reported or not self.calibrated_here or source.calibrating:
            return
        self._reported = True
        if source.calibration_error is not None:
            self.ctx.marker(f"intact_decoder_failed {source.calibration_error}", now_s)
            return
        self.ctx.marker(f"intact_decoder_trained cv_accuracy={source.accuracy:.4f} "
                        f"classes={','.join(source.decoder.model.movements)}", now_s)
        path = Path(self.ctx.session_dir) / INTACT_DECODER_FILE
        try:
            source.decoder.save(path, source.report)
        except OSError as err:  # the session goes on with the decoder in memory
            log.error("intact-side decoder not saved to %s: %s", path, err)
            self.ctx.marker(f"intact_decoder_not_saved {err}", now_s)
        else:
            self.model_file = path

    def stimulation_hold(self) -> str:
        """Why the decoder's movements may not trigger stimulation now; "" when they may."""
        accuracy = self.source.accuracy
        if accuracy is None:
            return ("intact-side decoder accuracy unknown (its model file holds no "
                    "cross-validated accuracy)")
        if accuracy < self.min_accuracy:
            return (f"intact-side decoder accuracy {100 * accuracy:.1f} % is below the "
                    f"{100 * self.min_accuracy:.0f} % needed to stimulate")
        if self.quality.hud_text:
            return f"intact-side EMG quality check failed ({self.quality.hud_text})"
        return ""

    def results(self) -> dict:
        """What the block reports about the intact side."""
        source = self.source
        out = {
            "channels": list(source.emg_source.channel_names),
            "decoder": ("calibrated in this block" if self.calibrated_here
                        else "calibrated in an earlier block" if source.report is not None
                        else "model file"),
            "cv_accuracy": None if source.accuracy is None else round(source.accuracy, 4),
            "classes": None if source.decoder is None else list(source.decoder.model.movements),
            "min_accuracy_for_stim": self.min_accuracy,
            "signal_quality": self.quality.summary(),
        }
        if self.calibrated_here:
            out["calibration_error"] = source.calibration_error
            out["model_file"] = None if self.model_file is None else str(self.model_file)
        return out
