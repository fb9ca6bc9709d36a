"""A fitted model on disk with what its report needs to know: split, scores, parameters (``.meta.json``)."""

import json
from pathlib import Path

import numpy as np

from .. import MODALITIES
from ..utils import atomic_path
from ._score import score_models

__all__ = ["load_fitted", "meta_path", "predictions_table", "render_fitted", "save_fitted", "score_fitted"]


def meta_path(model_path):
    """The metadata file beside a model file: ``<model file name>.meta.json``."""
    return Path(model_path).with_name(Path(model_path).name + ".meta.json")


def save_fitted(model, path, meta, *, overwrite=False):
    """Save ``model`` (:func:`~mmemotion.models.save_model`) and ``meta`` as JSON beside it.

    Both files are written to temporary names first and renamed at the end, the metadata
    before the model, so an interrupted save leaves neither.

    Parameters
    ----------
    model : fitted pipeline
    path : str or path-like
        The model file; the metadata goes to :func:`meta_path`.
    meta : dict
        JSON-friendly after :func:`mmemotion.report._serialize.to_jsonable` (numpy values are
        converted): ``split``, ``evaluation``, ``out_of_fold``, ``params``, ...
    overwrite : bool, default=False

    Returns
    -------
    path : pathlib.Path
    """
    from ..models import save_model
    from ..report._serialize import to_jsonable

    with atomic_path(path, overwrite=overwrite) as tmp:
        save_model(model, tmp, overwrite=True)
        with atomic_path(meta_path(path), overwrite=overwrite) as tmp_meta:
            tmp_meta.write_text(json.dumps(to_jsonable(meta), indent=1, allow_nan=False), encoding="utf-8")
    return Path(path)


def load_fitted(path):
    """Load a model saved by :func:`save_fitted` and its metadata (``{}`` when there is none).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    model : pipeline
    meta : dict
    """
    from ..models import load_model

    model = load_model(path)
    meta = meta_path(path)
    return model, json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}


def score_fitted(model, meta, X, *, data=None, sample=None, analyse=True, random_state=0, verbose=True):
    """Scores of a saved model on ``X``, or the out-of-fold ones its fit computed on the same data.

    Parameters
    ----------
    model : fitted pipeline
    meta : dict
        What :func:`load_fitted` returned with it.
    X : pandas.DataFrame
        The clips to score (those of actors the model did not train on, for a fair score).
    data, sample : optional
        Where ``X`` came from (the folder and the ``sample`` given to
        :func:`~mmemotion.datasets.load_crema_d`).
        When they equal those the fit recorded with its out-of-fold analysis (``mmemotion fit
        --cv K``), that analysis (every actor scored once) is used instead of scoring ``X``.
    analyse : bool, default=True
        Calibrate, build sets and audit (:func:`~mmemotion.experiment.score_models`); False
        when ``X`` holds training actors.
    random_state : int, default=0
    verbose : bool, default=True

    Returns
    -------
    evaluation : dict
        ``{model name: scores}``; the name is ``"fusion"``, or the modality of a one-modality
        model (as recorded in ``meta["modalities"]``).
    held_out : dict or None
        :func:`~mmemotion.evaluation.analyse_held_out` (None when not ``analyse``).
    split : dict
        The fit's split record, with the test actors of ``X`` (and the protocol actually used).
    """
    modalities = meta.get("modalities", MODALITIES)
    name = "fusion" if len(modalities) > 1 else modalities[0]
    split = dict(meta.get("split") or {}, test_actors=sorted(int(a) for a in X["actor_id"].unique()), n_test=len(X))
    out_of_fold = meta.get("out_of_fold")
    same_data = data is not None and meta.get("data") == str(Path(data).resolve()) and meta.get("sample") == sample
    if out_of_fold and same_data:
        split["protocol"] = (f"{out_of_fold['protocol']} (scores, calibration, sets and audit); the saved model "
                             f"was trained on actors {split.get('train_actors')}")
        return {name: out_of_fold["evaluation"]}, out_of_fold, split
    evaluation, held_out = score_models({name: model}, X, X["emotion"], analyse_first=analyse,
                                        random_state=random_state, verbose=verbose)
    return evaluation, held_out, split


def render_fitted(path, model, meta, dataset, *, rows=None, data=None, sample=None, model_path=None, explanation=None,
                  analyse=True, protocol=None, title="mmemotion report", random_state=0, verbose=True,
                  overwrite=False):
    """Score a saved model on clips of ``dataset`` (:func:`score_fitted`) and write its report.

    Parameters
    ----------
    path : str or path-like
        The HTML file; the JSON sidecar goes beside it.
    model, meta
        What :func:`load_fitted` returned.
    dataset : sklearn.utils.Bunch
        What :func:`~mmemotion.datasets.load_crema_d` returned.
    rows : array-like of int, optional
        Positions of the clips of ``dataset.frame`` to score (e.g.
        :func:`~mmemotion.evaluation.held_out_rows`); default every clip.
    data, sample, analyse, random_state, verbose
        As in :func:`score_fitted`.
    model_path : str or path-like, optional
        Named in the model card.
    explanation : Explanation, optional
        Of this model (:func:`~mmemotion.explain.load_explanation`).
    protocol : str, optional
        Replaces the split's protocol in the report (say how the clips were chosen).
    title : str, default="mmemotion report"
    overwrite : bool, default=False

    Returns
    -------
    path : pathlib.Path
    """
    from ..report import render_report, training_history

    X = dataset.frame if rows is None else dataset.frame.iloc[rows]
    evaluation, held_out, split = score_fitted(model, meta, X, data=data, sample=sample, analyse=analyse,
                                               random_state=random_state, verbose=verbose)
    if protocol is not None:
        split["protocol"] = protocol
    card = {"model": model_path and str(Path(model_path).resolve()), "params": meta.get("params", {}),
            "seed": meta.get("seed"), "training timings (s)": meta.get("timings (s)", {})}
    return render_report(path, dataset=dataset, evaluation=evaluation, explanation=explanation, held_out=held_out,
                         history=training_history(model), cv_results=meta.get("cv_results"), split=split,
                         overwrite=overwrite, title=title, model_card=card)


def predictions_table(model, X):
    """One row per clip: ``clip_id``, ``actor_id``, ``emotion``, ``predicted`` and ``proba_<emotion>``.

    Parameters
    ----------
    model : fitted pipeline
    X : pandas.DataFrame
        Manifest of :func:`~mmemotion.datasets.load_crema_d`.

    Returns
    -------
    table : pandas.DataFrame
        Probabilities rounded to 6 decimals.
    """
    import pandas as pd

    proba = model.predict_proba(X)
    classes = list(model[-1].classes_)
    table = pd.DataFrame({"clip_id": X["clip_id"], "actor_id": X["actor_id"], "emotion": X["emotion"],
                          "predicted": np.asarray(classes, dtype=object)[proba.argmax(1)]})
    for k, label in enumerate(classes):
        table[f"proba_{label}"] = proba[:, k].round(6)
    return table
