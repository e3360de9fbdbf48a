"""A driver for the openEMSstim board (serial protocol ``C<ch>I<intensity>T<ms>G``).

The openEMSstim (open hardware, HCI research; REFERENCES.md) does not generate pulses: it
gates and attenuates a certified TENS/EMS unit, whose pulse width and rate are set on the
unit. The host sends ``C<channel>I<intensity %>T<on-time ms>G``; the board switches the
channel on at that share of the unit's output for the on-time and then off by itself, so
every command expires on the device even if the host dies (SAFETY.md item 5). Sending a
new command while a channel is on replaces intensity and on-time.

The board has no ramps, so this driver plays each train's envelope as a staircase
(:mod:`~mirrorvr.stim.host_ramp`): it re-sends the channel's command every ``ramp_step_s``
with the envelope's intensity at that moment and *the time left until the train's planned
stop* as on-time. If the host stops mid-ramp, the board holds a lower intensity and still
stops at the planned time, never later. Intensities are rounded *down* to whole percent, so
the device never gets more than the governor allowed.

pyserial is imported only when a port is opened by URL (``loop://`` for tests, a pty, or
``/dev/ttyUSB0``). Everything this driver receives has passed the safety governor.
"""

from __future__ import annotations

import logging
import math

from mirrorvr.clock import Clock
from mirrorvr.config import DeviceLimits, SimulatedStimSettings
from mirrorvr.errors import StimulationError
from mirrorvr.stim.command import StimCommand
from mirrorvr.stim.device_lock import DeviceLock, is_device_file
from mirrorvr.stim.host_ramp import HostRamp, host_steps
from mirrorvr.stim.path import StimPath

logger = logging.getLogger(__name__)

#: The board's own cap on one command's on-time, ms (SAFETY.md item 5: 5 s by default).
FIRMWARE_MAX_ON_TIME_MS = 5000
#: The board has two channels.
N_CHANNELS = 2
#: Serial rate of the openEMSstim firmware, baud.
BAUD_RATE = 19200


def encode_command(channel: int, intensity_pct: int, on_time_ms: int) -> bytes:
    """The protocol string for one command, e.g. ``b"C0I100T1000G"``.

    Raises
    ------
    StimulationError
        If a field is outside the protocol (channel 0..1, intensity 0..100, on-time >= 1 ms).
    """
    if not 0 <= channel < N_CHANNELS:
        raise StimulationError(f"openEMSstim channel: {channel!r} (allowed 0..{N_CHANNELS - 1})")
    if not 0 <= intensity_pct <= 100:
        raise StimulationError(f"openEMSstim intensity: {intensity_pct!r} % (allowed 0..100)")
    if not 1 <= on_time_ms <= FIRMWARE_MAX_ON_TIME_MS:
        raise StimulationError(
            f"openEMSstim on-time: {on_time_ms!r} ms (allowed 1..{FIRMWARE_MAX_ON_TIME_MS})"
        )
    return f"C{channel}I{intensity_pct}T{on_time_ms}G".encode("ascii")


def ramp_steps(cmd: StimCommand, full_scale_ma: float, step_s: float) -> list[tuple[float, int]]:
    """The train as ``(time from start s, intensity %)`` steps, the envelope's rise and fall
    included: intensities are floored to whole percent of ``full_scale_ma``. The last step
    (0 % at ``cmd.on_time_s``) is the board's own expiry of the train."""

    def percent(amplitude_ma: float) -> int:
        return min(max(int(math.floor(100.0 * amplitude_ma / full_scale_ma + 1e-9)), 0), 100)

    return host_steps(cmd, step_s, percent)


def _open_port(port: str, write_timeout_s: float):
    """``port`` opened by pyserial; exclusively when it is a device file."""
    import serial  # edge module: only here

    exclusive = {"exclusive": True} if is_device_file(port) else {}
    try:
        return serial.serial_for_url(port, baudrate=BAUD_RATE, timeout=0,
                                     write_timeout=write_timeout_s, **exclusive)
    except (serial.SerialException, ValueError) as err:
        raise StimulationError(f"openEMSstim: cannot open port {port!r}: {err}") from err


