"""The per-frame tracking record of mirror blocks: stream ``tracking`` and its summary.

Every frame a mirror block draws adds one row of
:data:`~mirrorvr.tracking.driver.FRAME_CHANNELS` at the frame's presentation timestamp: the
capture time of the newest tracker sample the mirrored pose is built from, the tracker's
own processing time, when mirrorvr received it, the photon time, the confidence and whether
tracking was in force. Every mirror block of a session writes into the one stream, so
tracker sample -> photon is in every recording. The block's results summarise it: per
tracker sample, the first frame that showed it (``sample_to_photon_ms``), and the parts of
that path.

``photon_s`` is the frame's presentation timestamp (the time the pose was drawn for); the
``frames`` stream holds the swap of the same frame, later only when drawing overran.
"""

from __future__ import annotations

import math

import numpy as np

from mirrorvr.session.summary import percentiles_ms
from mirrorvr.tracking.driver import FRAME_CHANNELS, TrackedFrame

#: The stream's name in the recording.
TRACKING_STREAM = "tracking"


class TrackingRecord:
    """Rows of one mirror block, pushed as they are drawn (render thread).

    Parameters
    ----------
    ctx : SessionContext
        Opens (once per session) and pushes the ``tracking`` stream.
    """

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.stream = ctx.shared_stream(TRACKING_STREAM, "Tracking", FRAME_CHANNELS, 0.0,
                                        "double64")
        self.frames = 0
        self.frames_tracking = 0
        self._last_sample_s: float | None = None
        #: per tracker sample, at its first frame: (sample, processing, received, photon) s
        self._first_shown: list[tuple[float, float, float, float]] = []

    def frame(self, shown: TrackedFrame, photon_s: float) -> None:
        """A frame reaching the eye at ``photon_s`` shows the mirrored ``shown``."""
        self.ctx.push(self.stream, [photon_s], [shown.record_row(photon_s)])
        self.frames += 1
        if not shown.tracking or shown.sample_s is None:
            return
        self.frames_tracking += 1
        if shown.sample_s != self._last_sample_s:
            received = shown.received_s if shown.received_s is not None else math.nan
            self._first_shown.append((shown.sample_s, shown.processing_s, received, photon_s))
            self._last_sample_s = shown.sample_s

    def summary(self) -> dict:
        """The block's figures: frames, frames with tracking, and per tracker sample its
        first frame's latency (``sample_to_photon_ms``) with its parts (medians, ms):
        the tracker's processing, the transport to mirrorvr, and arrival to photon."""
        out = {"frames": self.frames, "frames_tracking": self.frames_tracking}
        rows = np.array(self._first_shown, dtype=float).reshape(-1, 4)
        sample, processing, received, photon = rows.T * 1000.0
        out["sample_to_photon_ms"] = percentiles_ms(photon - sample)
        if rows.shape[0]:
            out["sample_to_photon_parts_ms"] = {
                "processing": round(float(np.median(processing)), 2),
                "transport": round(float(np.nanmedian(received - sample - processing)), 2)
                if np.isfinite(received).any() else None,
                "received_to_photon": round(float(np.nanmedian(photon - received)), 2)
                if np.isfinite(received).any() else None,
            }
        return out
