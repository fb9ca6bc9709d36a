"""What an :class:`~mmemotion.explain.Explanation` says, as plain data: which modality matters,
whether the importance measures agree, which clips to look at, and how models compare with
the raters who saw the same modalities.

The explanation is read by duck typing (its attributes and ``mean_modality_shares``), so this
module imports neither the explain subpackage (torch, Captum, SHAP) nor matplotlib; the report
renders what it returns.
"""

import numpy as np

from ..modalities import get_modality
from ._metrics import PRESENTATIONS

__all__ = ["actor_overlap", "confident_clips", "human_comparison", "importance_measures", "matched_presentation",
           "rank_modalities"]

#: Values closer than this are a tie: no measure ranks two modalities on float noise.
_TIE = 1e-9


def importance_measures(explanation):
    """Every modality-importance measure the explanation holds, averaged over its clips.

    Parameters
    ----------
    explanation : mmemotion.explain.Explanation

    Returns
    -------
    measures : list of (str, dict of str -> list of float)
        ``(title, {series: one value per modality of explanation.modalities})``, in this order
        and only when the explanation holds them: ``"Attribution share"`` (one series per
        attribution method, :meth:`~mmemotion.explain.Explanation.mean_modality_shares`),
        ``"Modality Shapley (pred. class)"`` (``"mean |φ|"`` and ``"mean φ"`` of the predicted
        class), ``"Ablation drop"`` (``"accuracy drop"``, ``"macro_f1 drop"``: the score lost when
        the modality is at its baseline; 0 for a modality not ablated) and ``"Score with it
        alone"`` (``"accuracy alone"``, ``"macro_f1 alone"``; NaN where not computed, and only
        with two modalities or more). The first series of each measure is the one
        :func:`rank_modalities` ranks.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> ex = SimpleNamespace(modalities=["a", "b"], mean_modality_shares=lambda: {"ig": {"a": 0.7, "b": 0.3}})
    >>> importance_measures(ex)
    [('Attribution share', {'ig': [0.7, 0.3]})]
    """
    modalities = list(explanation.modalities)
    measures = []
    shares = explanation.mean_modality_shares()
    if shares:
        measures.append(("Attribution share", {method: [values[m] for m in modalities]
                                               for method, values in shares.items()}))
    values = getattr(explanation, "shapley_values", None)
    if values is not None:
        values = np.asarray(values, dtype=float)
        picked = values[np.arange(len(values)), np.asarray(explanation.target_class, dtype=int)]  # (n, m)
        measures.append(("Modality Shapley (pred. class)",
                         {"mean |φ|": np.abs(picked).mean(axis=0).tolist(), "mean φ": picked.mean(axis=0).tolist()}))
    ablation = getattr(explanation, "ablation", None) or {}
    if "none" in ablation and any(m in ablation for m in modalities):
        full = ablation["none"]
        measures.append(("Ablation drop", {
            f"{metric} drop": [full[metric] - ablation[m][metric] if m in ablation else 0.0 for m in modalities]
            for metric in ("accuracy", "macro_f1") if metric in full}))
    alone = getattr(explanation, "ablation_alone", None) or {}
    if any(m in alone for m in modalities) and len(modalities) > 1:
        kept = {}
        for metric in ("accuracy", "macro_f1"):
            scores = [alone.get(m, {}).get(metric) for m in modalities]
            if any(v is not None for v in scores):
                kept[f"{metric} alone"] = [np.nan if v is None else v for v in scores]
        measures.append(("Score with it alone", kept))
    return measures


