"""Turn numpy / pandas results into plain JSON values."""

import math
import numbers

import numpy as np

__all__ = ["to_jsonable"]


def to_jsonable(obj):
    """Recursively convert ``obj`` into JSON-safe Python values.

    numpy arrays become (nested) lists, numpy scalars Python numbers, non-finite floats
    ``None`` (JSON has no NaN), pandas frames lists of records, sets sorted lists, and any
    other object its ``str``.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, np.ndarray):
        return [to_jsonable(value) for value in obj.tolist()] if obj.ndim else to_jsonable(obj.item())
    if hasattr(obj, "to_dict") and hasattr(obj, "columns"):  # pandas DataFrame
        return [to_jsonable(row) for row in obj.to_dict(orient="records")]
    if hasattr(obj, "to_dict") and hasattr(obj, "index"):  # pandas Series
        return to_jsonable(obj.to_dict())
    if isinstance(obj, (set, frozenset)):
        return sorted(to_jsonable(value) for value in obj)
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(value) for value in obj]
    return str(obj)
