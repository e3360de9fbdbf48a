"""The lifecycle every device twin shares: a pseudo-terminal, a peer thread, a clean stop.

BrainFlow's emulators (``emulator/brainflow_emulator``) run a board's unchanged driver
against a pty whose master side answers like the firmware; each twin here does the same.
The driver opens :attr:`PtyPeer.port_name` (the slave side) like any serial device; the twin
reads and writes the master side on its own thread until :meth:`PtyPeer.stop`.

POSIX only (``pty``); the tests that use a twin skip elsewhere.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time

logger = logging.getLogger(__name__)


class PtyPeer:
    """Base of the device twins: owns the pty and the peer thread.

    A subclass sets up its state, then calls ``super().__init__(thread_name)``, which opens
    the pty and starts the peer loop: every :attr:`poll_s` (or sooner, when the host writes)
    it calls :meth:`_received` with what the host wrote (or :meth:`_host_closed` when the
    host has closed the port), then :meth:`_tick` (the device's own timers). Replies go out
    with :meth:`_write`.

    Attributes
    ----------
    port_name : str
        The slave side's device path (e.g. ``/dev/pts/5``) for the driver to open.
    """

    #: longest wait for the host between two ticks, s
    poll_s = 0.002

    def __init__(self, thread_name: str) -> None:
        import pty  # POSIX only; imported when a twin is made
        import tty

        self._master, slave = pty.openpty()
        tty.setraw(slave)
        self.port_name = os.ttyname(slave)
        self._slave: int | None = slave  # kept open until the driver has opened the port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    def release_slave(self) -> None:
        """Close the twin's copy of the slave side (once the driver has opened it), so that
        the driver closing its port reads as a disconnect."""
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    def stop(self) -> None:
        """Stop the peer thread and close the pty."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError as err:  # already closed
                    logger.debug("pty peer: close: %s", err)
        self._slave = None

    # ------------------------------------------------------------------ for the subclass

    def _tick(self, now: float) -> None:
        """The device's own timers (``time.monotonic()`` s); nothing by default."""

    def _received(self, data: bytes, now: float) -> None:
        """Bytes the host wrote, read at ``now``."""
        raise NotImplementedError

    def _host_closed(self, now: float) -> None:
        """The host has closed the port (repeated while it stays closed)."""

    def _write(self, data: bytes) -> None:
        """Send ``data`` to the host; nothing happens when the host is gone."""
        try:
            os.write(self._master, data)
        except OSError as err:
            logger.debug("pty peer: write failed (host gone): %s", err)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], self.poll_s)
            except (OSError, ValueError):
                return  # the pty is closed: the twin is stopping
            if ready:  # what the host sent first, then the timers (an Init the device
                try:   # repeats stops as soon as the host's answer has arrived)
                    data = os.read(self._master, 4096)
                except OSError:  # EIO: the host closed the port
                    data = b""
                if data:
                    self._received(data, time.monotonic())
                else:
                    self._host_closed(time.monotonic())
                    self._stop.wait(0.005)  # EIO repeats until a host opens the port again
            self._tick(time.monotonic())