def rank_modalities(modalities, measures):
    """Order the modalities by each measure and say where the measures disagree.

    Parameters
    ----------
    modalities : list of str
    measures : list of (str, dict of str -> list of float)
        As :func:`importance_measures` returns; each measure's first series is ranked.

    Returns
    -------
    rankings : dict
        ``rankings`` (``{title: "audio > video = text"}``, ties written as ``=``), ``flat``
        (titles of measures giving every modality the same value: they rank nothing),
        ``conflicts`` (``"a and b"`` for each pair one measure orders one way and another the
        other way; a tie contradicts nothing), ``agree`` (no conflict) and ``top_agree`` (the
        modalities every measure puts first, ties included, when the measures conflict only
        further down; else None).

    Examples
    --------
    >>> r = rank_modalities(["a", "b", "c"], [("x", {"s": [3, 2, 1]}), ("y", {"s": [3, 1, 2]})])
    >>> r["rankings"], r["conflicts"], r["top_agree"]
    ({'x': 'a > b > c', 'y': 'a > c > b'}, ['b and c'], ['a'])
    """
    modalities = list(modalities)
    rankings, flat, signs, tops = {}, [], {}, set()
    for title, series in measures:
        values = np.asarray(next(iter(series.values())), dtype=float)
        for a in range(len(modalities)):
            for b in range(a + 1, len(modalities)):
                if abs(values[a] - values[b]) > _TIE:
                    signs.setdefault((a, b), set()).add(bool(values[a] > values[b]))
        if np.ptp(values) <= _TIE:
            flat.append(title)
            continue
        order = np.argsort(-values, kind="stable")
        ranking = modalities[order[0]]
        for prev, i in zip(order, order[1:]):
            ranking += (" = " if abs(values[prev] - values[i]) <= _TIE else " > ") + modalities[i]
        rankings[title] = ranking
        # The first place, ties included ("audio = video" leads with both).
        tops.add(frozenset(modalities[i] for i in order if abs(values[i] - values[order[0]]) <= _TIE))
    conflicts = [f"{modalities[a]} and {modalities[b]}" for (a, b), seen in sorted(signs.items()) if len(seen) > 1]
    return {
        "rankings": rankings,
        "flat": flat,
        "conflicts": conflicts,
        "agree": not conflicts,
        # Every measure puts the same modality (or tie) first, whatever they say about the rest.
        "top_agree": sorted(tops.pop()) if len(tops) == 1 and conflicts else None,
    }


def confident_clips(explanation, per_kind=3):
    """The most confident correct and the most confident wrong predictions of the explanation.

    Parameters
    ----------
    explanation : mmemotion.explain.Explanation
    per_kind : int, default=3

    Returns
    -------
    picked : list of (int, bool or None)
        ``(clip index, correct)``: up to ``per_kind`` correct then up to ``per_kind`` wrong clips,
        each by decreasing probability of the explained class; without true labels, the
        ``2 * per_kind`` most confident clips with ``correct`` None.
    """
    proba = np.asarray(explanation.proba, dtype=float)
    confidence = proba[np.arange(len(proba)), np.asarray(explanation.target_class, dtype=int)]
    order = np.argsort(-confidence, kind="stable")
    if explanation.y_true is None:
        return [(int(i), None) for i in order[: 2 * per_kind]]
    correct = np.asarray(explanation.y_true).astype(str) == np.asarray(explanation.y_pred).astype(str)
    return ([(int(i), True) for i in order if correct[i]][:per_kind]
            + [(int(i), False) for i in order if not correct[i]][:per_kind])


def matched_presentation(model_name):
    """The rater presentation that saw what a model named ``model_name`` sees.

    A model named after a registered modality whose ``label`` is a presentation of
    :data:`PRESENTATIONS` (the voice-only and face-only raters) is matched with it; every other
    model (fusion, baseline) with the audio-visual raters, ``"multimodal"``.

    Examples
    --------
    >>> matched_presentation("fusion")
    'multimodal'
    """
    try:
        label = get_modality(model_name).label
    except ValueError:
        return "multimodal"
    return label if label in PRESENTATIONS else "multimodal"


def human_comparison(evaluations):
    """Every (model, rater presentation) comparison of ``evaluate(..., votes=...)`` results.

    Parameters
    ----------
    evaluations : dict of str -> dict
        ``{model name: evaluate() result}``.

    Returns
    -------
    rows : list of dict
        One per model and presentation with rater votes: ``model``, ``presentation``,
        ``matched`` (whether it is :func:`matched_presentation` of the model) and the
        agreement figures of the evaluation (``human_accuracy``, ``model_accuracy``, ...).
    """
    return [{"model": name, "presentation": presentation, "matched": presentation == matched_presentation(name),
             **result}
            for name, ev in evaluations.items() for presentation, result in (ev.get("human") or {}).items()]


def actor_overlap(split):
    """Actors in both the training and the test set of ``split``, or None when it does not say.

    Parameters
    ----------
    split : dict or None
        With ``train_actors`` and ``test_actors``.

    Returns
    -------
    overlap : list or None
        Sorted; empty for an actor-independent split.

    Examples
    --------
    >>> actor_overlap({"train_actors": [1, 2, 3], "test_actors": [3, 4]})
    [3]
    """
    if not split or split.get("train_actors") is None or split.get("test_actors") is None:
        return None
    return sorted(set(split["train_actors"]) & set(split["test_actors"]))
