"""One session loop, two clocks: real time with threads, or stepped on a fake clock.

The runner draws frames; between them the control step (EMG, decoding, plans), the
stimulation timing and the watchdog must run. :class:`RealtimeLoop` gives each its thread
(ARCHITECTURE.md "Threads"); :class:`SteppedLoop` runs the same steps in order after each
frame on a :class:`~mirrorvr.clock.FakeClock`, so tests are deterministic and faster than
real time. The runner calls the same methods on either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from mirrorvr.clock import FakeClock

log = logging.getLogger(__name__)

#: How often the control step runs, s.
CONTROL_PERIOD_S = 0.005


class SessionLoop(Protocol):
    """What the runner needs of a loop (see :class:`RealtimeLoop`, :class:`SteppedLoop`)."""

    realtime: bool
    error: BaseException | None

    def start(self, control_step: Callable[[float], None],
              on_error: Callable[[BaseException], None]) -> None: ...

    def stop(self) -> None: ...

    def beat(self, loop: str) -> None: ...

    def after_frame(self, next_frame_s: float) -> None: ...

    def wait_for_input(self, arrived: Callable[[], bool], deadline_s: float) -> None: ...

    def background(self, work: Callable[[], None], keep_drawing: Callable[[], None]) -> None: ...


class _Loop:
    def __init__(self, clock, scheduler, watchdog, governor) -> None:
        self.clock, self.scheduler, self.watchdog = clock, scheduler, watchdog
        self.governor = governor
        self.error: BaseException | None = None
        self._control_step: Callable[[float], None] | None = None
        self._on_error: Callable[[BaseException], None] | None = None

    def start(self, control_step, on_error) -> None:
        self._control_step, self._on_error = control_step, on_error

    def _fail(self, err: BaseException) -> None:
        self.error = err
        if self._on_error is not None:
            self._on_error(err)


class RealtimeLoop(_Loop):
    """The control step on its own thread every :data:`CONTROL_PERIOD_S`; the stimulation
    scheduler and the watchdog on theirs; training on a worker while frames go on."""

    realtime = True

    def __init__(self, clock, scheduler, watchdog, governor) -> None:
        super().__init__(clock, scheduler, watchdog, governor)
        self._stop = threading.Event()
        self._stepped = threading.Event()  # set after each control step
        self._thread: threading.Thread | None = None

    def start(self, control_step, on_error) -> None:
        super().start(control_step, on_error)
        self.scheduler.start()
        self.watchdog.start()
        self._thread = threading.Thread(target=self._run, name="mirrorvr-control", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._control_step(self.clock.now())
                self._stepped.set()
                self._stop.wait(CONTROL_PERIOD_S)
        except BaseException as err:  # the runner ends the session; stimulation goes off
            self._fail(err)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.watchdog.stop()
        self.scheduler.stop()

    def beat(self, loop: str) -> None:
        self.watchdog.beat(loop)

    def after_frame(self, next_frame_s: float) -> None:
        """The threads do the work between frames."""

    def wait_for_input(self, arrived: Callable[[], bool], deadline_s: float) -> None:
        """Hold the render thread until ``arrived()`` (new input, which the control step
        brings) or ``deadline_s``: it wakes after each control step, and does not spin.
        Waiting for input is not a stall."""
        while not arrived() and not self._stop.is_set():
            remaining = deadline_s - self.clock.now()
            if remaining <= 0:
                break
            self._stepped.wait(min(remaining, 2 * CONTROL_PERIOD_S))
            self._stepped.clear()
        self.beat("render")

    def background(self, work: Callable[[], None], keep_drawing: Callable[[], None]) -> None:
        """Run ``work`` on a worker; draw frames until it is done; re-raise what it raised."""
        failure: list[BaseException] = []

        def run() -> None:
            try:
                work()
            except BaseException as err:  # handed to the caller below
                failure.append(err)

        worker = threading.Thread(target=run, name="mirrorvr-worker", daemon=True)
        worker.start()
        while worker.is_alive() and keep_drawing():
            pass
        worker.join()
        if failure:
            raise failure[0]


class SteppedLoop(_Loop):
    """Everything in order on a fake clock: the control step, due stimulation commands and
    the watchdog run control period by control period whenever the render side waits — while
    a frame is drawn or held for its timestamp (the clock's waiter) and until the next frame
    is due — as the threads would run meanwhile."""

    realtime = False

    def __init__(self, clock: FakeClock, scheduler, watchdog, governor) -> None:
        if not isinstance(clock, FakeClock):
            raise TypeError(f"a stepped session runs on a FakeClock, not {type(clock).__name__}")
        super().__init__(clock, scheduler, watchdog, governor)
        self._last_step_s: float | None = None

    def start(self, control_step, on_error) -> None:
        super().start(control_step, on_error)
        self.clock.set_waiter(self._run_until)

    def stop(self) -> None:
        """Nothing runs on its own; sleeps jump again."""
        self.clock.set_waiter(None)

    def beat(self, loop: str) -> None:
        """No watchdog thread watches between steps, so a stall inside a step (a slow
        frame) is checked for here, before the beat that ends it, as the thread would."""
        self.watchdog.check(self.clock.now())
        self.watchdog.beat(loop)

    def after_frame(self, next_frame_s: float) -> None:
        """Run until the next frame is due (at least one control step)."""
        self._run_until(max(next_frame_s, self.clock.now()))

    def wait_for_input(self, arrived: Callable[[], bool], deadline_s: float) -> None:
        """Run control period by control period until ``arrived()`` (looked at after each
        control step, as the thread wakes the render thread) or ``deadline_s``."""
        while True:
            self._run_until(self.clock.now())  # this instant's control step, once
            if arrived() or self.clock.now() >= deadline_s:
                return
            self._run_until(min(deadline_s, self.clock.now() + CONTROL_PERIOD_S))

    def _run_until(self, end_s: float) -> None:
        clock, scheduler = self.clock, self.scheduler
        try:
            while True:
                if clock.now() != self._last_step_s:  # once per instant, as the thread
                    self._last_step_s = clock.now()
                    self._control_step(self._last_step_s)
                next_send = scheduler.next_send_s()
                step_end = min(end_s, clock.now() + CONTROL_PERIOD_S)
                if next_send is not None and next_send <= step_end:
                    clock.sleep_until(next_send)
                    scheduler.fire_due()
                else:
                    clock.sleep_until(step_end)
                self.governor.poll()
                self.watchdog.check(clock.now())
                if clock.now() >= end_s:
                    return
        except BaseException as err:
            self._fail(err)
            raise

    def background(self, work: Callable[[], None], keep_drawing: Callable[[], None]) -> None:
        """``work`` now (simulated time does not pass while it runs)."""
        work()
