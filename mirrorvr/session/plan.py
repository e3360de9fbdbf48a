"""The movement plan: what the affected-side limb shows, on presentation timestamps.

Every change of what the virtual limb should do enters the plan with the session time at
which it should be *seen* (its presentation timestamp). The renderer asks for the target
at each frame's predicted photon time; the stimulation scheduler aims contractions at the
onsets. This is ARCHITECTURE.md's sync idea: one timeline, read by both paths.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

from mirrorvr.movements import REST


@dataclass
class PlannedMovement:
    """One onset of a movement (rest -> movement) and what was measured about it.

    All times are session seconds. ``None`` means "not yet known" or "did not happen".
    """

    movement_id: int
    movement: str
    onset_s: float
    source: str
    detected_s: float | None = None
    photon_s: float | None = None
    #: when the source saw the movement begin, when it knows (a tracker: the sample whose
    #: pose was classified as the movement); EMG onsets are estimated after the session
    source_onset_s: float | None = None
    stim_channels: tuple[int, ...] = ()
    stim: list = field(default_factory=list)  # the scheduler's records (ScheduledStim)
    #: why no stimulation was scheduled for it although stimulation was armed ("" if none)
    stim_note: str = ""

    def timing_record(self) -> dict:
        """Every time known about this movement, s on the session clock (JSON-ready).

        ``source_onset_s`` is when the source saw the movement begin (a tracker sample), if
        it knows; ``detected_s`` when the movement was decided; ``onset_s`` the planned visual
        onset (presentation timestamp); ``photon_s`` the
        predicted photon time of the first frame showing it (swap + display latency); per
        stimulation channel: the planned and actual command times, the predicted contraction
        onset and what became of the command; ``asynchrony_s`` is predicted contraction onset
        minus photon time.
        """
        return {
            "movement_id": self.movement_id,
            "movement": self.movement,
            "source": self.source,
            "source_onset_s": self.source_onset_s,
            "detected_s": self.detected_s,
            "onset_s": self.onset_s,
            "photon_s": self.photon_s,
            "stim": [
                {
                    "channel": r.command.channel,
                    "status": r.status,
                    "planned_send_s": r.planned_send_s,
                    "actual_send_s": r.actual_send_s,
                    "predicted_contraction_s": r.predicted_onset_s,
                    "amplitude_ma": r.command.amplitude_ma,
                    "reason": r.reason,
                }
                for r in self.stim
            ],
            "asynchrony_s": self.asynchrony_s(),
            "stim_note": self.stim_note,
        }

    def contraction_onsets_s(self) -> list[float]:
        """Predicted contraction onsets of the trains actually sent for this movement, s."""
        return [
            r.predicted_onset_s
            for r in self.stim
            if r.status == "sent" and r.predicted_onset_s is not None
        ]

    def asynchrony_s(self) -> float | None:
        """Predicted contraction onset minus first photon time, s (positive: EMS late)."""
        onsets = self.contraction_onsets_s()
        if self.photon_s is None or not onsets:
            return None
        return min(onsets) - self.photon_s


class MovementPlan:
    """A time-ordered list of ``(presentation_s, movement, level)`` targets. Thread-safe.

    The control thread appends; the render loop reads ``target_at(photon_s)``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: list[float] = []
        self._targets: list[tuple[str, float]] = []
        self.movements: list[PlannedMovement] = []
        self._unseen: list[PlannedMovement] = []

    def add_target(self, presentation_s: float, movement: str, level: float) -> None:
        """From ``presentation_s`` on, the limb should show ``movement`` at ``level``."""
        with self._lock:
            i = bisect.bisect_right(self._times, presentation_s)
            self._times.insert(i, presentation_s)
            self._targets.insert(i, (movement, float(level)))

    def add_onset(
        self,
        onset_s: float,
        movement: str,
        source: str,
        detected_s: float | None = None,
        stim_channels: tuple[int, ...] = (),
        source_onset_s: float | None = None,
    ) -> PlannedMovement:
        """Record a movement onset (the plan entry that stimulation aims at)."""
        with self._lock:  # ids count the plan's onsets (see known)
            entry = PlannedMovement(
                len(self.movements), movement, onset_s, source, detected_s,
                stim_channels=stim_channels, source_onset_s=source_onset_s,
            )
            self.movements.append(entry)
            self._unseen.append(entry)
        return entry

    def target_at(self, t_s: float) -> tuple[str, float]:
        """The movement and level to show at session time ``t_s`` (rest before any target)."""
        with self._lock:
            i = bisect.bisect_right(self._times, t_s)
            return self._targets[i - 1] if i else (REST, 0.0)

    def next_onset_after(self, t_s: float) -> float | None:
        """The earliest onset not yet shown that lies at or after ``t_s``."""
        with self._lock:
            pending = [m.onset_s for m in self._unseen if m.onset_s >= t_s]
        return min(pending) if pending else None

    def known(self) -> int:
        """How many onsets the plan holds now (a frame drawn now knows these)."""
        with self._lock:
            return len(self.movements)

    def mark_presented(self, photon_s: float, known: int | None = None
                       ) -> list[PlannedMovement]:
        """A frame reached the eye at ``photon_s``: onsets up to then are now seen — of the
        first ``known`` onsets only (those planned before the frame was drawn; None: all)."""
        with self._lock:
            def shown(m: PlannedMovement) -> bool:
                return m.onset_s <= photon_s and (known is None or m.movement_id < known)

            seen = [m for m in self._unseen if shown(m)]
            self._unseen = [m for m in self._unseen if not shown(m)]
        for m in seen:
            m.photon_s = photon_s
        return seen

    def prune_before(self, t_s: float) -> None:
        """Drop targets superseded before ``t_s`` (keeps the one in force at ``t_s``)."""
        with self._lock:
            i = bisect.bisect_right(self._times, t_s) - 1
            if i > 0:
                del self._times[:i]
                del self._targets[:i]
