"""An openEMSstim firmware emulator on a pseudo-terminal (Linux/macOS), for tests and demos.

Like BrainFlow's device emulators, it lets the unchanged driver talk to something that
behaves like the board: it parses ``C<ch>I<intensity>T<ms>G`` byte by byte, switches the
channel on for the on-time (capped at 5 s, as the firmware caps it), switches it off when
the time runs out, shuts *every* channel down on an invalid channel or a malformed command
(replying ``ERR ...``), and shuts everything down when the host disconnects.

It records every change of output as ``(time s, channel, intensity %)`` on
``time.monotonic()`` (the session clock).
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty

logger = logging.getLogger(__name__)

MAX_ON_TIME_MS = 5000
N_CHANNELS = 2


class OpenEMSStimEmulator:
    """Firmware-like peer on the master side of a pty; the driver opens :attr:`port_name`."""

    def __init__(self) -> None:
        import pty  # POSIX only; imported when an emulator is made

        self._master, slave = pty.openpty()
        tty.setraw(slave)
        self.port_name = os.ttyname(slave)
        self._slave = slave  # kept open until the driver has opened the port
        self._lock = threading.Lock()
        self.intensity_pct = [0] * N_CHANNELS
        self.off_at_s: list[float | None] = [None] * N_CHANNELS
        self.on_time_ms: list[int] = [0] * N_CHANNELS  # effective on-time of the last command
        self.timeline: list[tuple[float, int, int]] = []
        self.commands: list[str] = []
        self.errors: list[str] = []
        self.disconnected = False
        self._buf = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openemsstim-emulator",
                                        daemon=True)
        self._thread.start()

    def release_slave(self) -> None:
        """Close the emulator's copy of the slave side (call once the driver has opened it),
        so that the driver closing its port reads as a disconnect."""
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    def is_on(self, channel: int) -> bool:
        with self._lock:
            return self.off_at_s[channel] is not None and self.intensity_pct[channel] > 0

    def any_on(self) -> bool:
        return any(self.is_on(ch) for ch in range(N_CHANNELS))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._slave = None

    # ------------------------------------------------------------------ firmware

    def _set(self, ch: int, pct: int, off_at_s: float | None, now: float) -> None:
        changed = pct != self.intensity_pct[ch] or (off_at_s is None) != (
            self.off_at_s[ch] is None)
        self.intensity_pct[ch] = pct
        self.off_at_s[ch] = off_at_s
        if changed:
            self.timeline.append((now, ch, pct if off_at_s is not None else 0))

    def _shutdown(self, now: float, why: str) -> None:
        for ch in range(N_CHANNELS):
            self._set(ch, 0, None, now)
        logger.info("emulator: all channels off (%s)", why)

    def _reply(self, text: str) -> None:
        try:
            os.write(self._master, (text + "\r\n").encode("ascii"))
        except OSError:
            pass

    def _command(self, text: str, now: float) -> None:
        self.commands.append(text)
        try:
            c = text.index("C")
            i = text.index("I")
            t = text.index("T")
            ch, pct, ms = int(text[c + 1:i]), int(text[i + 1:t]), int(text[t + 1:])
        except ValueError:
            self.errors.append(f"malformed {text!r}")
            self._shutdown(now, "malformed command")
            self._reply(f"ERR malformed {text}")
            return
        if not 0 <= ch < N_CHANNELS:
            self.errors.append(f"invalid channel {ch}")
            self._shutdown(now, "invalid channel")
            self._reply(f"ERR invalid channel {ch}")
            return
        pct = min(max(pct, 0), 100)
        ms = min(max(ms, 0), MAX_ON_TIME_MS)
        self.on_time_ms[ch] = ms
        self._set(ch, pct, now + ms / 1000.0 if ms > 0 else None, now)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.001)
            except (OSError, ValueError):
                break
            now = time.monotonic()
            with self._lock:
                for ch in range(N_CHANNELS):
                    off = self.off_at_s[ch]
                    if off is not None and now >= off:
                        self._set(ch, 0, None, off)
            if not ready:
                continue
            try:
                data = os.read(self._master, 256)
            except OSError:  # EIO: the host closed the port
                data = b""
            now = time.monotonic()
            with self._lock:
                if not data:
                    if not self.disconnected:
                        self.disconnected = True
                        self._shutdown(now, "host disconnected")
                    continue
                for char in data.decode("ascii", errors="replace"):
                    if char in "\r\n ":
                        continue
                    self._buf += char
                    if char == "G":
                        self._command(self._buf[:-1], now)
                        self._buf = ""
                    elif len(self._buf) > 32:
                        self._command(self._buf, now)
                        self._buf = ""
            if self.disconnected:
                time.sleep(0.005)  # EIO repeats until a host opens the port again
