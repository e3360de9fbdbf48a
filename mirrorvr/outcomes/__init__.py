"""Outcome instruments (definitions as data files, scoring, the patient's form), the
simulated course's pain trajectory, and the per-patient HTML report.

Importing this package imports neither matplotlib nor any GL library.
"""

from mirrorvr.outcomes.form import InstrumentForm, InstrumentResult, answer_form, keys_for_answers
from mirrorvr.outcomes.instrument import (
    Instrument,
    Item,
    ScoreRule,
    available_instruments,
    load_instrument,
)

__all__ = ["Instrument", "InstrumentForm", "InstrumentResult", "Item", "ScoreRule",
           "answer_form", "available_instruments", "keys_for_answers", "load_instrument"]
