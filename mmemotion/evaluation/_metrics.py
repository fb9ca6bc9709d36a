"""Held-out metrics for emotion classifiers, and the comparison with CREMA-D's human raters.

Ties in the raters' majority vote
---------------------------------
CREMA-D's ``summaryTable.csv`` joins tied majority labels with ``":"`` (e.g. ``"N:S"`` — about
1 in 12 clips per presentation). A tie is scored as the *expected* outcome of breaking it at
random: a clip whose tie contains the reference label among ``t`` labels counts ``1 / t``
correct. This keeps the human accuracy comparable with a classifier that must name one label,
and sits between the optimistic reading (any tied label counts) and the pessimistic one (ties
are wrong); both of those are reported too (``human_accuracy_lenient`` and
``human_accuracy_strict``) so a reader can see how much ties matter. Model-vs-human
``agreement`` uses the same rule; Cohen's kappa uses the untied clips only.
"""

import numbers

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from ..datasets._codes import EMOTIONS, VOTE_LETTERS

__all__ = ["PRESENTATIONS", "evaluate", "parse_vote", "human_agreement"]

#: Rater presentation -> the column of ``load_crema_d(...).frame`` that holds its majority vote.
#: Voice = audio only, face = video only, multimodal = audio-visual.
PRESENTATIONS = {"voice": "voice_vote", "face": "face_vote", "multimodal": "multimodal_vote"}


def parse_vote(vote):
    """Turn one majority-vote cell into the tuple of labels it names.

    Parameters
    ----------
    vote : str, float or None
        An emotion code (``"ANG"``), a rater letter (``"A"``), a tie joined by ``":"``
        (``"ANG:SAD"`` or ``"A:S"``), or a missing value (``None``, ``NaN``, ``""``).

    Returns
    -------
    labels : tuple of str
        Emotion codes, empty when the clip has no vote. Unknown tokens are kept as written, so
        a vote in another labelling scheme still compares equal to labels spelled the same way.

    Examples
    --------
    >>> parse_vote("A:S")
    ('ANG', 'SAD')
    >>> parse_vote(float("nan"))
    ()
    """
    if vote is None or (isinstance(vote, numbers.Real) and np.isnan(vote)):
        return ()
    tokens = [token.strip() for token in str(vote).split(":")]
    return tuple(VOTE_LETTERS.get(token, token) for token in tokens if token)


def _scores_against_votes(reference, votes):
    """Per-clip expected correctness of tied votes, plus masks for the lenient/strict readings."""
    frac = np.full(len(reference), np.nan)
    lenient = np.full(len(reference), np.nan)
    strict = np.full(len(reference), np.nan)
    for i, (ref, labels) in enumerate(zip(reference, votes)):
        if not labels:
            continue
        hit = ref in labels
        frac[i] = hit / len(labels)
        lenient[i] = float(hit)
        strict[i] = float(hit and len(labels) == 1)
    return frac, lenient, strict


