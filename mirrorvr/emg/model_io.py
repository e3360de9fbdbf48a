"""Saving and loading trained decoders.

A model file is a NumPy ``.npz`` archive with two members:

``meta``       UTF-8 JSON (as a uint8 array): format name and version, the decoder settings
               (features and whether amplitude features are logged, classifier, windows,
               filter, vote, rejection, level map, classes),
               the channel map (``channel_names``), ``sampling_rate_hz``, the level range
               (``rest_mav_v``, ``max_mav_v``), ZC/SSC thresholds, the SHA-256 of the
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


def save_decoder(decoder, path, report=None) -> None:
    """Write a trained :class:`~mirrorvr.emg.decoder.Decoder` to ``path`` (.npz).

    ``report`` (a CalibrationReport) is stored in ``meta`` when given.
    """
    if not decoder.is_fitted:
        raise DecoderError("decoder is not trained; nothing to save")
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "settings": decoder.settings.model_dump(mode="json"),
        "features": list(decoder.feature_names),
        "classifier": decoder.classifier_name,
        "classes": list(decoder.classes),
        "channel_names": list(decoder.channel_names),
        "sampling_rate_hz": decoder.sampling_rate_hz,
        "window_samples": decoder.window_samples,
        "increment_samples": decoder.increment_samples,
        "zc_threshold_v": decoder.zc_threshold_v,
        "ssc_threshold_v2": decoder.ssc_threshold_v2,
        "level_percentile": decoder.level_percentile,
        "rest_mav_v": decoder.rest_mav_v,
        "max_mav_v": decoder.max_mav_v,
        "training_data_sha256": decoder.training_data_sha256,
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
    blob = pickle.dumps(decoder.classifier, protocol=pickle.HIGHEST_PROTOCOL)
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


def load_decoder(
    path,
    channel_names: Sequence[str] | None = None,
    sampling_rate_hz: float | None = None,
):
    """Read a decoder saved by :func:`save_decoder`.

    Parameters
    ----------
    path : path-like
    channel_names : sequence of str or None
        The source's channels, in order. A different list (names or order) is refused.
    sampling_rate_hz : float or None
        The source's rate, Hz. A different rate is refused.
    """
    from mirrorvr.config import EmgSettings
    from mirrorvr.emg.decoder import Decoder

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
    decoder = Decoder(
        EmgSettings(**meta["settings"]), fs, len(trained),
        zc_threshold_v=meta["zc_threshold_v"], ssc_threshold_v2=meta["ssc_threshold_v2"],
        level_percentile=meta["level_percentile"], channel_names=trained,
    )
    try:
        with open(Path(path), "rb") as fh, np.load(fh, allow_pickle=False) as z:
            classifier = pickle.loads(bytes(z["estimator"]))  # noqa: S301 - trusted model file
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile,
            pickle.UnpicklingError, AttributeError, ImportError) as err:
        raise DecoderError(f"model file {path}: its estimator cannot be read "
                           f"({type(err).__name__}: {err}); recalibrate") from None
    if list(classifier.classes_) != list(meta["classes"]):
        raise DecoderError(f"model file {path}: estimator classes do not match its meta")
    decoder.classifier = classifier
    decoder.rest_mav_v = float(meta["rest_mav_v"])
    decoder.max_mav_v = {k: float(v) for k, v in meta["max_mav_v"].items()}
    decoder.training_data_sha256 = meta["training_data_sha256"]
    decoder.reset()
    return decoder
