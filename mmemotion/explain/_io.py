"""Explanation <-> ``.npz`` file: arrays plus a JSON header, loaded without pickle."""

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..utils import atomic_path
from ._explanation import Explanation

__all__ = ["load_explanation", "save_explanation"]


def save_explanation(explanation, path, *, overwrite=False):
    """Write an :class:`Explanation` to ``path`` (``.npz``: arrays plus a JSON header).

    Loading it back (:func:`load_explanation`) runs no code: there is no pickle in the file. The
    file is written to a temporary name and renamed into place, so an interrupted save leaves no
    half-written file.

    Parameters
    ----------
    explanation : Explanation
    path : str or path-like
    overwrite : bool, default=False
        Replace an existing file; otherwise an existing ``path`` raises FileExistsError.

    Returns
    -------
    path : pathlib.Path
    """
    # The report package imports matplotlib and jinja2; only its JSON helper is needed here.
    from ..report._serialize import to_jsonable

    if not isinstance(explanation, Explanation):
        raise TypeError(f"save_explanation: expected an Explanation, got {type(explanation).__name__}.")
    arrays, header = {}, {}
    for field in dataclasses.fields(explanation):
        value = getattr(explanation, field.name)
        if isinstance(value, np.ndarray) and value.dtype != object:
            arrays[f"a:{field.name}"] = value
        elif isinstance(value, np.ndarray):
            arrays[f"a:{field.name}"] = value.astype(str)
        elif isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
            for key, array in value.items():
                arrays[f"d:{field.name}:{key}"] = array
        elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
            for i, array in enumerate(value):
                arrays[f"l:{field.name}:{i:06d}"] = array
        else:
            header[field.name] = to_jsonable(value)
    arrays["header"] = np.array(json.dumps(header))
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return Path(path)


def load_explanation(path):
    """Read an :class:`Explanation` written by :func:`save_explanation` (no pickle, no code run).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    explanation : Explanation
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_explanation: {str(path)!r} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as data:
            fields = json.loads(str(data["header"]))
            # Stored order: dicts keep their key order (methods in the order they ran), lists theirs.
            for key in data.files:
                kind, _, rest = key.partition(":")
                if kind == "a":
                    fields[rest] = data[key]
                elif kind == "d":
                    name, _, sub = rest.partition(":")
                    fields.setdefault(name, {})[sub] = data[key]
                elif kind == "l":
                    name = rest.rpartition(":")[0]
                    fields.setdefault(name, []).append(data[key])
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(
            f"load_explanation: {str(path)!r} is not an explanation file written by save_explanation ({error})."
        ) from None
    try:
        return Explanation(**fields)
    except TypeError as error:
        raise ValueError(f"load_explanation: {str(path)!r} holds fields Explanation does not know ({error}).") from None
