"""The per-clip gallery: the most confident right and wrong predictions, each with the ``gallery``
view of every explained modality that has one (:class:`~mmemotion.modalities.Modality`) and
its modality Shapley waterfall."""

import numpy as np

from ..evaluation import confident_clips
from ..modalities import get_modality
from . import _figures as fig
from ._common import unavailable

__all__ = ["gallery"]


def _views(explanation):
    """``{modality: gallery view}`` of the explained modalities that have one."""
    views = {}
    for m in explanation.modalities:
        try:
            view = get_modality(m).gallery
        except ValueError:  # explained in a session that had registered it; nothing to draw it with
            continue
        if view is not None:
            views[m] = view
    return views


def _clip_views(explanation, views, i):
    """``[(modality, view dict)]`` for clip ``i``; a modality with nothing to show is left out."""
    shown = []
    for m, view in views.items():
        display, maps = explanation.display.get(m), explanation.maps.get(m)
        display, attribution = (None if display is None else display[i]), (None if maps is None else maps[i])
        if display is None and attribution is None:
            continue
        result = view(display, attribution)
        if result:
            shown.append((m, {"image": None, "html": None, "caption": "", "alt": None, **result}))
    return shown


def _shapley(explanation, i, target, classes):
    values = np.asarray(explanation.shapley_values[i, target], dtype=float)
    base = float(np.asarray(explanation.shapley_base)[i, target]) if explanation.shapley_base is not None else 0.0
    full = (float(np.asarray(explanation.shapley_full)[i, target]) if explanation.shapley_full is not None
            else base + float(values.sum()))
    figure = fig.shapley_waterfall(list(explanation.modalities), values, base, full, classes[target])
    return figure, dict(zip(explanation.modalities, values.tolist()))


def gallery(explanation, per_kind=3, sets=None):
    if explanation is None:
        return unavailable("not available because no explanation was passed.")
    if not len(explanation.clip_ids):
        return unavailable("not available because the explanation covers no clip.")
    classes = list(explanation.classes)
    modalities = list(explanation.modalities)
    proba = np.asarray(explanation.proba, dtype=float)
    views = _views(explanation)
    items, numbers = [], []
    for i, correct in confident_clips(explanation, per_kind):
        target = int(explanation.target_class[i])
        clip = str(explanation.clip_ids[i])
        item = {
            "clip_id": clip,
            "y_true": None if explanation.y_true is None else str(explanation.y_true[i]),
            "y_pred": str(explanation.y_pred[i]),
            "confidence": float(proba[i, target]),
            "correct": correct,
            "top": sorted(zip(classes, proba[i].tolist()), key=lambda kv: -kv[1])[:3],
            "shares": {method: dict(zip(modalities, np.asarray(values[i], dtype=float).tolist()))
                       for method, values in (explanation.modality_shares or {}).items()},
            "views": _clip_views(explanation, views, i),
            "shapley": None,
            "set": None if sets is None else sets.get(clip),
        }
        if explanation.shapley_values is not None:
            item["shapley"], item["shapley_values"] = _shapley(explanation, i, target, classes)
        items.append(item)
        numbers.append({**{k: v for k, v in item.items() if k not in ("views", "shapley")},
                        **{m: view["numbers"] for m, view in item["views"] if "numbers" in view}})
    shown = {m for item in items for m, _ in item["views"]}
    return {
        "available": True,
        "items": items,
        "modalities": modalities,
        # Modalities that have a view but no per-clip data in this explanation.
        "missing": [m for m in views if m not in shown],
        "has_truth": explanation.y_true is not None,
        "has_sets": sets is not None,
        "confidence_level": None,
        "numbers": {"clips": numbers},
    }
