"""Classifiers of EMG feature vectors, and majority-vote post-processing.

``make_classifier("lda")`` gives the field's default (REFERENCES.md: "LDA is the field's
default classifier"): features standardised, then linear discriminant analysis with
Ledoit–Wolf shrinkage of the within-class covariance. Shrinkage keeps the covariance
invertible when features are nearly collinear (e.g. MAV and WL of one channel, or a channel
whose ZC count hardly varies), which plain ``solver="svd"`` LDA warns about.

Short names: ``lda`` (default), ``qda``, ``svm`` (RBF SVC; softmax of its one-vs-rest
decision values), ``knn``, ``lr`` (logistic regression), ``rf`` (random forest), ``mlp``.
**Any** scikit-learn classifier is also accepted by its dotted name, e.g.
``"sklearn.ensemble.ExtraTreesClassifier"`` or ``"sklearn.svm.LinearSVC"``: it is imported
from ``sklearn.*`` only, wrapped after a ``StandardScaler``, and must offer ``predict_proba``
(or ``decision_function``, turned into probabilities by a softmax). More estimators are
added by name with :func:`register_classifier`. scikit-learn is imported lazily, when a
classifier is made, not when this module is imported. A fitted LDA predicts through a
plain-numpy affine map + softmax (checked against scikit-learn at fit time), because
scikit-learn's per-call validation would dominate a live decode step.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mirrorvr.errors import ConfigError, DecoderError
from mirrorvr.movements import REST

logger = logging.getLogger(__name__)


def _make_lda(**params: Any):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    options = {"solver": "lsqr", "shrinkage": "auto"}
    options.update(params)
    return make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(**options))


def _scaled(factory_path: str, **defaults: Any) -> Callable[..., Any]:
    def factory(**params: Any):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        options = dict(defaults)
        options.update(params)
        return make_pipeline(StandardScaler(), _import_sklearn(factory_path)(**options))

    return factory


def _import_sklearn(dotted: str):
    """The scikit-learn class named ``sklearn.module.Class`` (nothing outside sklearn)."""
    import importlib
    import inspect

    module_name, _, cls_name = dotted.rpartition(".")
    if not (module_name == "sklearn" or module_name.startswith("sklearn.")) or not cls_name:
        raise ConfigError(
            f"classifier: {dotted!r} is neither a known name ({classifier_names()}) nor "
            "a scikit-learn class path like 'sklearn.svm.SVC'"
        )
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, cls_name)
    except (ImportError, AttributeError):
        raise ConfigError(f"classifier: {dotted!r} is not a scikit-learn class") from None
    from sklearn.base import ClassifierMixin

    if not inspect.isclass(cls) or not issubclass(cls, ClassifierMixin):
        raise ConfigError(f"classifier: {dotted!r} is not a scikit-learn classifier")
    return cls


_REGISTRY: dict[str, Callable[..., Any]] = {
    "lda": _make_lda,
    "qda": _scaled("sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis", reg_param=0.1),
    "svm": _scaled("sklearn.svm.SVC", random_state=0),
    "knn": _scaled("sklearn.neighbors.KNeighborsClassifier", n_neighbors=5),
    "lr": _scaled("sklearn.linear_model.LogisticRegression", max_iter=1000),
    "rf": _scaled("sklearn.ensemble.RandomForestClassifier", n_estimators=100, random_state=0),
    "mlp": _scaled("sklearn.neural_network.MLPClassifier", hidden_layer_sizes=(64,),
                   max_iter=1000, random_state=0),
}


def check_classifier_name(name: str, field: str = "classifier") -> str:
    """``name`` normalised (registry names lower-case) if :func:`make_classifier` accepts it.

    Dotted scikit-learn paths are checked by form only (no import happens here).
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{field}: {name!r} must be a non-empty string")
    key = name.strip()
    if key.lower() in _REGISTRY:
        return key.lower()
    if key.startswith("sklearn.") and key.count(".") >= 2:
        return key
    raise ConfigError(
        f"{field}: {name!r} is not known (allowed: {classifier_names()} or any "
        "'sklearn.<module>.<Classifier>')"
    )


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
        self._class_array = np.asarray(self.classes_)
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
        self._class_array = np.asarray(self.classes_)
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
        """Class probabilities ``(n_windows, n_classes)``, columns in ``classes_`` order.

        Estimators without ``predict_proba`` give a softmax of ``decision_function``.
        """
        X = self._check_ready(X)
        if self._fast is not None:
            return self._fast.predict_proba(X)
        if hasattr(self.estimator, "predict_proba"):
            return np.asarray(self.estimator.predict_proba(X), dtype=np.float64)
        z = np.asarray(self.estimator.decision_function(X), dtype=np.float64)
        if z.ndim == 1:
            z = np.column_stack([-z, z]) / 2.0
        return _softmax(z)

    def decide(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Most probable class per window and the probabilities behind it.

        ``X (n_windows, n_features)`` -> labels ``(n_windows,)`` str and proba
        ``(n_windows, n_classes)``, columns in ``classes_`` order.
        """
        proba = self.predict_proba(X)
        return self._class_array[proba.argmax(axis=1)], proba

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class name per window, ``(n_windows,)`` str."""
        return self.decide(X)[0]


def make_classifier(name: str = "lda", **params: Any) -> Classifier:
    """An unfitted :class:`Classifier` by registered name or scikit-learn class path.

    ``params`` go to the estimator (e.g. ``make_classifier("svm", C=10)``).
    """
    key = check_classifier_name(name)
    if key in _REGISTRY:
        return Classifier(_REGISTRY[key](**params), name=key)
    cls = _import_sklearn(key)
    if not (hasattr(cls, "predict_proba") or hasattr(cls, "decision_function")):
        raise ConfigError(
            f"classifier: {key!r} has neither predict_proba nor decision_function"
        )
    try:
        return Classifier(_scaled(key)(**params), name=key)
    except TypeError as err:
        raise ConfigError(f"classifier: {key!r} does not accept {params!r}: {err}") from None


def reject_low_confidence(
    labels: np.ndarray, proba: np.ndarray, threshold: float, reject_label: str = "rest"
) -> np.ndarray:
    """Replace decisions whose top probability is below ``threshold`` by ``reject_label``.

    REFERENCES.md: rejection below a confidence (LibEMG: 0.9). ``threshold`` 0 keeps every
    decision. ``labels (n,)``, ``proba (n, n_classes)`` -> ``(n,)`` labels.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"rejection_threshold: {threshold!r} must be in [0, 1]")
    if threshold == 0:
        return np.asarray(labels).astype(str, copy=False)
    labels = np.asarray(labels).astype(object)
    labels[np.max(proba, axis=1) < threshold] = reject_label
    return labels.astype(str)


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
        self._counts: dict[str, int] = {}  # label -> occurrences in _history

    def reset(self) -> None:
        self._history.clear()
        self._counts: dict[str, int] = {}

    def update(self, label: str) -> str:
        """Add one decision; return the voted label."""
        counts = self._counts
        if len(self._history) == self.n:
            dropped = self._history[0]
            counts[dropped] -= 1
            if not counts[dropped]:
                del counts[dropped]
        self._history.append(label)
        counts[label] = counts.get(label, 0) + 1
        best = max(counts.values())
        if counts[label] == best:  # the newest label wins its ties
            return label
        return next(c for c in reversed(self._history) if counts[c] == best)

    def process(self, labels: Sequence[str]) -> list[str]:
        """Vote a sequence of decisions in order; state carries over."""
        return [self.update(label) for label in labels]


class OnsetVote(MajorityVote):
    """A majority vote that lets a sure movement onset through at once.

    While the voted output is rest, ``onset_windows`` windows in a row decided as the same
    movement, each with probability at least ``confidence``, are output immediately and fill
    the history, so the vote holds the movement until the evidence turns (a wrong onset is
    corrected after ``n // 2 + 1`` windows). Every other decision is voted as by
    :class:`MajorityVote`. ``confidence`` above 1 never passes an onset.
    """

    def __init__(self, n: int, confidence: float, onset_windows: int = 1) -> None:
        super().__init__(n)
        if not 0.0 < confidence:
            raise ConfigError(f"onset_confidence: {confidence!r} must be > 0")
        self.confidence = float(confidence)
        self.onset_windows = 1
        self.set_onset_windows(onset_windows)
        self._output = REST
        self._sure: tuple[str, int] = (REST, 0)  # the sure movement in a row, and how often

    def set_onset_windows(self, k: int) -> None:
        """How many sure windows in a row make an onset (>= 1); the count starts again (sure
        windows seen under the rule before, checked more often or less, do not count)."""
        if int(k) != k or k < 1:
            raise ConfigError(f"onset_windows: {k!r} must be a positive integer")
        self.onset_windows = int(k)
        self._sure = (REST, 0)

    def reset(self) -> None:
        super().reset()
        self._output = REST
        self._sure = (REST, 0)

    @property
    def output(self) -> str:
        """The label output last (rest before any)."""
        return self._output

    def check_onset(self, label: str, probability: float) -> bool:
        """Count one decision of ``probability`` towards an onset, without voting it: True
        when it makes one (the output is rest and this is the ``onset_windows``-th sure
        window of ``label`` in a row); the output and the history are then ``label``.

        The decoder checks the windows between two increments with it while the output is
        rest (:attr:`mirrorvr.config.EmgSettings.onset_step_s`)."""
        sure = label != REST and probability >= self.confidence
        last, count = self._sure
        self._sure = (label, count + 1 if label == last else 1) if sure else (REST, 0)
        if self._output == REST and sure and self._sure[1] >= self.onset_windows:
            self._history.clear()
            self._history.extend([label] * self.n)
            self._counts = {label: self.n}
            self._output = label
            return True
        return False

    def update_sure(self, label: str, probability: float) -> str:
        """Add one decision of ``probability``; return the output (voted, or the onset)."""
        if not self.check_onset(label, probability):
            self._output = self.update(label)
        return self._output

    def process_sure(self, labels: Sequence[str], probabilities: Sequence[float]) -> list[str]:
        """Vote a sequence of decisions and their top probabilities in order."""
        return [self.update_sure(label, p)
                for label, p in zip(labels, probabilities, strict=True)]
