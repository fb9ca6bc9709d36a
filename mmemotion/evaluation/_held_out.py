"""Predictions of held-out actors: one actor-independent split, or every actor held out once."""

import inspect
import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

from ..utils import progress
from ._metrics import evaluate

__all__ = ["HeldOutPredictions", "cross_val_predict_actors", "held_out_predictions"]

#: Manifest columns kept beside the predictions: what the audit and the human comparison read.
_KEPT_COLUMNS = ("clip_id", "sex", "age", "race", "ethnicity", "voice_vote", "face_vote", "multimodal_vote")


@dataclass
class HeldOutPredictions:
    """Class probabilities of clips whose actors the model that predicted them never saw.

    Attributes
    ----------
    proba : ndarray of shape (n_clips, n_classes)
        Predicted probabilities, columns in the order of ``classes``.
    classes : list of str
        Emotion codes.
    y_true : ndarray of shape (n_clips,)
        True emotion codes.
    actor_id : ndarray of shape (n_clips,)
        Actor of each clip.
    fold : ndarray of shape (n_clips,)
        Index of the fitted model that predicted each clip (all 0 for a single split).
    frame : pandas.DataFrame
        Per-clip manifest columns that later analyses read: ``clip_id``, demographics
        (``sex``, ``age``, ``race``, ``ethnicity``) and the rater votes, where ``X`` had them.
    fit_actors : list of list of int
        For each fold, the actors its model was fitted on.
    models : list
        The fitted model of each fold, when :func:`cross_val_predict_actors` was asked for them
        (``return_models=True``); empty otherwise.
    """

    proba: np.ndarray
    classes: list
    y_true: np.ndarray
    actor_id: np.ndarray
    fold: np.ndarray
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    fit_actors: list = field(default_factory=list)
    models: list = field(default_factory=list, repr=False)

    @property
    def y_pred(self):
        """The most probable class of each clip."""
        return np.asarray(self.classes, dtype=object)[np.argmax(self.proba, axis=1)]

    @property
    def n_folds(self):
        return int(len(np.unique(self.fold)))

    def per_fold(self):
        """Scores of each fold's model on its own held-out actors.

        Returns
        -------
        rows : list of dict
            ``fold``, ``test_actors``, ``n_samples``, ``accuracy``, ``macro_f1``, ``uar``.
        """
        rows = []
        for k in np.unique(self.fold):
            mask = self.fold == k
            scores = evaluate(self.y_true[mask], self.y_pred[mask], self.classes)
            rows.append({"fold": int(k), "test_actors": sorted(int(a) for a in np.unique(self.actor_id[mask])),
                         "n_samples": int(mask.sum()),
                         **{key: scores[key] for key in ("accuracy", "macro_f1", "uar")}})
        return rows

    def evaluate(self):
        """:func:`~mmemotion.evaluation.evaluate` of the pooled predictions (votes included)."""
        votes = self.frame[[c for c in ("voice_vote", "face_vote", "multimodal_vote") if c in self.frame]]
        return evaluate(self.y_true, self.y_pred, self.classes, votes=votes if votes.shape[1] else None)


def _groups_fit_param(estimator):
    """The fit parameter that takes actor ids: ``groups`` or ``<last step>__groups`` (or None)."""
    steps = getattr(estimator, "steps", None)
    name, final = (steps[-1][0] + "__", steps[-1][1]) if steps else ("", estimator)
    try:
        accepts = "groups" in inspect.signature(final.fit).parameters
    except (TypeError, ValueError):
        accepts = False
    return f"{name}groups" if accepts else None


def _kept(X, rows):
    if not hasattr(X, "columns"):
        return pd.DataFrame(index=range(len(rows)))
    return X.iloc[rows][[c for c in _KEPT_COLUMNS if c in X.columns]].reset_index(drop=True)


def _check_groups(X, groups, n, caller):
    if groups is None:
        if not hasattr(X, "columns") or "actor_id" not in X.columns:
            raise ValueError(f"{caller}: pass groups=<actor id per clip>, or X with an 'actor_id' column "
                             "(the frame of load_crema_d).")
        groups = X["actor_id"]
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"{caller}: groups must hold one actor id per clip ({n}), got shape {groups.shape}.")
    return groups


def _proba_in_order(model, X, classes):
    proba = np.asarray(model.predict_proba(X), dtype=float)
    model_classes = [str(c) for c in model.classes_]
    # A fold whose training actors lack a class gives fewer columns; that class gets 0.
    out = np.zeros((len(proba), len(classes)))
    for j, label in enumerate(model_classes):
        out[:, classes.index(label)] = proba[:, j]
    return out


