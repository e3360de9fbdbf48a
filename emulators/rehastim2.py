"""A RehaStim 2 (ScienceMode 2) emulator on a pseudo-terminal (Linux/macOS), for tests.

Like the openEMSstim emulator, it lets the *unchanged* ``pysciencemode.Rehastim2`` talk to
something that behaves like the device over a real serial port (a pty): it sends ``Init``
until the host answers ``InitAck``, parses every ScienceMode 2 packet it receives (start
byte, stuffed checksum and length, payload with 0x81 byte stuffing, stop byte), checks the
CRC-8 and the length, and answers like the device:

- ``InitChannelListMode`` (30): stores the channel mask and the main stimulation interval
  (``[0, 2048] x 0.5 ms + 1 ms``), answers ``InitChannelListModeAck`` (31) with result 0, or
  -2 (parameter error) for an interval outside 8..1025 ms or an empty mask.
- ``StartChannelListMode`` (32): one ``(mode, pulse width MSB, LSB, current mA)`` per
  initialised channel, in channel order; sets the outputs and answers ``...Ack`` (33).
  Currents above 130 mA, pulse widths above 500 µs or a wrong number of entries are a
  parameter error: every output off, result -2.
- ``StopChannelListMode`` (34): every output off, ``...Ack`` (35).
- ``Watchdog`` (4): no answer; like every packet it feeds the link watchdog.
- anything else: ``UnknownCommand`` (3).

While an output is on and no packet arrives for ``watchdog_timeout_s`` (1.0 s by default),
every output goes off (the protocol's communication watchdog as modelled here; the real
device's timing is not verified by this code). A host that closes the port switches every
output off. ``refuse_next_start`` answers the next update with a parameter error;
``answer = False`` makes the device go silent. :meth:`inject_stimulation_error` makes the
device report a ``StimulationError`` (38), e.g. -2 electrode error, and switch everything
off.

Every change of output is recorded as ``(time.monotonic() s, channel 0-based, current mA,
pulse width µs)`` in :attr:`timeline`; every decoded packet as ``(command, data bytes)`` in
:attr:`received`.
"""

from __future__ import annotations

import logging
import threading
import time

from emulators.pty_peer import PtyPeer

logger = logging.getLogger(__name__)

START_BYTE, STOP_BYTE, STUFFING_BYTE, STUFFING_KEY = 0xF0, 0x0F, 0x81, 0x55
STUFFED = (0xF0, 0x0F, 0x81, 0x55, 0x0A)
N_CHANNELS = 8

INIT, INIT_ACK, UNKNOWN, WATCHDOG = 1, 2, 3, 4
GET_MODE, GET_MODE_ACK = 10, 11
INIT_CLM, INIT_CLM_ACK = 30, 31
START_CLM, START_CLM_ACK = 32, 33
STOP_CLM, STOP_CLM_ACK = 34, 35
STIMULATION_ERROR = 38

PARAMETER_ERROR = -2


