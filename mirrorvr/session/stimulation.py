"""The session's stimulation path: from a planned onset to trains through the governor.

Arming (SAFETY.md 10, 12), the trust gate for decoded EMG (14), the refractory rule, the
schedule on presentation timestamps, and what every governor event means for the session:
the dose log in the recording (11), the ledger of delivered and cut trains (9), and the
blanking of every pulse from the EMG the decoder and the quality checks read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

from mirrorvr.config import SessionConfig
from mirrorvr.errors import StimulationError
from mirrorvr.session.plan import PlannedMovement
from mirrorvr.session.stim_gate import StimulationGate
from mirrorvr.stim.dose import DoseLedger
from mirrorvr.stim.prescription import commands_for, slowest_path_latency_s

log = logging.getLogger(__name__)

#: Time allowed for the control thread to hand a command to the timing thread, s.
SCHEDULING_MARGIN_S = 0.005
#: Blanked after each EMS pulse on top of the pulse, the transport jitter and the blanker's
#: own margins (1 ms before, 5 ms after): the amplifier's recovery from the pulse, s.
STIM_BLANK_MARGIN_S = 0.005


class StimulationPath:
    """Everything between a block's onset and the governor, for one session.

    Parameters
    ----------
    config : SessionConfig
        With its patient resolved.
    governor, scheduler
        The session's safety governor and sync scheduler.
    gate : StimulationGate
    quality
        The EMG quality tracker (pulses are blanked from its checks).
    dose_log : callable(StimEvent)
        Records each governor event (the recording's ``stimulation`` stream).
    """

    def __init__(self, config: SessionConfig, governor, scheduler, gate: StimulationGate,
                 quality, dose_log: Callable) -> None:
        self.config, self.stim, self.patient = config, config.stim, config.patient
        self.governor, self.scheduler, self.gate = governor, scheduler, gate
        self.quality, self.dose_log = quality, dose_log
        self.ledger = DoseLedger()
        self.armed = False
        self.note = ""
        self.skipped = 0
        self.blanked_pulses = 0
        self.decoder = None  # set when a calibration trained one: pulses are blanked from it
        #: every pulse sent before a decoder was trained: (first, last) s (calibration EMG)
        self.pulses_before_decoder: list[tuple[float, float]] = []
        self._last_train_s: dict[int, float] = {}

    # ------------------------------------------------------------------ arming

    def arm(self, refusal: str | None) -> None:
        """Arm unless ``refusal`` (or the profile, or the governor) says why not."""
        if not self.stim.enabled:
            self.note = "disabled in the configuration"
            return
        refusal = refusal or untitrated_refusal(self.stim, self.patient)
        if refusal:
            self.note = f"not armed: {refusal}"
            log.warning("stimulation %s", self.note)
            return
        try:
            self.governor.arm()
        except StimulationError as err:
            self.note = f"not armed: {err}"
            log.warning("stimulation %s", self.note)
            return
        self.armed, self.note = True, "armed"

    def path_latency_s(self, fast_rise: bool | None = None) -> float:
        """The slowest send-to-contraction path in use, with jitter and margin, s (0 when
        stimulation is off). ``fast_rise``: as it would be with (True) or without (False)
        the two-slope rise (SAFETY.md 6); None: as configured."""
        if not self.stim.enabled:
            return 0.0
        stim = self.stim
        if fast_rise is not None:
            stim = stim.model_copy(update={"fast_rise_below_motor_threshold": fast_rise})
        # the jitter is uniform in [0, transport_jitter_s]: allow all of it
        return (slowest_path_latency_s(stim, self.patient) + stim.transport_jitter_s
                + SCHEDULING_MARGIN_S)

    # ------------------------------------------------------------------ onsets

    def on_onset(self, entry: PlannedMovement) -> None:
        """Schedule the trains that should start with ``entry``'s seen movement."""
        if not self.armed:
            return
        held = self.gate.hold(entry.source)
        if held:  # SAFETY.md 14: not from a signal we cannot trust
            entry.stim_note = held
            return
        proposed, untitrated = commands_for(entry.movement, entry.onset_s, self.stim,
                                            self.patient)
        self.skipped += len(untitrated)
        commands = []
        for cmd in proposed:
            last = self._last_train_s.get(cmd.channel)
            if last is not None and entry.onset_s - last < self.stim.refractory_s:
                self.skipped += 1
                continue
            self._last_train_s[cmd.channel] = entry.onset_s
            commands.append(cmd)
        if not commands:
            return
        entry.stim_channels = tuple(c.channel for c in commands)
        entry.stim = self.scheduler.schedule(entry.onset_s, commands)

    def stop_all(self, reason: str) -> None:
        """Cancel every pending train and switch every channel off (armed stays armed)."""
        if not self.armed:
            return
        self.scheduler.cancel_all(reason)
        self.all_off(reason)

    def all_off(self, reason: str) -> None:
        try:
            self.governor.all_off(reason)
        except StimulationError as err:  # a fault: recorded by the governor
            log.error("all channels off failed: %s", err)

    # ------------------------------------------------------------------ governor events

    def on_event(self, event) -> None:
        """Every governor event: the ledger, the dose log, and blanking for trains sent."""
        self.ledger.add(event)
        self.dose_log(event)
        if event.kind == "sent":
            self._blank_train(event.detail)

    def _blank_train(self, d: dict) -> None:
        """A train's pulses are blanked from the decoder's EMG and the quality checks. The
        first pulse leaves the device transport + device latency after the send (+ up to
        the transport jitter, which the blanking covers)."""
        stim = self.stim
        first_s = d["start_s"] + stim.transport_latency_s + stim.device_latency_s
        n = math.ceil(d["on_time_s"] * d["frequency_hz"] - 1e-9)
        after_s = 2e-6 * d["pulse_width_us"] + stim.transport_jitter_s + STIM_BLANK_MARGIN_S
        pulses = [float(p) for p in first_s + np.arange(n) / d["frequency_hz"]]
        for pulse_s in pulses:  # an artefact is not an electrode problem
            self.quality.blank(pulse_s, pulse_s + after_s)
        decoder = self.decoder
        if decoder is None:
            # before training: kept for the calibration EMG, blanked from it before training
            self.pulses_before_decoder.extend((p, p + after_s) for p in pulses)
        if decoder is None or not stim.blank_emg:  # off: for comparisons
            return
        for pulse_s in pulses:
            decoder.blank(pulse_s, pulse_s + after_s)
        self.blanked_pulses += n

    # ------------------------------------------------------------------ results

    def cut_short(self, entry: PlannedMovement) -> bool:
        """Whether any train of ``entry`` was cut short (SAFETY.md 9: not in sync)."""
        return any(r.actual_send_s is not None
                   and self.ledger.is_cut_short(r.command.channel, r.actual_send_s)
                   for r in entry.stim)

    def summary(self, state_at_end: str, estops: int) -> dict:
        from collections import Counter

        counts = Counter(r.status for r in self.scheduler.records())
        return {
            "state": self.note if not self.armed else state_at_end,
            "sent": counts.get("sent", 0),
            "refused": counts.get("refused", 0),
            "late": counts.get("late", 0),
            "blocked": counts.get("failed", 0),  # not armed (e-stop) or driver fault
            "skipped": self.skipped,
            "emergency_stops": estops,
            "pulses_blanked_from_decoder": self.blanked_pulses,
            **self.ledger.summary(),
            "held_by_safety_gate": dict(self.gate.held),
        }


def untitrated_refusal(stim, patient) -> str:
    """Why no movement could ever stimulate with this profile ("" when one can): none of
    the channels ``stim.movement_channels`` maps has a titrated motor threshold and maximum."""
    if any(commands_for(m, 0.0, stim, patient)[0] for m in stim.movement_channels):
        return ""
    mapped = sorted({ch for chans in stim.movement_channels.values() for ch in chans})
    return (f"patient {patient.pseudonym} has no titrated channel among the mapped "
            f"channels {mapped} (stim.movement_channels): titrate with 'mirrorvr stim "
            "titrate' first")
