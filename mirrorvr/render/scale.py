"""Adaptive resolution: the render scale of the 3D scene that keeps each frame inside a
time budget (plain Python, no GL).

On a slow rasteriser (Mesa llvmpipe, an old integrated GPU) much of a frame's time is spent
filling pixels, which grows with the square of the render scale; the rest (vertex work,
upscaling, the HUD) does not. The renderer draws the scene into an offscreen target at
``scale`` times the window size and upscales it; this controller picks ``scale`` from the
measured frame times, the way dynamic-resolution games do:

* it fits ``frame_ms = fixed + fill * scale^2`` to recent frames (a least-squares line in
  ``scale^2``, older frames weighing less); until frames at two different scales have been
  seen, all of the time is taken as fill;
* a frame over the budget lowers the scale at once, to where the fit predicts
  ``headroom`` x budget, so one slow frame does not become a run of them;
* the scale rises one step at a time, and only after ``settle_frames`` frames, when the fit
  predicts that the larger scale still fits under ``headroom`` x budget, so it does not
  oscillate around the budget;
* scales are multiples of ``step`` between ``min_scale`` and ``max_scale``.
"""

from __future__ import annotations

import math

import numpy as np

from mirrorvr.errors import RenderError

#: Lowest render scale: below a quarter of the window the limbs lose their fingers.
MIN_SCALE = 0.25
#: Per-frame decay of the fit's weights (~50 frames of memory).
FIT_DECAY = 0.98


class RenderScaleController:
    """Chooses the render scale from measured frame times.

    Parameters
    ----------
    budget_ms : float
        Target upper bound of a frame's draw-to-finish time, ms (> 0).
    min_scale, max_scale : float
        Range of the scale, ``MIN_SCALE <= min_scale <= max_scale <= 1``.
    initial : float, optional
        First scale; ``max_scale`` if None.
    step : float
        Quantum of the scale (the offscreen viewport changes in these steps).
    headroom : float
        Fraction of the budget a predicted frame must stay under before the scale rises.
    settle_frames : int
        Frames to wait after any change before the scale may rise.
    smoothing : float
        Weight of the newest frame in the smoothed frame time (0 < smoothing <= 1).
    """

    def __init__(
        self,
        budget_ms: float,
        min_scale: float = MIN_SCALE,
        max_scale: float = 1.0,
        initial: float | None = None,
        step: float = 0.05,
        headroom: float = 0.85,
        settle_frames: int = 20,
        smoothing: float = 0.2,
    ) -> None:
        if not budget_ms > 0:
            raise RenderError(f"budget_ms: {budget_ms!r} must be > 0")
        if not MIN_SCALE <= min_scale <= max_scale <= 1.0:
            raise RenderError(
                f"min_scale, max_scale: {min_scale!r}, {max_scale!r} "
                f"(need {MIN_SCALE} <= min_scale <= max_scale <= 1)"
            )
        if not 0 < step <= 0.5:
            raise RenderError(f"step: {step!r} must be in (0, 0.5]")
        if not 0 < headroom <= 1:
            raise RenderError(f"headroom: {headroom!r} must be in (0, 1]")
        if not 0 < smoothing <= 1:
            raise RenderError(f"smoothing: {smoothing!r} must be in (0, 1]")
        if settle_frames < 1:
            raise RenderError(f"settle_frames: {settle_frames!r} must be >= 1")
        self.budget_ms = float(budget_ms)
        self.min_scale = float(min_scale)
        self.max_scale = float(max_scale)
        self.step = float(step)
        self.headroom = float(headroom)
        self.settle_frames = int(settle_frames)
        self.smoothing = float(smoothing)
        start = self.max_scale if initial is None else float(initial)
        self.scale = self._quantise(min(self.max_scale, max(self.min_scale, start)))
        self.smoothed_ms: float | None = None
        self._since_change = 0
        # decayed sums of the fit: weight, x = scale^2, y = frame_ms, x^2, x*y
        self._sums = np.zeros(5)
        self._fixed_ms: float | None = None  # the last fixed cost a spread of scales showed
        #: Number of times the scale went down and up.
        self.decreases = 0
        self.increases = 0

    def _quantise(self, scale: float) -> float:
        """Down to a multiple of ``step`` (never below ``min_scale``)."""
        k = math.floor(scale / self.step + 1e-9)
        return max(self.min_scale, min(self.max_scale, round(k * self.step, 6)))

    def update(self, frame_ms: float) -> float:
        """A frame drawn at the current scale took ``frame_ms``; return the scale for the next.
        """
        if not (frame_ms >= 0 and math.isfinite(frame_ms)):
            raise RenderError(f"frame_ms: {frame_ms!r} must be a finite time >= 0")
        s = self.smoothing
        self.smoothed_ms = (
            frame_ms if self.smoothed_ms is None else (1 - s) * self.smoothed_ms + s * frame_ms
        )
        x = self.scale * self.scale
        self._sums = FIT_DECAY * self._sums + np.array([1.0, x, frame_ms, x * x, x * frame_ms])
        self._since_change += 1
        target_ms = self.headroom * self.budget_ms
        if frame_ms > self.budget_ms and self.scale > self.min_scale:
            fixed, fill = self.fit()
            wanted = math.sqrt(max(target_ms - fixed, 0.0) / fill) if fill > 0 else 0.0
            self._change(min(self._quantise(wanted), self._quantise(self.scale - self.step)))
            self.decreases += 1
        elif self._since_change >= self.settle_frames and self.scale < self.max_scale:
            up = min(self.max_scale, round(self.scale + self.step, 6))
            if self.predict_ms(up) <= target_ms:
                self._change(up)
                self.increases += 1
        return self.scale

    def fit(self) -> tuple[float, float]:
        """(fixed ms, fill ms at scale 1) of ``frame_ms = fixed + fill * scale^2``.

        While recent frames were all drawn at one scale, the fixed cost last seen over a
        spread of scales is kept (0 before any) and the fill is what the recent frames
        leave for it.
        """
        w, sx, sy, sxx, sxy = self._sums
        spread = w * sxx - sx * sx
        if w > 0 and spread > 1e-3 * w * w:
            fill = (w * sxy - sx * sy) / spread
            fixed = (sy - fill * sx) / w
            if fill > 0 and fixed >= 0:
                self._fixed_ms = float(fixed)
                return float(fixed), float(fill)
        recent = self.smoothed_ms if self.smoothed_ms is not None else self.budget_ms
        fixed = min(self._fixed_ms or 0.0, 0.9 * recent)
        return fixed, (recent - fixed) / (self.scale * self.scale)

    def predict_ms(self, scale: float) -> float:
        """The frame time the fit expects at ``scale``, ms."""
        fixed, fill = self.fit()
        return fixed + fill * scale * scale

    def _change(self, scale: float) -> None:
        self.scale = scale
        self._since_change = 0


def frame_time_summary(times_ms) -> dict[str, float]:
    """Percentiles of frame times or frame intervals, ms: ``n``, ``p50_ms``, ``p95_ms``,
    ``p99_ms``, ``max_ms``, ``mean_ms`` ({``n``: 0} when empty).

    Parameters
    ----------
    times_ms : (n,) float
    """
    t = np.asarray(times_ms, dtype=float).reshape(-1)
    if t.size == 0:
        return {"n": 0}
    p50, p95, p99 = np.percentile(t, [50, 95, 99])
    return {
        "n": int(t.size),
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_ms": round(float(p99), 2),
        "max_ms": round(float(t.max()), 2),
        "mean_ms": round(float(t.mean()), 2),
    }
