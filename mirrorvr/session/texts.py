"""What the patient reads: cue texts from the profile's limb and sides.

Every text a block shows comes from here, so that a left transtibial amputee reads about
their foot and their left side, and a right transradial amputee about their hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from mirrorvr.movements import REST, movement_limb

#: The instruction for each movement class (the limb's own words).
MOVEMENT_TEXT = {
    "hand_open": "Open your hand",
    "hand_close": "Close your hand",
    "wrist_flexion": "Bend your wrist down",
    "wrist_extension": "Bend your wrist up",
    "pronation": "Turn your palm down",
    "supination": "Turn your palm up",
    "radial_deviation": "Tilt your hand towards the thumb",
    "ulnar_deviation": "Tilt your hand towards the little finger",
    "power_grasp": "Grasp firmly",
    "pinch": "Pinch thumb and index finger",
    "key_grip": "Press your thumb on the side of your index finger",
    "point": "Point with your index finger",
    "ankle_dorsiflexion": "Pull your foot up",
    "ankle_plantarflexion": "Point your foot down",
    "ankle_inversion": "Turn your sole inwards",
    "ankle_eversion": "Turn your sole outwards",
    "toe_flexion": "Curl your toes",
    "toe_extension": "Lift your toes",
    "knee_extension": "Straighten your knee",
    "knee_flexion": "Bend your knee",
}


@dataclass(frozen=True)
class PatientTexts:
    """Texts for one patient: ``affected``/``intact`` sides, ``limb`` and the part the
    virtual limb ends in (``"hand"``, ``"foot"``; ``"leg"`` for knee movements)."""

    affected: str
    intact: str
    limb: str

    @property
    def part(self) -> str:
        return "hand" if self.limb == "upper" else "foot"

    def movement(self, movement: str) -> str:
        """The instruction for ``movement`` ("Open your hand", "Pull your foot up")."""
        if movement == REST:
            return f"Relax your {self.part}"
        return MOVEMENT_TEXT.get(movement, movement.replace("_", " "))

    def _part_of(self, movement: str) -> str:
        if movement.startswith("knee"):
            return "leg"
        return "hand" if movement_limb(movement) == "upper" else "foot"

    def phantom(self, movement: str) -> str:
        """A phantom-limb instruction: "Open your hand with your phantom hand"."""
        return f"{self.movement(movement)} with your phantom {self._part_of(movement)}"

    def imagery(self, movement: str) -> str:
        """An imagery instruction: imagine it, do not move."""
        return (f"Imagine: {self.movement(movement).lower()} with your phantom "
                f"{self._part_of(movement)} (do not move)")

    def mirror(self, movement: str) -> str:
        """A mirror instruction: move the intact part, watch the reflection."""
        return (f"{self.movement(movement)} ({self.intact} {self._part_of(movement)}) - "
                f"watch the {self.affected}")

    @property
    def mirror_watch(self) -> str:
        return f"Watch your {self.affected} {self.part}"

    @property
    def intact_calibration(self) -> str:
        """While the intact side's EMG decoder is calibrated (a mirror block's first cues)."""
        return (f"Calibrating: do each movement with your {self.intact} {self.part} as the "
                "hands show it")

    @property
    def relax(self) -> str:
        return "Relax"

    @property
    def neutral(self) -> str:
        surface = "on the table" if self.limb == "upper" else "on the floor"
        return f"Rest your {self.intact} {self.part} flat {surface} and keep it still"

    @property
    def calibration(self) -> str:
        return f"Do each movement with your phantom {self.part} when it is shown"
