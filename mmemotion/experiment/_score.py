"""Score fitted models on clips of actors they never saw: the step ``fit``, ``report`` and the demo share."""

from ..evaluation import analyse_held_out, evaluate, held_out_predictions
from ._stages import print_analysis, print_scores

__all__ = ["VOTE_COLUMNS", "analyse", "evaluate_model", "score_models"]

#: Simulated or real rater votes of the manifest, compared with the model's predictions.
VOTE_COLUMNS = ("voice_vote", "face_vote", "multimodal_vote")


def evaluate_model(model, X, y):
    """:func:`~mmemotion.evaluation.evaluate` of ``model``'s predictions, with the raters' votes of ``X``.

    Parameters
    ----------
    model : fitted classifier
        Anything with ``predict`` and ``classes_`` (a fitted mmemotion pipeline).
    X : pandas.DataFrame
        Manifest rows; its ``voice_vote``, ``face_vote`` and ``multimodal_vote`` columns, where
        present, give the human comparison.
    y : array-like of shape (n_clips,)
        True emotions.

    Returns
    -------
    evaluation : dict
        See :func:`~mmemotion.evaluation.evaluate`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.dummy import DummyClassifier
    >>> X = pd.DataFrame({"f": [0, 1, 2, 3], "multimodal_vote": ["ANG", "SAD", "SAD", "SAD"]})
    >>> model = DummyClassifier(strategy="most_frequent").fit(X, ["ANG", "SAD", "SAD", "SAD"])
    >>> evaluate_model(model, X, ["ANG", "SAD", "SAD", "SAD"])["accuracy"]
    0.75
    """
    votes = X[[c for c in VOTE_COLUMNS if c in X.columns]]
    return evaluate(y, model.predict(X), list(model.classes_), votes=votes if votes.shape[1] else None)


def analyse(held_out, *, random_state=0, verbose=True):
    """:func:`~mmemotion.evaluation.analyse_held_out`, with its two-line summary printed when ``verbose``.

    Parameters
    ----------
    held_out : HeldOutPredictions
    random_state : int, default=0
    verbose : bool, default=True

    Returns
    -------
    analysis : dict
    """
    analysis = analyse_held_out(held_out, random_state=random_state)
    print_analysis(analysis, verbose)
    return analysis


def score_models(models, X, y, *, analyse_first=True, fit_actors=None, random_state=0, verbose=True):
    """Score each fitted model on held-out clips; calibrate, build sets and audit the first.

    Parameters
    ----------
    models : dict of str to fitted classifier
        The first is the headline model.
    X : pandas.DataFrame
        Manifest rows of clips whose actors the models were not trained on.
    y : array-like of shape (n_clips,)
        True emotions.
    analyse_first : bool, default=True
        Also :func:`analyse` the first model's predictions (needs held-out actors).
    fit_actors : sequence of int, optional
        Actors the models were fitted on; a clip of one of them raises ValueError (see
        :func:`~mmemotion.evaluation.held_out_predictions`).
    random_state : int, default=0
    verbose : bool, default=True
        Print each model's scores and the analysis summary.

    Returns
    -------
    evaluation : dict
        Model name to :func:`evaluate_model`.
    held_out : dict or None
        :func:`~mmemotion.evaluation.analyse_held_out` of the first model; None when
        ``analyse_first`` is False.
    """
    evaluation = {}
    for name, model in models.items():
        evaluation[name] = evaluate_model(model, X, y)
        print_scores(name, evaluation[name], verbose)
    if not analyse_first:
        return evaluation, None
    first = next(iter(models.values()))
    held_out = held_out_predictions(first, X, y, fit_actors=fit_actors)
    return evaluation, analyse(held_out, random_state=random_state, verbose=verbose)
