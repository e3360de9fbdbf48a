"""The demo's simulated patient profile: the demo's own, never a default for a real person.

SAFETY.md 12: thresholds, electrode sites and areas and screening come only from a patient's
own profile. This profile exists so ``mirrorvr demo`` can run on the simulated stimulator;
the composition root uses it only when no profile was given and every device is simulated.
"""

from __future__ import annotations

from mirrorvr.config import PatientProfile, Screening, StimChannelProfile

#: The demo patient's pseudonym (session folders of the demo are filed under it).
DEMO_PSEUDONYM = "sub-demo01"


def demo_patient() -> PatientProfile:
    """A right transradial amputee with two titrated forearm channels (simulated)."""
    return PatientProfile(
        pseudonym=DEMO_PSEUDONYM,
        amputated_side="right",
        amputation_level="transradial",
        screening=Screening(),  # screened: no contraindication (the demo's record)
        stim_channels=(
            StimChannelProfile(channel=0, site="forearm flexors", electrode_area_cm2=20.0,
                               sensory_threshold_ma=6.0, motor_threshold_ma=14.0,
                               max_tolerated_ma=26.0),
            StimChannelProfile(channel=1, site="forearm extensors", electrode_area_cm2=20.0,
                               sensory_threshold_ma=5.0, motor_threshold_ma=12.0,
                               max_tolerated_ma=24.0),
        ),
    )
