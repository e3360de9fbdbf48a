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

logger = logging.getLogger(__name__)


class PtyPeer:
    """Base of the device twins: owns the pty and the peer thread.

    A subclass sets up its state, then calls ``super().__init__(thread_name)``, which opens
    the pty and starts :meth:`_run` on the peer thread; ``_run`` loops until
    :attr:`_stop` is set, using :meth:`_wait_readable`, :meth:`_read` and :meth:`_write`.

    Attributes
    ----------
    port_name : str
        The slave side's device path (e.g. ``/dev/pts/5``) for the driver to open.
    """

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

    def _wait_readable(self, timeout_s: float) -> bool | None:
        """True when the host has written something, False on time-out, None when the pty
        is closed (the twin is stopping)."""
        try:
            ready, _, _ = select.select([self._master], [], [], timeout_s)
        except (OSError, ValueError):
            return None
        return bool(ready)

    def _read(self, n: int) -> bytes:
        """Up to ``n`` bytes from the host; ``b""`` when the host closed the port (EIO)."""
        try:
            return os.read(self._master, n)
        except OSError:
            return b""

    def _write(self, data: bytes) -> None:
        """Send ``data`` to the host; nothing happens when the host is gone."""
        try:
            os.write(self._master, data)
        except OSError as err:
            logger.debug("pty peer: write failed (host gone): %s", err)

    def _run(self) -> None:
        raise NotImplementedError
