"""The stimulation path's latencies: from a command's send to the start of the contraction.

ARCHITECTURE.md ("The sync idea"): a command reaches the muscle after the command transport
(plus its jitter), the device's own latency, the envelope's rise to the motor threshold and
the electromechanical delay (≈ 17 ms for evoked contractions, REFERENCES.md). The scheduler's
send times, the drivers' predicted onsets and the session's artefact blanking all use one
:class:`StimPath`, built from the configuration: :class:`~mirrorvr.config.StimSettings` holds
the only defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mirrorvr.config import StimSettings
from mirrorvr.errors import ConfigError


@dataclass(frozen=True)
class StimPath:
    """Latencies of the stimulation path, s.

    Attributes
    ----------
    transport_latency_s : float
        Host send to the device receiving the command.
    transport_jitter_s : float
        Extra transport delay, uniform in ``[0, transport_jitter_s]`` (not in
        :meth:`latency_s`; the session allows for it in its presentation delay).
    device_latency_s : float
        Device receipt to its first pulse.
    electromechanical_delay_s : float
        The envelope crossing the motor threshold to the muscle contracting.
    """

    transport_latency_s: float
    transport_jitter_s: float
    device_latency_s: float
    electromechanical_delay_s: float

    def __post_init__(self) -> None:
        for name in ("transport_latency_s", "transport_jitter_s", "device_latency_s",
                     "electromechanical_delay_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"stimulation path {name}: {value!r} (allowed: a finite "
                                  "number >= 0, s)")

    @classmethod
    def from_settings(cls, settings: StimSettings) -> StimPath:
        """The path the configuration describes."""
        return cls(settings.transport_latency_s, settings.transport_jitter_s,
                   settings.device_latency_s, settings.electromechanical_delay_s)

    @property
    def output_delay_s(self) -> float:
        """Send to the device's first pulse, s (transport + device; jitter not included)."""
        return self.transport_latency_s + self.device_latency_s

    def latency_s(self, rise_to_threshold_s: float) -> float:
        """Send to the contraction's start, s: transport + device + the envelope's rise to
        the motor threshold + electromechanical delay (jitter not included)."""
        return self.output_delay_s + rise_to_threshold_s + self.electromechanical_delay_s
