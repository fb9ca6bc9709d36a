"""Explanation <-> ``.npz`` file: arrays plus a JSON header, loaded without pickle.

The header holds every field as JSON, with each numeric array replaced by
``{"__ndarray__": key}``, the key of the array in the file; so dicts and lists of arrays (a
modality's per-clip maps) nest freely. Files of older versions kept arrays under ``a:field``,
``d:field:key`` and ``l:field:index`` and each modality's map and display data in fields of their
own; they load too (see :func:`load_explanation`).
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..modalities import get_modality, registered_modalities
from ..utils import atomic_path
from ._explanation import Explanation

__all__ = ["load_explanation", "save_explanation"]

_ARRAY = "__ndarray__"


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
    if not isinstance(explanation, Explanation):
        raise TypeError(f"save_explanation: expected an Explanation, got {type(explanation).__name__}.")
    arrays = {}
    header = {f.name: _pack(getattr(explanation, f.name), arrays) for f in dataclasses.fields(explanation)}
    arrays["header"] = np.array(json.dumps(header))
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return Path(path)


def _pack(value, arrays):
    """``value`` as JSON, its arrays moved into ``arrays`` and replaced by references."""
    # The report package imports matplotlib and jinja2; only its JSON helper is needed here.
    from ..report._serialize import to_jsonable

    if isinstance(value, np.ndarray):
        key = f"v{len(arrays):06d}"
        # Object arrays (labels) are stored as strings: np.load(allow_pickle=False) refuses objects.
        arrays[key] = value.astype(str) if value.dtype == object else value
        return {_ARRAY: key}
    if isinstance(value, dict):
        return {str(k): _pack(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_pack(v, arrays) for v in value]
    return to_jsonable(value)


def _unpack(value, data):
    """Inverse of :func:`_pack`: references replaced by the arrays of ``data``."""
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            return data[value[_ARRAY]]
        return {k: _unpack(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, data) for v in value]
    return value


def load_explanation(path):
    """Read an :class:`Explanation` written by :func:`save_explanation` (no pickle, no code run).

    Files written before the modality registry kept each modality's map and display data in
    fields of their own (named by the registry entry's ``explanation.legacy_fields``); they are
    moved into ``maps`` and ``display``.

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
            fields = _unpack(json.loads(str(data["header"])), data)
            _read_legacy_arrays(data, fields)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(
            f"load_explanation: {str(path)!r} is not an explanation file written by save_explanation ({error})."
        ) from None
    _move_legacy_fields(fields)
    try:
        return Explanation(**fields)
    except TypeError as error:
        raise ValueError(f"load_explanation: {str(path)!r} holds fields Explanation does not know ({error}).") from None


def _read_legacy_arrays(data, fields):
    """Arrays of the older layout: ``a:field``, ``d:field:key`` and ``l:field:index``, in stored order."""
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


def _move_legacy_fields(fields):
    """Per-modality fields of older files into ``maps`` and ``display``."""
    for m in registered_modalities():
        legacy = get_modality(m).explanation.legacy_fields
        for name, value in zip(legacy, (fields.setdefault("maps", {}), fields.setdefault("display", {}))):
            if fields.get(name) is not None:
                value[m] = fields[name]
            fields.pop(name, None)
