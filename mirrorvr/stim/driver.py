"""The interface every stimulator driver implements.

Only the :class:`~mirrorvr.stim.governor.SafetyGovernor` calls a driver (SAFETY.md).
A driver trusts that a command reaching it has been checked; it still must stop every
train by itself when the command's on-time runs out.
"""

from __future__ import annotations

from typing import Protocol

from mirrorvr.config import DeviceLimits
from mirrorvr.stim.command import StimCommand

#: What the governor needs of a driver; it refuses (at construction) one that lacks any.
DRIVER_MEMBERS = ("n_channels", "capabilities", "send", "stop_channel", "stop_all", "check",
                  "close")


class StimulatorDriver(Protocol):
    """A stimulator with ``n_channels`` outputs.

    Attributes
    ----------
    n_channels : int
        Number of outputs (0-based channel numbers).
    capabilities : DeviceLimits
        What the device itself can deliver. The governor refuses configured hard limits
        beyond these when it is built (SAFETY.md item 1).

    ``send`` starts a train on ``cmd.channel`` and returns the predicted contraction onset
    on the session clock, s, if the driver models it, else ``None``. ``t_s`` is the session
    time at which the governor sends the command. ``check`` raises if the device is gone or
    has reported an error since the last check; ``close`` switches everything off (best
    effort) and releases the device (its port and its owner lock); it is idempotent. Any
    failure raises; the governor turns it into a fault that switches every channel off.
    """

    n_channels: int
    capabilities: DeviceLimits

    def send(self, cmd: StimCommand, t_s: float) -> float | None: ...

    def stop_channel(self, channel: int, t_s: float, reason: str) -> None: ...

    def stop_all(self, t_s: float, reason: str) -> None: ...

    def check(self, t_s: float) -> None: ...

    def close(self) -> None: ...


def missing_members(driver: object) -> list[str]:
    """The :class:`StimulatorDriver` members ``driver`` lacks (empty when it has them all)."""
    return [name for name in DRIVER_MEMBERS if not hasattr(driver, name)]
