"""The movement-class vocabulary shared by the limb, the EMG decoder and stimulation.

Names follow REFERENCES.md (forearm and lower-limb classes). ``rest`` is a class of its own
and belongs to both limbs.
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

# Further upper-limb classes (REFERENCES.md: deviation, pinch, point) and the grasps.
RADIAL_DEVIATION = "radial_deviation"
ULNAR_DEVIATION = "ulnar_deviation"
POWER_GRASP = "power_grasp"
PINCH = "pinch"
KEY_GRIP = "key_grip"
POINT = "point"

#: Every hand/wrist class the virtual limb can show (a superset of the decoder's classes).
HAND_MOVEMENTS: tuple[str, ...] = UPPER_LIMB_MOVEMENTS + (
    RADIAL_DEVIATION,
    ULNAR_DEVIATION,
    POWER_GRASP,
    PINCH,
    KEY_GRIP,
    POINT,
)

# Lower limb (REFERENCES.md).
ANKLE_DORSIFLEXION = "ankle_dorsiflexion"
ANKLE_PLANTARFLEXION = "ankle_plantarflexion"
ANKLE_INVERSION = "ankle_inversion"
ANKLE_EVERSION = "ankle_eversion"
TOE_FLEXION = "toe_flexion"
TOE_EXTENSION = "toe_extension"
KNEE_EXTENSION = "knee_extension"
KNEE_FLEXION = "knee_flexion"

#: Every lower-limb movement class, in a fixed order.
LOWER_LIMB_MOVEMENTS: tuple[str, ...] = (
    REST,
    ANKLE_DORSIFLEXION,
    ANKLE_PLANTARFLEXION,
    ANKLE_INVERSION,
    ANKLE_EVERSION,
    TOE_FLEXION,
    TOE_EXTENSION,
    KNEE_EXTENSION,
    KNEE_FLEXION,
)

#: Every class of either limb.
ALL_MOVEMENTS: tuple[str, ...] = HAND_MOVEMENTS + LOWER_LIMB_MOVEMENTS[1:]


def movement_limb(name: str) -> str:
    """``"upper"`` or ``"lower"``: the limb a movement class moves (``rest``: ``"upper"``)."""
    check_movement(name, ALL_MOVEMENTS)
    return "lower" if name in LOWER_LIMB_MOVEMENTS and name != REST else "upper"


#: The classes the demo calibrates and decodes (issue 2's set).
DEMO_MOVEMENTS: tuple[str, ...] = (REST, HAND_OPEN, HAND_CLOSE, WRIST_FLEXION, WRIST_EXTENSION)


def check_movement(name: str, allowed: tuple[str, ...] = UPPER_LIMB_MOVEMENTS) -> str:
    """Return ``name`` if it is a known movement class, else raise :class:`ConfigError`."""
    if name not in allowed:
        raise ConfigError(
            f"movement: {name!r} is not a known movement class (allowed: {list(allowed)})"
        )
    return name
