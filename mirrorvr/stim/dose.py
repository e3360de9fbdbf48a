"""The dose ledger: every train as it really went, from the governor's events (SAFETY.md 9, 11).

A train is *delivered* when it ran until its planned stop (its on-time ran out). A train
stopped earlier for any reason — watchdog, emergency stop, fault, the session's end — is
*cut short* (the governor says so in its ``stopped`` event), reported with its actual
duration, and never counted as delivered or in sync.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainRecord:
    """One train from send to stop (session clock, s; amplitude mA)."""

    channel: int
    movement: str
    amplitude_ma: float
    start_s: float
    planned_stop_s: float
    stop_s: float
    reason: str
    #: the governor's word: stopped before its planned stop, other than by its on-time

    @property
    def duration_s(self) -> float:
        """How long the train actually ran, s."""
        return self.stop_s - self.start_s

    cut_short: bool

    def to_dict(self) -> dict:
        return {
            "channel": self.channel, "movement": self.movement,
            "amplitude_ma": self.amplitude_ma, "start_s": self.start_s,
            "planned_s": round(self.planned_stop_s - self.start_s, 6),
            "actual_s": round(self.duration_s, 6), "reason": self.reason,
        }


class DoseLedger:
    """Pairs the governor's ``sent`` and ``stopped`` events into :class:`TrainRecord`.

    Feed it every event (``add``) from the governor's listener; thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[tuple[int, float], dict] = {}
        self.trains: list[TrainRecord] = []

    def add(self, event) -> None:
        """Take one :class:`~mirrorvr.stim.governor.StimEvent` (other kinds are ignored)."""
        d = event.detail
        if event.kind == "sent":
            with self._lock:
                self._open[(event.channel, d["start_s"])] = d
        elif event.kind == "stopped":
            with self._lock:
                sent = self._open.pop((event.channel, d["start_s"]), None)
                if sent is None:
                    return
                self.trains.append(TrainRecord(
                    event.channel, sent.get("movement", ""), float(sent["amplitude_ma"]),
                    float(sent["start_s"]), float(sent["planned_stop_s"]), float(d["stop_s"]),
                    str(d.get("reason", "")), bool(d["cut_short"]),
                ))

    def cut_short(self) -> list[TrainRecord]:
        """The trains stopped before their planned stop, in the order they stopped."""
        with self._lock:
            return [t for t in self.trains if t.cut_short]

    def is_cut_short(self, channel: int, start_s: float) -> bool:
        """Whether the train sent on ``channel`` at ``start_s`` was cut short."""
        with self._lock:
            return any(t.cut_short for t in self.trains
                       if t.channel == channel and t.start_s == start_s)

    def summary(self) -> dict:
        """Delivered and cut-short counts, the cut trains, and the dose per channel."""
        with self._lock:
            trains = list(self.trains)
            still_open = len(self._open)
        cut = [t for t in trains if t.cut_short]
        per_channel: dict[int, dict] = {}
        for t in trains:
            c = per_channel.setdefault(t.channel, {"trains": 0, "on_time_s": 0.0})
            c["trains"] += 1
            c["on_time_s"] = round(c["on_time_s"] + t.duration_s, 6)
        return {
            "delivered": len(trains) - len(cut),
            "cut_short": len(cut),
            "cut_short_trains": [t.to_dict() for t in cut],
            "unfinished": still_open,
            "per_channel": {str(ch): v for ch, v in sorted(per_channel.items())},
        }
