"""Offline evaluation of decoding pipelines on a researcher's own labelled recordings.

Directory layout (``mirrorvr emg evaluate DIR --fs HZ``): one CSV file per recording, named
``C_<class>_R_<rep>.csv`` — ``<class>`` any label without ``_R_`` (``hand_open``, ``3``),
``<rep>`` a non-negative integer repetition number — with one row per sample and one column
per channel (comma-separated; an optional first header row of names is skipped). Every file
must have the same number of channels. Files that do not match the pattern are ignored
(logged). This is LibEMG's ``C_<class>_R_<rep>`` naming.

Evaluation: each recording is filtered on its own with the causal decoder filter (band-pass
+ mains notch, unless disabled), the middle ``keep_fraction`` is kept, cut into windows, and
features are extracted. Cross-validation is **leave-one-repetition-out**: fold ``r`` trains on
every recording whose repetition is not ``r`` and tests on those whose repetition is ``r``.
Accuracy is per window, without majority vote.

A pipeline is written ``FEATURES:CLASSIFIER`` — ``FEATURES`` a named set of
:data:`~mirrorvr.emg.features.FEATURE_SETS` (``HTD``, ``TDAR``, ...) or a ``+``-joined list of
feature names (``MAV+WL+RMS``), optionally prefixed ``log-`` to classify on the logarithm of
the amplitude features (``log-HTD``, as the live decoder does with ``emg.log_amplitude``);
``CLASSIFIER`` any name :func:`make_classifier` accepts (``lda``, ``svm``,
``sklearn.ensemble.RandomForestClassifier``). Default ``log-HTD:lda``, the live decoder's.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirrorvr.emg.classifier import check_classifier_name, make_classifier
from mirrorvr.emg.features import FEATURE_SETS, check_feature_names, extract_features
from mirrorvr.emg.filters import EmgFilter
from mirrorvr.emg.windowing import sliding_windows
from mirrorvr.errors import ConfigError, DecoderError

logger = logging.getLogger(__name__)

FILE_PATTERN = re.compile(r"^C_(?P<cls>.+?)_R_(?P<rep>\d+)\.csv$")
DEFAULT_PIPELINE = "log-HTD:lda"


@dataclass(frozen=True)
class LabelledRecording:
    """One labelled recording: ``data (n_channels, n)`` in the file's units."""

    label: str
    repetition: int
    data: np.ndarray
    path: Path


@dataclass(frozen=True)
class Pipeline:
    """Features + classifier of an offline evaluation."""

    spec: str
    features: tuple[str, ...]
    classifier: str
    log_amplitude: bool = False


def parse_pipeline(spec: str) -> Pipeline:
    """``"log-HTD:lda"`` -> :class:`Pipeline`; errors name the part that is wrong."""
    text = str(spec).strip()
    feat_part, sep, clf_part = text.partition(":")
    if not sep:
        clf_part = "lda"
    feat_part = feat_part.strip()
    log_amplitude = feat_part.lower().startswith("log-")
    if log_amplitude:
        feat_part = feat_part[len("log-"):]
    if feat_part.upper() in FEATURE_SETS:
        features = FEATURE_SETS[feat_part.upper()]
    else:
        features = check_feature_names(
            [f.strip().upper() for f in feat_part.split("+") if f.strip()],
            f"pipeline {text!r} features",
        )
    classifier = check_classifier_name(clf_part.strip(), f"pipeline {text!r} classifier")
    return Pipeline(text, tuple(features), classifier, log_amplitude)


def _read_csv(path: Path) -> np.ndarray:
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path.name}: not a text CSV of samples x channels (byte "
                          f"{err.start} is not UTF-8)") from None
    try:
        [float(v) for v in first.strip().split(",")]
        skip = 0
    except ValueError:
        skip = 1  # header row
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise ConfigError(f"{path.name}: not a numeric CSV of samples x channels ({err})") from None
    if data.size == 0:
        raise ConfigError(f"{path.name}: no samples")
    if not np.all(np.isfinite(data)):
        raise ConfigError(f"{path.name}: contains NaN or infinite values")
    return data.T