class OpenEMSStimDriver:
    """Drives an openEMSstim board over a serial port.

    Parameters
    ----------
    port : str or serial-like
        A pyserial URL or device (``"loop://"``, ``"/dev/ttyUSB0"``, a pty name), or an open
        object with ``write``, ``read``, ``in_waiting``, ``flush``, ``close`` and ``is_open``.
    clock : Clock
        The session clock.
    full_scale_ma : float
        The unit's output at 100 % intensity, mA (measured by the therapist at set-up).
    pulse_width_us, frequency_hz : float
        The pulse width and rate set on the unit. Commands must match them.
    path : StimPath, optional
        The configured stimulation path (for the predicted contraction onset); default:
        the configuration's defaults.
    motor_threshold_ma : mapping of channel -> mA, optional
        For the predicted onset along the envelope.
    ramp_step_s : float
        Interval between ramp steps, s.
    write_timeout_s : float
        A write that does not complete within this is a fault (SAFETY.md item 9).
    purpose : str
        What the board is opened for, recorded in its owner lock (SAFETY.md item 13).

    Raises
    ------
    StimulationError
        If the port cannot be opened, or another session or titration holds the board.
    """

    def __init__(
        self,
        port,
        clock: Clock,
        full_scale_ma: float,
        pulse_width_us: float,
        frequency_hz: float,
        *,
        path: StimPath | None = None,
        motor_threshold_ma: dict[int, float] | None = None,
        ramp_step_s: float = 0.025,
        write_timeout_s: float = 0.05,
        purpose: str = "",
    ) -> None:
        if not (math.isfinite(full_scale_ma) and full_scale_ma > 0):
            raise StimulationError(f"full_scale_ma: {full_scale_ma!r} must be > 0")
        if not ramp_step_s > 0:
            raise StimulationError(f"ramp_step_s: {ramp_step_s!r} must be > 0")
        self.clock = clock
        self.full_scale_ma = float(full_scale_ma)
        self.pulse_width_us = float(pulse_width_us)
        self.frequency_hz = float(frequency_hz)
        self.path = path or StimPath.from_settings(SimulatedStimSettings())
        self.motor_threshold_ma = dict(motor_threshold_ma or {})
        self.ramp_step_s = float(ramp_step_s)
        self.n_channels = N_CHANNELS
        self.capabilities = DeviceLimits(
            model="openEMSstim",
            n_channels=N_CHANNELS,
            max_amplitude_ma=min(self.full_scale_ma, 200.0),
            min_pulse_width_us=self.pulse_width_us,
            max_pulse_width_us=self.pulse_width_us,
            min_frequency_hz=self.frequency_hz,
            max_frequency_hz=self.frequency_hz + 1e-6,
            max_on_time_s=FIRMWARE_MAX_ON_TIME_MS / 1000.0,
        )
        self._owner: DeviceLock | None = None
        if isinstance(port, str):
            self._owner = DeviceLock.acquire(port, purpose)  # before the port is opened
            try:
                port = _open_port(port, write_timeout_s)
            except StimulationError:
                if self._owner is not None:
                    self._owner.release()
                raise
        self._port = port
        self._error: str = ""
        self._closed = False
        self.written: list[tuple[float, bytes]] = []  # (session time, bytes): the wire log
        self.ramp = HostRamp(clock, N_CHANNELS, self._write_step, name="mirrorvr-openemsstim")
        self.ramp.start()

    # ------------------------------------------------------------------ driver API

    def send(self, cmd: StimCommand, t_s: float) -> float | None:
        """Start the train on ``cmd.channel``; return the predicted onset, s."""
        ch = cmd.channel
        if abs(cmd.pulse_width_us - self.pulse_width_us) > 1e-6 or abs(
            cmd.frequency_hz - self.frequency_hz
        ) > 1e-3:
            raise StimulationError(
                f"openEMSstim channel {ch}: the unit is set to {self.pulse_width_us} µs at "
                f"{self.frequency_hz} Hz; command asks {cmd.pulse_width_us} µs at "
                f"{cmd.frequency_hz} Hz"
            )
        steps = ramp_steps(cmd, self.full_scale_ma, self.ramp_step_s)
        # the first step is written now: its failure faults the governor
        self.ramp.play(ch, steps, t_s, t_s + cmd.on_time_s)
        return cmd.contraction_onset_s(
            t_s + self.path.output_delay_s, self.motor_threshold_ma.get(ch, 0.0),
            self.path.electromechanical_delay_s,
        )

    def stop_channel(self, channel: int, t_s: float, reason: str) -> None:
        """Switch ``channel`` off now (intensity 0 for 1 ms, then the board's expiry)."""
        with self.ramp.lock:
            self.ramp.cancel(channel)
            self._write(encode_command(channel, 0, 1), t_s)

    def stop_all(self, t_s: float, reason: str) -> None:
        """Switch both channels off now."""
        with self.ramp.lock:
            self.ramp.cancel_all()
            errors = []
            for ch in range(N_CHANNELS):
                try:
                    self._write(encode_command(ch, 0, 1), t_s)
                except StimulationError as err:
                    errors.append(err)
        if errors:
            raise errors[0]

    def check(self, t_s: float) -> None:
        """Raise if the port is gone, a ramp step failed, or the board replied an error."""
        with self.ramp.lock:
            if self._error:
                raise StimulationError(self._error)
            try:
                if not getattr(self._port, "is_open", True):
                    raise StimulationError("openEMSstim: port closed")
                n = self._port.in_waiting
                reply = self._port.read(n) if n else b""
            except StimulationError:
                raise
            except Exception as err:  # pyserial raises SerialException/OSError on a lost device
                self._error = f"openEMSstim: lost connection: {err!r}"
                raise StimulationError(self._error) from err
            if b"ERR" in reply:
                self._error = f"openEMSstim: device error reply {reply!r}"
                raise StimulationError(self._error)

    def close(self) -> None:
        """Stop the ramp thread, switch everything off (best effort) and close the port.
        Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.ramp.close()
        try:
            self.stop_all(self.clock.now(), "close")
        except StimulationError as err:
            logger.warning("openEMSstim: could not switch off on close: %s", err)
        try:
            self._port.close()
        except Exception as err:  # closing a broken port: logged, nothing else to do
            logger.warning("openEMSstim: close failed: %r", err)
        if self._owner is not None:
            self._owner.release()

    # ------------------------------------------------------------------ internals

    def _write_step(self, ch: int, pct: int, stop_s: float, now_s: float) -> None:
        remaining_ms = int(math.floor((stop_s - now_s) * 1000.0 + 1e-6))
        if remaining_ms < 1:
            return  # the board's expiry has ended (or is about to end) this train
        self._write(encode_command(ch, pct, min(remaining_ms, FIRMWARE_MAX_ON_TIME_MS)), now_s)

    def _write(self, data: bytes, t_s: float) -> None:
        try:
            with self.ramp.lock:
                n = self._port.write(data)
                self._port.flush()
        except Exception as err:  # write time-out, lost device: a fault for the governor
            self._error = f"openEMSstim: write failed: {err!r}"
            raise StimulationError(self._error) from err
        if n is not None and n != len(data):
            self._error = f"openEMSstim: short write ({n} of {len(data)} bytes)"
            raise StimulationError(self._error)
        self.written.append((t_s, data))
