"""Saving and loading fitted decoder models (:class:`~mirrorvr.emg.model.DecoderModel`).

A model file is a NumPy ``.npz`` archive with two members:

``meta``       UTF-8 JSON (as a uint8 array): format name and version, the decoder settings
               (features and whether amplitude features are logged, classifier, windows,
               filter, vote, rejection, level map, classes),
               the channel map (``channel_names``), ``sampling_rate_hz``, the level range
               (``rest_mav_v``, ``max_mav_v``, V), ZC/SSC thresholds, the SHA-256 of the
               training windows and labels, the mirrorvr and scikit-learn versions, and the
               cross-validated calibration report when one is attached.
``estimator``  the fitted scikit-learn estimator, pickled (as a uint8 array).

``meta`` can be read without unpickling anything (:func:`read_model_meta`). Like any
scikit-learn pickle, load only model files you trust.

Loading checks the layout: a model refuses to load when the source's channel names (in
order) or sampling rate differ from those it was trained on, because its feature columns
would silently mean other electrodes.
"""

from __future__ import annotations

import io
import json
import logging
import math
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mirrorvr.config import variant_from
from mirrorvr.emg.model import DecoderModel
from mirrorvr.errors import DecoderError

logger = logging.getLogger(__name__)

FORMAT = "mirrorvr-emg-decoder"
VERSION = 2  # 2: settings.log_amplitude (version 1 files are refused: recalibrate)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("mirrorvr", "scikit-learn", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def save_model(model: DecoderModel, path, report=None) -> None:
    """Write a fitted :class:`~mirrorvr.emg.model.DecoderModel` to ``path`` (.npz).

    ``report`` (a CalibrationReport) is stored in ``meta`` when given.
    """
    if not model.is_fitted:
        raise DecoderError("decoder is not trained; nothing to save")
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "settings": model.settings.model_dump(mode="json"),
        "features": list(model.feature_names_),
        "classifier": model.classifier_.name,
        "classes": list(model.classes_),
        "channel_names": list(model.channel_names_),
        "sampling_rate_hz": float(model.sampling_rate_hz),
        "window_samples": model.window_samples,
        "increment_samples": model.increment_samples,
        "zc_threshold_v": float(model.zc_threshold_v),
        "ssc_threshold_v2": float(model.ssc_threshold_v2),
        "level_percentile": float(model.level_percentile),
        "rest_mav_v": model.rest_mav_v_,
        "max_mav_v": model.max_mav_v_,
        "training_data_sha256": model.training_data_sha256_,
        "versions": _versions(),
    }
    if report is not None:
        meta["calibration"] = {
            "accuracy": report.accuracy,
            "fold_accuracies": list(report.fold_accuracies),
            "cv_scheme": report.cv_scheme,
            "classes": list(report.classes),
            "confusion": np.asarray(report.confusion).tolist(),
        }
    blob = pickle.dumps(model.classifier_, protocol=pickle.HIGHEST_PROTOCOL)
    buf = io.BytesIO()
    np.savez(
        buf,
        meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        estimator=np.frombuffer(blob, dtype=np.uint8),
    )
    Path(path).write_bytes(buf.getvalue())
    logger.info("decoder saved to %s (classes %s, %d channels, training data sha256 %s...)",
                path, meta["classes"], len(meta["channel_names"]),
                meta["training_data_sha256"][:12])


def read_model_meta(path) -> dict:
    """The ``meta`` of a model file, without unpickling the estimator."""
    try:
        # our own handle: numpy leaves its file open when the zip turns out corrupt
        with open(Path(path), "rb") as fh, np.load(fh, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    except FileNotFoundError:
        raise DecoderError(f"model file {path}: does not exist") from None
    except (OSError, EOFError, KeyError, ValueError, UnicodeDecodeError,
            zipfile.BadZipFile) as err:
        raise DecoderError(f"model file {path}: not a mirrorvr decoder model "
                           f"({type(err).__name__}: {err})") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DecoderError(
            f"model file {path}: format {meta.get('format')!r} version {meta.get('version')!r}; "
            f"expected {FORMAT!r} version {VERSION}"
        )
    return meta


def load_model(
    path,
    channel_names: Sequence[str] | None = None,
    sampling_rate_hz: float | None = None,
) -> DecoderModel:
    """Read a fitted model saved by :func:`save_model`.

    Parameters
    ----------
    path : path-like
    channel_names : sequence of str or None
        The source's channels, in order. A different list (names or order) is refused.
    sampling_rate_hz : float or None
        The source's rate, Hz. A different rate is refused.
    """
    meta = read_model_meta(path)
    trained = list(meta["channel_names"])
    if channel_names is not None and list(channel_names) != trained:
        raise DecoderError(
            f"model file {path}: channel layout {list(channel_names)!r} does not match the "
            f"{len(trained)} channels the model was trained on {trained!r}; recalibrate"
        )
    fs = float(meta["sampling_rate_hz"])
    if sampling_rate_hz is not None and not math.isclose(float(sampling_rate_hz), fs,
                                                         rel_tol=1e-9):
        raise DecoderError(
            f"model file {path}: sampling_rate_hz {sampling_rate_hz} does not match the "
            f"{fs} Hz the model was trained at; recalibrate"
        )
    here = _versions()
    if meta["versions"].get("scikit-learn") != here["scikit-learn"]:
        logger.warning("model %s was saved with scikit-learn %s, this is %s", path,
                       meta["versions"].get("scikit-learn"), here["scikit-learn"])
    model = DecoderModel(
        variant_from("emg", meta["settings"]), fs, len(trained),
        zc_threshold_v=float(meta["zc_threshold_v"]),
        ssc_threshold_v2=float(meta["ssc_threshold_v2"]),
        level_percentile=float(meta["level_percentile"]), channel_names=trained,
    )
    model.check_params()
    try:
        with open(Path(path), "rb") as fh, np.load(fh, allow_pickle=False) as z:
            classifier = pickle.loads(bytes(z["estimator"]))  # noqa: S301 - trusted model file
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile,
            pickle.UnpicklingError, AttributeError, ImportError) as err:
        raise DecoderError(f"model file {path}: its estimator cannot be read "
                           f"({type(err).__name__}: {err}); recalibrate") from None
    if list(classifier.classes_) != list(meta["classes"]):
        raise DecoderError(f"model file {path}: estimator classes do not match its meta")
    # the learned attributes, as fit() sets them
    model.feature_names_ = tuple(meta["features"])
    model.channel_names_ = tuple(trained)
    model.classifier_ = classifier
    model.classes_ = tuple(classifier.classes_)
    model.rest_mav_v_ = float(meta["rest_mav_v"])
    model.max_mav_v_ = {k: float(v) for k, v in meta["max_mav_v"].items()}
    model.training_data_sha256_ = meta["training_data_sha256"]
    return model
