"""Host-made envelopes for stimulators that have no ramps of their own.

The openEMSstim board and the RehaStim 2 (ScienceMode 2 channel list mode) hold whatever
level they were last given. Their drivers therefore play each train's envelope as a
staircase of level updates: :func:`host_steps` samples
:meth:`~mirrorvr.stim.command.StimCommand.amplitude_at` every ``step_s`` along the rise and
the fall (and at every corner of the envelope), *flooring* each level to the device's unit
so the device never gets more than the governor allowed; :class:`HostRamp` writes the first
step at once and the others on its own thread at their times on the session clock.

On the rise the staircase is never above the envelope (each level is the envelope at or
before its time, floored); on the fall each level is held until the next step, so the
staircase falls at most one ``step_s`` later than the envelope, never sooner.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
from collections.abc import Callable

from mirrorvr.clock import Clock
from mirrorvr.errors import StimulationError
from mirrorvr.stim.command import StimCommand

logger = logging.getLogger(__name__)

#: How long the ramp thread waits at most before it looks again, s.
POLL_S = 0.02


def host_step_times(cmd: StimCommand, step_s: float) -> list[float]:
    """Times from the train's start, s, at which a host-ramped device is updated: every
    ``step_s`` from the start of each rising or falling segment of the envelope, and every
    corner of the envelope (so the staircase meets each corner on time)."""
    corners = cmd.envelope()
    times = {t for t, _ in corners}
    for (t0, a0), (t1, a1) in itertools.pairwise(corners):
        if a0 != a1:
            times.update(t0 + k * step_s for k in range(1, math.ceil((t1 - t0) / step_s - 1e-9)))
    return sorted(t for t in times if t < cmd.on_time_s + 1e-12)


def host_steps(cmd: StimCommand, step_s: float,
               level_of: Callable[[float], int]) -> list[tuple[float, int]]:
    """The train as ``(time from start s, device level)`` updates.

    ``level_of(amplitude_ma)`` turns an amplitude into the device's whole units, rounding
    *down*. Consecutive equal levels are merged; the first step is at 0 s (level 0: every
    envelope starts at nothing). The last step is the train's end, at ``cmd.on_time_s``.
    """
    steps: list[tuple[float, int]] = []
    for t in host_step_times(cmd, step_s):
        level = level_of(cmd.amplitude_at(t))
        if not steps or steps[-1][1] != level:
            steps.append((t, level))
    return steps


class HostRamp:
    """Plays trains as timed level updates on a device without ramps of its own.

    Parameters
    ----------
    clock : Clock
        The session clock (steps are due at ``send time + step time``).
    n_channels : int
        The device's outputs.
    write : callable ``(channel, level, stop_s, now_s) -> None``
        Sends one level to the device; raises :class:`StimulationError` when it fails.
        ``stop_s`` is the train's planned stop (session clock, s).
    name : str
        Name of the ramp thread.
    idle : callable ``(now_s) -> None``, optional
        Called on the ramp thread at least every :data:`POLL_S` (e.g. a keep-alive).

    :attr:`lock` serialises every device write: drivers take it for their own I/O too.
    """

    def __init__(self, clock: Clock, n_channels: int,
                 write: Callable[[int, int, float, float], None], *, name: str,
                 idle: Callable[[float], None] | None = None) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self._cond = threading.Condition(self.lock)
        self._write = write
        self._idle = idle
        self._pending: list[tuple[float, int, int, int, int, float]] = []  # heap
        self._seq = itertools.count()
        self._generation = [0] * n_channels
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the ramp thread."""
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the ramp thread runs."""
        return self._thread.is_alive()

    def play(self, channel: int, steps: list[tuple[float, int]], t_s: float,
             stop_s: float) -> None:
        """Start ``steps`` (from :func:`host_steps`) on ``channel`` at ``t_s``; the first is
        written now (its failure is raised), the rest at their times. Any earlier train's
        pending steps on the channel are dropped."""
        with self._cond:
            self._generation[channel] += 1
            generation = self._generation[channel]
            self._write(channel, steps[0][1], stop_s, t_s)
            for dt_s, level in steps[1:]:
                heapq.heappush(self._pending, (t_s + dt_s, next(self._seq), channel,
                                               generation, level, stop_s))
            self._cond.notify_all()

    def cancel(self, channel: int) -> None:
        """Drop ``channel``'s pending steps (the caller switches the output off)."""
        with self._cond:
            self._generation[channel] += 1

    def cancel_all(self) -> None:
        """Drop every pending step."""
        with self._cond:
            for channel in range(len(self._generation)):
                self._generation[channel] += 1
            self._pending.clear()

    def next_due_s(self) -> float | None:
        """Session time of the next pending step, s (None when nothing is pending)."""
        with self._cond:
            return self._pending[0][0] if self._pending else None

    def caught_up(self, timeout_s: float = 5.0) -> bool:
        """Wait (at most ``timeout_s`` of real time) until every step due by ``clock.now()``
        has been written; True when so. For a driver on a fake clock (tests)."""
        with self._cond:
            self._cond.notify_all()
            return self._cond.wait_for(self._nothing_due, timeout_s)

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop the ramp thread (pending steps are dropped)."""
        self._stop.set()
        with self._cond:
            self._pending.clear()
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)

    def _nothing_due(self) -> bool:
        return not self._pending or self._pending[0][0] > self.clock.now()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if self._idle is not None:
                    self._idle(self.clock.now())
                if not self._pending:
                    self._cond.wait(POLL_S)
                    continue
                wait_s = self._pending[0][0] - self.clock.now()
                if wait_s > 0:
                    self._cond.wait(min(wait_s, POLL_S))
                    continue
                _, _, channel, generation, level, stop_s = heapq.heappop(self._pending)
                if generation == self._generation[channel]:  # else superseded or stopped
                    try:
                        self._write(channel, level, stop_s, self.clock.now())
                    except StimulationError as err:
                        logger.error("%s; the next health check faults the governor", err)
                        self._pending.clear()
                self._cond.notify_all()  # for caught_up()
