"""The interface every stimulator driver implements.

Only the :class:`~mirrorvr.stim.governor.SafetyGovernor` calls a driver (SAFETY.md).
A driver trusts that a command reaching it has been checked; it still must stop every
train by itself when the command's on-time runs out.
"""

from __future__ import annotations

from typing import Protocol

from mirrorvr.stim.command import StimCommand


class StimulatorDriver(Protocol):
    """A stimulator with ``n_channels`` outputs.

    ``send`` starts (or replaces) a train on ``cmd.channel`` and returns the predicted
    contraction onset on the session clock, s, if the driver models it, else ``None``.
    ``t_s`` is the session time at which the governor sends the command. Any failure
    (lost connection, write time-out, error reply) raises; the governor turns it into a
    fault that switches every channel off.
    """

    n_channels: int

    def send(self, cmd: StimCommand, t_s: float) -> float | None: ...

    def stop_channel(self, channel: int, t_s: float, reason: str) -> None: ...

    def stop_all(self, t_s: float, reason: str) -> None: ...
