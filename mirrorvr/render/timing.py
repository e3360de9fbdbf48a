"""Frame-timing statistics for the therapist's overlay (plain Python, no GL).

The renderer reports when each frame starts and how long issuing it took; the overlay shows
the mean frame interval, its 95th percentile, the draw (CPU) time and the frame rate over the
last ``window`` frames. The text is refreshed at most ``refresh_s`` apart so the HUD texture
is not rebuilt every frame.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from mirrorvr.errors import RenderError


class FrameTimer:
    """Rolling frame statistics.

    Parameters
    ----------
    window : int
        Number of recent frames the statistics cover (>= 2).
    refresh_s : float
        Minimum time between text refreshes, s.
    """

    def __init__(self, window: int = 120, refresh_s: float = 0.25) -> None:
        if window < 2:
            raise RenderError(f"window: {window!r} frames is too few (need >= 2)")
        self.refresh_s = float(refresh_s)
        self._starts: deque[float] = deque(maxlen=window)
        self._draw_ms: deque[float] = deque(maxlen=window)
        self._text = ""
        self._text_t_s: float | None = None

    def record(self, start_s: float, draw_ms: float) -> None:
        """A frame started at ``start_s`` (monotonic s) and took ``draw_ms`` to issue."""
        self._starts.append(float(start_s))
        self._draw_ms.append(float(draw_ms))

    def stats(self) -> dict[str, float]:
        """``frame_ms`` (mean interval), ``p95_ms``, ``max_ms``, ``draw_ms``, ``fps``; {} if < 2."""
        if len(self._starts) < 2:
            return {}
        intervals = np.diff(np.asarray(self._starts)) * 1000.0
        mean = float(intervals.mean())
        return {
            "frame_ms": mean,
            "p95_ms": float(np.percentile(intervals, 95)),
            "max_ms": float(intervals.max()),
            "draw_ms": float(np.mean(self._draw_ms)),
            "fps": 1000.0 / mean if mean > 0 else float("inf"),
        }

    def text(self, now_s: float) -> str:
        """The overlay line, refreshed at most every ``refresh_s``."""
        if self._text_t_s is not None and now_s - self._text_t_s < self.refresh_s:
            return self._text
        s = self.stats()
        if s:
            self._text = (
                f"frame {s['frame_ms']:.1f} ms  p95 {s['p95_ms']:.1f}  max {s['max_ms']:.1f}  "
                f"draw {s['draw_ms']:.2f} ms  {s['fps']:.0f} fps"
            )
        else:
            self._text = "frame timing: measuring"
        self._text_t_s = now_s
        return self._text