def crc8(data: bytes) -> int:
    """CRC-8 (polynomial 0x07, init 0), the checksum of ScienceMode 2 packets."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode_packet(count: int, command: int, data: list[int] = ()) -> bytes:
    """A device-to-host packet: ``F0 81 crc^55 81 len^55 count command data.. 0F``.

    Payload bytes equal to a framing byte are sent as ``81, byte ^ 55``. Negative result
    codes are sent as their two's complement byte.
    """
    payload = bytearray()
    for byte in [count, command, *data]:
        byte &= 0xFF
        if byte in STUFFED:
            payload += bytes((STUFFING_BYTE, byte ^ STUFFING_KEY))
        else:
            payload.append(byte)
    return bytes((START_BYTE, STUFFING_BYTE, crc8(payload) ^ STUFFING_KEY, STUFFING_BYTE,
                  len(payload) ^ STUFFING_KEY)) + bytes(payload) + bytes((STOP_BYTE,))


def decode_packet(frame: bytes) -> tuple[int, int, list[int]]:
    """``(count, command, data)`` of one host-to-device packet (start..stop bytes included).

    pysciencemode stuffs the packet counter and the command in place (without the 0x81
    marker) and the data with it; the emulator reads the command as sent (commands are
    never framing bytes) and unstuffs the data.

    Raises
    ------
    ValueError
        Bad framing, length or checksum.
    """
    if len(frame) < 8 or frame[0] != START_BYTE or frame[-1] != STOP_BYTE:
        raise ValueError(f"not a ScienceMode 2 packet: {frame.hex()}")
    if frame[1] != STUFFING_BYTE or frame[3] != STUFFING_BYTE:
        raise ValueError(f"checksum/length not stuffed: {frame.hex()}")
    payload = frame[5:-1]
    length = frame[4] ^ STUFFING_KEY
    if length != len(payload):
        raise ValueError(f"length byte {length} for a payload of {len(payload)} bytes")
    checksum = frame[2] ^ STUFFING_KEY
    if checksum != crc8(payload):
        raise ValueError(f"checksum {checksum:#04x}, computed {crc8(payload):#04x}")
    data: list[int] = []
    raw = payload[2:]
    i = 0
    while i < len(raw):
        if raw[i] == STUFFING_BYTE:
            data.append(raw[i + 1] ^ STUFFING_KEY)
            i += 2
        else:
            data.append(raw[i])
            i += 1
    return payload[0], payload[1], data


def split_frames(buf: bytearray) -> list[bytes]:
    """Take every complete packet off the front of ``buf`` (incomplete ones stay).

    Framing is positional: pysciencemode XORs the checksum and length bytes with 0x55
    whatever their value, so either can be a raw 0x0F or 0xF0; the length byte says where
    the stop byte is.
    """
    frames = []
    while True:
        start = buf.find(bytes((START_BYTE,)))
        if start < 0:
            buf.clear()
            return frames
        del buf[:start]
        if len(buf) < 5:
            return frames
        end = 5 + (buf[4] ^ STUFFING_KEY)  # index of the stop byte
        if len(buf) < end + 1:
            return frames
        frames.append(bytes(buf[:end + 1]))
        del buf[:end + 1]


class RehaStim2Emulator(PtyPeer):
    """Device-like peer on the master side of a pty; the driver opens :attr:`port_name`.

    Parameters
    ----------
    watchdog_timeout_s : float
        Outputs go off when no packet arrives for this long while one is on.
    """

    def __init__(self, watchdog_timeout_s: float = 1.0) -> None:
        self.watchdog_timeout_s = float(watchdog_timeout_s)
        self._lock = threading.Lock()
        self.connected = False  # InitAck received
        self.disconnected = False
        self.channel_mask = 0
        self.period_ms: float | None = None
        self.current_ma = [0] * N_CHANNELS
        self.pulse_width_us = [0] * N_CHANNELS
        self.timeline: list[tuple[float, int, int, int]] = []
        self.received: list[tuple[int, list[int]]] = []
        self.errors: list[str] = []
        self.off_reasons: list[str] = []
        self.answer = True  # False: the device goes silent (no acks, no Init)
        self.refuse_next_start = False  # True: the next update gets a parameter error
        self._last_packet_s = time.monotonic()
        self._count = 0
        self._buf = bytearray()
        self._next_init_s = 0.0
        super().__init__("rehastim2-emulator")

    # ------------------------------------------------------------------ test API

    def is_on(self, channel: int) -> bool:
        with self._lock:
            return self.current_ma[channel] > 0

    def any_on(self) -> bool:
        with self._lock:
            return any(c > 0 for c in self.current_ma)

    def commands(self, command: int) -> list[list[int]]:
        """The data of every received packet with this command number."""
        with self._lock:
            return [data for cmd, data in self.received if cmd == command]

    def inject_stimulation_error(self, code: int = -2) -> None:
        """Report a ``StimulationError`` (-1 emergency switch, -2 electrode, -3 module) and
        switch every output off, as the device does."""
        with self._lock:
            self._all_off(time.monotonic(), f"stimulation error {code}")
            self._send(STIMULATION_ERROR, [code])

    # ------------------------------------------------------------------ device

    def _send(self, command: int, data: list[int] = ()) -> None:
        if not self.answer:
            return
        self._count = (self._count + 1) % 256
        while self._count in STUFFED:  # keep the counter at the index the host reads
            self._count = (self._count + 1) % 256
        self._write(encode_packet(self._count, command, list(data)))

    def _set(self, ch: int, current_ma: int, pulse_width_us: int, now: float) -> None:
        if (current_ma, pulse_width_us) != (self.current_ma[ch], self.pulse_width_us[ch]):
            if current_ma > 0 or self.current_ma[ch] > 0:
                self.timeline.append((now, ch, current_ma, pulse_width_us))
        self.current_ma[ch] = current_ma
        self.pulse_width_us[ch] = pulse_width_us

    def _all_off(self, now: float, why: str) -> None:
        if any(c > 0 for c in self.current_ma):
            self.off_reasons.append(why)
            logger.info("emulator: all outputs off (%s)", why)
        for ch in range(N_CHANNELS):
            self._set(ch, 0, self.pulse_width_us[ch], now)

    def _channels(self) -> list[int]:
        return [ch for ch in range(N_CHANNELS) if self.channel_mask >> ch & 1]

    def _packet(self, frame: bytes, now: float) -> None:
        try:
            _, command, data = decode_packet(frame)
        except ValueError as err:
            self.errors.append(str(err))
            self._all_off(now, "malformed packet")
            return
        self.received.append((command, data))
        if command == INIT_ACK:
            self.connected = True
        elif command == WATCHDOG:
            pass
        elif command == GET_MODE:
            mode = 2 if any(self.current_ma) else (1 if self.period_ms else 0)
            self._send(GET_MODE_ACK, [0, mode])
        elif command == INIT_CLM:
            self._init_channel_list(data, now)
        elif command == START_CLM:
            self._start_channel_list(data, now)
        elif command == STOP_CLM:
            self._all_off(now, "StopChannelListMode")
            self.period_ms = None
            self._send(STOP_CLM_ACK, [0])
        else:
            self.errors.append(f"unknown command {command}")
            self._send(UNKNOWN, [])

    def _init_channel_list(self, data: list[int], now: float) -> None:
        if len(data) != 7:
            self._parameter_error(INIT_CLM_ACK, f"InitChannelListMode with {len(data)} bytes",
                                  now)
            return
        _, mask, _, _, msb, lsb, _ = data
        period_ms = (msb * 256 + lsb) * 0.5 + 1.0
        if not mask or not 8.0 <= period_ms <= 1025.0:
            self._parameter_error(INIT_CLM_ACK, f"mask {mask:#04x}, interval {period_ms} ms",
                                  now)
            return
        self._all_off(now, "InitChannelListMode")
        self.channel_mask, self.period_ms = mask, period_ms
        self._send(INIT_CLM_ACK, [0])

    def _start_channel_list(self, data: list[int], now: float) -> None:
        channels = self._channels()
        if self.refuse_next_start:
            self.refuse_next_start = False
            self._parameter_error(START_CLM_ACK, "refused on request (test)", now)
            return
        if self.period_ms is None or len(data) != 4 * len(channels):
            self._parameter_error(START_CLM_ACK, f"StartChannelListMode with {len(data)} "
                                  f"bytes for channels {channels}", now)
            return
        settings = []
        for i, ch in enumerate(channels):
            _, msb, lsb, current_ma = data[4 * i:4 * i + 4]
            pulse_width_us = msb * 256 + lsb
            if current_ma > 130 or pulse_width_us > 500:
                self._parameter_error(START_CLM_ACK, f"channel {ch}: {current_ma} mA, "
                                      f"{pulse_width_us} µs", now)
                return
            settings.append((ch, current_ma, max(pulse_width_us, 20)))
        for ch, current_ma, pulse_width_us in settings:
            self._set(ch, current_ma, pulse_width_us, now)
        self._send(START_CLM_ACK, [0])

    def _parameter_error(self, ack: int, why: str, now: float) -> None:
        self.errors.append(why)
        self._all_off(now, f"parameter error: {why}")
        self._send(ack, [PARAMETER_ERROR])

    def _tick(self, now: float) -> None:
        with self._lock:
            if not self.connected and not self.disconnected and now >= self._next_init_s:
                self._send(INIT, [1])  # protocol version; repeated until acknowledged
                self._next_init_s = now + 0.05
            if any(self.current_ma) and now - self._last_packet_s > self.watchdog_timeout_s:
                self._all_off(now, "watchdog")

    def _host_closed(self, now: float) -> None:
        with self._lock:
            if not self.disconnected and self.connected:
                self.disconnected = True
                self._all_off(now, "host disconnected")

    def _received(self, data: bytes, now: float) -> None:
        with self._lock:
            self._last_packet_s = now
            self._buf += data
            for frame in split_frames(self._buf):
                self._packet(frame, now)