def held_out_predictions(model, X, y, *, groups=None, fit_actors=None):
    """Wrap a fitted model's predictions on held-out clips as :class:`HeldOutPredictions`.

    Parameters
    ----------
    model : fitted classifier
        Anything with ``predict_proba`` and ``classes_`` (a fitted mmemotion pipeline).
    X : pandas.DataFrame
        Manifest rows of clips whose actors ``model`` was not trained on.
    y : array-like of shape (n_clips,)
        True emotions.
    groups : array-like of shape (n_clips,), optional
        Actor ids; default ``X["actor_id"]``.
    fit_actors : sequence of int, optional
        Actors the model was trained on. When given, a held-out actor among them raises
        ValueError (the predictions would not be held out).

    Returns
    -------
    held_out : HeldOutPredictions
        One fold.
    """
    y = np.asarray(y).astype(str)
    groups = _check_groups(X, groups, len(y), "held_out_predictions")
    if fit_actors is not None:
        seen = sorted(set(int(a) for a in np.unique(groups)) & set(int(a) for a in fit_actors))
        if seen:
            raise ValueError(f"held_out_predictions: actors {seen} were used to fit the model, so their clips are "
                             "not held out; pass only clips of other actors.")
    classes = [str(c) for c in model.classes_]
    return HeldOutPredictions(proba=_proba_in_order(model, X, classes), classes=classes, y_true=y, actor_id=groups,
                              fold=np.zeros(len(y), dtype=int), frame=_kept(X, np.arange(len(y))),
                              fit_actors=[sorted(int(a) for a in fit_actors)] if fit_actors is not None else [])


def cross_val_predict_actors(estimator, X, y, *, groups=None, cv=5, return_models=False, verbose=True):
    """Fit one model per actor-grouped fold and predict the clips of the actors it left out.

    Every clip gets exactly one prediction, from a model that never saw its actor, so the
    pooled scores describe every actor instead of the few in one test split. It costs ``cv``
    fits of ``estimator``.

    Parameters
    ----------
    estimator : classifier
        Unfitted (it is cloned per fold), e.g. :func:`~mmemotion.models.make_default_pipeline`.
        When its final step's ``fit`` takes ``groups`` (``FusionClassifier``), it receives the
        training fold's actor ids, so its own early-stopping split holds out actors too.
    X : pandas.DataFrame
        Manifest of ``load_crema_d`` (or anything ``estimator`` takes, with ``groups``).
    y : array-like of shape (n_clips,)
        Emotion codes.
    groups : array-like of shape (n_clips,), optional
        Actor ids; default ``X["actor_id"]``.
    cv : int or cross-validation splitter, default=5
        Number of folds (:class:`~sklearn.model_selection.GroupKFold`, each actor in exactly one
        test fold), or a splitter whose ``split(X, y, groups)`` keeps actors apart.
    return_models : bool, default=False
        Keep each fold's fitted model in ``held_out.models`` (e.g. to explain one of them).
    verbose : bool, default=True
        A progress bar over the folds.

    Returns
    -------
    held_out : HeldOutPredictions

    Raises
    ------
    ValueError
        When there are fewer actors than folds, when a fold's test actors were also in its
        training set, or when a clip is predicted more or less than once.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> import pandas as pd
    >>> X = pd.DataFrame({"actor_id": [1, 1, 2, 2, 3, 3], "f": range(6)})
    >>> out = cross_val_predict_actors(DummyClassifier(), X, ["ANG", "SAD"] * 3, cv=3, verbose=False)
    >>> out.fold.tolist()
    [2, 2, 1, 1, 0, 0]
    """
    y = np.asarray(y).astype(str)
    groups = _check_groups(X, groups, len(y), "cross_val_predict_actors")
    n_actors = len(np.unique(groups))
    if isinstance(cv, numbers.Integral):
        if not 2 <= cv <= n_actors:
            raise ValueError(f"cross_val_predict_actors: cv={cv} folds need between 2 and the number of actors "
                             f"({n_actors}); use cv <= {n_actors}.")
        cv = GroupKFold(n_splits=int(cv))
    splits = list(cv.split(X, y, groups))
    classes = sorted(np.unique(y).tolist())
    proba = np.full((len(y), len(classes)), np.nan)
    fold = np.full(len(y), -1)
    fit_actors, models = [], []
    param = _groups_fit_param(estimator)
    for k, (train, test) in enumerate(progress(splits, verbose=verbose, desc="actor folds", unit="fold")):
        overlap = set(groups[train]) & set(groups[test])
        if overlap:
            raise ValueError(f"cross_val_predict_actors: fold {k} has actors {sorted(overlap)} on both sides; pass a "
                             "group-aware splitter (GroupKFold, LeaveOneGroupOut, ...).")
        if (fold[test] >= 0).any():
            raise ValueError(f"cross_val_predict_actors: fold {k} predicts clips already predicted by an earlier fold; "
                             "the splitter must put each actor in exactly one test fold.")
        X_train = X.iloc[train] if hasattr(X, "iloc") else X[train]
        X_test = X.iloc[test] if hasattr(X, "iloc") else X[test]
        fit_params = {param: groups[train]} if param else {}
        model = clone(estimator).fit(X_train, y[train], **fit_params)
        proba[test] = _proba_in_order(model, X_test, classes)
        fold[test] = k
        fit_actors.append(sorted(int(a) for a in np.unique(groups[train])))
        if return_models:
            models.append(model)
    if (fold < 0).any():
        raise ValueError(f"cross_val_predict_actors: {int((fold < 0).sum())} clips were in no test fold; the splitter "
                         "must hold out every actor once.")
    return HeldOutPredictions(proba=proba, classes=classes, y_true=y, actor_id=groups, fold=fold,
                              frame=_kept(X, np.arange(len(y))), fit_actors=fit_actors, models=models)
