"""What the decoder says the patient is attempting."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Intent:
    """One decoder decision.

    Attributes
    ----------
    t_s : float
        Session time of the last sample in the decided window, s.
    movement : str
        Movement class name (see :mod:`mirrorvr.movements`).
    level : float
        Proportional level in [0, 1] (0 = rest, 1 = maximum voluntary contraction).
    confidence : float
        Classifier probability of ``movement`` in [0, 1].
    """

    t_s: float
    movement: str
    level: float
    confidence: float
