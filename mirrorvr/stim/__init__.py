"""Stimulation: commands, the safety governor, the watchdog, the sync scheduler, drivers.

Only :class:`SafetyGovernor` holds a driver (SAFETY.md). Importing this package opens no port.
"""

from mirrorvr.stim.command import StimCommand, command_for
from mirrorvr.stim.driver import StimulatorDriver
from mirrorvr.stim.governor import SafetyGovernor, SendReceipt, StimEvent
from mirrorvr.stim.scheduler import ScheduledStim, SyncScheduler, path_latency
from mirrorvr.stim.simulated import SimulatedFault, SimulatedStimulator, SimulatedTrain
from mirrorvr.stim.watchdog import Watchdog

__all__ = [
    "SafetyGovernor", "ScheduledStim", "SendReceipt", "SimulatedFault", "SimulatedStimulator",
    "SimulatedTrain", "StimCommand", "StimEvent", "StimulatorDriver", "SyncScheduler",
    "Watchdog", "command_for", "path_latency",
]
