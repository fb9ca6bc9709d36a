"""Conformal prediction sets: a set of plausible emotions with a coverage guarantee.

We use MAPIE's split-conformal classifier with the LAC score (1 - probability of the true
class; Sadinle, Lei and Wasserman, JASA 2019). Its guarantee is that a new clip's true emotion
is in its set with probability at least the confidence level, *provided the calibration clips
and the new clip are exchangeable*. Clips of one actor are not exchangeable with another
actor's, so the sets here are always calibrated on actors the model never saw and that are
not the actors being predicted: the guarantee is then about new speakers.
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._calibration import ProbabilityPassthrough

__all__ = ["ConformalPredictor", "cross_fit_sets", "set_summary"]


def _mapie(estimator, confidence_level):
    from mapie.classification import SplitConformalClassifier

    return SplitConformalClassifier(estimator, confidence_level=confidence_level, conformity_score="lac",
                                    prefit=True)


def _check_level(confidence_level, caller):
    if not 0 < confidence_level < 1:
        raise ValueError(f"{caller}: confidence_level must be in (0, 1), e.g. 0.9; got {confidence_level!r}.")


class ConformalPredictor(BaseEstimator):
    """Prediction sets of a fitted classifier, calibrated on clips of held-out actors.

    Parameters
    ----------
    estimator : fitted classifier
        E.g. a fitted :func:`~mmemotion.models.make_default_pipeline`; it is not refitted.
    confidence_level : float, default=0.9
        Target probability that a new clip's true emotion is in its set.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_calibration_ : int
        Calibration clips.
    calibration_actors_ : list
        Actors of the calibration clips (when ``fit`` got ``groups``).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(200, 3)), np.repeat(["ANG", "SAD"], 100)
    >>> X[y == "ANG"] += 1
    >>> model = LogisticRegression().fit(X[::2], y[::2])
    >>> sets = ConformalPredictor(model).fit(X[1::2], y[1::2]).predict_sets(X[:3])
    >>> sets.shape, sets.dtype
    ((3, 2), dtype('bool'))
    """

    def __init__(self, estimator, *, confidence_level=0.9):
        self.estimator = estimator
        self.confidence_level = confidence_level

    def fit(self, X, y, groups=None):
        """Calibrate on clips of actors the estimator was not trained on.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            Calibration clips (what ``estimator.predict_proba`` takes).
        y : array-like of shape (n_clips,)
        groups : array-like, optional
            Actor ids of the calibration clips; recorded so that a later ``predict_sets`` on
            one of these actors can be refused.
        """
        _check_level(self.confidence_level, "ConformalPredictor")
        check_is_fitted(self.estimator)
        y = np.asarray(y)
        self.classes_ = np.asarray(self.estimator.classes_)
        # MAPIE turns X into an array, which a pipeline reading manifest columns (paths, actor
        # ids) cannot take; so the estimator predicts here and MAPIE sees only probabilities.
        self._mapie = _mapie(ProbabilityPassthrough(list(self.classes_)).fit(), self.confidence_level)
        self._mapie.conformalize(self.estimator.predict_proba(X), y)
        self.n_calibration_ = int(len(y))
        self.calibration_actors_ = [] if groups is None else sorted(np.unique(np.asarray(groups)).tolist())
        return self

    def predict_sets(self, X):
        """Boolean membership matrix: ``sets[i, j]`` is True when ``classes_[j]`` is in clip i's set.

        Returns
        -------
        sets : ndarray of shape (n_clips, n_classes), dtype bool
        """
        check_is_fitted(self, "classes_")
        if hasattr(X, "columns") and "actor_id" in X.columns and self.calibration_actors_:
            reused = sorted(set(X["actor_id"].tolist()) & set(self.calibration_actors_))
            if reused:
                raise ValueError(f"ConformalPredictor: actors {reused} were used for calibration; their sets would "
                                 "not carry the coverage guarantee. Predict sets for other actors.")
        return self._mapie.predict_set(self.estimator.predict_proba(X))[1][:, :, 0].astype(bool)


def cross_fit_sets(proba, y_true, classes, groups, *, confidence_level=0.9):
    """Conformal sets for held-out probabilities, each actor's calibrated on the other actors.

    Parameters
    ----------
    proba : ndarray of shape (n_clips, n_classes)
        Held-out probabilities (each clip predicted by a model that never saw its actor).
    y_true : array-like of shape (n_clips,)
    classes : sequence of str
    groups : array-like of shape (n_clips,)
        Actor ids. Actor ``a``'s sets are calibrated on every clip of the other actors.
    confidence_level : float, default=0.9

    Returns
    -------
    sets : ndarray of shape (n_clips, n_classes), dtype bool
    """
    _check_level(confidence_level, "cross_fit_sets")
    proba = np.asarray(proba, dtype=float)
    y_true = np.asarray(y_true).astype(str)
    groups = np.asarray(groups)
    if len(np.unique(groups)) < 2:
        raise ValueError("cross_fit_sets: needs clips of at least 2 actors (calibrate on some, predict others).")
    passthrough = ProbabilityPassthrough(list(classes)).fit()
    sets = np.zeros(proba.shape, dtype=bool)
    for actor in np.unique(groups):
        mask = groups == actor
        mapie = _mapie(passthrough, confidence_level)
        mapie.conformalize(proba[~mask], y_true[~mask])
        sets[mask] = mapie.predict_set(proba[mask])[1][:, :, 0]
    return sets


def set_summary(sets, y_true, classes, *, confidence_level):
    """Coverage and size of prediction sets.

    Returns
    -------
    summary : dict
        ``confidence_level``, ``coverage`` (share of clips whose true emotion is in the set),
        ``mean_size``, ``empty`` and ``singleton`` (shares of clips), and ``per_class``
        (``{emotion: {"coverage", "mean_size", "support"}}`` by true emotion).
    """
    sets = np.asarray(sets, dtype=bool)
    y_true = np.asarray(y_true).astype(str)
    index = {c: j for j, c in enumerate(classes)}
    covered = np.array([sets[i, index[t]] if t in index else False for i, t in enumerate(y_true)])
    size = sets.sum(axis=1)
    per_class = {}
    for label in classes:
        mask = y_true == label
        if mask.any():
            per_class[label] = {"coverage": float(covered[mask].mean()), "mean_size": float(size[mask].mean()),
                                "support": int(mask.sum())}
    return {"confidence_level": float(confidence_level), "coverage": float(covered.mean()),
            "mean_size": float(size.mean()), "empty": float((size == 0).mean()),
            "singleton": float((size == 1).mean()), "per_class": per_class}
