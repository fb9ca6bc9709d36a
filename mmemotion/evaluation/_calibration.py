"""Calibration of held-out probabilities: reliability, expected calibration error, temperature.

Temperature scaling divides the logits by one scalar T fitted by log-loss (Guo et al., "On
Calibration of Modern Neural Networks", ICML 2017). We use scikit-learn's implementation
(``CalibratedClassifierCV(method="temperature")``, scikit-learn >= 1.8, which turns probabilities
into logits with ``log(p)``) on a frozen estimator that returns the probabilities it is given.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

__all__ = ["reliability", "cross_fit_temperature", "ProbabilityPassthrough"]


class ProbabilityPassthrough(ClassifierMixin, BaseEstimator):
    """A "classifier" whose input is already a probability matrix; it returns it unchanged.

    Lets library calibrators (scikit-learn's temperature scaling, MAPIE's conformal sets), which
    expect an estimator, work on stored held-out probabilities without refitting anything.

    Parameters
    ----------
    classes : sequence of str
        Labels of the probability columns, in order.
    """

    def __init__(self, classes):
        self.classes = classes

    def fit(self, X=None, y=None):
        self.classes_ = np.asarray(self.classes)
        return self

    def predict_proba(self, X):
        return np.asarray(X, dtype=float)

    def predict(self, X):
        return self.classes_[np.argmax(np.asarray(X), axis=1)]


def reliability(y_true, proba, classes, *, n_bins=10):
    """Reliability diagram data and expected calibration error (ECE) of the top label.

    Clips are binned by the probability of their predicted class (equal-width bins on
    [0, 1]); ECE is the clip-weighted mean gap between each bin's accuracy and its mean
    confidence (Naeini et al., AAAI 2015; Guo et al., 2017).

    Parameters
    ----------
    y_true : array-like of shape (n_clips,)
    proba : ndarray of shape (n_clips, n_classes)
    classes : sequence of str
        Labels of the columns of ``proba``.
    n_bins : int, default=10

    Returns
    -------
    result : dict
        ``ece``, ``mean_confidence``, ``accuracy``, ``n_bins`` and ``bins`` (list of dicts
        ``lo``, ``hi``, ``count``, ``confidence``, ``accuracy``; empty bins are left out).

    Examples
    --------
    >>> r = reliability(["A", "B"], [[0.9, 0.1], [0.6, 0.4]], ["A", "B"])
    >>> round(r["ece"], 3)
    0.35
    """
    proba = np.asarray(proba, dtype=float)
    y_true = np.asarray(y_true).astype(str)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise ValueError(f"reliability: proba must have shape ({len(y_true)}, {len(classes)}), got {proba.shape}.")
    confidence = proba.max(axis=1)
    correct = np.asarray(classes, dtype=object)[proba.argmax(axis=1)].astype(str) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Right-closed bins, the first one also holding 0: (0.1, 0.2] etc.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        mask = which == b
        if not mask.any():
            continue
        acc, conf = float(correct[mask].mean()), float(confidence[mask].mean())
        ece += mask.mean() * abs(acc - conf)
        bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": int(mask.sum()),
                     "confidence": conf, "accuracy": acc})
    return {"ece": float(ece), "mean_confidence": float(confidence.mean()), "accuracy": float(correct.mean()),
            "n_bins": int(n_bins), "bins": bins}


def _fit_temperature(proba, y, classes):
    passthrough = ProbabilityPassthrough(classes).fit()
    # A frozen estimator is still run through sklearn's cross_val_predict, whose default 5
    # stratified folds need 5 clips of every class; fitting is a no-op, so one "fold" whose
    # test part is every clip gives the same predictions without that limit.
    everything = np.arange(len(y))
    calibrator = CalibratedClassifierCV(FrozenEstimator(passthrough), method="temperature",
                                        cv=[(everything, everything)])
    calibrator.fit(proba, y)
    # The fitted calibrator holds the inverse temperature beta (logits are multiplied by it).
    beta = float(calibrator.calibrated_classifiers_[0].calibrators[0].beta_)
    return calibrator, 1.0 / beta


def cross_fit_temperature(proba, y_true, classes, groups):
    """Temperature-scale held-out probabilities, each actor's with a T fitted on the other actors.

    The temperature applied to an actor's clips is fitted on the held-out predictions of every
    *other* actor, never on the actor itself, so the calibrated figures stay honest for new
    speakers (leave-one-actor-out cross-fitting).

    Parameters
    ----------
    proba : ndarray of shape (n_clips, n_classes)
        Held-out probabilities (e.g. ``HeldOutPredictions.proba``).
    y_true : array-like of shape (n_clips,)
    classes : sequence of str
    groups : array-like of shape (n_clips,)
        Actor ids.

    Returns
    -------
    calibrated : ndarray of shape (n_clips, n_classes)
    temperatures : dict of {actor id: float}
        The temperature used for each actor's clips (T > 1 softens over-confident output).
    """
    proba = np.asarray(proba, dtype=float)
    y_true = np.asarray(y_true).astype(str)
    groups = np.asarray(groups)
    actors = np.unique(groups)
    if len(actors) < 2:
        raise ValueError("cross_fit_temperature: needs clips of at least 2 actors (one to fit T on, one to apply it to).")
    calibrated = np.empty_like(proba)
    temperatures = {}
    for actor in actors:
        mask = groups == actor
        calibrator, temperature = _fit_temperature(proba[~mask], y_true[~mask], list(classes))
        calibrated[mask] = calibrator.predict_proba(proba[mask])
        temperatures[int(actor) if np.issubdtype(actors.dtype, np.integer) else str(actor)] = temperature
    return calibrated, temperatures