def load_labelled_dir(directory) -> list[LabelledRecording]:
    """Every ``C_<class>_R_<rep>.csv`` of ``directory``, sorted by (class, rep)."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"DIR: {str(root)!r} is not a directory")
    out = []
    for path in sorted(root.iterdir()):
        m = FILE_PATTERN.match(path.name)
        if m is None:
            if path.suffix.lower() == ".csv":
                logger.warning("%s: name is not C_<class>_R_<rep>.csv; ignored", path.name)
            continue
        out.append(LabelledRecording(m["cls"], int(m["rep"]), _read_csv(path), path))
    if not out:
        raise ConfigError(
            f"DIR: {str(root)!r} holds no file named C_<class>_R_<rep>.csv "
            "(rows = samples, columns = channels)"
        )
    n_ch = {r.data.shape[0] for r in out}
    if len(n_ch) != 1:
        detail = ", ".join(f"{r.path.name}: {r.data.shape[0]}" for r in out)
        raise ConfigError(f"DIR: files disagree on the number of channels ({detail})")
    return sorted(out, key=lambda r: (r.label, r.repetition))


@dataclass(frozen=True)
class EvaluationResult:
    """Leave-one-repetition-out result of one pipeline."""

    pipeline: str
    classes: tuple[str, ...]
    fold_repetitions: tuple[int, ...]
    fold_accuracies: tuple[float, ...]
    fold_windows: tuple[int, ...]
    mean_accuracy: float
    pooled_accuracy: float
    confusion: np.ndarray

    def to_dict(self) -> dict:
        return {
            "pipeline": self.pipeline,
            "classes": list(self.classes),
            "folds": [
                {"repetition": r, "accuracy": a, "n_windows": n}
                for r, a, n in zip(self.fold_repetitions, self.fold_accuracies,
                                   self.fold_windows, strict=True)
            ],
            "mean_accuracy": self.mean_accuracy,
            "pooled_accuracy": self.pooled_accuracy,
            "confusion": self.confusion.tolist(),
        }


def recording_windows(
    recordings: Sequence[LabelledRecording],
    sampling_rate_hz: float,
    window_s: float = 0.2,
    increment_s: float = 0.05,
    keep_fraction: float = 1.0,
    bandpass_hz: tuple[float, float] | None = (20.0, 450.0),
    mains_hz: float | None = 50.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows ``(n, n_channels, W)``, labels ``(n,)`` and repetitions ``(n,)`` of all files."""
    fs = float(sampling_rate_hz)
    if not (math.isfinite(fs) and fs > 0):
        raise ConfigError(f"--fs: {sampling_rate_hz!r} must be a positive number, Hz")
    W, inc = int(round(window_s * fs)), int(round(increment_s * fs))
    if W < 3 or inc < 1:
        raise ConfigError(
            f"window: {window_s} s / {increment_s} s is {W} / {inc} samples at {fs} Hz; "
            "need a window of >= 3 samples and an increment of >= 1"
        )
    if not 0 < keep_fraction <= 1:
        raise ConfigError(f"keep_fraction: {keep_fraction!r} must be in (0, 1]")
    parts, labels, reps = [], [], []
    for rec in recordings:
        x = rec.data
        if bandpass_hz is not None:
            x = EmgFilter(x.shape[0], fs, bandpass_hz, mains_hz).process(x)
        n = x.shape[1]
        trim = int(round((1 - keep_fraction) / 2 * n))
        w = sliding_windows(x[:, trim:n - trim], W, inc)
        if w.shape[0] == 0:
            logger.warning("%s: shorter than one window; ignored", rec.path.name)
            continue
        parts.append(w)
        labels += [rec.label] * w.shape[0]
        reps += [rec.repetition] * w.shape[0]
    if not parts:
        raise DecoderError("no recording is longer than one window")
    return np.concatenate(parts), np.asarray(labels), np.asarray(reps)


def evaluate_pipeline(
    windows: np.ndarray, labels: np.ndarray, reps: np.ndarray, pipeline: Pipeline | str,
    sampling_rate_hz: float,
) -> EvaluationResult:
    """Leave-one-repetition-out accuracy and confusion of one pipeline."""
    if isinstance(pipeline, str):
        pipeline = parse_pipeline(pipeline)
    classes = tuple(sorted(set(labels.tolist())))
    if len(classes) < 2:
        raise DecoderError(f"need at least 2 classes, found {list(classes)!r}")
    fold_reps = sorted(set(reps.tolist()))
    if len(fold_reps) < 2:
        raise DecoderError(
            f"leave-one-repetition-out needs >= 2 repetitions, found {fold_reps!r} "
            "(name files C_<class>_R_<rep>.csv with different <rep>)"
        )
    X = extract_features(windows, pipeline.features, sampling_rate_hz=sampling_rate_hz,
                         log_amplitude=pipeline.log_amplitude)
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    accs, ns, used = [], [], []
    for r in fold_reps:
        test = reps == r
        train_labels = set(labels[~test].tolist())
        if len(train_labels) < 2:
            logger.warning("repetition %s: training folds hold < 2 classes; fold skipped", r)
            continue
        clf = make_classifier(pipeline.classifier).fit(X[~test], labels[~test])
        predicted = clf.predict(X[test])
        accs.append(float(np.mean(predicted == labels[test])))
        ns.append(int(test.sum()))
        used.append(int(r))
        np.add.at(confusion, ([index[t] for t in labels[test]],
                              [index[p] for p in predicted]), 1)
    if not accs:
        raise DecoderError("no fold could be trained")
    return EvaluationResult(
        pipeline=pipeline.spec, classes=classes, fold_repetitions=tuple(used),
        fold_accuracies=tuple(accs), fold_windows=tuple(ns),
        mean_accuracy=float(np.mean(accs)),
        pooled_accuracy=float(np.trace(confusion) / confusion.sum()),
        confusion=confusion,
    )
