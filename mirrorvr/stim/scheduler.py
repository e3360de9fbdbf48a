"""Presentation-timestamp scheduling of stimulation (ARCHITECTURE.md, "The sync idea").

A command meant to make a contraction start at ``onset_s`` is sent early by the stimulation
path's latency (:class:`~mirrorvr.stim.path.StimPath`: transport + device + the envelope's
rise to the motor threshold + electromechanical delay).
A command whose send time has already passed is refused as late and recorded; it is never
fired late silently.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mirrorvr.clock import Clock
from mirrorvr.config import StimSettings
from mirrorvr.errors import SafetyLimitError, StimulationError
from mirrorvr.stim.command import StimCommand
from mirrorvr.stim.governor import SafetyGovernor
from mirrorvr.stim.path import StimPath

logger = logging.getLogger(__name__)

PENDING = "pending"
SENT = "sent"
LATE = "late"
REFUSED = "refused"
FAILED = "failed"
CANCELLED = "cancelled"


def command_latency(
    settings: StimSettings, motor_threshold_ma: dict[int, float]
) -> Callable[[StimCommand], float]:
    """Per-command path latency, s: :func:`path_latency` with this command's own rise to
    its channel's motor threshold along its envelope (channels differ in threshold and
    amplitude); a train that never reaches the threshold counts its whole rise."""
    path = StimPath.from_settings(settings)

    def latency(cmd: StimCommand) -> float:
        threshold = motor_threshold_ma.get(cmd.channel)
        rise_s = 0.0 if threshold is None else min(cmd.time_to_reach_ma(threshold), cmd.rise_s)
        return path.latency_s(rise_s)

    return latency


def path_latency(settings: StimSettings, ramp_to_threshold_s: float) -> float:
    """Latency from sending a command to the start of the contraction, s:
    :meth:`StimPath.latency_s` of the configured path (transport + device + the rise to
    the motor threshold + electromechanical delay; the transport jitter is not included)."""
    return StimPath.from_settings(settings).latency_s(ramp_to_threshold_s)


@dataclass
class ScheduledStim:
    """The life of one scheduled command (session clock, s).

    Attributes
    ----------
    command : StimCommand
        The command as sent (``onset_s`` set to the planned onset).
    planned_onset_s : float
    planned_send_s : float
        ``planned_onset_s - path_latency_s``.
    status : str
        ``"pending"``, ``"sent"``, ``"late"``, ``"refused"``, ``"failed"`` or ``"cancelled"``.
    actual_send_s : float or None
    predicted_onset_s : float or None
        From the driver's model, if it has one.
    reason : str
        Why it was not sent (empty when sent).
    """

    command: StimCommand
    planned_onset_s: float
    planned_send_s: float
    status: str = PENDING
    actual_send_s: float | None = None
    predicted_onset_s: float | None = None
    reason: str = ""


class SyncScheduler:
    """Sends stimulation commands so that contractions start at their presentation timestamps.

    Parameters
    ----------
    governor : SafetyGovernor
        Every command goes through it.
    clock : Clock
        The session clock.
    path_latency_s : float or callable
        Send-to-contraction latency, s (see :func:`path_latency`), or a function of the
        command giving it (see :func:`command_latency`).
    late_tolerance_s : float
        How far past its send time a command may still be sent, s.
    """

    def __init__(
        self,
        governor: SafetyGovernor,
        clock: Clock,
        path_latency_s: float | Callable[[StimCommand], float],
        late_tolerance_s: float = 0.002,
    ) -> None:
        if callable(path_latency_s):
            self._latency_of = path_latency_s
        else:
            if not (math.isfinite(path_latency_s) and path_latency_s >= 0):
                raise StimulationError(
                    f"path_latency_s: {path_latency_s!r} must be finite and >= 0"
                )
            fixed_s = float(path_latency_s)
            self._latency_of = lambda cmd: fixed_s
        self.governor = governor
        self.clock = clock
        self.late_tolerance_s = float(late_tolerance_s)
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, ScheduledStim]] = []
        self._seq = itertools.count()
        self._records: list[ScheduledStim] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ API

    def schedule(self, onset_s: float, cmds: Iterable[StimCommand]) -> list[ScheduledStim]:
        """Queue ``cmds`` so their contractions start at ``onset_s``; return their records.

        A command whose send time (``onset_s - path_latency_s``) is already past is recorded
        as ``"late"`` and not sent.
        """
        now = self.clock.now()
        out = []
        with self._cond:
            for cmd in cmds:
                latency_s = self._latency_of(cmd)
                if not (math.isfinite(latency_s) and latency_s >= 0):
                    raise StimulationError(
                        f"path latency of channel {cmd.channel}: {latency_s!r} s "
                        "must be finite and >= 0"
                    )
                send_s = onset_s - latency_s
                rec = ScheduledStim(dataclasses.replace(cmd, onset_s=onset_s), onset_s, send_s)
                self._records.append(rec)
                out.append(rec)
                if not math.isfinite(send_s):
                    rec.status, rec.reason = REFUSED, f"onset_s {onset_s!r} is not finite"
                    logger.warning("stim schedule refused: %s", rec.reason)
                elif now - send_s > self.late_tolerance_s:
                    self._mark_late(rec, now)
                else:
                    heapq.heappush(self._heap, (send_s, next(self._seq), rec))
            self._cond.notify_all()
        return out

    def cancel_all(self, reason: str) -> int:
        """Cancel every pending command; return how many."""
        with self._cond:
            n = len(self._heap)
            for _, _, rec in self._heap:
                rec.status, rec.reason = CANCELLED, reason
            self._heap.clear()
            self._cond.notify_all()
        if n:
            logger.info("cancelled %d scheduled stimulation command(s): %s", n, reason)
        return n

    def records(self) -> list[ScheduledStim]:
        """Copies of every record so far, in scheduling order."""
        with self._cond:
            return [dataclasses.replace(r) for r in self._records]

    def next_send_s(self) -> float | None:
        """Send time of the next pending command, s, or None."""
        with self._cond:
            return self._heap[0][0] if self._heap else None

    def fire_due(self, now: float | None = None) -> list[ScheduledStim]:
        """Send every command due at ``now`` (default ``clock.now()``); return their records.

        Commands found more than ``late_tolerance_s`` past their send time are recorded as
        ``"late"`` instead. Refusals by the governor are recorded, never raised.
        """
        now = self.clock.now() if now is None else now
        due = []
        with self._cond:
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[2])
        for rec in due:
            self._fire(rec)
        return due

    def _fire(self, rec: ScheduledStim) -> None:
        now = self.clock.now()
        if now - rec.planned_send_s > self.late_tolerance_s:
            with self._cond:
                self._mark_late(rec, now)
            return
        try:
            receipt = self.governor.submit_receipt(rec.command)
        except SafetyLimitError as err:
            with self._cond:
                rec.status, rec.reason = REFUSED, str(err)
        except StimulationError as err:
            with self._cond:
                rec.status, rec.reason = FAILED, str(err)
            logger.warning("scheduled stimulation not sent: %s", err)
        else:
            with self._cond:
                rec.status = SENT
                rec.actual_send_s = receipt.sent_s
                rec.predicted_onset_s = receipt.predicted_onset_s

    def _mark_late(self, rec: ScheduledStim, now: float) -> None:
        rec.status = LATE
        rec.reason = (
            f"late: send time {rec.planned_send_s:.4f} s already past at {now:.4f} s "
            f"(by {(now - rec.planned_send_s) * 1000:.1f} ms; tolerance "
            f"{self.late_tolerance_s * 1000:.1f} ms)"
        )
        logger.warning("stimulation on channel %s refused as %s", rec.command.channel, rec.reason)

    # ------------------------------------------------------------------ thread

    def start(self) -> None:
        """Start the timing thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mirrorvr-stim-sched", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the timing thread and wait for it (pending commands stay pending)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        spin_s = 0.002  # the last ms are left to clock.sleep_until's precise wait
        while not self._stop.is_set():
            with self._cond:
                next_s = self._heap[0][0] if self._heap else None
                remaining_s = None if next_s is None else next_s - self.clock.now()
                if remaining_s is None or remaining_s > spin_s:
                    wait_s = 0.1 if remaining_s is None else min(remaining_s - spin_s, 0.1)
                    self._cond.wait(timeout=wait_s)
                    continue
            self.clock.sleep_until(next_s)
            try:
                self.fire_due()
                self.governor.poll()
            except Exception:  # the timing thread must survive; stop everything and go on
                logger.exception("stimulation timing thread error; switching all channels off")
                try:
                    self.governor.all_off("scheduler error")
                except StimulationError:
                    logger.exception("all_off after a scheduler error failed")
