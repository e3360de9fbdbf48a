"""The one exception tree of mirrorvr.

Errors are raised where the cause is known and say what was expected and what was given.
Edge modules translate library errors into these (``raise AcquisitionError(...) from err``).
"""

from __future__ import annotations


class MirrorVRError(Exception):
    """Base of every error mirrorvr raises on purpose."""


class ConfigError(MirrorVRError, ValueError):
    """A configuration value is missing, malformed or out of range."""


class ResourceError(MirrorVRError):
    """A shader, model or other packaged file is missing or unreadable."""


class ModelError(ResourceError):
    """A limb model (.glb) is malformed: no skin, wrong joints, bad weights."""


class RenderError(MirrorVRError):
    """The window or OpenGL context could not be created or used."""


class ShaderError(RenderError):
    """A shader failed to compile or link, or a uniform is unknown."""


class AcquisitionError(MirrorVRError):
    """An EMG source failed: board not found, stream lost, bad data."""


class DecoderError(MirrorVRError):
    """The EMG decoder cannot be trained or used as asked."""


class StimulationError(MirrorVRError):
    """A stimulator or its driver failed, or stimulation is not armed."""


class SafetyLimitError(StimulationError):
    """A stimulation command was refused because it breaks a safety limit.

    Attributes
    ----------
    limit : str
        Name of the limit, e.g. ``"max_amplitude_ma"``.
    value : float
        The value that was asked for.
    allowed : str
        What the limit allows, e.g. ``"<= 40.0"``.
    channel : int or None
        The stimulation channel concerned, if any.
    """

    def __init__(self, limit: str, value: float, allowed: str, channel: int | None = None):
        self.limit = limit
        self.value = value
        self.allowed = allowed
        self.channel = channel
        where = f" on channel {channel}" if channel is not None else ""
        super().__init__(f"{limit}{where}: {value!r} is outside the limit (allowed {allowed})")


class RecordingError(MirrorVRError):
    """The session recording could not be written or read."""


class CatalogError(MirrorVRError):
    """The catalogue cannot be opened, or a write to it is refused (unknown patient, ...)."""


class InstrumentError(MirrorVRError, ValueError):
    """An outcome instrument's definition is malformed, or an answer is not allowed."""


class ExportError(MirrorVRError):
    """An export (BIDS, CSV) or a report cannot be written."""
