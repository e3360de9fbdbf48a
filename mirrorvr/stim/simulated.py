"""A simulated stimulator: records what a device would have done, and when.

It models the stimulation path of ARCHITECTURE.md ("The sync idea",
:class:`~mirrorvr.stim.path.StimPath`): command transport (with seeded jitter), device
latency, the envelope's rise to the motor threshold and the electromechanical delay.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mirrorvr.clock import Clock
from mirrorvr.config import DeviceLimits, SimulatedStimSettings
from mirrorvr.errors import StimulationError
from mirrorvr.stim.command import StimCommand
from mirrorvr.stim.path import StimPath

logger = logging.getLogger(__name__)


@dataclass
class SimulatedTrain:
    """What the simulated device did with one command (times on the session clock, s).

    Attributes
    ----------
    command : StimCommand
    sent_s : float
        When the governor sent it.
    device_start_s : float
        When the first pulse would leave the device (send + transport + jitter + device).
    predicted_onset_s : float or None
        Predicted contraction onset: device start + ramp time to the motor threshold +
        electromechanical delay. None if the train never reaches the motor threshold.
    planned_stop_s : float
        When the on-time runs out (device start + on-time).
    stopped_s : float or None
        When it stopped (None while it is still running).
    stop_reason : str or None
        ``"on_time_expired"``, ``"superseded"`` or the reason given to a stop call.
    """

    command: StimCommand
    sent_s: float
    device_start_s: float
    predicted_onset_s: float | None
    planned_stop_s: float
    stopped_s: float | None = None
    stop_reason: str | None = None


class SimulatedFault(StimulationError):
    """The error a simulated stimulator raises after :meth:`SimulatedStimulator.inject_fault`."""


class SimulatedStimulator:
    """A thread-safe model of a stimulator that records every train.

    Parameters
    ----------
    clock : Clock
        The session clock (used to resolve on-time expiry).
    path : StimPath, optional
        Transport (jitter drawn uniformly from ``[0, transport_jitter_s]``), device latency
        and electromechanical delay, s; default: the configuration's defaults.
    n_channels : int
        Number of outputs (when ``capabilities`` is not given).
    seed : int
        Seed of the jitter generator.
    motor_threshold_ma : mapping of channel -> mA, optional
        Motor thresholds used to predict the contraction onset along the envelope; a
        channel without one is predicted to contract at the first pulse (+ EMD).
    capabilities : DeviceLimits, optional
        The device this one stands in for (the session passes its configured hard limits);
        default: the default hard limits with ``n_channels`` outputs.
    """

    def __init__(
        self,
        clock: Clock,
        path: StimPath | None = None,
        *,
        n_channels: int = 4,
        seed: int = 0,
        motor_threshold_ma: Mapping[int, float] | None = None,
        capabilities: DeviceLimits | None = None,
    ) -> None:
        if capabilities is None:
            if n_channels < 1:
                raise StimulationError(f"n_channels: {n_channels!r} must be >= 1")
            capabilities = DeviceLimits(model="simulated", n_channels=n_channels)
        self.clock = clock
        self.path = path or StimPath.from_settings(SimulatedStimSettings())
        self.capabilities = capabilities
        self.n_channels = int(capabilities.n_channels)
        self.motor_threshold_ma = dict(motor_threshold_ma or {})
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._trains: list[SimulatedTrain] = []
        self._active: dict[int, SimulatedTrain] = {}
        self._fault: Exception | None = None
        self._fault_persistent = False
        self._fault_on: frozenset[str] = frozenset()
        self._closed = False

    # ------------------------------------------------------------------ faults

    def inject_fault(
        self,
        error: Exception | None = None,
        persistent: bool = False,
        on: tuple[str, ...] = ("send",),
    ) -> None:
        """Make the next call(s) named in ``on`` ("send", "stop_channel", "stop_all",
        "check") raise.

        With ``persistent`` the device stays broken (e.g. a lost connection) until
        :meth:`clear_fault`; otherwise only the first matching call fails.
        """
        with self._lock:
            self._fault = error if error is not None else SimulatedFault(
                "simulated stimulator: device error reply"
            )
            self._fault_persistent = persistent
            self._fault_on = frozenset(on)

    def clear_fault(self) -> None:
        """Repair the simulated device."""
        with self._lock:
            self._fault = None
            self._fault_on = frozenset()

    def _maybe_fail(self, call: str) -> None:
        # called with the lock held
        if self._closed:
            raise SimulatedFault(f"simulated stimulator: {call} after close")
        if self._fault is not None and call in self._fault_on:
            err = self._fault
            if not self._fault_persistent:
                self._fault = None
                self._fault_on = frozenset()
            raise err

    # ------------------------------------------------------------------ driver API

    def send(self, cmd: StimCommand, t_s: float) -> float | None:
        """Start (or replace) a train on ``cmd.channel``; return the predicted onset, s."""
        with self._lock:
            self._maybe_fail("send")
            if not 0 <= cmd.channel < self.n_channels:
                raise SimulatedFault(
                    f"simulated stimulator: channel {cmd.channel} does not exist "
                    f"(0..{self.n_channels - 1})"
                )
            self._expire(t_s)
            previous = self._active.pop(cmd.channel, None)
            jitter_s = float(self._rng.uniform(0.0, self.path.transport_jitter_s))
            start_s = t_s + self.path.output_delay_s + jitter_s
            if previous is not None:
                self._finish(previous, min(start_s, previous.planned_stop_s), "superseded")
            onset_s = cmd.contraction_onset_s(
                start_s, self.motor_threshold_ma.get(cmd.channel, 0.0),
                self.path.electromechanical_delay_s,
            )
            train = SimulatedTrain(
                command=cmd,
                sent_s=t_s,
                device_start_s=start_s,
                predicted_onset_s=onset_s,
                planned_stop_s=start_s + cmd.on_time_s,
            )
            self._trains.append(train)
            self._active[cmd.channel] = train
            logger.debug("simulated send ch%d %.1f mA at %.4f s",
                         cmd.channel, cmd.amplitude_ma, t_s)
            return onset_s

    def stop_channel(self, channel: int, t_s: float, reason: str) -> None:
        """Stop the train on ``channel`` (if any) at ``t_s``."""
        with self._lock:
            self._maybe_fail("stop_channel")
            self._expire(t_s)
            train = self._active.pop(channel, None)
            if train is not None:
                self._finish(train, t_s, reason)

    def stop_all(self, t_s: float, reason: str) -> None:
        """Stop every channel at ``t_s``."""
        with self._lock:
            self._maybe_fail("stop_all")
            self._expire(t_s)
            for train in self._active.values():
                self._finish(train, t_s, reason)
            self._active.clear()

    def check(self, t_s: float) -> None:
        """Raise :class:`SimulatedFault` if a fault was injected on "check" (a lost link)."""
        with self._lock:
            self._maybe_fail("check")

    def close(self) -> None:
        """Switch every channel off and refuse every later call (idempotent)."""
        with self._lock:
            if self._closed:
                return
            now = self.clock.now()
            self._expire(now)
            for train in self._active.values():
                self._finish(train, now, "close")
            self._active.clear()
            self._closed = True

    # ------------------------------------------------------------------ inspection

    def trains(self) -> list[SimulatedTrain]:
        """Copies of every train so far; expired ones are marked as of ``clock.now()``."""
        with self._lock:
            self._expire(self.clock.now())
            return [dataclasses.replace(t) for t in self._trains]

    def active_channels(self, t_s: float | None = None) -> list[int]:
        """Channels with a train running at ``t_s`` (default now)."""
        with self._lock:
            self._expire(self.clock.now() if t_s is None else t_s)
            return sorted(self._active)

    def _expire(self, t_s: float) -> None:
        for channel, train in list(self._active.items()):
            if train.planned_stop_s <= t_s:
                self._finish(train, train.planned_stop_s, "on_time_expired")
                del self._active[channel]

    @staticmethod
    def _finish(train: SimulatedTrain, t_s: float, reason: str) -> None:
        train.stopped_s = t_s
        train.stop_reason = reason
