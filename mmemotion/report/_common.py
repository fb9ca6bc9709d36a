"""Small helpers shared by the section builders: reading loosely typed inputs, counting values.

Every section builder returns a dict with ``available`` (bool), ``reason`` (why not, in words,
when unavailable), the values the template shows, and ``numbers`` (what goes into the JSON
sidecar).
"""

from collections import Counter
from pathlib import Path

import numpy as np

__all__ = ["counts", "first", "frame_and_quality", "is_synthetic", "main_evaluation", "unavailable"]


def unavailable(reason, **extra):
    """The context of a section that cannot be shown, saying why."""
    return {"available": False, "reason": reason, "numbers": {}, **extra}


def first(mapping, *keys):
    """The first of ``keys`` that ``mapping`` (a dict, Bunch or anything indexable) holds and is not None."""
    for key in keys:
        try:
            value = mapping[key]
        except (KeyError, TypeError, IndexError):
            continue
        if value is not None:
            return value
    return None


def frame_and_quality(dataset):
    """``(manifest frame, quality table)`` of a ``load_crema_d`` Bunch, a dict with ``frame``, or a bare DataFrame."""
    if dataset is None:
        return None, None
    if hasattr(dataset, "columns"):
        return dataset, None
    frame = first(dataset, "frame")
    if frame is None:
        data, target = first(dataset, "data"), first(dataset, "target")
        if data is not None and target is not None:
            frame = data.assign(emotion=np.asarray(target))
    return frame, first(dataset, "quality")


def counts(values, order=None):
    """``{str(value): count}`` without missing values, ``order`` first, then the rest sorted."""
    found = Counter(str(v) for v in values if v is not None and v == v)
    keys = [k for k in (order or []) if k in found] + sorted(k for k in found if k not in (order or []))
    return {k: int(found[k]) for k in keys}


def main_evaluation(evaluation):
    """Normalise ``evaluation`` to ``{model name: evaluate() dict}`` and pick the headline one."""
    if not evaluation:
        return {}, None
    if "accuracy" in evaluation:
        evaluation = {"fusion": evaluation}
    main = "fusion" if "fusion" in evaluation else next(iter(evaluation))
    return dict(evaluation), main


def is_synthetic(dataset):
    """Whether ``dataset`` says it came from the synthetic generator (its rater votes are simulated)."""
    if dataset is None or hasattr(dataset, "columns"):
        return False
    if first(dataset, "synthetic") is not None:
        return True
    root = first(dataset, "root")
    return root is not None and (Path(root) / "synthetic_truth.csv").is_file()
