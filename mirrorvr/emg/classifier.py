"""Classifiers of EMG feature vectors, and majority-vote post-processing.

``make_classifier("lda")`` gives the field's default (REFERENCES.md: "LDA is the field's
default classifier"): features standardised, then linear discriminant analysis with
Ledoit–Wolf shrinkage of the within-class covariance. Shrinkage keeps the covariance
invertible when features are nearly collinear (e.g. MAV and WL of one channel, or a channel
whose ZC count hardly varies), which plain ``solver="svd"`` LDA warns about.

More estimators are added by name with :func:`register_classifier`; any scikit-learn
classifier with ``predict_proba`` fits. scikit-learn is imported lazily, when a classifier
is made, not when this module is imported. A fitted LDA predicts through a plain-numpy
affine map + softmax (checked against scikit-learn at fit time), because scikit-learn's
per-call validation would dominate a live decode step.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mirrorvr.errors import ConfigError, DecoderError

logger = logging.getLogger(__name__)


def _make_lda(**params: Any):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    options = {"solver": "lsqr", "shrinkage": "auto"}
    options.update(params)
    return make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(**options))


_REGISTRY: dict[str, Callable[..., Any]] = {"lda": _make_lda}


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


class _LinearFastPath:
    """``predict_proba`` of a fitted (StandardScaler ->) LDA in plain numpy.

    scikit-learn's per-call input validation costs ~0.3 ms, more than the whole rest of a
    live decode step; the arithmetic is one affine map and a softmax (sklearn's own
    LDA ``predict_proba``: softmax of ``decision_function``, expit for two classes).
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray,
                 intercept: np.ndarray) -> None:
        # Fold the scaler into the linear map: ((x - mean) / scale) @ coef.T + b.
        self.weights = np.ascontiguousarray((coef / scale[None, :]).T)
        self.bias = intercept - (mean / scale) @ coef.T

    @classmethod
    def build(cls, estimator: Any) -> _LinearFastPath | None:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        steps = estimator.steps if isinstance(estimator, Pipeline) else [(None, estimator)]
        models = [m for _, m in steps]
        if not isinstance(models[-1], LinearDiscriminantAnalysis):
            return None
        if len(models) == 2 and isinstance(models[0], StandardScaler):
            scaler = models[0]
            mean = scaler.mean_ if scaler.with_mean else np.zeros(scaler.n_features_in_)
            scale = scaler.scale_ if scaler.with_std else np.ones(scaler.n_features_in_)
        elif len(models) == 1:
            n = models[0].coef_.shape[1]
            mean, scale = np.zeros(n), np.ones(n)
        else:
            return None
        lda = models[-1]
        return cls(np.asarray(mean, float), np.asarray(scale, float),
                   np.asarray(lda.coef_, float), np.asarray(lda.intercept_, float))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = X @ self.weights + self.bias
        if z.shape[1] == 1:  # two classes: sklearn's expit of the one decision value
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p, p])
        return _softmax(z)


def register_classifier(name: str, factory: Callable[..., Any]) -> None:
    """Make ``make_classifier(name, **params)`` build ``factory(**params)``.

    ``factory`` must return an unfitted scikit-learn-style estimator with ``fit``,
    ``predict_proba`` and ``classes_``.
    """
    if not name or not isinstance(name, str):
        raise ConfigError(f"name: {name!r} must be a non-empty string")
    _REGISTRY[name.lower()] = factory


def classifier_names() -> list[str]:
    """Names :func:`make_classifier` accepts."""
    return sorted(_REGISTRY)


class Classifier:
    """A movement classifier on feature vectors.

    Parameters
    ----------
    estimator : object
        An unfitted scikit-learn-style estimator with ``fit`` / ``predict_proba``.
    name : str
        Name it was made under (for logs and reports).
    """

    def __init__(self, estimator: Any, name: str = "custom") -> None:
        self.estimator = estimator
        self.name = name
        self.classes_: tuple[str, ...] = ()
        self.n_features: int | None = None
        self._fast: _LinearFastPath | None = None

    @property
    def is_fitted(self) -> bool:
        return bool(self.classes_)

    def fit(self, X: np.ndarray, y: Sequence[str]) -> Classifier:
        """Train on features ``X (n_windows, n_features)`` and labels ``y (n_windows,)``."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2:
            raise DecoderError(f"X: expected shape (n_windows, n_features), got {X.shape}")
        if y.shape != (X.shape[0],):
            raise DecoderError(f"y: shape {y.shape} does not match {X.shape[0]} windows")
        if not np.all(np.isfinite(X)):
            raise DecoderError("X: contains NaN or infinite feature values")
        classes = np.unique(y)
        if classes.size < 2:
            raise DecoderError(
                f"y: needs at least 2 classes to train, got {classes.tolist()!r}"
            )
        counts = Counter(y.tolist())
        too_few = {c: n for c, n in counts.items() if n < 2}
        if too_few:
            raise DecoderError(f"y: classes with fewer than 2 windows: {too_few!r}")
        self.estimator.fit(X, y)
        self.classes_ = tuple(str(c) for c in self.estimator.classes_)
        self.n_features = X.shape[1]
        self._fast = _LinearFastPath.build(self.estimator)
        if self._fast is not None:
            # Use the numpy path only if it reproduces scikit-learn on the training data.
            reference = self.estimator.predict_proba(X)
            if not np.allclose(self._fast.predict_proba(X), reference, rtol=1e-6, atol=1e-9):
                logger.info("classifier %s: fast path disagrees with sklearn; not used", self.name)
                self._fast = None
        return self

    def _check_ready(self, X: np.ndarray) -> np.ndarray:
        if not self.is_fitted:
            raise DecoderError(f"classifier {self.name!r} is not trained; call fit() first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise DecoderError(
                f"X: shape {X.shape} does not match the {self.n_features} features trained on"
            )
        return X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n_windows, n_classes)``, columns in ``classes_`` order."""
        X = self._check_ready(X)
        if self._fast is not None:
            return self._fast.predict_proba(X)
        return np.asarray(self.estimator.predict_proba(X), dtype=np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class name per window, ``(n_windows,)`` str."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_)[np.argmax(proba, axis=1)]


def make_classifier(name: str = "lda", **params: Any) -> Classifier:
    """An unfitted :class:`Classifier` by registered name (see :func:`classifier_names`)."""
    key = str(name).lower()
    if key not in _REGISTRY:
        raise ConfigError(f"classifier: {name!r} is not known (allowed: {classifier_names()})")
    return Classifier(_REGISTRY[key](**params), name=key)


class MajorityVote:
    """Majority vote over the last ``n`` decisions (REFERENCES.md: 3–5 decisions).

    The most frequent label among the last ``n`` wins; a tie goes to the tied label seen
    most recently. ``n = 1`` passes decisions through.
    """

    def __init__(self, n: int) -> None:
        if int(n) != n or n < 1:
            raise ConfigError(f"majority_vote: {n!r} must be a positive integer")
        self.n = int(n)
        self._history: deque[str] = deque(maxlen=self.n)

    def reset(self) -> None:
        self._history.clear()

    def update(self, label: str) -> str:
        """Add one decision; return the voted label."""
        self._history.append(label)
        counts = Counter(self._history)
        best = max(counts.values())
        return next(c for c in reversed(self._history) if counts[c] == best)

    def process(self, labels: Sequence[str]) -> list[str]:
        """Vote a sequence of decisions in order; state carries over."""
        return [self.update(label) for label in labels]
