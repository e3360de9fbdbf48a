"""EMG signal quality during a session: checked on the control thread, recorded, shown.

The control thread pushes every EMG chunk into a :class:`QualityTracker`; every
``period_s`` (250 ms) it asks for a check of the last ``window_s`` (1 s) of raw EMG
(:mod:`mirrorvr.emg.quality`). Each check gives one sample of the ``signal_quality``
stream: per channel a code, the OR of :data:`PROBLEM_BITS` (0: ok). When a channel's set
of problems changes, the change and its reason (``"EMG3: flat (0.0 µV r.m.s.)"``) become a
marker. The worst channel's problem is the HUD's quality text; the summary lists, per
channel with a problem, the share of checks that found each problem.

Stimulation pulses are blanked before the checks (:meth:`QualityTracker.blank`): an EMS
artefact is expected, not an electrode problem, and would read as a pop.

Nothing here touches the disk or the GL context: the runner records what it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from mirrorvr.emg.blanking import ArtefactBlanker
from mirrorvr.emg.quality import ChannelQuality, SignalQualityMonitor

log = logging.getLogger(__name__)

#: Bit of each problem in a channel's code (the code of a channel without problems is 0).
PROBLEM_BITS: dict[str, int] = {
    "nan": 1, "dropout": 2, "flat": 4, "saturated": 8, "mains": 16, "pop": 32,
}
#: Most severe first: the HUD tells the worst channel's first problem in this order.
SEVERITY: tuple[str, ...] = ("nan", "flat", "dropout", "saturated", "pop", "mains")


def quality_code(q: ChannelQuality) -> int:
    """The channel's problems as one integer (OR of :data:`PROBLEM_BITS`)."""
    code = 0
    for name in q.problems:
        code |= PROBLEM_BITS[name]
    return code


def reason_text(q: ChannelQuality) -> str:
    """``"EMG3: flat (0.0 µV r.m.s.)"``, ``"EMG3: ok"``: what a marker says about a channel."""
    if q.ok:
        return f"{q.channel}: ok"
    details = {
        "nan": f"{100 * q.nan_fraction:.0f} % of samples not finite",
        "dropout": "samples missing",
        "flat": f"{1e6 * q.rms_v:.1f} µV r.m.s.",
        "saturated": "at the rail",
        "mains": f"{100 * q.mains_ratio:.0f} % of power is mains hum",
        "pop": "electrode pop",
    }
    problems = sorted(q.problems, key=SEVERITY.index)
    return f"{q.channel}: " + ", ".join(f"{p} ({details[p]})" for p in problems)


class QualityTracker:
    """Checks the EMG every ``period_s`` on the last ``window_s`` and keeps what it found.

    Parameters
    ----------
    channel_names : sequence of str
    sampling_rate_hz : float
    mains_hz : float or None
    period_s : float
        Time between checks, s (250 ms: cheap, and a defect is seen within 1.25 s).
    window_s : float
        Length of raw EMG each check assesses, s.
    """

    def __init__(self, channel_names: Sequence[str], sampling_rate_hz: float,
                 mains_hz: float | None = 50.0, period_s: float = 0.25,
                 window_s: float = 1.0) -> None:
        self.channel_names = tuple(channel_names)
        self.period_s = float(period_s)
        self.window_s = float(window_s)
        self.monitor = SignalQualityMonitor(
            len(self.channel_names), sampling_rate_hz, self.channel_names, window_s,
            mains_hz=mains_hz,
        )
        self._blanker = ArtefactBlanker(len(self.channel_names))
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._next_check_t: float | None = None
        self._codes = np.zeros(len(self.channel_names), dtype=np.int32)
        self.checks = 0
        #: per channel, problem -> number of checks that found it
        self._found: dict[str, dict[str, int]] = {}
        #: per channel, the first time (s) a problem was found
        self._first_found_s: dict[str, float] = {}
        #: the worst channel's problem for the HUD ("" when every channel is ok); a plain str,
        #: replaced whole, so the render thread may read it without a lock
        self.hud_text = ""

    def push(self, t_s: np.ndarray, data: np.ndarray) -> None:
        """Add raw EMG ``data (n_channels, n)`` V sampled at ``t_s (n,)`` s."""
        if len(t_s) == 0:
            return
        if self._first_t is None:
            self._first_t = float(t_s[0])
            self._next_check_t = self._first_t + self.window_s
        self._last_t = float(t_s[-1])
        self.monitor.push(t_s, self._blanker.process(t_s, data))

    def blank(self, t_start_s: float, t_end_s: float) -> None:
        """Leave a stimulation pulse (session time, s) out of the checks. Thread-safe."""
        self._blanker.blank(t_start_s, t_end_s)

    def check_due(self) -> tuple[float, np.ndarray, list[str]] | None:
        """Check if a check is due (the stream has reached the next check time).

        Returns ``(t_s, codes (n_channels,) int32, changes)`` — the time of the last sample
        checked, each channel's code and a reason text for every channel whose problems
        changed since the previous check — or None when no check was due.
        """
        if self._last_t is None or self._last_t < self._next_check_t:
            return None
        self._next_check_t = max(self._next_check_t + self.period_s, self._last_t)
        report = self.monitor.report()
        if report is None:
            return None
        self.checks += 1
        codes = np.array([quality_code(q) for q in report], dtype=np.int32)
        changes = [reason_text(q) for q, old, new in zip(report, self._codes, codes, strict=True)
                   if old != new]
        self._codes = codes
        for q in report:
            if q.ok:
                continue
            found = self._found.setdefault(q.channel, {})
            for p in q.problems:
                found[p] = found.get(p, 0) + 1
            self._first_found_s.setdefault(q.channel, self._last_t)
        self.hud_text = self._worst(report)
        for text in changes:
            log.info("EMG signal quality: %s", text)
        return self._last_t, codes, changes

    @staticmethod
    def _worst(report: list[ChannelQuality]) -> str:
        bad = [q for q in report if not q.ok]
        if not bad:
            return ""

        def rank(q: ChannelQuality) -> int:
            return min(SEVERITY.index(p) for p in q.problems)

        worst = min(bad, key=rank)  # the first channel among the equally bad
        name = worst.channel
        label = name if name.upper().startswith(("EMG", "EXG")) else f"EMG {name}"
        text = f"{label}: {SEVERITY[rank(worst)]}"
        return text + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else "")

    def summary(self) -> dict:
        """Checks made and, per channel with a problem, the share of checks that found each."""
        n = max(self.checks, 1)
        return {
            "checks": self.checks,
            "period_s": self.period_s,
            "window_s": self.window_s,
            "channels": {
                ch: {
                    "problems": {p: round(k / n, 4) for p, k in sorted(
                        found.items(), key=lambda item: SEVERITY.index(item[0]))},
                    "first_found_s": self._first_found_s[ch],
                }
                for ch, found in self._found.items()
            },
        }
