"""Classifiers by name, rejection by confidence and proportional level maps."""

from __future__ import annotations

import numpy as np
import pytest

from mirrorvr.config import SimulatedEmgSettings, build_config
from mirrorvr.emg.classifier import (
    check_classifier_name,
    classifier_names,
    make_classifier,
    reject_low_confidence,
)
from mirrorvr.emg.model import DecoderModel
from mirrorvr.emg.proportional import LEVEL_MAPS, map_level, normalised_effort
from mirrorvr.errors import ConfigError, DecoderError


def _blobs(seed=0, n=40):
    rng = np.random.default_rng(seed)
    y = np.repeat(["rest", "hand_open", "hand_close"], n)
    centers = {"rest": (0, 0, 0), "hand_open": (4, 0, 1), "hand_close": (0, 4, -1)}
    X = np.array([centers[c] for c in y], float) + rng.standard_normal((y.size, 3))
    return X, y


@pytest.mark.parametrize("name", ["lda", "qda", "knn", "lr", "svm", "rf", "mlp",
                                  "sklearn.ensemble.ExtraTreesClassifier",
                                  "sklearn.svm.LinearSVC"])
def test_every_classifier_by_name_learns_separable_classes(name):
    X, y = _blobs()
    Xt, yt = _blobs(seed=1)
    clf = make_classifier(name).fit(X, y)
    proba = clf.predict_proba(Xt)
    assert proba.shape == (yt.size, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert np.mean(clf.predict(Xt) == yt) > 0.9, name


def test_classifier_params_and_names():
    clf = make_classifier("sklearn.neighbors.KNeighborsClassifier", n_neighbors=3)
    assert clf.estimator.steps[-1][1].n_neighbors == 3
    assert check_classifier_name("LDA") == "lda"
    assert "svm" in classifier_names()
    for bad, match in [("os.system", "not known"), ("sklearn.svm.Nope", "not a scikit-learn"),
                       ("sklearn.preprocessing.StandardScaler", "not a scikit-learn classifier")]:
        with pytest.raises(ConfigError, match=match):
            make_classifier(bad)
    with pytest.raises(ConfigError, match="does not accept"):
        make_classifier("sklearn.svm.LinearSVC", bogus=1)
    with pytest.raises(ConfigError, match="emg.classifier"):
        build_config({"emg": {"classifier": "xgb"}})  # refused with the configuration


def test_rejection_replaces_unsure_decisions_by_rest():
    labels = np.array(["hand_open", "hand_close", "hand_open"])
    proba = np.array([[0.95, 0.05, 0.0], [0.5, 0.4, 0.1], [0.89, 0.11, 0.0]])
    assert reject_low_confidence(labels, proba, 0.9).tolist() == ["hand_open", "rest", "rest"]
    assert reject_low_confidence(labels, proba, 0.0).tolist() == labels.tolist()
    with pytest.raises(ConfigError, match="rejection_threshold"):
        reject_low_confidence(labels, proba, 1.5)


def test_level_maps():
    u = np.linspace(0, 1, 101)
    for kind in LEVEL_MAPS:
        v = map_level(u, kind)
        assert v[0] == pytest.approx(0.0, abs=1e-12) and v[-1] == pytest.approx(1.0)
        assert np.all(np.diff(v) >= -1e-12), kind
    assert map_level(0.5, "quadratic") == pytest.approx(0.25)
    assert map_level(0.5, "logistic") == pytest.approx(0.5)
    assert map_level(0.1, "logistic") < 0.1 < map_level(0.9, "logistic") - 0.8
    assert map_level(-1.0, "linear") == 0.0 and map_level(2.0, "linear") == 1.0
    with pytest.raises(ConfigError, match="level_map"):
        map_level(u, "cubic")
    np.testing.assert_allclose(normalised_effort([1.0, 3.0, 9.0], 1.0, 5.0), [0, 0.5, 1])
    np.testing.assert_allclose(normalised_effort([3.0], 1.0, 1.0), [0.0])


def test_decoder_levels_from_rest_and_mvc_recordings():
    settings = SimulatedEmgSettings(level_map="quadratic")
    dec = DecoderModel(settings, 2000.0, 2)
    rng = np.random.default_rng(0)
    rest = 1e-6 * rng.standard_normal((10, 2, 400))
    mvc = 1e-3 * np.sign(rng.standard_normal((10, 2, 400)))  # |x| = 1 mV: mean MAV 1 mV
    dec.calibrate_levels(rest, {"hand_open": mvc}, percentile=50)
    assert dec.max_mav_v_["hand_open"] == pytest.approx(1e-3)
    half = 0.5e-3 * np.sign(rng.standard_normal((1, 2, 400)))
    u = (0.5e-3 - dec.rest_mav_v_) / (1e-3 - dec.rest_mav_v_)
    assert dec.levels(half, ["hand_open"])[0] == pytest.approx(u * u)
    assert dec.levels(half, ["hand_close"])[0] == 0.0  # no range known for that class
    with pytest.raises(DecoderError, match="mvc_windows"):
        dec.calibrate_levels(rest, {"rest": mvc})
