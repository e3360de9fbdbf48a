"""The movement-class vocabulary shared by the limb, the EMG decoder and stimulation.

Names follow REFERENCES.md (forearm classes). ``rest`` is a class of its own.
"""

from __future__ import annotations

from mirrorvr.errors import ConfigError

REST = "rest"
HAND_OPEN = "hand_open"
HAND_CLOSE = "hand_close"
WRIST_FLEXION = "wrist_flexion"
WRIST_EXTENSION = "wrist_extension"
PRONATION = "pronation"
SUPINATION = "supination"

#: Every upper-limb movement class mirrorvr knows, in a fixed order.
UPPER_LIMB_MOVEMENTS: tuple[str, ...] = (
    REST,
    HAND_OPEN,
    HAND_CLOSE,
    WRIST_FLEXION,
    WRIST_EXTENSION,
    PRONATION,
    SUPINATION,
)

#: The classes the demo calibrates and decodes (issue 2's set).
DEMO_MOVEMENTS: tuple[str, ...] = (REST, HAND_OPEN, HAND_CLOSE, WRIST_FLEXION, WRIST_EXTENSION)


def check_movement(name: str, allowed: tuple[str, ...] = UPPER_LIMB_MOVEMENTS) -> str:
    """Return ``name`` if it is a known movement class, else raise :class:`ConfigError`."""
    if name not in allowed:
        raise ConfigError(
            f"movement: {name!r} is not a known movement class (allowed: {list(allowed)})"
        )
    return name
