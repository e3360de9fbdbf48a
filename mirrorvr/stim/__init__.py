"""Stimulation: commands, the safety governor, the watchdog, the sync scheduler, drivers.

Only :class:`SafetyGovernor` holds a driver (SAFETY.md); :func:`open_governor` builds the
configured one behind it. Importing this package opens no port.
"""

from mirrorvr.stim.command import StimCommand, command_for
from mirrorvr.stim.driver import StimulatorDriver
from mirrorvr.stim.factory import build_stimulator, open_governor
from mirrorvr.stim.governor import SafetyGovernor, SendReceipt, StimEvent
from mirrorvr.stim.path import StimPath
from mirrorvr.stim.ramp_rule import RampRule
from mirrorvr.stim.scheduler import ScheduledStim, SyncScheduler, path_latency
from mirrorvr.stim.simulated import SimulatedFault, SimulatedStimulator, SimulatedTrain
from mirrorvr.stim.watchdog import Watchdog

__all__ = [
    "RampRule", "SafetyGovernor", "ScheduledStim", "SendReceipt", "SimulatedFault",
    "SimulatedStimulator", "SimulatedTrain", "StimCommand", "StimEvent", "StimPath",
    "StimulatorDriver", "SyncScheduler", "Watchdog", "build_stimulator", "command_for",
    "open_governor", "path_latency",
]
