"""Per-patient appearance of the limbs, as plain data (no OpenGL): size, skin tone, residual.

Size comes from a few measurements (any may be omitted): each scales its segment along the
segment and ``girth_scale`` scales across it (see :func:`mirrorvr.limb.kinematics.joint_matrices`
for how ``joint_scales`` deform the skin). The amputation level says where the residual limb
ends on the affected side; ``residual`` chooses how the parts are drawn:

* ``"identical"``: residual and virtual part drawn as one limb (the default);
* ``"distinct"``: the virtual part beyond the amputation level is tinted, with a seam at the
  level, so patient and therapist see which part is virtual;
* ``"hidden"``: only the virtual part is drawn (the residual limb is the patient's own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.skeleton import (
    FOREARM_LENGTH_M,
    SHANK_LENGTH_M,
    THIGH_LENGTH_M,
    UPPER_ARM_LENGTH_M,
    check_limb,
    skeleton,
)

#: Hand length of the model (wrist crease to the middle fingertip), m.
MODEL_HAND_LENGTH_M = 0.191
#: Foot length of the model (heel to the tip of the big toe), m.
MODEL_FOOT_LENGTH_M = 0.273

#: Amputation levels -> (limb, distance of the cut from the root joint along the main chain, m).
AMPUTATION_LEVELS: dict[str, tuple[str, float]] = {
    "transhumeral": ("upper", 0.55 * UPPER_ARM_LENGTH_M),
    "transradial": ("upper", UPPER_ARM_LENGTH_M + 0.5 * FOREARM_LENGTH_M),
    "transfemoral": ("lower", 0.55 * THIGH_LENGTH_M),
    "transtibial": ("lower", THIGH_LENGTH_M + 0.4 * SHANK_LENGTH_M),
}
RESIDUAL_MODES: tuple[str, ...] = ("identical", "distinct", "hidden")

_RANGES_M = {  # plausible adult ranges of the measurements
    "upper_arm_length_m": (0.20, 0.40),
    "forearm_length_m": (0.18, 0.34),
    "hand_length_m": (0.14, 0.24),
    "thigh_length_m": (0.32, 0.56),
    "shank_length_m": (0.30, 0.54),
    "foot_length_m": (0.20, 0.32),
}


@dataclass(frozen=True)
class Appearance:
    """How one patient's limbs look.

    Attributes
    ----------
    skin_rgb : (3,) float
        Skin tone, sRGB 0..1.
    upper_arm_length_m, forearm_length_m, hand_length_m : float or None
        Shoulder-elbow, elbow-wrist and wrist crease-middle fingertip lengths, m.
    thigh_length_m, shank_length_m, foot_length_m : float or None
        Hip-knee, knee-ankle and heel-toe lengths, m.
    girth_scale : float
        Thickness of arm and leg segments relative to the model (0.7..1.5).
    amputation_level : str or None
        One of :data:`AMPUTATION_LEVELS`; None draws the whole affected limb as virtual.
    residual : str
        One of :data:`RESIDUAL_MODES`.
    """

    skin_rgb: tuple[float, float, float] = (0.87, 0.68, 0.56)
    upper_arm_length_m: float | None = None
    forearm_length_m: float | None = None
    hand_length_m: float | None = None
    thigh_length_m: float | None = None
    shank_length_m: float | None = None
    foot_length_m: float | None = None
    girth_scale: float = 1.0
    amputation_level: str | None = None
    residual: str = "identical"

    def __post_init__(self) -> None:
        rgb = np.asarray(self.skin_rgb, dtype=float)
        if rgb.shape != (3,) or not np.all((rgb >= 0) & (rgb <= 1)):
            raise ConfigError(f"skin_rgb: {self.skin_rgb!r} must be three values in [0, 1]")
        for name, (lo, hi) in _RANGES_M.items():
            value = getattr(self, name)
            if value is not None and not lo <= value <= hi:
                raise ConfigError(f"{name}: {value!r} m is outside [{lo}, {hi}] m")
        if not 0.7 <= self.girth_scale <= 1.5:
            raise ConfigError(f"girth_scale: {self.girth_scale!r} is outside [0.7, 1.5]")
        if self.amputation_level is not None and self.amputation_level not in AMPUTATION_LEVELS:
            raise ConfigError(
                f"amputation_level: {self.amputation_level!r} is not a level "
                f"(allowed: {list(AMPUTATION_LEVELS)} or None)"
            )
        if self.residual not in RESIDUAL_MODES:
            raise ConfigError(
                f"residual: {self.residual!r} is not a mode (allowed: {list(RESIDUAL_MODES)})"
            )

    def joint_scales(self, limb: str) -> np.ndarray:
        """Per-joint segment scales of ``limb`` for the kinematics, (n_joints, 3) float."""
        skel = skeleton("right", check_limb(limb))
        scales = np.ones((skel.n_joints, 3))
        g = self.girth_scale

        def segment(joint: str, length: float | None, model_length: float) -> None:
            along = 1.0 if length is None else length / model_length
            scales[skel.joint_index(joint)] = (g, g, along)

        def uniform(joints, length: float | None, model_length: float) -> None:
            k = 1.0 if length is None else length / model_length
            for j in joints:
                scales[skel.joint_index(j)] = k

        if limb == "upper":
            segment("upper_arm", self.upper_arm_length_m, UPPER_ARM_LENGTH_M)
            segment("forearm", self.forearm_length_m, FOREARM_LENGTH_M)
            segment("forearm_twist", self.forearm_length_m, FOREARM_LENGTH_M)
            hand = [
                n for n in skel.joint_names if n not in ("upper_arm", "forearm", "forearm_twist")
            ]
            uniform(hand, self.hand_length_m, MODEL_HAND_LENGTH_M)
        else:
            segment("thigh", self.thigh_length_m, THIGH_LENGTH_M)
            segment("shank", self.shank_length_m, SHANK_LENGTH_M)
            uniform(("foot", "toes"), self.foot_length_m, MODEL_FOOT_LENGTH_M)
        return scales

    def is_default_size(self, limb: str) -> bool:
        """True when no measurement changes ``limb``'s model."""
        return bool(np.all(self.joint_scales(limb) == 1.0))

    def virtual_from_m(self, limb: str) -> float | None:
        """Distance along ``limb``'s main chain where the virtual part begins, m.

        None when the amputation level is unset or belongs to the other limb (then the whole
        affected limb is virtual).
        """
        if self.amputation_level is None:
            return None
        level_limb, distal_m = AMPUTATION_LEVELS[self.amputation_level]
        return distal_m if level_limb == check_limb(limb) else None