def human_agreement(y_true, y_pred, votes, *, classes=None):
    """Compare one presentation's rater majority votes with the truth and with a model.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Intended (acted) emotion codes.
    y_pred : array-like of shape (n_samples,)
        Model predictions for the same clips.
    votes : array-like of shape (n_samples,)
        Majority votes, see :func:`parse_vote`.
    classes : sequence of str, optional
        Labels for Cohen's kappa; defaults to the union of the labels seen.

    Returns
    -------
    result : dict or None
        ``None`` when no clip has a vote. Otherwise: ``n_rated``, ``n_ties``,
        ``human_accuracy`` (ties scored as a random tie-break, see the module docstring),
        ``human_accuracy_lenient``, ``human_accuracy_strict``, ``model_accuracy`` (on the same
        rated clips), ``agreement`` (how often the model names the humans' label, same tie
        rule), ``kappa`` (Cohen's kappa between model and humans on clips without a tie) and
        ``both_right`` / ``only_human_right`` / ``only_model_right`` / ``both_wrong`` (fractions
        of the untied rated clips).
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    parsed = [parse_vote(v) for v in votes]
    rated = np.array([bool(p) for p in parsed])
    if not rated.any():
        return None
    frac, lenient, strict = _scores_against_votes(y_true, parsed)
    agree, _, _ = _scores_against_votes(y_pred, parsed)
    untied = np.array([len(p) == 1 for p in parsed])
    result = {
        "n_rated": int(rated.sum()),
        "n_ties": int((rated & ~untied).sum()),
        "human_accuracy": float(np.nanmean(frac)),
        "human_accuracy_lenient": float(np.nanmean(lenient)),
        "human_accuracy_strict": float(np.nanmean(strict)),
        "model_accuracy": float(np.mean(y_true[rated] == y_pred[rated])),
        "agreement": float(np.nanmean(agree)),
        "kappa": None,
        "both_right": None,
        "only_human_right": None,
        "only_model_right": None,
        "both_wrong": None,
    }
    if untied.any():
        human = np.array([p[0] for p, u in zip(parsed, untied) if u], dtype=object)
        model = y_pred[untied]
        truth = y_true[untied]
        labels = list(classes) if classes is not None else sorted(set(human) | set(model))
        # Kappa is undefined (0/0) when both raters use one identical label throughout.
        if len(set(human) | set(model)) > 1:
            result["kappa"] = float(cohen_kappa_score(human, model, labels=labels))
        human_ok, model_ok = human == truth, model == truth
        result["both_right"] = float(np.mean(human_ok & model_ok))
        result["only_human_right"] = float(np.mean(human_ok & ~model_ok))
        result["only_model_right"] = float(np.mean(~human_ok & model_ok))
        result["both_wrong"] = float(np.mean(~human_ok & ~model_ok))
    return result


def _vote_columns(votes, n):
    """Normalise ``votes`` to ``{presentation: list}``; accepts a DataFrame or a mapping."""
    out = {}
    for presentation, column in PRESENTATIONS.items():
        for key in (column, presentation):
            try:
                values = votes[key]
            except (KeyError, IndexError, TypeError):
                continue
            values = list(values)
            if len(values) != n:
                raise ValueError(
                    f"votes[{key!r}] has {len(values)} entries but y_true has {n}; pass the vote "
                    "columns of the same rows that were predicted (e.g. X_test[['voice_vote', ...]])."
                )
            out[presentation] = values
            break
    return out


def evaluate(y_true, y_pred, classes=EMOTIONS, *, votes=None):
    """Score predictions on held-out clips.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True emotion codes.
    y_pred : array-like of shape (n_samples,)
        Predicted emotion codes.
    classes : sequence of str, default=EMOTIONS
        Labels, in the row/column order of the confusion matrix and per-class table. Labels
        absent from both ``y_true`` and ``y_pred`` get zero support and are kept so that
        tables from different runs line up.
    votes : pandas.DataFrame or mapping, optional
        CREMA-D rater majority votes for the same rows: any of the columns ``voice_vote``,
        ``face_vote``, ``multimodal_vote`` (or keys ``voice``, ``face``, ``multimodal``), each
        holding emotion codes, rater letters, ties joined by ``":"``, or missing values.

    Returns
    -------
    result : dict
        ``n_samples``, ``classes``, ``accuracy``, ``macro_f1``, ``uar`` (unweighted average
        recall = balanced accuracy), ``per_class`` (``{label: {precision, recall, f1,
        support}}``), ``confusion_matrix`` (list of lists, rows = true, columns = predicted)
        and ``human`` (``{presentation: human_agreement(...)}`` for each presentation with at
        least one vote; empty when ``votes`` is None or holds no vote). Plain Python types
        only, so the result can be dumped to JSON.

    Examples
    --------
    >>> r = evaluate(["ANG", "SAD", "SAD"], ["ANG", "SAD", "ANG"],
    ...              votes={"voice_vote": ["A", "A:S", None]})
    >>> round(r["accuracy"], 3), r["human"]["voice"]["human_accuracy"]
    (0.667, 0.75)
    """
    y_true = np.asarray(y_true, dtype=object).ravel()
    y_pred = np.asarray(y_pred, dtype=object).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}; pass one prediction per clip.")
    if y_true.size == 0:
        raise ValueError("evaluate got no samples; pass at least one held-out clip.")
    classes = [str(c) for c in classes]
    unknown = sorted({str(v) for v in np.concatenate([y_true, y_pred])} - set(classes))
    if unknown:
        raise ValueError(f"labels {unknown} are not in classes={classes}; pass classes=model.classes_.")
    y_true, y_pred = y_true.astype(str), y_pred.astype(str)

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    # UAR = recall averaged over the classes present in y_true, which is what sklearn's
    # balanced_accuracy_score computes; done from `recall` here because sklearn warns whenever
    # a held-out fold lacks a predicted class, which is routine for small test sets.
    result = {
        "n_samples": int(y_true.size),
        "classes": classes,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "uar": float(recall[support > 0].mean()),
        "per_class": {
            label: {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for label, p, r, f, s in zip(classes, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        "human": {},
    }
    if votes is not None:
        for presentation, values in _vote_columns(votes, y_true.size).items():
            comparison = human_agreement(y_true, y_pred, values, classes=classes)
            if comparison is not None:
                result["human"][presentation] = comparison
    return result
