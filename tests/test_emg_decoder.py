"""Classifier, majority vote, calibration and the streaming decoder on the simulated patient."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirrorvr.clock import FakeClock
from mirrorvr.config import SimulatedEmgSettings, build_config
from mirrorvr.emg.calibration import (
    CalibrationRecording,
    CueSegment,
    cue_schedule,
    simulate_calibration,
    train_decoder,
    training_windows,
)
from mirrorvr.emg.classifier import MajorityVote, OnsetVote, make_classifier
from mirrorvr.emg.decoder import Decoder
from mirrorvr.emg.model import DecoderModel, mean_mav
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import ConfigError, DecoderError
from mirrorvr.movements import DEMO_MOVEMENTS

SETTINGS = SimulatedEmgSettings()  # 2 kHz, MAV WL ZC SSC, LDA, vote 5, 5 classes
W = round(SETTINGS.window_s * SETTINGS.sampling_rate_hz)  # samples per window
INC = round(SETTINGS.increment_s * SETTINGS.sampling_rate_hz)  # samples per increment


def _windows_in(n_samples: int) -> int:
    return (n_samples - W) // INC + 1


def _on_increments(intents, t0_s: float, fs: float = SETTINGS.sampling_rate_hz) -> list[bool]:
    """Whether each intent is an increment's (its window ends ``W - 1 + k * INC`` samples
    after the stream's first sample at ``t0_s``) rather than an onset found between two."""
    out = []
    for i in intents:
        k = ((i.t_s - t0_s) * fs - (W - 1)) / INC
        out.append(abs(k - round(k)) < 1e-6)
    return out


@pytest.fixture(scope="module")
def calibrated():
    clock = FakeClock(100.0)
    patient = SimulatedPatient(clock, seed=7)
    patient.start()
    cues = cue_schedule(SETTINGS.movements, repetitions=3, contract_s=3.0, rest_s=3.0)
    recording = simulate_calibration(patient, clock, cues, level=0.7)
    decoder, report = train_decoder(recording, SETTINGS)
    return clock, patient, recording, decoder, report


# ---------------------------------------------------------------- classifier and vote


def test_majority_vote():
    vote = MajorityVote(3)
    assert vote.process(["a", "b", "b", "a", "c", "a", "c", "c"]) == [
        "a", "b", "b", "b", "c", "a", "c", "c"]
    # ties go to the most recent of the tied labels
    vote = MajorityVote(4)
    assert vote.process(["a", "a", "b", "b"])[-1] == "b"
    assert MajorityVote(1).process(["x", "y"]) == ["x", "y"]
    with pytest.raises(ConfigError, match="majority_vote"):
        MajorityVote(0)


@given(st.integers(1, 6), st.lists(st.sampled_from("abcd"), max_size=60))
def test_majority_vote_equals_a_recount_of_the_last_n(n, labels):
    def recount(i):
        last = labels[max(0, i - n + 1):i + 1]
        best = max(last.count(c) for c in last)
        return next(c for c in reversed(last) if last.count(c) == best)

    vote = MajorityVote(n)
    assert vote.process(labels) == [recount(i) for i in range(len(labels))]
    vote.reset()
    assert vote.process(labels[:3]) == [recount(i) for i in range(min(3, len(labels)))]


