"""Is the EMG still coming? Silences and the end of a stream, as gaps (SAFETY.md 14).

A board that stops sending, a cable pulled out of the amplifier's USB port, a playback file
that runs out: each is a stretch of session time without samples. The session polls the
source every few milliseconds; :class:`StreamWatch` turns "no sample for ``silence_s``"
into a gap that opens (reactive stimulation must stop, the therapist is told) and closes
when samples come again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mirrorvr.errors import ConfigError


@dataclass
class StreamGap:
    """A stretch without EMG samples (session clock, s).

    Attributes
    ----------
    start_s : float
        Time of the last sample before the silence.
    detected_s : float
        When the silence was noticed (``start_s`` + at least ``silence_s``).
    end_s : float or None
        Time of the first sample after it; None while (or if the session ended while) the
        stream was silent.
    reason : str
        "no samples" or the source's own word ("the playback file ended").
    """

    start_s: float
    detected_s: float
    end_s: float | None
    reason: str

    def to_dict(self, sampling_rate_hz: float | None = None) -> dict:
        d = {"start_s": self.start_s, "detected_s": self.detected_s, "end_s": self.end_s,
             "reason": self.reason,
             "duration_s": None if self.end_s is None else self.end_s - self.start_s}
        if sampling_rate_hz and self.end_s is not None:
            d["missing_samples"] = max(0, round((self.end_s - self.start_s) * sampling_rate_hz) - 1)
        return d


class StreamWatch:
    """Watches one EMG stream for silences.

    Parameters
    ----------
    silence_s : float
        No new sample for this long opens a gap, s.
    """

    def __init__(self, silence_s: float) -> None:
        if not (math.isfinite(silence_s) and silence_s > 0):
            raise ConfigError(f"silence_s: {silence_s!r} must be a finite number > 0 s")
        self.silence_s = float(silence_s)
        self.gaps: list[StreamGap] = []
        self._last_sample_s: float | None = None
        self._started_s: float | None = None

    @property
    def open_gap(self) -> StreamGap | None:
        """The gap in progress, or None while samples come."""
        return self.gaps[-1] if self.gaps and self.gaps[-1].end_s is None else None

    def update(self, now_s: float, first_sample_s: float | None, last_sample_s: float | None,
               ended_reason: str | None = None) -> StreamGap | None:
        """One poll of the source at ``now_s``.

        ``first_sample_s``/``last_sample_s`` are the times of the samples that arrived in this
        poll (None when none did); ``ended_reason`` is the source's word when it knows it has
        ended. Returns the gap that opened or closed in this poll, else None.
        """
        if self._started_s is None:
            self._started_s = now_s
        gap = self.open_gap
        if last_sample_s is not None:
            self._last_sample_s = last_sample_s
            if gap is not None:
                gap.end_s = first_sample_s
                return gap
            return None
        if gap is not None:
            return None
        since_s = self._last_sample_s if self._last_sample_s is not None else self._started_s
        if now_s - since_s < self.silence_s and ended_reason is None:
            return None
        gap = StreamGap(since_s, now_s, None, ended_reason or "no samples")
        self.gaps.append(gap)
        return gap
