"""One experiment: fit models on some actors, score them on the others, analyse and explain the first."""

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from ..evaluation import actor_split, cross_val_predict_actors, fit_by_actor, split_record
from ..report import speaker_norm_text
from ._score import analyse, score_models
from ._stages import Stages, print_scores

__all__ = ["ExperimentResult", "machine_info", "run_experiment"]


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` fitted, measured and explained.

    Attributes
    ----------
    models : dict of str to fitted pipeline
        The headline model first, then the others and the baseline. With ``cv``, only the
        headline model of the first fold is kept.
    evaluation : dict
        Model name to :func:`~mmemotion.evaluation.evaluate` on held-out clips (every clip,
        out of fold, with ``cv``).
    held_out : dict
        :func:`~mmemotion.evaluation.analyse_held_out` of the headline model's held-out
        predictions: calibration, conformal sets, demographic audit.
    split : dict
        :func:`~mmemotion.evaluation.split_record` of the headline model in ``models``, plus
        ``speaker_norm`` (and ``n_scored`` with ``cv``).
    X_train, X_test : pandas.DataFrame
        The rows the headline model in ``models`` was fitted on and the rows it was tested on.
    y_test : pandas.Series
        The true emotions of ``X_test``.
    explanation : Explanation or None
        :func:`~mmemotion.explain.explain` of the headline model on held-out clips.
    """

    models: dict
    evaluation: dict
    held_out: dict
    split: dict
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_test: pd.Series
    explanation: object = None

    @property
    def model(self):
        """The headline model."""
        return next(iter(self.models.values()))

    def render(self, path, *, dataset=None, model_card=None, title="mmemotion report", overwrite=False):
        """Write the HTML report of the experiment (:func:`~mmemotion.report.render_report`).

        Parameters
        ----------
        path : str or path-like
            The HTML file; the JSON sidecar goes beside it.
        dataset : sklearn.utils.Bunch or pandas.DataFrame, optional
            What :func:`~mmemotion.datasets.load_crema_d` returned.
        model_card : dict, optional
            Seeds, sizes, timings, ...: shown as the model card, beside the package versions.
        title : str, default="mmemotion report"
        overwrite : bool, default=False

        Returns
        -------
        path : pathlib.Path
        """
        from ..report import render_report, training_history

        return render_report(path, dataset=dataset, evaluation=self.evaluation, explanation=self.explanation,
                             model=self.model, history=training_history(self.model), split=self.split,
                             model_card=model_card, overwrite=overwrite, held_out=self.held_out, title=title)


def run_experiment(estimators, X, y, *, baseline=None, test_size=0.25, cv=None, n_explain=24, explain_params=None,
                   random_state=0, verbose=True, stages=None):
    """Fit models on some actors, score them on the others, analyse and explain the first one.

    Actor-independent throughout: with ``cv=None`` one split holds out ``test_size`` of the
    actors (:func:`~mmemotion.evaluation.actor_split`); with ``cv=K`` every model is fitted on
    K actor-grouped folds and every clip is scored by a model that never saw its actor, and the
    first fold's headline model is the one explained. This is what ``mmemotion demo`` runs.

    Parameters
    ----------
    estimators : dict of str to pipeline
        Unfitted pipelines (features first, classifier last), e.g. of
        :func:`~mmemotion.models.make_default_pipeline`; the first is the headline model,
        whose held-out predictions are analysed and explained.
    X : pandas.DataFrame
        Manifest of :func:`~mmemotion.datasets.load_crema_d` (``actor_id`` column needed).
    y : pandas.Series or array-like of shape (n_clips,)
        Emotion codes.
    baseline : pipeline, optional
        A reference model (e.g. :func:`~mmemotion.models.make_baseline_pipeline`) fitted and
        scored beside the others as ``"baseline"``.
    test_size : float, default=0.25
        Fraction of the actors held out when ``cv`` is None.
    cv : int, optional
        Number of actor-grouped folds (:class:`~sklearn.model_selection.GroupKFold`) instead of
        one split; costs ``cv`` fits per model.
    n_explain : int, default=24
        Held-out clips to explain; 0 skips the explanation.
    explain_params : dict, optional
        More arguments of :func:`~mmemotion.explain.explain` (``n_steps``, ``shap_nsamples``,
        ``methods``, ...).
    random_state : int, default=0
        Seed of the split, the analysis and the explanation.
    verbose : bool, default=True
        Print stages, scores and the analysis summary; show progress bars.
    stages : Stages, optional
        Where to count and time the stages (the caller's, to number them among its own);
        default: a new one of 3 stages (2 without explanation).

    Returns
    -------
    result : ExperimentResult

    Examples
    --------
    >>> from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
    >>> from mmemotion.models import make_default_pipeline
    >>> import tempfile
    >>> root = make_synthetic_crema_d(tempfile.mkdtemp(), n_actors=4, clips_per_actor=6, duration=1.0,
    ...                               verbose=False)
    >>> frame = load_crema_d(root).frame
    >>> result = run_experiment({"fusion": make_default_pipeline(max_epochs=1)}, frame, frame["emotion"],
    ...                         n_explain=0, verbose=False)
    >>> len(result.split["test_actors"]), result.evaluation["fusion"]["n_samples"]
    (1, 6)
    """
    estimators = dict(estimators)
    if not estimators:
        raise ValueError("run_experiment: estimators is empty; pass {name: unfitted pipeline}.")
    y = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y), index=X.index)
    stages = stages or Stages(3 if n_explain else 2, quiet=not verbose)
    name = next(iter(estimators))
    if cv:
        n_actors = X["actor_id"].nunique()
        if not 2 <= cv <= n_actors:
            raise ValueError(f"run_experiment: cv={cv} folds need between 2 and the number of actors ({n_actors}).")
        result = _out_of_fold(estimators, baseline, X, y, cv, random_state, verbose, stages)
    else:
        result = _hold_out(estimators, baseline, X, y, test_size, random_state, verbose, stages)
    if n_explain:
        from ..explain import explain

        with stages(f"explaining the {name} model on {n_explain} held-out clips"):
            # The baseline of the attributions: training clips, never the clips being explained.
            background = result.X_train.sample(min(32, len(result.X_train)), random_state=random_state)
            result.explanation = explain(result.model, result.X_test, result.y_test.to_numpy(), n_samples=n_explain,
                                         n_background=min(16, n_explain), random_state=random_state,
                                         X_background=background, verbose=verbose, **(explain_params or {}))
    return result


def _modalities_text(pipeline):
    names = [step for step, _ in getattr(pipeline[0], "transformer_list", ())]
    return f" ({', '.join(names)})" if names else ""


def _hold_out(estimators, baseline, X, y, test_size, random_state, verbose, stages):
    """One actor split: fit every model on the training actors, score them on the others."""
    train, test = actor_split(X, test_size, random_state)
    split = split_record(X, train, test)
    X_train, y_train, X_test, y_test = X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test]
    models = {}
    with stages(f"fitting {len(estimators)} model(s) on actors {split['train_actors']}"):
        for name, estimator in estimators.items():
            if verbose:
                print(f"      -- {name}{_modalities_text(estimator)}", flush=True)
            models[name] = fit_by_actor(estimator, X_train, y_train)[0]
        split["speaker_norm"] = speaker_norm_text(next(iter(models.values())))
        if baseline is not None:
            # The first question of a reviewer: does the network beat a linear model on the same inputs?
            models["baseline"] = fit_by_actor(baseline, X_train, y_train)[0]
    with stages(f"evaluating on held-out actors {split['test_actors']}"):
        evaluation, held_out = score_models(models, X_test, y_test, fit_actors=split["train_actors"],
                                            random_state=random_state, verbose=verbose)
    return ExperimentResult(models=models, evaluation=evaluation, held_out=held_out, split=split, X_train=X_train,
                            X_test=X_test, y_test=y_test)


def _out_of_fold(estimators, baseline, X, y, cv, random_state, verbose, stages):
    """Every model on ``cv`` actor folds; every clip scored by a model that never saw its actor.

    The headline model of the first fold is the one kept (to explain and save); the split says so.
    """
    folds = GroupKFold(n_splits=cv)
    everyone = dict(estimators, **({"baseline": baseline} if baseline is not None else {}))
    headline = next(iter(estimators))
    held = {}
    with stages(f"fitting {len(everyone)} model(s) on {cv} actor folds ({cv} fits each)"):
        for name, estimator in everyone.items():
            if verbose:
                print(f"      -- {name}", flush=True)
            held[name] = cross_val_predict_actors(estimator, X, y, cv=folds, return_models=name == headline,
                                                  verbose=verbose)
    with stages("scoring every actor out of fold"):
        evaluation = {}
        for name, predictions in held.items():
            evaluation[name] = predictions.evaluate()
            print_scores(name, evaluation[name], verbose)
        held_out = analyse(held[headline], random_state=random_state, verbose=verbose)
    first = held[headline]
    model = first.models[0]
    test = np.flatnonzero(first.fold == 0)
    split = {
        "protocol": (f"{cv}-fold actor-grouped cross-validation (GroupKFold by actor_id): every actor is held out "
                     "once and every score is out-of-fold; the explained and saved model is fold 1's"),
        "train_actors": first.fit_actors[0],
        "test_actors": sorted(int(a) for a in np.unique(first.actor_id[test])),
        "n_train": int(len(X) - len(test)), "n_test": int(len(test)), "n_scored": int(len(X)),
        "speaker_norm": speaker_norm_text(model),
    }
    return ExperimentResult(models={headline: model}, evaluation=evaluation, held_out=held_out, split=split,
                            X_train=X.iloc[np.flatnonzero(first.fold != 0)], X_test=X.iloc[test], y_test=y.iloc[test])


def machine_info(model):
    """Where ``model`` was fitted, for its model card: CPU cores, torch threads, device.

    Parameters
    ----------
    model : fitted pipeline
        Its classifier's ``device`` is read ("cpu" when it has none).

    Returns
    -------
    machine : dict
    """
    import torch

    return {"cpu cores": os.cpu_count(), "torch threads": torch.get_num_threads(),
            "device": str(getattr(model[-1], "device", "cpu"))}
