"""An openEMSstim firmware emulator on a pseudo-terminal (Linux/macOS), for tests.

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
import threading

from emulators.pty_peer import PtyPeer

logger = logging.getLogger(__name__)

MAX_ON_TIME_MS = 5000
N_CHANNELS = 2


class OpenEMSStimEmulator(PtyPeer):
    """Firmware-like peer on the master side of a pty; the driver opens :attr:`port_name`."""

    poll_s = 0.001  # the on-time expiry's resolution

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.intensity_pct = [0] * N_CHANNELS
        self.off_at_s: list[float | None] = [None] * N_CHANNELS
        self.on_time_ms: list[int] = [0] * N_CHANNELS  # effective on-time of the last command
        self.timeline: list[tuple[float, int, int]] = []
        self.commands: list[str] = []
        self.errors: list[str] = []
        self.disconnected = False
        self._buf = ""
        super().__init__("openemsstim-emulator")

    def is_on(self, channel: int) -> bool:
        with self._lock:
            return self.off_at_s[channel] is not None and self.intensity_pct[channel] > 0

    def any_on(self) -> bool:
        return any(self.is_on(ch) for ch in range(N_CHANNELS))

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
        self._write((text + "\r\n").encode("ascii"))

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

    def _tick(self, now: float) -> None:
        with self._lock:
            for ch in range(N_CHANNELS):
                off = self.off_at_s[ch]
                if off is not None and now >= off:
                    self._set(ch, 0, None, off)

    def _host_closed(self, now: float) -> None:
        with self._lock:
            if not self.disconnected:
                self.disconnected = True
                self._shutdown(now, "host disconnected")

    def _received(self, data: bytes, now: float) -> None:
        with self._lock:
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
