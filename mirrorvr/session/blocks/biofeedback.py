"""EMG biofeedback: the residual muscles' EMG level shown live, with target zones.

Learning to relax (or to contract on purpose) with the level in view is a pain-management
technique in its own right. The level is the mean absolute value (MAV) of the band-passed
EMG over all channels in the last :data:`WINDOW_S`, scaled between the calibrated rest
level (0) and the strongest calibrated contraction (1) when a calibration came before;
otherwise between the lowest and highest level this block has seen (so the scale adapts to
the person, and says so in the results). It is shown as a gauge with its target zones and
as the virtual limb's tension.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from mirrorvr.emg.filters import EmgFilter
from mirrorvr.emg.source import EmgChunk
from mirrorvr.render.screens import GaugeView
from mirrorvr.session.blocks.base import Block, BlockView

#: The level is the MAV of this much EMG, s (one decoder window).
WINDOW_S = 0.2
#: The zone of the relax phases of a "contract" block (fractions of the full scale).
RELAX_ZONE = (0.0, 0.1)


class BiofeedbackBlock(Block):
    """Shows the EMG level against target zones; ``contract`` alternates contract and relax
    phases of ``cue_s`` each."""

    kind = "biofeedback"

    def enter(self, start_s: float) -> None:
        super().enter(start_s)
        ctx, emg = self.ctx, self.ctx.emg_settings
        self.filter = EmgFilter(len(ctx.emg_channels), ctx.emg_rate_hz, emg.bandpass_hz,
                                emg.mains_hz)
        self._abs: deque[np.ndarray] = deque()  # per chunk: mean over channels of |x|
        self._n = max(1, int(round(WINDOW_S * ctx.emg_rate_hz)))
        decoder = ctx.decoder
        if decoder is not None and decoder.model.max_mav_v_:
            self.scale = "calibration"
            self.rest_v = float(decoder.model.rest_mav_v_)
            self.full_v = max(decoder.model.max_mav_v_.values())
        else:
            self.scale = "adaptive"
            self.rest_v, self.full_v = np.inf, -np.inf
        self.level = 0.0
        self._in_zone_s = 0.0
        self._last_s: float | None = None
        self.stream = ctx.open_stream("biofeedback", "Biofeedback", ["level", "in_zone"],
                                      0.0, "float32")

    def phase_at(self, t_s: float) -> tuple[str, tuple[tuple[float, float], ...]]:
        """("contract" or "relax", the target zones) at session time ``t_s``."""
        if self.spec.target == "relax":
            return "relax", self.spec.zones
        k = int(max(0.0, t_s - self.start_s) // self.spec.cue_s)
        return ("contract", self.spec.zones) if k % 2 == 0 else ("relax", (RELAX_ZONE,))

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list:
        rectified = np.abs(self.filter.process(chunk.data)).mean(axis=0)
        self._abs.append(rectified)
        while sum(a.size for a in self._abs) - self._abs[0].size >= self._n:
            self._abs.popleft()
        window = np.concatenate(self._abs)[-self._n:]
        mav_v = float(window.mean())
        if self.scale == "adaptive" and window.size >= self._n:
            self.rest_v, self.full_v = min(self.rest_v, mav_v), max(self.full_v, mav_v)
        span = self.full_v - self.rest_v
        self.level = float(np.clip((mav_v - self.rest_v) / span, 0.0, 1.5)) if span > 0 else 0.0
        _, zones = self.phase_at(now_s)
        inside = any(low <= self.level <= high for low, high in zones)
        if self._last_s is not None and inside:
            self._in_zone_s += now_s - self._last_s
        self._last_s = now_s
        self.ctx.push(self.stream, [float(chunk.t_s[-1])], [[self.level, float(inside)]])
        return []

    def frame(self, photon_s: float) -> BlockView:
        phase, zones = self.phase_at(photon_s)
        level = self.level
        inside = any(low <= level <= high for low, high in zones)
        text = ("Let your muscles go soft: keep the bar in the green zone" if phase == "relax"
                else "Tense your residual muscles gently: bring the bar into the green zone")
        gauge = GaugeView(level, zones, inside, "EMG level")
        return BlockView(self.pose("rest", 0.0), text, gauge=gauge,
                         limb_tension=min(1.0, level))

    def finish(self) -> None:
        self.ctx.results[self.name] = {
            "target": self.spec.target,
            "scale": self.scale,
            "time_in_zone_s": round(self._in_zone_s, 3),
            "share_in_zone": round(self._in_zone_s / self.duration_s, 4),
        }
