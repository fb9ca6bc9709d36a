"""The evaluation section: held-out scores per class and per model, folds, curves, grid search."""

from ..datasets._codes import EMOTION_NAMES
from . import _figures as fig
from ._common import unavailable
from ._held_out_sections import fold_rows

__all__ = ["evaluation_section"]


def _history_rows(history):
    if history is None:
        return None
    rows = history.to_list() if hasattr(history, "to_list") else list(history)
    # skorch keeps per-batch records under "batches"; only epoch-level numbers are plotted.
    return [{k: v for k, v in dict(row).items() if k != "batches"} for row in rows]


def _cv_rows(cv_results, max_rows=30):
    if hasattr(cv_results, "to_dict") and hasattr(cv_results, "columns"):
        cv_results = {c: list(cv_results[c]) for c in cv_results.columns}
    params = list(cv_results.get("params", []))
    n = len(params) or len(next(iter(cv_results.values()), []))
    rows = []
    for i in range(n):
        row = {"params": ", ".join(f"{k}={v}" for k, v in dict(params[i]).items()) if params else ""}
        for key in ("rank_test_score", "mean_test_score", "std_test_score", "mean_fit_time"):
            if key in cv_results:
                row[key] = cv_results[key][i]
        rows.append(row)
    rows.sort(key=lambda r: r.get("rank_test_score", 0))
    return rows[:max_rows]


def evaluation_section(evaluations, main, history, cv_results, held_out=None):
    numbers = {}
    if main is None and history is None and cv_results is None and not held_out:
        return unavailable("not available because no evaluation, training history or CV results were "
                           "passed (render_report(evaluation=evaluate(...))).")
    out = {"available": True, "main_model": main, "models": [], "numbers": numbers, "curves": None,
           "cv_rows": None, "reason_metrics": None, "reason_curves": None, "reason_cv": None,
           "folds": fold_rows(held_out)}
    if out["folds"]:
        numbers["folds"] = out["folds"]
    if main is not None:
        ev = evaluations[main]
        out["per_class"] = [(label, EMOTION_NAMES.get(label, ""), m) for label, m in ev["per_class"].items()]
        out["headline"] = ev
        out["confusion"] = fig.confusion(ev["confusion_matrix"], ev["classes"])
        out["models"] = list(evaluations.items())
        numbers["models"] = evaluations
        # Chance on these clips: always answering the most frequent true class.
        supports = [m.get("support", 0) for m in ev["per_class"].values()]
        out["chance"] = max(supports) / sum(supports) if sum(supports) else None
        numbers["chance_accuracy"] = out["chance"]
    else:
        out["reason_metrics"] = "not available because no evaluation was passed."
    rows = _history_rows(history)
    if rows:
        out["curves"] = fig.training_curves(rows)
        numbers["history"] = rows
    else:
        out["reason_curves"] = ("not available because no training history was passed "
                                "(render_report(history=net.history)).")
    if cv_results is not None:
        out["cv_rows"] = _cv_rows(cv_results)
        numbers["cv_results"] = cv_results
    else:
        out["reason_cv"] = "not available because no grid search was run (render_report(cv_results=...))."
    return out
