"""Patient profiles for tests: every fact of a person stated, as a therapist's profile would.

SAFETY.md 12: a profile has no defaults for a person. Tests that need a profile say what they
need (channels, screening) and get the rest stated here explicitly.
"""

from mirrorvr.config import PatientProfile, Screening


def patient_profile(**fields) -> PatientProfile:
    """A right transradial test patient, screened without contraindications, with ``fields``
    (e.g. ``stim_channels=...``, ``screening=...``) replacing any of those."""
    stated = {"pseudonym": "sub-test01", "amputated_side": "right",
              "amputation_level": "transradial", "screening": Screening()}
    return PatientProfile(**(stated | fields))