def test_lda_on_collinear_features_without_warnings():
    rng = np.random.default_rng(0)
    y = np.repeat(["rest", "hand_open", "hand_close"], 30)
    base = rng.standard_normal((90, 3)) + 4.0 * (np.arange(90) // 30)[:, None]
    X = np.hstack([base, 2 * base, np.ones((90, 1))])  # duplicate and constant columns
    clf = make_classifier("lda").fit(X, y)  # pytest turns any warning into an error
    proba = clf.predict_proba(X)
    assert proba.shape == (90, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(clf.predict(X) == y) > 0.9


def test_classifier_errors():
    with pytest.raises(ConfigError, match="classifier: 'xgboost' is not known"):
        make_classifier("xgboost")
    clf = make_classifier()
    with pytest.raises(DecoderError, match="not trained"):
        clf.predict_proba(np.zeros((1, 3)))
    with pytest.raises(DecoderError, match="at least 2 classes"):
        clf.fit(np.zeros((4, 2)), ["rest"] * 4)


# ---------------------------------------------------------------- calibration


def test_calibration_report(calibrated):
    _, _, recording, decoder, report = calibrated
    assert report.cv_scheme == "leave-one-repetition-out"
    assert len(report.fold_accuracies) == 3
    assert report.classes == DEMO_MOVEMENTS
    assert report.confusion.shape == (5, 5)
    assert report.confusion.sum() == sum(report.n_windows.values())
    assert report.accuracy >= 0.85  # chance is 20 %
    # a 3 s cue keeps its middle 2.1 s (4200 samples); contractions add their onset windows
    kept = _windows_in(4200)
    assert report.n_windows["rest"] == 4 * 3 * kept
    assert report.n_windows["hand_open"] > 3 * kept
    assert decoder.model.is_fitted and set(decoder.model.classes_) == set(DEMO_MOVEMENTS)
    assert "window accuracy" in report.summary()


def test_training_windows_keep_the_middle(calibrated):
    _, _, recording, decoder, _ = calibrated
    w, labels, reps = training_windows(recording, decoder.model, keep_fraction=1.0,
                                       onset_active_s=None)
    assert w.shape[1:] == (8, W)
    assert np.sum(labels == "hand_open") == 3 * _windows_in(6000)
    assert set(reps.tolist()) == {0, 1, 2}
    with pytest.raises(ConfigError, match="keep_fraction"):
        training_windows(recording, decoder.model, keep_fraction=0.0)


def test_training_adds_each_contractions_onset_windows(calibrated):
    """The simulated patient starts each contraction at its cue: the onset found in the EMG
    is there, so the windows added run from 50 ms of activity after it to the kept middle."""
    _, _, recording, decoder, _ = calibrated
    middle, middle_labels, _ = training_windows(recording, decoder.model, 0.7, onset_active_s=None)
    both, labels, _ = training_windows(recording, decoder.model, 0.7, onset_active_s=0.05)
    kept_start = round(0.15 * 3.0 * SETTINGS.sampling_rate_hz)  # from the cue, samples
    first = round(0.05 * SETTINGS.sampling_rate_hz) - W  # onset at the cue
    expected = len(range(first, kept_start, INC))
    for movement in DEMO_MOVEMENTS:
        added = np.sum(labels == movement) - np.sum(middle_labels == movement)
        if movement == "rest":
            assert added == 0
        else:  # 3 repetitions, each onset found within 2 increments of the cue
            assert abs(added - 3 * expected) <= 3 * 2, (movement, added, expected)
    # the onset windows are weaker than the middle's: the contraction is still rising
    onset_mav = np.abs(both[:expected]).mean()
    assert both.shape[0] > middle.shape[0] and onset_mav > 0


def test_single_repetition_uses_stratified_k_fold():
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, seed=1)
    patient.start()
    recording = simulate_calibration(
        patient, clock, cue_schedule(SETTINGS.movements, repetitions=1, contract_s=2, rest_s=2))
    _, report = train_decoder(recording, SETTINGS)
    assert report.cv_scheme == "stratified-k-fold(5)"
    assert report.accuracy >= 0.85


def test_missing_class_is_an_error():
    data = np.random.default_rng(0).standard_normal((8, 8000)) * 1e-5
    segments = [("rest", 0.0, 2.0, 0), CueSegment("hand_open", 2.0, 4.0, 0)]
    recording = CalibrationRecording(data, 2000.0, segments)
    with pytest.raises(DecoderError, match="hand_close"):
        train_decoder(recording, SETTINGS)


def test_recording_validation():
    with pytest.raises(ConfigError, match="segment 'rest'"):
        CalibrationRecording(np.zeros((2, 10)), 100.0, [("rest", 1.0, 0.5)])
    with pytest.raises(ConfigError, match="movement: 'jump'"):
        CueSegment("jump", 0, 1)


# ---------------------------------------------------------------- live decoding


def test_live_decoding_accuracy_and_timing(calibrated):
    clock, patient, _, decoder, _ = calibrated
    decoder.reset()
    patient.read()
    t0_s = clock.now() + 1.0 / SETTINGS.sampling_rate_hz  # the first sample decoded
    correct = total = 0
    levels = {}
    for movement in ("hand_close", "rest", "wrist_extension", "hand_open", "wrist_flexion"):
        patient.set_intent(movement, 0.0 if movement == "rest" else 0.6)
        intents = []
        for _ in range(30):  # 1.5 s in 50 ms reads
            clock.advance(0.05)
            intents += decoder.process(patient.read())
        assert all(0.0 <= i.level <= 1.0 and 0.0 <= i.confidence <= 1.0 for i in intents)
        on = _on_increments(intents, t0_s)
        # one decision per increment; between two, only onsets (from rest)
        for k, i in enumerate(intents):
            if not on[k]:
                assert i.movement != "rest" and (k == 0 or intents[k - 1].movement == "rest")
        intents = [i for i, o in zip(intents, on, strict=True) if o]
        steady = intents[10:]  # after onset + window + vote
        correct += sum(i.movement == movement for i in steady)
        total += len(steady)
        levels[movement] = np.mean([i.level for i in steady])
        t = np.array([i.t_s for i in intents])
        np.testing.assert_allclose(np.diff(t), SETTINGS.increment_s, atol=1e-9)
        assert t[-1] <= clock.now()
    assert correct / total >= 0.85
    assert levels["rest"] == 0.0
    assert all(levels[m] > 0.3 for m in levels if m != "rest"), levels


def test_level_grows_with_effort(calibrated):
    """Each contraction's effort varies (the simulator's ``variability``), so compare the mean
    decoded level over three contractions per asked level."""
    clock, patient, _, decoder, _ = calibrated
    mean_level = {}
    for level in (0.3, 0.9):
        levels = []
        for _ in range(3):
            decoder.reset()
            patient.read()
            patient.set_intent("wrist_flexion", level)
            intents = []
            for _ in range(30):
                clock.advance(0.05)
                intents += decoder.process(patient.read())
            levels += [i.level for i in intents[10:]]  # a weak one decoded as rest: 0
            patient.set_intent("rest", 0.0)
            clock.advance(1.0)
        mean_level[level] = np.mean(levels)
    assert mean_level[0.3] < mean_level[0.9] - 0.2


@pytest.mark.parametrize("at_increments", [False, True])
def test_chunk_boundaries_do_not_matter(calibrated, at_increments):
    """7 s of the calibration: a contraction, rest, and the next contraction's onset."""
    _, _, recording, decoder, _ = calibrated
    n = 14000
    x = recording.data[:, :n]
    t = recording.start_s + np.arange(n) / SETTINGS.sampling_rate_hz
    decoder.set_onset_windows(SETTINGS.onset_windows, at_increments=at_increments)
    try:
        decoder.reset()
        whole = decoder.process(EmgChunk(t, x))
        decoder.reset()
        parts = []
        for idx in np.array_split(np.arange(n), 37):
            parts += decoder.process(EmgChunk(t[idx], x[:, idx]))
    finally:
        decoder.set_onset_windows(SETTINGS.onset_windows)
    assert [i.movement for i in parts] == [i.movement for i in whole]
    for a, b in zip(parts, whole, strict=True):
        assert a.t_s == b.t_s
        assert a.level == pytest.approx(b.level, rel=1e-9)
        assert a.confidence == pytest.approx(b.confidence, rel=1e-9, abs=1e-12)
    on = _on_increments(whole, t[0])
    assert sum(on) == _windows_in(n)
    # at the increments only (where onsets stimulate) there is nothing in between
    assert (sum(not o for o in on) == 0) == at_increments


def _first_movements(intents) -> list[float]:
    """Times of the first movement decided after each stretch of rest, s."""
    out, before = [], "rest"
    for i in intents:
        if before == "rest" and i.movement != "rest":
            out.append(i.t_s)
        before = i.movement
    return out


def test_onsets_are_looked_for_between_the_increments(calibrated):
    """At rest, a window ending every ``onset_step_s`` is checked for a sure onset: the same
    EMG decoded with one sure window makes each onset as early as at the increments only or
    earlier, never later; onsets found in between end on the onset step's grid."""
    _, _, recording, decoder, _ = calibrated
    model = decoder.model
    step = model.onset_step_samples
    assert step < model.increment_samples and model.increment_samples % step == 0
    n = recording.data.shape[1]
    t = recording.start_s + np.arange(n) / SETTINGS.sampling_rate_hz
    chunks = [EmgChunk(t[idx], recording.data[:, idx])
              for idx in np.array_split(np.arange(n), n // 10)]  # 5 ms reads
    first = {}
    try:
        for at_increments in (False, True):
            decoder.set_onset_windows(1, at_increments=at_increments)
            decoder.reset()
            intents = [i for c in chunks for i in decoder.process(c)]
            first[at_increments] = _first_movements(intents)
            between = [i for i, o in zip(intents, _on_increments(intents, t[0]), strict=True)
                       if not o]
            for i in between:
                k = (i.t_s - t[0]) * SETTINGS.sampling_rate_hz - (W - 1)
                assert k / step == pytest.approx(round(k / step), abs=1e-6)
    finally:
        decoder.set_onset_windows(SETTINGS.onset_windows)
    fine, coarse = np.array(first[False]), np.array(first[True])
    assert len(fine) == len(coarse) >= 8  # 4 movements x 3 repetitions (the first: no rest)
    assert np.all(fine <= coarse + 1e-9)
    assert np.any(fine < coarse)


def test_the_onset_step_is_a_whole_fraction_of_the_increment():
    fs = SETTINGS.sampling_rate_hz
    for increment_s, step_s in ((0.025, 0.005), (0.025, 0.015), (0.025, 0.2), (0.02, 0.0075)):
        settings = SETTINGS.model_copy(update={"increment_s": increment_s,
                                               "onset_step_s": step_s})
        model = DecoderModel(settings, fs, 8)
        inc, step = model.increment_samples, model.onset_step_samples
        assert inc % step == 0
        assert step <= min(inc, round(step_s * fs))
        # the largest such step: the next whole fraction is longer than asked
        assert all(inc % d or d > round(step_s * fs) for d in range(step + 1, inc + 1))


def test_untrained_model_raises():
    model = DecoderModel(SETTINGS, 2000.0, 8)
    assert not model.is_fitted
    with pytest.raises(DecoderError, match="not trained"):
        Decoder(model)  # a streaming decoder needs a fitted model
    with pytest.raises(DecoderError, match="not trained"):
        model.predict_windows(np.zeros((1, 8, W)))


def test_wrong_channel_count(calibrated):
    _, _, _, decoder, _ = calibrated
    with pytest.raises(DecoderError, match="n_channels=8"):
        decoder.process(EmgChunk(np.arange(10) / 2000.0, np.zeros((4, 10))))


def test_bad_settings_name_the_field():
    # features and classifier are refused with the configuration, before a decoder exists
    for emg, field in (({"features": ["MAV", "FOO"]}, "emg.features = "),
                       ({"classifier": "xgboost"}, "emg.classifier = 'xgboost'")):
        with pytest.raises(ConfigError, match=field):
            build_config({"emg": emg})
    # a model's __init__ stores its hyper-parameters as given; fit() checks them first
    windows, labels = np.zeros((1, 8, W)), ["rest"]
    with pytest.raises(ConfigError, match="emg.increment_s"):
        DecoderModel(SimulatedEmgSettings(increment_s=0.0001, window_s=0.2), 2000.0, 8).fit(
            windows, labels)
    with pytest.raises(ConfigError, match="sampling_rate_hz"):
        DecoderModel(SETTINGS, 0.0, 8).fit(windows, labels)
    with pytest.raises(ConfigError, match="n_channels"):
        DecoderModel(SETTINGS, 2000.0, 0).fit(windows, labels)
    with pytest.raises(ConfigError, match="level_percentile"):
        DecoderModel(SETTINGS, 2000.0, 8, level_percentile=0.0).fit(windows, labels)
    with pytest.raises(ConfigError, match="increment_s"):
        build_config({"emg": {"window_s": 0.05, "increment_s": 0.1}})
    for step_s in (0.0, -0.005):
        with pytest.raises(ConfigError, match="onset_step_s"):
            build_config({"emg": {"onset_step_s": step_s}})


@pytest.mark.parametrize("n_classes", [2, 4])
def test_lda_fast_path_matches_sklearn(n_classes):
    rng = np.random.default_rng(n_classes)
    y = np.repeat([f"c{k}" for k in range(n_classes)], 25)
    X = rng.standard_normal((25 * n_classes, 6)) + np.repeat(np.arange(n_classes), 25)[:, None]
    clf = make_classifier("lda").fit(X, y)
    assert clf._fast is not None
    Xt = rng.standard_normal((10, 6)) * 3
    np.testing.assert_allclose(clf.predict_proba(Xt), clf.estimator.predict_proba(Xt),
                               rtol=1e-9, atol=1e-12)


def test_rejection_in_the_live_decoder(calibrated):
    """With rejection at 0.9 no movement is decided below 0.9 confidence (vote off, so the
    reported confidence is the window's own); without it, transitions give unsure ones."""
    clock, patient, _, decoder, _ = calibrated
    unsure = {}
    for threshold in (0.0, 0.9):
        decoder.reset()
        decoder.vote = OnsetVote(1, 1.01)  # no vote, no onset pass-through
        decoder.rejection_threshold = threshold
        patient.read()
        intents = []
        for movement in ("hand_open", "hand_close", "wrist_flexion", "wrist_extension") * 3:
            patient.set_intent(movement, 0.6)
            for _ in range(6):
                clock.advance(0.05)
                intents += decoder.process(patient.read())
        moving = [i for i in intents if i.movement != "rest"]
        assert len(moving) > len(intents) / 2
        unsure[threshold] = sum(i.confidence < 0.9 for i in moving)
    decoder.rejection_threshold = 0.0
    decoder.vote = OnsetVote(SETTINGS.majority_vote, SETTINGS.onset_confidence)
    patient.set_intent("rest", 0.0)
    assert unsure[0.0] > 0
    assert unsure[0.9] == 0


def test_log_amplitude_carries_a_decoder_to_a_weaker_contraction():
    """Trained at 70 % effort, tested at 30 %: logged amplitude features generalise."""
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, seed=1)
    patient.start()
    strong = simulate_calibration(
        patient, clock, cue_schedule(SETTINGS.movements, repetitions=2, contract_s=3.0,
                                     rest_s=3.0), level=0.7)
    weak = simulate_calibration(
        patient, clock, cue_schedule(SETTINGS.movements, repetitions=1, contract_s=3.0,
                                     rest_s=3.0), level=0.3)
    accuracy = {}
    for log_amplitude in (False, True):
        settings = SETTINGS.model_copy(update={"log_amplitude": log_amplitude})
        decoder, _ = train_decoder(strong, settings)
        windows, labels, _ = training_windows(weak, decoder.model, 0.7)
        predicted, _ = decoder.model.predict_windows(windows)
        accuracy[log_amplitude] = float(np.mean(predicted == np.asarray(labels)))
    assert accuracy[True] >= 0.8
    assert accuracy[True] > accuracy[False] + 0.1, accuracy


def test_warm_up_loads_kernels_and_sklearn_ahead_of_the_first_window():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from mirrorvr.config import SimulatedEmgSettings\n"
        "from mirrorvr.emg import features, filters\n"
        "from mirrorvr.emg.decoder import warm_up\n"
        "kernels = (features._hudgins_kernel, filters._sosfilt_kernel)\n"
        "before = [len(k.signatures) for k in kernels] + ['sklearn' in sys.modules]\n"
        "warm_up(SimulatedEmgSettings())\n"
        "after = [len(k.signatures) for k in kernels] + ['sklearn.model_selection' in "
        "sys.modules]\n"
        "import numpy as np\n"
        "w = np.zeros((2, 3, 50))[:, :, ::2]\n"  # neither contiguous nor writeable
        "w.setflags(write=False)\n"
        "features.hudgins(w)\n"
        "filters.EmgFilter(3, 1000.0).process(w[0])\n"
        "print(before, after, [len(k.signatures) for k in kernels])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    # compiled once, and other layouts of input reuse that one compiled version
    assert out.stdout.strip() == "[0, 0, False] [1, 1, True] [1, 1]"


def test_calibrate_levels_refuses_empty_rest_windows(calibrated):
    _, _, _, decoder, _ = calibrated
    empty = np.zeros((0, decoder.model.n_channels, decoder.model.window_samples))
    assert mean_mav(empty).shape == (0,)
    with pytest.raises(DecoderError, match="rest_windows: empty"):
        decoder.model.calibrate_levels(empty, {})
