"""A driver for the Hasomed RehaStim 2 through ``pysciencemode`` (ScienceMode 2).

The RehaStim 2 is a programmable 8-channel stimulator (0-130 mA in 1 mA steps, 20-500 µs
pulses, biphasic). ScienceMode 2's *channel list mode* is used as pysciencemode offers it:

- ``Rehastim2(port)`` opens the serial port (460800 baud, 8E1), waits for the device's
  ``Init`` and answers ``InitAck``;
- ``init_channel(stimulation_interval, channels)`` sends ``InitChannelListMode``: which
  channels take part and the *main stimulation interval*, one period for all channels,
  ``[0, 2048] x 0.5 ms + 1 ms`` with 8 ms the firmware minimum (0.98-125 Hz);
- ``start_stimulation(upd_list_channels=...)`` sends ``StartChannelListMode`` with mode,
  pulse width and current of *every* initialised channel; the outputs keep these values
  until the next update;
- ``end_stimulation()`` sends ``StopChannelListMode``.

At connection this driver initialises all 8 channels at 0 mA with the session's rate
(the period is rounded *up* to the 0.5 ms grid, so the delivered rate is never above the
commanded one). A train is a sequence of updates made here, on the host
(:mod:`~mirrorvr.stim.host_ramp`): the envelope's rise in ``ramp_step_s`` steps, the hold,
the fall, and an update to 0 mA at the train's planned stop (on-time). Currents are floored
to whole mA and pulse widths to whole µs, so the device never gets more than the governor
allowed. The device has no ramp or on-time of its own in
ScienceMode 2 (pysciencemode refuses ``ramp`` for the RehaStim 2).

Expiry without the host: ScienceMode 2 expects a packet from the host about once a second
(pysciencemode's keep-alive thread sends a ``Watchdog`` packet whenever 0.8 s pass without
a command). This driver switches that library thread off (``reha_connected = False`` after
connection) and sends the keep-alive from its own ramp thread, the same thread that ends
every train, so the device is never kept alive by a host that can no longer stop it. That
the device then stops by itself is the protocol's promise, modelled by the emulator
(``emulators/rehastim2.py``, a test twin outside the package) and not verified here on a device.

pysciencemode also starts a thread that compares commands and acks (only when it prints
its log); it is ended the same way (``stimulation_active = False``), so no library thread
outlives the connection or keeps the process from exiting.

What pysciencemode does not do, done at this edge without changing the library:

- it never reads the result byte of an acknowledgement (unless it prints its log); a
  subclass records every ack, and an ack with a non-zero result (or the wrong command) is a
  fault;
- it waits for an ack in a busy loop with no time-out (the constructor too); the subclass
  arms a timer that closes the port after ``ack_timeout_s``, which ends the wait with an
  error — a device that does not answer is a fault, and the driver is then unusable;
- it reads the port only while it waits for an ack, and takes the *last* packet it read as
  the ack, so a ``StimulationError`` packet the device sends by itself (electrode error,
  emergency switch) is either read by :meth:`check` or, when it arrives during a wait for an
  ack, recorded by the subclass from every packet the library reads: a fault either way.

Tests (``tests/test_stim_rehastim.py``) run the unchanged pysciencemode against the pty
emulator, which parses the packets (framing, CRC-8, stuffing) and answers like the device.
``stimulator_factory`` lets a test inject a fake ``Rehastim2``-like object instead.

pysciencemode is imported only here, when a driver is made (optional extra ``rehastim``).
Everything this driver receives has passed the safety governor.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from mirrorvr.clock import Clock
from mirrorvr.config import DeviceLimits, SimulatedStimSettings
from mirrorvr.errors import StimulationError
from mirrorvr.stim.command import StimCommand
from mirrorvr.stim.device_lock import DeviceLock, lock_port_exclusively
from mirrorvr.stim.host_ramp import HostRamp, host_steps
from mirrorvr.stim.path import StimPath

logger = logging.getLogger(__name__)

#: RehaStim 2 outputs.
N_CHANNELS = 8
#: Highest current, mA, and its step (ScienceMode 2 sends whole mA).
MAX_CURRENT_MA = 130
#: Pulse width range, µs (the firmware raises anything below 20 µs to 20 µs).
MIN_PULSE_WIDTH_US, MAX_PULSE_WIDTH_US = 20, 500
#: Main stimulation interval range, ms, and its grid.
MIN_PERIOD_MS, MAX_PERIOD_MS, PERIOD_STEP_MS = 8.0, 1025.0, 0.5
#: On-time cap, s (SAFETY.md item 5); the device has none, the host ends every train.
MAX_ON_TIME_S = 5.0

_ACKS = {"InitChannelListMode": 31, "StartChannelListMode": 33, "StopChannelListMode": 35}
_STIMULATION_ERROR = 38


def period_ms_for(frequency_hz: float) -> float:
    """The main stimulation interval for ``frequency_hz``: rounded *up* to the 0.5 ms grid.

    Raises
    ------
    StimulationError
        If the rate is outside what the device can give (0.98-125 Hz).
    """
    if not (math.isfinite(frequency_hz) and frequency_hz > 0):
        raise StimulationError(f"RehaStim 2 frequency_hz: {frequency_hz!r} must be > 0")
    period_ms = math.ceil(1000.0 / frequency_hz / PERIOD_STEP_MS - 1e-9) * PERIOD_STEP_MS
    if not MIN_PERIOD_MS <= period_ms <= MAX_PERIOD_MS:
        raise StimulationError(
            f"RehaStim 2 frequency_hz: {frequency_hz!r} (allowed {1000 / MAX_PERIOD_MS:.3f}.."
            f"{1000 / MIN_PERIOD_MS:.0f} Hz: a period of {MIN_PERIOD_MS}..{MAX_PERIOD_MS} ms)"
        )
    return period_ms


def ramp_levels(cmd: StimCommand, step_s: float) -> list[tuple[float, int]]:
    """The train as ``(time from start s, current mA)`` updates, the envelope's rise and fall
    included: currents are floored to whole mA. The last update is 0 mA at
    ``cmd.on_time_s`` (the device has no expiry of its own)."""

    def whole_ma(amplitude_ma: float) -> int:
        return min(max(int(math.floor(amplitude_ma + 1e-9)), 0), MAX_CURRENT_MA)

    return host_steps(cmd, step_s, whole_ma)


def _checked_rehastim2_class():
    """``pysciencemode.Rehastim2`` with every ack recorded and every wait bounded."""
    from pysciencemode import Rehastim2  # edge module: only here

    class CheckedRehastim2(Rehastim2):
        """Records acks (``mirrorvr_acks``) and device error packets
        (``mirrorvr_device_errors``), and closes the port when an ack is late."""

        mirrorvr_ack_timeout_s = 0.5

        def _read_packet(self):
            packets = super()._read_packet()
            for packet in packets or ():
                if len(packet) > 7 and packet[6] == _STIMULATION_ERROR:
                    if not hasattr(self, "mirrorvr_device_errors"):
                        self.mirrorvr_device_errors = []
                    self.mirrorvr_device_errors.append(_signed(packet[7]))
            return packets

        def _get_last_ack(self, init: bool = False):
            if not getattr(self, "mirrorvr_exclusive", False):
                # the library opened the port and is about to read the device's Init: claim
                # the port first (SAFETY.md item 13)
                self.mirrorvr_exclusive = True
                lock_port_exclusively(self.port)
            self.mirrorvr_timed_out = False
            timer = threading.Timer(self.mirrorvr_ack_timeout_s, self._mirrorvr_give_up)
            timer.daemon = True
            timer.start()
            try:
                packet = super()._get_last_ack(init)
            finally:
                timer.cancel()
            if not hasattr(self, "mirrorvr_acks"):
                self.mirrorvr_acks = []
            self.mirrorvr_acks.append(bytes(packet))
            return packet

        def _mirrorvr_give_up(self) -> None:
            self.mirrorvr_timed_out = True
            port = getattr(self, "port", None)
            if port is not None:
                port.close()  # ends the library's busy wait with an exception

    return CheckedRehastim2


def _open_rehastim2(port: str, ack_timeout_s: float):
    cls = _checked_rehastim2_class()
    cls.mirrorvr_ack_timeout_s = ack_timeout_s
    return cls(port, show_log=False)


class RehaStimDriver:
    """Drives a Hasomed RehaStim 2 over ScienceMode 2 with pysciencemode.

    Parameters
    ----------
    port : str
        The serial device (``/dev/ttyUSB0``, ``COM3``, a pty name).
    clock : Clock
        The session clock.
    frequency_hz : float
        The session's pulse rate: ScienceMode 2 has one period for all channels, set at
        connection. Commands must ask this rate.
    path : StimPath, optional
        The configured stimulation path (for the predicted contraction onset); default: the
        configuration's defaults.
    motor_threshold_ma : mapping of channel -> mA, optional
        For the predicted onset along the envelope.
    ramp_step_s : float
        Interval between ramp updates, s.
    keepalive_s : float
        The ramp thread sends a ``Watchdog`` packet when nothing was sent for this long, s.
    ack_timeout_s : float
        A command (or the connection) not acknowledged within this is a fault, s.
    stimulator_factory : callable, optional
        ``(port, ack_timeout_s) -> Rehastim2``-like object, for tests; by default the
        pysciencemode class with checked acks.
    purpose : str
        What the device is opened for, recorded in its owner lock (SAFETY.md item 13).

    Raises
    ------
    StimulationError
        If no device answers, or another session or titration holds the device.
    """

    def __init__(
        self,
        port: str,
        clock: Clock,
        frequency_hz: float,
        *,
        path: StimPath | None = None,
        motor_threshold_ma: dict[int, float] | None = None,
        ramp_step_s: float = 0.025,
        keepalive_s: float = 0.5,
        ack_timeout_s: float = 0.5,
        stimulator_factory: Callable | None = None,
        purpose: str = "",
    ) -> None:
        if not ramp_step_s > 0:
            raise StimulationError(f"ramp_step_s: {ramp_step_s!r} must be > 0")
        if not 0 < keepalive_s < 1.0:
            raise StimulationError(f"keepalive_s: {keepalive_s!r} must be in (0, 1) s")
        self.clock = clock
        self.frequency_hz = float(frequency_hz)
        self.period_ms = period_ms_for(self.frequency_hz)
        self.path = path or StimPath.from_settings(SimulatedStimSettings())
        self.motor_threshold_ma = dict(motor_threshold_ma or {})
        self.ramp_step_s = float(ramp_step_s)
        self.keepalive_s = float(keepalive_s)
        self.n_channels = N_CHANNELS
        self.capabilities = DeviceLimits(
            model="RehaStim 2",
            n_channels=N_CHANNELS,
            max_amplitude_ma=float(MAX_CURRENT_MA),
            min_pulse_width_us=float(MIN_PULSE_WIDTH_US),
            max_pulse_width_us=float(MAX_PULSE_WIDTH_US),
            min_frequency_hz=1000.0 / MAX_PERIOD_MS,
            max_frequency_hz=1000.0 / MIN_PERIOD_MS,
            max_charge_per_phase_uc=MAX_CURRENT_MA * MAX_PULSE_WIDTH_US / 1000.0,
            max_on_time_s=MAX_ON_TIME_S,
        )
        self._current_ma = [0] * N_CHANNELS
        self._pulse_width_us = [MIN_PULSE_WIDTH_US] * N_CHANNELS
        self._error = ""
        self._closed = False
        self._last_sent_mono = time.monotonic()
        self.written: list[tuple[float, tuple[int, ...]]] = []  # (t_s, currents mA): updates
        self.ramp = HostRamp(clock, N_CHANNELS, self._write_level, name="mirrorvr-rehastim",
                             idle=self._keepalive)
        self._owner = DeviceLock.acquire(port, purpose)  # before the port is opened
        factory = stimulator_factory or _open_rehastim2
        try:
            self._dev = factory(port, ack_timeout_s)
        except Exception as err:  # serial.SerialException, OSError, a closed port on time-out
            if self._owner is not None:
                self._owner.release()
            raise StimulationError(
                f"RehaStim 2: no device answered on {port!r} within {ack_timeout_s} s, or "
                f"the port could not be opened exclusively ({err!r})"
            ) from err
        # The library's keep-alive thread would keep the device stimulating as long as the
        # process lives; the ramp thread keeps the link instead. Its ack-comparison thread
        # does nothing without show_log. Both are non-daemon threads that would keep the
        # process alive if a session never closes the driver: both are ended here.
        self._dev.reha_connected = False
        self._dev.stimulation_active = False
        try:
            self._call("InitChannelListMode", self._dev.init_channel, self.period_ms,
                       self._channels())
        except StimulationError:
            self._release()
            raise
        self.ramp.start()

    # ------------------------------------------------------------------ driver API

    def send(self, cmd: StimCommand, t_s: float) -> float | None:
        """Start the train on ``cmd.channel``; return the predicted onset, s."""
        ch = cmd.channel
        if not 0 <= ch < N_CHANNELS:
            raise StimulationError(f"RehaStim 2 channel: {ch!r} (allowed 0..{N_CHANNELS - 1})")
        if abs(cmd.frequency_hz - self.frequency_hz) > 1e-6:
            raise StimulationError(
                f"RehaStim 2 channel {ch}: the channel list runs at {self.frequency_hz} Hz "
                f"(period {self.period_ms} ms, one for all channels); command asks "
                f"{cmd.frequency_hz} Hz"
            )
        pulse_width_us = int(math.floor(cmd.pulse_width_us + 1e-9))
        if not MIN_PULSE_WIDTH_US <= pulse_width_us <= MAX_PULSE_WIDTH_US:
            raise StimulationError(
                f"RehaStim 2 channel {ch}: pulse width {cmd.pulse_width_us!r} µs (allowed "
                f"{MIN_PULSE_WIDTH_US}..{MAX_PULSE_WIDTH_US})"
            )
        levels = ramp_levels(cmd, self.ramp_step_s)
        with self.ramp.lock:
            self._check_usable()
            self._pulse_width_us[ch] = pulse_width_us
            # the first update is sent now: its failure faults the governor
            self.ramp.play(ch, levels, t_s, t_s + cmd.on_time_s)
        return cmd.contraction_onset_s(
            t_s + self.path.output_delay_s, self.motor_threshold_ma.get(ch, 0.0),
            self.path.electromechanical_delay_s,
        )

    def stop_channel(self, channel: int, t_s: float, reason: str) -> None:
        """Switch ``channel`` off now (0 mA)."""
        with self.ramp.lock:
            self._check_usable()
            self.ramp.cancel(channel)
            self._update({channel: 0}, t_s)

    def stop_all(self, t_s: float, reason: str) -> None:
        """Switch every channel off now (one update with 0 mA everywhere)."""
        with self.ramp.lock:
            self.ramp.cancel_all()
            self._check_usable()
            # tried even after a fault: a device that reported an error still answers
            self._update(dict.fromkeys(range(N_CHANNELS), 0), t_s, force=True)

    def check(self, t_s: float) -> None:
        """Raise if the link is gone, an update failed, or the device reported an error."""
        with self.ramp.lock:  # a ramp update in flight may latch an error: wait for it
            if self._error:
                raise StimulationError(self._error)
            if self._closed:
                raise StimulationError("RehaStim 2: driver closed")
            try:
                port = self._dev.port
                if not getattr(port, "is_open", True):
                    raise self._fail("RehaStim 2: port closed")
                n = port.in_waiting
                data = port.read(n) if n else b""
            except StimulationError:
                raise
            except Exception as err:  # pyserial raises SerialException/OSError on a lost device
                raise self._fail(f"RehaStim 2: lost connection: {err!r}") from err
        for command, result in _replies(data):
            if command == _STIMULATION_ERROR:
                raise self._device_error(result)
        if not self.ramp.alive:
            raise self._fail("RehaStim 2: ramp and keep-alive thread stopped")

    def close(self) -> None:
        """Stop the ramp thread, switch everything off (best effort), stop the channel list,
        end pysciencemode's threads and close the port. Idempotent."""
        if self._closed:
            return
        self.ramp.close()
        try:
            self.stop_all(self.clock.now(), "close")
        except StimulationError as err:
            logger.warning("RehaStim 2: could not switch off on close: %s", err)
        with self.ramp.lock:
            if not self._error:
                try:
                    self._call("StopChannelListMode", self._dev.end_stimulation)
                except StimulationError as err:
                    logger.warning("RehaStim 2: could not stop the channel list: %s", err)
            self._closed = True
            self._release()

    # ------------------------------------------------------------------ internals

    def _release(self) -> None:
        try:
            self._dev.disconnect()
        except Exception as err:  # the library's threads: logged, nothing else to do
            logger.warning("RehaStim 2: disconnect failed: %r", err)
        try:
            self._dev.close_port()
        except Exception as err:  # closing a broken port: logged, nothing else to do
            logger.warning("RehaStim 2: close failed: %r", err)
        if self._owner is not None:
            self._owner.release()

    def _check_usable(self) -> None:
        if self._closed:
            raise StimulationError("RehaStim 2: driver closed")

    def _channels(self) -> list:
        from pysciencemode import Channel, Device, Modes  # edge module: only here

        try:
            return [
                Channel(mode=Modes.SINGLE, no_channel=ch + 1, amplitude=self._current_ma[ch],
                        pulse_width=self._pulse_width_us[ch], device_type=Device.Rehastim2)
                for ch in range(N_CHANNELS)
            ]
        except ValueError as err:
            raise StimulationError(f"RehaStim 2: channel list refused: {err}") from err

    def _update(self, currents_ma: dict[int, int], t_s: float, force: bool = False) -> None:
        """Set the given channels' currents and send the whole channel list."""
        previous = list(self._current_ma)
        for ch, ma in currents_ma.items():
            self._current_ma[ch] = ma
        try:
            self._call("StartChannelListMode", self._dev.start_stimulation,
                       upd_list_channels=self._channels(), force=force)
        except StimulationError:
            # unknown what the device holds: keep the higher of the two as our belief
            self._current_ma = [max(a, b) for a, b in zip(previous, self._current_ma,
                                                          strict=True)]
            raise
        self.written.append((t_s, tuple(self._current_ma)))

    def _fail(self, message: str) -> StimulationError:
        """Latch the first fault (what :meth:`check` reports) and return the error to raise."""
        if not self._error:
            self._error = message
        return StimulationError(message)

    def _call(self, name: str, fn, *args, force: bool = False, **kwargs) -> None:
        """Call pysciencemode under the I/O lock; check the ack; translate its errors.

        After a fault only a ``force`` call (switching off) is tried.
        """
        with self.ramp.lock:
            if self._error and not force:
                raise StimulationError(self._error)
            acks = getattr(self._dev, "mirrorvr_acks", None)
            n_before = len(acks) if acks is not None else 0
            n_errors = len(getattr(self._dev, "mirrorvr_device_errors", ()))
            try:
                fn(*args, **kwargs)
            except Exception as err:  # RuntimeError/ValueError/SerialException/OSError
                late = getattr(self._dev, "mirrorvr_timed_out", False)
                why = "no ack within the time-out" if late else repr(err)
                raise self._fail(f"RehaStim 2: {name} failed: {why}") from err
            self._last_sent_mono = time.monotonic()
            errors = getattr(self._dev, "mirrorvr_device_errors", ())
            if len(errors) > n_errors:  # read while waiting for the ack
                raise self._device_error(errors[-1])
            acks = getattr(self._dev, "mirrorvr_acks", None)
            if acks is None:
                return  # an injected stimulator that does not record acks
            ack = acks[-1] if len(acks) > n_before else b""
            expected = _ACKS[name]
            if len(ack) < 8 or ack[6] != expected or ack[7] != 0:
                result = _signed(ack[7]) if len(ack) >= 8 else None
                raise self._fail(f"RehaStim 2: {name} not acknowledged: reply {ack.hex()} "
                                 f"(expected command {expected} with result 0, got result "
                                 f"{result})")

    def _write_level(self, ch: int, current_ma: int, stop_s: float, now_s: float) -> None:
        """One ramp step (called by the host ramp with its lock held)."""
        self._update({ch: current_ma}, now_s)

    def _device_error(self, result: int | None) -> StimulationError:
        from pysciencemode.acks import rehastim_error

        return self._fail(f"RehaStim 2: device error reply: "
                          f"{rehastim_error(result) or 'unknown error'} ({result})")

    def _keepalive(self, now_s: float) -> None:
        """On the ramp thread: a ``Watchdog`` packet when nothing was sent for keepalive_s."""
        if self._error or time.monotonic() - self._last_sent_mono < self.keepalive_s:
            return
        dev = self._dev
        try:
            dev.send_generic_packet("Watchdog", packet=dev._packet_watchdog())
        except Exception as err:  # a lost device: the next health check faults
            logger.error("%s; the next health check faults the governor",
                         self._fail(f"RehaStim 2: keep-alive failed: {err!r}"))
            return
        self._last_sent_mono = time.monotonic()


def _signed(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def _replies(data: bytes) -> list[tuple[int, int | None]]:
    """``(command, result)`` of each device packet in ``data``, framed by position as the
    library reads it (checksum and length are XOR-stuffed, so either may be 0x0F or 0xF0):
    length at index 4, command at 6, result at 7."""
    out = []
    i = data.find(b"\xf0")
    while 0 <= i and i + 7 <= len(data):
        length = data[i + 4] ^ 0x55
        end = i + 5 + length
        out.append((data[i + 6], _signed(data[i + 7]) if length >= 3 and end <= len(data)
                    else None))
        i = data.find(b"\xf0", max(end, i + 1))
    return out
