"""EMG acquisition and decoding. Pure numpy/scipy except the BrainFlow edge module.

Importing this package imports neither brainflow nor scikit-learn; the BrainFlow source
lives in :mod:`mirrorvr.emg.brainflow_source` and sklearn is loaded when a classifier is made.

Pieces: :mod:`~mirrorvr.emg.source` (EmgChunk, EmgSource), :mod:`~mirrorvr.emg.simulator`
(SimulatedPatient), :mod:`~mirrorvr.emg.brainflow_source` (BrainFlowSource),
:mod:`~mirrorvr.emg.playback` (PlaybackSource: XDF recordings and BrainFlow files),
:mod:`~mirrorvr.emg.filters`, :mod:`~mirrorvr.emg.windowing`, :mod:`~mirrorvr.emg.features`,
:mod:`~mirrorvr.emg.classifier`, :mod:`~mirrorvr.emg.model` (DecoderModel, the fitted model),
:mod:`~mirrorvr.emg.model_io` (its file), :mod:`~mirrorvr.emg.decoder` (Decoder, streaming),
:mod:`~mirrorvr.emg.calibration` (train_decoder) and :mod:`~mirrorvr.emg.realtime_tests`
(Motion Test, TAC test). The OpenBCI Cyton twin the tests run BrainFlow's unchanged driver
against lives outside the package, in ``emulators/cyton.py``.
"""

from mirrorvr.emg.calibration import (
    CalibrationRecording,
    CalibrationReport,
    CueSegment,
    cue_schedule,
    simulate_calibration,
    train_decoder,
)
from mirrorvr.emg.classifier import Classifier, MajorityVote, make_classifier
from mirrorvr.emg.decoder import Decoder
from mirrorvr.emg.features import FEATURES, HUDGINS, extract_features
from mirrorvr.emg.filters import EmgFilter
from mirrorvr.emg.intent import Intent
from mirrorvr.emg.model import DecoderModel
from mirrorvr.emg.playback import PlaybackSource
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.emg.source import EmgChunk, EmgSource
from mirrorvr.emg.windowing import SlidingWindower, sliding_windows

__all__ = [
    "CalibrationRecording", "CalibrationReport", "Classifier", "CueSegment", "Decoder",
    "DecoderModel", "EmgChunk", "EmgFilter", "EmgSource", "FEATURES", "HUDGINS", "Intent",
    "MajorityVote", "PlaybackSource", "SimulatedPatient", "SlidingWindower", "cue_schedule",
    "extract_features", "make_classifier", "simulate_calibration", "sliding_windows",
    "train_decoder",
]
