"""An OpenBCI Cyton emulator on a pseudo-terminal (Linux/macOS), for tests.

BrainFlow's own device emulators (``emulator/brainflow_emulator``) run a board's unchanged
driver against a pty peer that answers like the firmware; this is that approach for the
Cyton, so ``BrainFlowSource(board="CYTON_BOARD", serial_port=emulator.port_name)`` exercises
BrainFlow's real Cyton driver without hardware.

What the peer does (the part of the Cyton serial protocol the driver uses):

- ``v`` (soft reset): replies with a banner ending in ``$$$``;
- ``b``: starts streaming 33-byte packets at 250 Hz, paced on ``time.monotonic()``:
  ``0xA0``, sample counter (0–255), 8 channels × 24-bit big-endian two's complement counts,
  6 bytes of accelerometer (zeros), stop byte ``0xC0``;
- ``s``: stops streaming;
- any other command byte (channel settings, ``d``, ``~``...) is answered with
  ``Success$$$`` — logged, never acted on.

The streamed signal is ``data_uv`` (``(8, n)`` µV, looped), or by default a recognisable
test pattern (:func:`test_pattern_uv`). Counts use the Cyton's scale at gain 24:
``4.5 V / 24 / (2**23 - 1)`` per count.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from emulators.pty_peer import PtyPeer
from mirrorvr.errors import ConfigError

logger = logging.getLogger(__name__)

SAMPLING_RATE_HZ = 250.0
N_CHANNELS = 8
#: µV per ADC count at the Cyton's default gain of 24.
UV_PER_COUNT = 4.5 / 24 / (2 ** 23 - 1) * 1e6
BANNER = b"OpenBCI V3 8-16 channel\nOn Board ADS1299 Device ID: 0x3E\nFirmware: v3.1.2\n$$$"


def test_pattern_uv(n: int = 1000) -> np.ndarray:
    """``(8, n)`` µV: channel 1 counts the sample index (``k mod n`` µV), channels 2–8 are
    sines of 5·c Hz and 20·c µV amplitude — each sample's position is readable from it."""
    k = np.arange(n)
    out = np.empty((N_CHANNELS, n))
    out[0] = k % n
    for c in range(1, N_CHANNELS):
        out[c] = 20.0 * c * np.sin(2 * np.pi * 5.0 * c * k / SAMPLING_RATE_HZ)
    return out


def encode_packet(counter: int, counts: np.ndarray) -> bytes:
    """One 33-byte Cyton packet of 8 signed 24-bit ``counts``."""
    body = bytearray([0xA0, counter & 0xFF])
    for v in counts:
        body += int(v & 0xFFFFFF).to_bytes(3, "big")
    body += bytes(6) + b"\xc0"
    return bytes(body)


class CytonEmulator(PtyPeer):
    """Firmware-like Cyton peer on the master side of a pty; the driver opens
    :attr:`port_name`. Stop it with :meth:`stop`."""

    def __init__(self, data_uv: np.ndarray | None = None) -> None:
        data = test_pattern_uv() if data_uv is None else np.asarray(data_uv, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] != N_CHANNELS or data.shape[1] == 0:
            raise ConfigError(f"data_uv: expected shape ({N_CHANNELS}, n > 0), got {data.shape}")
        limit = (2 ** 23 - 1) * UV_PER_COUNT
        if np.max(np.abs(data)) > limit:
            raise ConfigError(f"data_uv: values must be within ±{limit:.0f} µV")
        self._counts = np.round(data / UV_PER_COUNT).astype(np.int64)
        self._streaming = False
        self._t0 = 0.0
        self._sent = 0
        #: Every command byte received, in order.
        self.received = bytearray()
        self.packets_sent = 0
        super().__init__("cyton-emulator")

    @property
    def streaming(self) -> bool:
        return self._streaming

    def _command(self, byte: int) -> None:
        self.received.append(byte)
        c = chr(byte)
        if c == "v":
            self._streaming = False
            self._write(BANNER)
        elif c == "b":
            self._streaming, self._t0, self._sent = True, time.monotonic(), 0
        elif c == "s":
            self._streaming = False
        elif c.strip():
            logger.debug("cyton emulator: command %r answered, not acted on", c)
            self._write(b"Success$$$")

    def _received(self, data: bytes, now: float) -> None:
        for byte in data:
            self._command(byte)

    def _tick(self, now: float) -> None:
        if not self._streaming:
            return
        n = self._counts.shape[1]
        due = int((now - self._t0) * SAMPLING_RATE_HZ) + 1
        if due > self._sent:
            packets = b"".join(
                encode_packet(k, self._counts[:, k % n]) for k in range(self._sent, due)
            )
            self._write(packets)
            self.packets_sent += due - self._sent
            self._sent = due
