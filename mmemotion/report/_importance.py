"""The modality-importance section: every measure side by side, and whether they agree.

The measures and their rankings are computed by :mod:`mmemotion.evaluation`
(:func:`~mmemotion.evaluation.importance_measures`, :func:`~mmemotion.evaluation.rank_modalities`);
this module lays them out.
"""

from ..evaluation import importance_measures, rank_modalities
from . import _figures as fig
from ._common import unavailable

__all__ = ["modality_importance"]

#: Table column of a measure's series: prefix + series name, e.g. "share: integrated_gradients".
_COLUMN_PREFIX = {"Attribution share": "share: ", "Modality Shapley (pred. class)": "Shapley ",
                  "Ablation drop": "ablation "}

#: Sidecar key of each measure (the explanation's own attribute where it has one).
_NUMBERS_KEY = {"Attribution share": "mean_modality_shares", "Ablation drop": "ablation",
                "Score with it alone": "ablation_alone"}


def _numbers(explanation, measures, modalities):
    numbers = {}
    for title, series in measures:
        if title == "Modality Shapley (pred. class)":
            numbers["mean_abs_shapley"] = dict(zip(modalities, series["mean |φ|"]))
            numbers["mean_shapley"] = dict(zip(modalities, series["mean φ"]))
        elif title == "Attribution share":
            numbers[_NUMBERS_KEY[title]] = {k: dict(zip(modalities, v)) for k, v in series.items()}
        else:
            numbers[_NUMBERS_KEY[title]] = getattr(explanation, _NUMBERS_KEY[title])
    return numbers


def modality_importance(explanation):
    if explanation is None:
        return unavailable("not available because no explanation was given: on the command line, "
                           "`mmemotion explain --out ex.npz` then `mmemotion report --explanation ex.npz`; in "
                           "Python, render_report(explanation=explain(pipeline, X_test, y_test)).")
    modalities = list(explanation.modalities)
    measures = importance_measures(explanation)
    if not measures:
        return unavailable("not available because the explanation holds no modality shares, Shapley "
                           "values or ablation results (run explain with those methods).")
    table = {m: {} for m in modalities}
    for title, series in measures:
        for name, values in series.items():
            for m, value in zip(modalities, values):
                table[m][_COLUMN_PREFIX.get(title, "") + name] = value
    columns = sorted({c for row in table.values() for c in row}, key=lambda c: (c.split(":")[0], c))
    ranks = rank_modalities(modalities, measures)
    return {
        "available": True,
        "figure": fig.modality_importance(modalities, measures),
        "columns": columns,
        "table": [(m, [table[m].get(c) for c in columns]) for m in modalities],
        "rankings": ranks["rankings"],
        "rankings_agree": ranks["agree"],
        "conflicts": ranks["conflicts"],
        "top_agree": ranks["top_agree"],
        "flat": ranks["flat"],
        "single_modality": len(modalities) == 1,
        "modalities": modalities,
        "numbers": _numbers(explanation, measures, modalities),
    }
