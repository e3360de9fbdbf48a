"""One monotonic session clock, and a fake one for tests.

All timestamps in mirrorvr are seconds on ``time.monotonic()``, which on Linux is the same
clock as LSL's ``local_clock()``. The session records the wall-clock anchor once.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the session time in seconds."""

    def now(self) -> float:
        """Current session time, s (monotonic)."""
        ...

    def sleep_until(self, t_s: float) -> None:
        """Block until ``now() >= t_s``."""
        ...


class SessionClock:
    """The real clock: ``time.monotonic()`` plus the wall-clock anchor taken at creation."""

    def __init__(self) -> None:
        self.monotonic_anchor_s = time.monotonic()
        self.unix_anchor_s = time.time()

    def now(self) -> float:
        return time.monotonic()

    def to_unix(self, t_s: float) -> float:
        """Map a session time to UNIX wall time, s."""
        return self.unix_anchor_s + (t_s - self.monotonic_anchor_s)

    def from_unix(self, unix_s):
        """Map UNIX wall time (scalar or array), s, to session time."""
        return unix_s - self.unix_anchor_s + self.monotonic_anchor_s

    def sleep_until(self, t_s: float) -> None:
        # Coarse sleep, then a short spin: time.sleep overshoots by ~0.1 ms on Linux.
        while True:
            remaining = t_s - time.monotonic()
            if remaining <= 0:
                return
            if remaining > 0.002:
                time.sleep(remaining - 0.001)


class FakeClock:
    """A clock that only moves when told to; thread-safe. ``sleep_until`` jumps ahead — or,
    with a waiter set (:meth:`set_waiter`), lets the waiter move it there, so that what would
    run on other threads meanwhile runs in order (a stepped session loop)."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._t = float(start_s)
        self._lock = threading.Lock()
        self.monotonic_anchor_s = float(start_s)
        self.unix_anchor_s = 1.7e9
        self._waiter = None
        self._waiting = False

    def now(self) -> float:
        with self._lock:
            return self._t

    def advance(self, dt_s: float) -> float:
        if dt_s < 0:
            raise ValueError(f"dt_s: {dt_s!r} is negative; a clock only moves forward")
        with self._lock:
            self._t += dt_s
            return self._t

    def sleep_until(self, t_s: float) -> None:
        waiter = self._waiter
        if waiter is not None and not self._waiting and t_s > self.now():
            self._waiting = True
            try:
                waiter(t_s)
            finally:
                self._waiting = False
        with self._lock:
            self._t = max(self._t, t_s)

    def set_waiter(self, waiter) -> None:
        """``waiter(t_s)`` is called for each sleep (not for sleeps inside it), and runs what
        should happen until ``t_s``, moving the clock there; None: sleeps just jump."""
        self._waiter = waiter

    def to_unix(self, t_s: float) -> float:
        return self.unix_anchor_s + (t_s - self.monotonic_anchor_s)

    def from_unix(self, unix_s):
        return unix_s - self.unix_anchor_s + self.monotonic_anchor_s
