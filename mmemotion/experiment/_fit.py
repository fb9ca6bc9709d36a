"""One model for later use: fitted on the training actors, scored on the others (``mmemotion fit``)."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..evaluation import actor_split, cross_val_predict_actors, fit_by_actor, split_record
from ..report import pipeline_card, speaker_norm_text
from ._score import analyse, evaluate_model
from ._stages import Stages

__all__ = ["FitResult", "fit_experiment"]


@dataclass
class FitResult:
    """What :func:`fit_experiment` fitted and measured.

    Attributes
    ----------
    model : fitted pipeline
        Fitted on the training actors (the best candidate of the grid search, if any).
    split : dict
        :func:`~mmemotion.evaluation.split_record` plus ``speaker_norm``.
    evaluation : dict or None
        :func:`evaluate_model` on the held-out actors; None when none were held out.
    out_of_fold : dict or None
        :func:`~mmemotion.evaluation.analyse_held_out` of every actor scored out of fold.
    search : GridSearchCV or None
        The fitted grid search (``best_params_``, ``best_score_``, ``n_splits_``, ``cv_results_``).
    """

    model: object
    split: dict
    evaluation: dict = None
    out_of_fold: dict = None
    search: object = None

    def record(self):
        """What a report of the saved model needs: ``split``, ``cv_results``, ``params`` (the model
        card, :func:`~mmemotion.report.pipeline_card`), ``out_of_fold`` and ``evaluation`` (when
        actors were held out). JSON-friendly after ``report._serialize.to_jsonable``."""
        record = {"split": self.split, "cv_results": self.search and self.search.cv_results_,
                  "params": pipeline_card(self.model), "out_of_fold": self.out_of_fold}
        return record if self.evaluation is None else dict(record, evaluation=self.evaluation)

    def summary(self):
        """The scores in a few lines of text: out of fold, best grid candidate, held-out actors."""
        lines = []
        if self.out_of_fold:
            ev = self.out_of_fold["evaluation"]
            lines.append(f"out of fold ({self.out_of_fold['n_folds']} folds, all {self.out_of_fold['n_actors']} "
                         f"actors): accuracy {ev['accuracy']:.3f}, UAR {ev['uar']:.3f}")
        if self.search is not None:
            lines.append(f"best parameters {self.search.best_params_} (mean UAR over {self.search.n_splits_} actor "
                         f"folds {self.search.best_score_:.3f})")
        if self.evaluation is not None:
            ev = self.evaluation
            lines.append(f"held-out actors {self.split['test_actors']}: accuracy {ev['accuracy']:.3f}, "
                         f"macro-F1 {ev['macro_f1']:.3f}, UAR {ev['uar']:.3f}")
        return lines


def fit_experiment(estimator, X, y, *, test_size=0.25, split=None, param_grid=None, cv=None, out_of_fold=None,
                   random_state=0, verbose=True, stages=None):
    """Fit one model on the training actors of an actor split and score it on the others.

    Parameters
    ----------
    estimator : pipeline
        Unfitted, e.g. :func:`~mmemotion.models.make_default_pipeline`.
    X : pandas.DataFrame
        Manifest of :func:`~mmemotion.datasets.load_crema_d` (``actor_id`` column needed).
    y : pandas.Series or array-like of shape (n_clips,)
        Emotion codes.
    test_size : float, default=0.25
        Fraction of the actors held out (:func:`~mmemotion.evaluation.actor_split`); 0 trains
        on every clip.
    split : (array-like of int, array-like of int), optional
        Row positions of the training and test clips, instead of ``test_size`` (e.g. an
        :func:`~mmemotion.evaluation.actor_split` made earlier).
    param_grid : dict, optional
        Candidates of a grid search over ``cv`` actor folds (default 3) on the training actors
        (:func:`~mmemotion.evaluation.fit_by_actor`).
    cv : int, optional
        Actor folds: of the grid search, or of ``out_of_fold``.
    out_of_fold : pipeline, optional
        Before the final fit, score every actor of ``X`` with clones of this pipeline fitted on
        ``cv`` actor folds (e.g. a quiet copy of ``estimator``); analysed with
        :func:`~mmemotion.evaluation.analyse_held_out`. Needs ``cv``.
    random_state : int, default=0
        Seed of the split and the analysis.
    verbose : bool, default=True
        Print stages and the analysis summary; show progress bars.
    stages : Stages, optional
        Where to count and time the stages; default a new one.

    Returns
    -------
    result : FitResult

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"actor_id": [1, 1, 2, 2, 3, 3, 4, 4], "f": [0.0, 1.0] * 4})
    >>> result = fit_experiment(make_pipeline(LogisticRegression()), X, ["ANG", "SAD"] * 4, verbose=False)
    >>> result.split["n_test"], result.evaluation["accuracy"]
    (2, 1.0)
    """
    y = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y), index=X.index)
    if out_of_fold is not None and not cv:
        raise ValueError("fit_experiment: out_of_fold needs cv, the number of actor folds.")
    stages = stages or Stages(2 if out_of_fold is None else 3, quiet=not verbose)
    if split is not None:
        train, test = (np.asarray(rows, dtype=int) for rows in split)
    elif test_size > 0:
        train, test = actor_split(X, test_size, random_state)
    else:
        train, test = np.arange(len(X)), np.array([], dtype=int)
    analysis = None
    if out_of_fold is not None:
        with stages(f"scoring every actor out of fold ({cv} fits)"):
            held_out = cross_val_predict_actors(out_of_fold, X, y, cv=cv, verbose=verbose)
            analysis = analyse(held_out, random_state=random_state, verbose=verbose)
    with stages("fitting"):
        model, search = fit_by_actor(estimator, X.iloc[train], y.iloc[train], param_grid=param_grid, cv=cv or 3)
    split = dict(split_record(X, train, test), speaker_norm=speaker_norm_text(model))
    evaluation = evaluate_model(model, X.iloc[test], y.iloc[test]) if len(test) else None
    return FitResult(model=model, split=split, evaluation=evaluation, out_of_fold=analysis, search=search)
