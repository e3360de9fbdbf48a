"""The watchdog: all stimulation off when the control or render loop stops beating (SAFETY.md 7)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from mirrorvr.clock import Clock
from mirrorvr.errors import StimulationError

logger = logging.getLogger(__name__)


class Watchdog:
    """Calls ``on_timeout(reason)`` once when a named loop has not beaten for > ``timeout_s``.

    After firing, it fires again only once every late loop has beaten again and then stalls
    again. The session wires ``on_timeout`` to :meth:`SafetyGovernor.all_off`.

    Parameters
    ----------
    clock : Clock
        The session clock.
    timeout_s : float
        Longest allowed gap between beats of each loop, s (default 100 ms in SAFETY.md).
    on_timeout : callable(str)
        Called from the watchdog thread (or from :meth:`check`) with a reason naming the loop.
    names : iterable of str
        The loops that must beat.
    poll_interval_s : float, optional
        How often the thread checks, s (default ``timeout_s / 10``, at least 1 ms).
    """

    def __init__(
        self,
        clock: Clock,
        timeout_s: float,
        on_timeout: Callable[[str], None],
        names: Iterable[str] = ("control", "render"),
        poll_interval_s: float | None = None,
    ) -> None:
        if not timeout_s > 0:
            raise StimulationError(f"watchdog timeout_s: {timeout_s!r} must be > 0")
        self.clock = clock
        self.timeout_s = float(timeout_s)
        self.on_timeout = on_timeout
        self.names = tuple(names)
        if not self.names:
            raise StimulationError("watchdog names: at least one loop must be watched")
        self.poll_interval_s = (
            max(self.timeout_s / 10.0, 0.001) if poll_interval_s is None else float(poll_interval_s)
        )
        self._lock = threading.Lock()
        now = clock.now()
        self._last_beat_s = {name: now for name in self.names}
        self._tripped = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired_at_s: list[float] = []
        #: session time of the last check, s (None before the first)
        self.last_check_s: float | None = None

    def beat(self, name: str) -> None:
        """Record a heartbeat of loop ``name`` now."""
        now = self.clock.now()
        with self._lock:
            if name not in self._last_beat_s:
                raise StimulationError(
                    f"watchdog: unknown loop {name!r} (known: {list(self.names)})"
                )
            self._last_beat_s[name] = now

    def reset(self) -> None:
        """Treat every loop as having beaten now (e.g. after a deliberate pause)."""
        now = self.clock.now()
        with self._lock:
            for name in self._last_beat_s:
                self._last_beat_s[name] = now
            self._tripped = False

    def check(self, now: float | None = None) -> str | None:
        """Do one check at ``now`` (default ``clock.now()``); return the reason if it fired."""
        now = self.clock.now() if now is None else now
        with self._lock:
            self.last_check_s = now
            late = [
                (name, now - t) for name, t in self._last_beat_s.items() if now - t > self.timeout_s
            ]
            if not late:
                self._tripped = False
                return None
            if self._tripped:
                return None
            self._tripped = True
            self.fired_at_s.append(now)
        reason = "watchdog: " + ", ".join(
            f"{name} loop silent for {gap_s * 1000:.0f} ms" for name, gap_s in late
        ) + f" (timeout {self.timeout_s * 1000:.0f} ms)"
        logger.error(reason)
        try:
            self.on_timeout(reason)
        except Exception:  # the watchdog must keep watching; the failure is logged
            logger.exception("watchdog on_timeout handler failed")
        return reason

    def start(self) -> None:
        """Start the watchdog thread (beats are counted from now)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.reset()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mirrorvr-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the watchdog thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            self.check()
