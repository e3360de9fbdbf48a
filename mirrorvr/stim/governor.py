"""The safety governor: the one path from the session to a stimulator driver (SAFETY.md).

Every command is checked against the device's hard limits, the patient's titrated limits
and the current-density limit. A command outside any limit is refused with a
:class:`~mirrorvr.errors.SafetyLimitError` naming the limit, the value and the channel;
it is logged, emitted as a ``"refused"`` event and never clamped. Every train actually sent
and every stop is emitted as an event (the dose log, SAFETY.md item 11).

States::

    disarmed --arm()--> armed --emergency_stop()--> estopped --rearm()--> armed
                          |  --driver exception--> faulted  --rearm()--> armed
                          +--disarm()--> disarmed
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from mirrorvr.clock import Clock
from mirrorvr.config import DeviceLimits, PatientProfile, SimulatedStimSettings
from mirrorvr.errors import SafetyLimitError, StimulationError
from mirrorvr.stim.command import StimCommand
from mirrorvr.stim.driver import StimulatorDriver, missing_members
from mirrorvr.stim.ramp_rule import RampRule

logger = logging.getLogger(__name__)

#: Current-density guidance, mA r.m.s. per cm² (IEC 60601-2-10, REFERENCES.md).
MAX_CURRENT_DENSITY_MA_RMS_PER_CM2 = 2.0

#: The ``reason`` of a train that ran its whole on-time (every other stop cuts it short).
EXPIRED = "on_time_expired"

DISARMED = "disarmed"
ARMED = "armed"
ESTOPPED = "estopped"
FAULTED = "faulted"


@dataclass(frozen=True)
class StimEvent:
    """One entry of the stimulation log.

    Attributes
    ----------
    t_s : float
        Session time, s.
    kind : str
        ``"armed"``, ``"disarmed"``, ``"rearmed"``, ``"sent"``, ``"refused"``,
        ``"stopped"``, ``"all_off"``, ``"estop"`` or ``"fault"``.
    channel : int or None
        The channel concerned, if one.
    detail : dict
        Kind-specific fields. ``"sent"``: the command's fields, ``start_s``,
        ``planned_stop_s``, ``predicted_onset_s``. ``"stopped"``: the command's fields,
        ``start_s``, ``stop_s``, ``planned_stop_s``, ``reason``, ``cut_short`` (True unless
        the train ran its whole on-time: watchdog, e-stop, fault, stop, disarm) and
        ``duration_s`` (start -> stop as sent, s). ``"refused"``: ``limit``, ``value``,
        ``allowed``, ``message``.
    """

    t_s: float
    kind: str
    channel: int | None = None
    detail: dict = field(default_factory=dict)

    def to_json(self) -> str:
        """The event as one line of strict JSON (non-finite numbers become strings)."""
        return json.dumps(
            _jsonable({"t_s": self.t_s, "kind": self.kind, "channel": self.channel,
                       "detail": self.detail}),
            allow_nan=False, sort_keys=True,
        )


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if x is None or isinstance(x, bool | int | float | str):
        return x
    return repr(x)


@dataclass(frozen=True)
class SendReceipt:
    """What :meth:`SafetyGovernor.submit_receipt` did: send time and predicted onset, s."""

    sent_s: float
    predicted_onset_s: float | None


@dataclass
class _ActiveTrain:
    command: StimCommand
    start_s: float
    planned_stop_s: float


def _finite(x) -> bool:
    try:
        return math.isfinite(x)
    except TypeError:
        return False


class SafetyGovernor:
    """Checks every stimulation command and owns the only reference to the driver.

    Parameters
    ----------
    device : DeviceLimits
        Hard limits of the stimulator model.
    patient : PatientProfile
        Titrated per-channel limits, electrode areas and screening.
    driver : StimulatorDriver
        The device. Nothing else in the session may hold it.
    clock : Clock
        The session clock.
    on_event : callable, optional
        Receives every :class:`StimEvent` (the recorder's dose log).
    ramps : RampRule, optional
        How fast trains may rise and fall (SAFETY.md item 6); the session passes
        ``RampRule.from_settings(config.stim)``. Default: the default settings' rule (0.5 s
        comfort ramps, plain envelopes only).

    Raises
    ------
    SafetyLimitError
        If a patient limit is above a hard limit, a profiled channel does not exist, or a
        hard limit is beyond what the driver's device can do.
    StimulationError
        If ``driver`` lacks a member of the :class:`StimulatorDriver` interface.
    """

    def __init__(
        self,
        device: DeviceLimits,
        patient: PatientProfile,
        driver: StimulatorDriver,
        clock: Clock,
        on_event: Callable[[StimEvent], None] | None = None,
        *,
        ramps: RampRule | None = None,
    ) -> None:
        missing = missing_members(driver)
        if missing:
            raise StimulationError(
                f"stimulator driver {type(driver).__name__} lacks {', '.join(missing)} "
                "(the StimulatorDriver interface: n_channels, capabilities, send, "
                "stop_channel, stop_all, check, close)"
            )
        self.device = device
        self.patient = patient
        self.ramps = ramps or RampRule.from_settings(SimulatedStimSettings())
        self._driver = driver
        self.clock = clock
        self._on_event = on_event
        self._lock = threading.RLock()
        self._state = DISARMED
        self._active: dict[int, _ActiveTrain] = {}
        self._events: deque[StimEvent] = deque(maxlen=100_000)
        self.n_channels = min(int(device.n_channels), int(driver.n_channels))
        self.last_fault: str = ""
        self._link_lost = False
        self._released = False
        self._check_device_capabilities()
        self._check_patient_limits()

    # ------------------------------------------------------------------ construction checks

    def _check_device_capabilities(self) -> None:
        """The configured hard limits must lie within what the driver's device can do."""
        caps = self._driver.capabilities
        d = self.device
        pairs = (
            ("max_amplitude_ma", d.max_amplitude_ma, caps.max_amplitude_ma, "<="),
            ("max_pulse_width_us", d.max_pulse_width_us, caps.max_pulse_width_us, "<="),
            ("max_frequency_hz", d.max_frequency_hz, caps.max_frequency_hz, "<="),
            ("min_frequency_hz", d.min_frequency_hz, caps.min_frequency_hz, ">="),
            ("min_pulse_width_us", d.min_pulse_width_us, caps.min_pulse_width_us, ">="),
            ("max_on_time_s", d.max_on_time_s, caps.max_on_time_s, "<="),
            ("max_charge_per_phase_uc", d.max_charge_per_phase_uc,
             caps.max_charge_per_phase_uc, "<="),
            ("max_rms_current_ma", d.max_rms_current_ma, caps.max_rms_current_ma, "<="),
        )
        for name, value, cap, op in pairs:
            ok = value <= cap if op == "<=" else value >= cap
            if not ok:
                raise SafetyLimitError(
                    f"device {name} beyond the driver's own limit", value,
                    f"{op} {cap} (driver {caps.model!r})", None,
                )

    def _check_patient_limits(self) -> None:
        d = self.device
        for ch in self.patient.stim_channels:
            if not ch.channel < self.n_channels:
                raise SafetyLimitError(
                    "channel", ch.channel, f"0..{self.n_channels - 1} (device {d.model!r})",
                    ch.channel,
                )
            for name in ("sensory_threshold_ma", "motor_threshold_ma", "max_tolerated_ma"):
                value = getattr(ch, name)
                if value is not None and not value <= d.max_amplitude_ma:
                    raise SafetyLimitError(
                        f"patient {name} above hard max_amplitude_ma", value,
                        f"<= {d.max_amplitude_ma} mA (device {d.model!r})", ch.channel,
                    )

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> str:
        """``"disarmed"``, ``"armed"``, ``"estopped"`` or ``"faulted"``."""
        with self._lock:
            return self._state

    def events(self) -> list[StimEvent]:
        """The most recent events (up to 100 000), oldest first."""
        with self._lock:
            return list(self._events)

    def active_channels(self) -> list[int]:
        """Channels whose last train has not yet run out or been stopped, as the governor knows."""
        with self._lock:
            self._expire(self.clock.now())
            return sorted(self._active)

    def arm(self) -> None:
        """Allow stimulation.

        Raises
        ------
        StimulationError
            If the screening lists contraindications (SAFETY.md item 10), or the governor is
            estopped/faulted (use :meth:`rearm`).
        """
        with self._lock:
            if self._state in (ESTOPPED, FAULTED):
                raise StimulationError(
                    f"stimulation is {self._state}; the therapist must call rearm()"
                )
            self._arm("armed")

    def rearm(self) -> None:
        """Therapist action: arm again after an emergency stop or a fault (or from disarmed)."""
        with self._lock:
            self._arm("rearmed")

    def _arm(self, kind: str) -> None:
        screening = self.patient.screening
        if screening is None:  # SAFETY.md 10, 12: screening comes only from the profile
            self._refuse_arming(
                "not recorded", "a screening in the patient's profile",
                f"stimulation cannot be armed for {self.patient.pseudonym}: the profile has no "
                "screening ([patient.screening]); the therapist must record it first")
        contraindications = screening.contraindications()
        if contraindications:
            self._refuse_arming(
                contraindications, "none",
                f"stimulation cannot be armed for {self.patient.pseudonym}: contraindications "
                f"{', '.join(contraindications)}")
        # Arm only on a link that answers now; a loss latched earlier is then cleared, so
        # the next loss faults again (a stale latch would hide it).
        now = self.clock.now()
        try:
            self._driver.check(now)
        except Exception as err:  # noqa: BLE001 - any failure means "not connected"
            msg = f"stimulation cannot be {kind}: the device does not answer ({err!r})"
            logger.warning(msg)
            self._emit(StimEvent(now, "refused", None, {
                "limit": "link", "value": repr(err), "allowed": "a device that answers",
                "message": msg,
            }))
            raise StimulationError(msg) from err
        self._link_lost = False
        previous = self._state
        self._state = ARMED
        logger.info("stimulation %s (was %s)", kind, previous)
        self._emit(StimEvent(self.clock.now(), kind, None, {"previous_state": previous}))

    def _refuse_arming(self, value, allowed: str, message: str) -> None:
        logger.warning(message)
        self._emit(StimEvent(self.clock.now(), "refused", None, {
            "limit": "screening", "value": value, "allowed": allowed, "message": message,
        }))
        raise StimulationError(message)

    def disarm(self, reason: str = "disarmed") -> None:
        """Switch every channel off and stop accepting commands until :meth:`arm`."""
        with self._lock:
            self._stop_everything(reason)
            if self._state == ARMED:
                self._state = DISARMED
            self._emit(StimEvent(self.clock.now(), "disarmed", None, {"reason": reason}))

    def close(self, reason: str = "session end") -> None:
        """Switch every channel off, disarm and release the device (e.g. its serial port).

        Idempotent. The device is released even when switching off fails (that failure is
        a fault, recorded and re-raised after the release).
        """
        with self._lock:
            if self._released:
                return
            self._released = True
            try:
                self.disarm(reason)
            finally:
                try:
                    self._driver.close()
                except Exception as err:  # channels are already off or faulted
                    logger.error("releasing the stimulator failed: %r", err)

    # ------------------------------------------------------------------ commands

    def check(self, cmd: StimCommand) -> None:
        """Raise :class:`SafetyLimitError` if ``cmd`` breaks any limit (no state check, no send)."""
        d = self.device
        ch = cmd.channel
        if isinstance(ch, bool) or not isinstance(ch, int) or not 0 <= ch < self.n_channels:
            raise SafetyLimitError("channel", ch, f"an int in 0..{self.n_channels - 1}", None)

        def need(ok: bool, limit: str, value, allowed: str) -> None:
            if not ok:
                raise SafetyLimitError(limit, value, allowed, ch)

        for name in ("amplitude_ma", "pulse_width_us", "frequency_hz", "on_time_s",
                     "ramp_up_s", "ramp_down_s", "threshold_ma", "threshold_ramp_s"):
            value = getattr(cmd, name)
            need(_finite(value) and not isinstance(value, bool), name, value, "a finite number")
        a, pw, f = cmd.amplitude_ma, cmd.pulse_width_us, cmd.frequency_hz
        # 1. hard limits of the device
        need(a > 0, "amplitude_ma", a, "> 0 mA")
        need(a <= d.max_amplitude_ma, "max_amplitude_ma", a, f"<= {d.max_amplitude_ma} mA")
        need(pw > 0, "pulse_width_us", pw, "> 0 µs")
        need(pw >= d.min_pulse_width_us, "min_pulse_width_us", pw,
             f">= {d.min_pulse_width_us} µs")
        need(pw <= d.max_pulse_width_us, "max_pulse_width_us", pw, f"<= {d.max_pulse_width_us} µs")
        need(f >= d.min_frequency_hz, "min_frequency_hz", f, f">= {d.min_frequency_hz} Hz")
        need(f <= d.max_frequency_hz, "max_frequency_hz", f, f"<= {d.max_frequency_hz} Hz")
        q = cmd.charge_per_phase_uc
        need(q <= d.max_charge_per_phase_uc, "max_charge_per_phase_uc", q,
             f"<= {d.max_charge_per_phase_uc} µC")
        rms = cmd.rms_current_ma
        need(rms <= d.max_rms_current_ma, "max_rms_current_ma", rms,
             f"<= {d.max_rms_current_ma} mA r.m.s.")
        # 5. every command expires
        need(cmd.on_time_s > 0, "on_time_s", cmd.on_time_s, "> 0 s")
        need(cmd.on_time_s <= d.max_on_time_s, "max_on_time_s", cmd.on_time_s,
             f"<= {d.max_on_time_s} s")
        # 2. patient limits
        profile = self.patient.stim_channel(ch)
        need(profile is not None and profile.max_tolerated_ma is not None,
             "max_tolerated_ma (channel not titrated)", a,
             "a titrated maximum tolerated amplitude")
        need(a <= profile.max_tolerated_ma, "max_tolerated_ma", a,
             f"<= {profile.max_tolerated_ma} mA (patient {self.patient.pseudonym})")
        # 3. current density
        density = cmd.current_density_ma_per_cm2(profile.electrode_area_cm2)
        need(density <= MAX_CURRENT_DENSITY_MA_RMS_PER_CM2, "max_current_density_ma_rms_per_cm2",
             density, f"<= {MAX_CURRENT_DENSITY_MA_RMS_PER_CM2} mA r.m.s./cm² "
             f"(electrode {profile.electrode_area_cm2} cm²)")
        # 6. the envelope rises and falls no faster than the patient's motor threshold allows
        self.ramps.check(cmd, profile.motor_threshold_ma, d.min_ramp_s)

    def submit(self, cmd: StimCommand) -> None:
        """Check ``cmd`` and send it now. See :meth:`submit_receipt`."""
        self.submit_receipt(cmd)

    def submit_receipt(self, cmd: StimCommand) -> SendReceipt:
        """Check ``cmd`` and send it now; return when it was sent and the predicted onset.

        Raises
        ------
        SafetyLimitError
            If the command breaks a limit (nothing is sent).
        StimulationError
            If stimulation is not armed, or the driver failed (all channels are then off
            and the governor is ``"faulted"``).
        """
        with self._lock:
            now = self.clock.now()
            if self._state != ARMED:
                msg = f"stimulation is {self._state}; command on channel {cmd.channel} refused"
                logger.warning(msg)
                self._emit(StimEvent(now, "refused", _channel_or_none(cmd), {
                    "limit": "state", "value": self._state, "allowed": ARMED, "message": msg,
                    "command": cmd.to_dict(),
                }))
                raise StimulationError(msg)
            try:
                self.check(cmd)
                self._expire(now)
                self._check_channel_free(cmd.channel)
            except SafetyLimitError as err:
                logger.warning("stimulation refused: %s", err)
                self._emit(StimEvent(now, "refused", err.channel, {
                    "limit": err.limit, "value": err.value, "allowed": err.allowed,
                    "message": str(err), "command": cmd.to_dict(),
                }))
                raise
            try:
                predicted_onset_s = self._driver.send(cmd, now)
            except Exception as err:  # SAFETY.md item 9: any driver failure -> all off
                self._fault(now, f"driver error on send to channel {cmd.channel}: {err!r}")
                raise StimulationError(
                    f"stimulator fault while sending to channel {cmd.channel}: {err}; "
                    "all channels switched off"
                ) from err
            self._active[cmd.channel] = _ActiveTrain(cmd, now, now + cmd.on_time_s)
            detail = cmd.to_dict() | {
                "start_s": now, "planned_stop_s": now + cmd.on_time_s,
                "predicted_onset_s": predicted_onset_s,
            }
            self._emit(StimEvent(now, "sent", cmd.channel, detail))
            return SendReceipt(now, predicted_onset_s)

    def _check_channel_free(self, channel: int) -> None:
        """A channel plays one train at a time: replacing a running train would cut it off
        mid-envelope, a fall faster than SAFETY.md item 6 allows."""
        train = self._active.get(channel)
        if train is not None:
            raise SafetyLimitError(
                "train_running", train.planned_stop_s,
                f"a new train after the running one ends at {train.planned_stop_s:.3f} s "
                "(or stop_channel first)", channel,
            )

    # ------------------------------------------------------------------ stops

    def stop_channel(self, channel: int, reason: str) -> None:
        """Switch one channel off now."""
        with self._lock:
            now = self.clock.now()
            self._expire(now)
            try:
                self._driver.stop_channel(channel, now, reason)
            except Exception as err:
                self._fault(now, f"driver error on stop_channel({channel}): {err!r}")
                raise StimulationError(f"stimulator fault while stopping channel {channel}: "
                                       f"{err}") from err
            train = self._active.pop(channel, None)
            if train is not None:
                self._emit_stopped(train, now, reason)

    def all_off(self, reason: str) -> None:
        """Switch every channel off now; stay armed (the watchdog's action).

        Raises
        ------
        StimulationError
            If the driver failed to stop (the governor is then ``"faulted"``).
        """
        with self._lock:
            now = self.clock.now()
            logger.info("all channels off: %s", reason)
            self._emit(StimEvent(now, "all_off", None, {"reason": reason}))
            self._stop_everything(reason)

    def emergency_stop(self, reason: str = "emergency stop") -> bool:
        """Stop every channel at once; refuse commands until the therapist calls :meth:`rearm`.

        Never raises: an e-stop must work from any screen, even with a broken device. If the
        driver cannot confirm the stop, a ``"fault"`` event records it (``all_off_ok``
        False) and False is returned; the governor stays ``"estopped"``.
        """
        with self._lock:
            now = self.clock.now()
            self._state = ESTOPPED
            logger.warning("EMERGENCY STOP: %s", reason)
            self._emit(StimEvent(now, "estop", None, {"reason": reason}))
            try:
                self._stop_everything(reason)
            except StimulationError:
                logger.critical("emergency stop could not be confirmed by the driver")
                return False
            return True

    def _stop_everything(self, reason: str) -> None:
        now = self.clock.now()
        self._expire(now)
        try:
            self._driver.stop_all(now, reason)
        except Exception as err:
            self._fault(now, f"driver error on stop_all ({reason}): {err!r}")
            raise StimulationError(f"stimulator fault while stopping all channels: {err}") from err
        for train in self._active.values():
            self._emit_stopped(train, now, reason)
        self._active.clear()

    def _fault(self, now: float, message: str) -> None:
        """A driver failed: try to switch all off, enter ``"faulted"``, emit a fault event."""
        if self._state != ESTOPPED:
            self._state = FAULTED
        self.last_fault = message
        logger.error("stimulation fault: %s", message)
        stop_ok = True
        try:
            self._driver.stop_all(now, "fault")
        except Exception as err:
            stop_ok = False
            logger.critical("could not stop all channels after a fault: %r", err)
        self._emit(StimEvent(now, "fault", None, {"message": message, "all_off_ok": stop_ok}))
        for train in self._active.values():
            self._emit_stopped(train, now, "fault" if stop_ok else "fault (stop unconfirmed)")
        self._active.clear()

    def poll(self) -> None:
        """Emit ``"stopped"`` events for trains whose on-time has run out, and check the link.

        The driver is asked whether the device is still there (connection, error replies);
        if its ``check`` raises, that is a fault (SAFETY.md item 9): all channels off,
        ``"faulted"``. Faults found here are recorded, not raised.
        """
        with self._lock:
            now = self.clock.now()
            self._expire(now)
            try:
                self._driver.check(now)
            except Exception as err:  # SAFETY.md item 9: lost connection, error reply
                if not self._link_lost:  # one fault per loss, not one per poll
                    self._link_lost = True
                    self._fault(now, f"driver health check failed: {err!r}")
            else:
                self._link_lost = False

    def _expire(self, now: float) -> None:
        for channel, train in list(self._active.items()):
            if train.planned_stop_s <= now:
                del self._active[channel]
                self._emit_stopped(train, train.planned_stop_s, EXPIRED)

    def _emit_stopped(self, train: _ActiveTrain, stop_s: float, reason: str) -> None:
        # SAFETY.md item 9: a train stopped for any reason but its own expiry is cut short;
        # no summary may count it as delivered
        self._emit(StimEvent(stop_s, "stopped", train.command.channel, train.command.to_dict() | {
            "start_s": train.start_s, "stop_s": stop_s, "planned_stop_s": train.planned_stop_s,
            "reason": reason, "cut_short": reason != EXPIRED,
            "duration_s": stop_s - train.start_s,
        }))

    def set_event_listener(self, on_event: Callable[[StimEvent], None] | None) -> None:
        """Send every later :class:`StimEvent` to ``on_event`` (replacing the previous one)."""
        with self._lock:
            self._on_event = on_event

    def _emit(self, event: StimEvent) -> None:
        self._events.append(event)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # the dose log must not break the safety path; it is logged
                logger.exception("on_event handler failed for %s event", event.kind)


def _channel_or_none(cmd: StimCommand) -> int | None:
    ch = cmd.channel
    return ch if isinstance(ch, int) and not isinstance(ch, bool) else None

