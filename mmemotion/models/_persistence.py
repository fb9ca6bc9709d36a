"""A model file format that executes no code when loaded: JSON + safetensors in one zip."""

import importlib
import json
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelEncoder

from ..modalities import get_modality, registered_modalities
from ..utils import atomic_path
from ._classifier import FusionClassifier

__all__ = ["save_model", "load_model"]

FORMAT = "mmemotion-model"
FORMAT_VERSION = 1
_JSON_NAME = "model.json"
_TENSORS_NAME = "model.safetensors"

#: Classes a model file may name. Loading instantiates only these, looked up by name, so a file
#: cannot make the loader import or call anything else (unlike pickle, whose loader calls any
#: importable callable the file names).
_ALLOWED_CLASSES = (
    "mmemotion.features.MFCCTransformer",
    "mmemotion.features.FrameSampler",
    "mmemotion.features.FilenameEmbedder",
    "mmemotion.features.ModalityUnion",
    "mmemotion.features.Functionals",
    "mmemotion.features.FrameHOG",
    "mmemotion.features.ConcatModalities",
    "sklearn.linear_model.LogisticRegression",
    "mmemotion.models.FusionClassifier",
    "mmemotion.models.ThreeStreamModule",
    "mmemotion.models.MultiStreamModule",
    "mmemotion.models.LateFusionClassifier",
    "sklearn.pipeline.Pipeline",
    "mmemotion.models.EmotionPipeline",
    "sklearn.preprocessing.StandardScaler",
    "torch.nn.CrossEntropyLoss",
    "torch.optim.Adam",
    "torch.optim.AdamW",
    "torch.optim.SGD",
    "torch.optim.RMSprop",
    "torch.utils.data.DataLoader",
    "skorch.dataset.Dataset",
    "numpy.float16",
    "numpy.float32",
    "numpy.float64",
    "numpy.uint8",
)

# FusionClassifier parameters that are bookkeeping of skorch, not user settings.
_SKIPPED_NET_PARAMS = {"_params_to_validate"}
# Fitted FusionClassifier state restored by hand (the module is rebuilt from input_shapes_).
_NET_STATE = ("input_shapes_", "modalities_", "class_weight_")


def _allowed():
    table = {}
    for dotted in _ALLOWED_CLASSES:
        module_name, _, name = dotted.rpartition(".")
        obj = getattr(importlib.import_module(module_name), name, None)
        if obj is not None:
            table[dotted] = obj
    # A registered modality brings the classes of its own steps; registering is running code, so
    # this lets a file name nothing that the user's own code did not already import.
    for modality in registered_modalities():
        for cls in get_modality(modality).persist_classes:
            table.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    return table


def _name_of(obj, allowed):
    for dotted, candidate in allowed.items():
        if candidate is obj:
            return dotted
    return None


class _Encoder:
    """Turns an estimator tree into JSON-able data plus a dict of named arrays."""

    def __init__(self):
        self.arrays = {}
        self.allowed = _allowed()

    def _store(self, array, where):
        key = f"{len(self.arrays)}:{where}"
        self.arrays[key] = np.ascontiguousarray(array)
        return {"__array__": key}

    def encode(self, value, where):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__dict__": {k: self.encode(v, f"{where}.{k}") for k, v in value.items()}}
        if isinstance(value, Path):
            return {"__path__": str(value)}
        if isinstance(value, torch.Tensor):
            return self._store(value.detach().cpu().numpy(), where)
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biuf":
                return self._store(value, where)
            if value.dtype.kind in "UO" and all(isinstance(v, str) for v in value.ravel()):
                return {"__strarray__": value.tolist(), "shape": list(value.shape)}
        if isinstance(value, np.dtype):
            return {"__dtype__": value.str}
        if isinstance(value, FusionClassifier):
            return self._encode_net(value, where)
        if isinstance(value, BaseEstimator):
            return self._encode_estimator(value, where)
        if isinstance(value, type):
            name = _name_of(value, self.allowed)
            if name is not None:
                return {"__class__": name}
        raise ValueError(
            f"save_model: cannot store {where} = {value!r:.80} ({type(value).__name__}) in the safe format; "
            "use plain values (numbers, strings, tuples, arrays) or allowed classes, or save with "
            "joblib.dump instead (pickle, which runs code when loaded)."
        )

    def _class_name(self, est, where):
        name = _name_of(type(est), self.allowed)
        if name is None:
            raise ValueError(
                f"save_model: {where} is a {type(est).__module__}.{type(est).__name__}, which the safe "
                f"format does not know (allowed: {', '.join(_ALLOWED_CLASSES)}); use joblib.dump instead."
            )
        return name

    def _encode_estimator(self, est, where):
        name = self._class_name(est, where)
        params = {k: self.encode(v, f"{where}.{k}") for k, v in est.get_params(deep=False).items()}
        fitted = {
            k: self.encode(v, f"{where}.{k}")
            for k, v in vars(est).items()
            if k.endswith("_") and not k.startswith("_")
        }
        return {"__estimator__": {"class": name, "params": params, "fitted": fitted}}

    def _encode_net(self, net, where):
        name = self._class_name(net, where)
        params = {}
        for k, v in net.get_params(deep=False).items():
            if k in _SKIPPED_NET_PARAMS:
                continue
            params[k] = self.encode(v, f"{where}.{k}")
        fitted = None
        if hasattr(net, "label_encoder_"):
            net.check_is_fitted()
            fitted = {k: self.encode(getattr(net, k), f"{where}.{k}") for k in _NET_STATE}
            fitted["classes_"] = self.encode(np.asarray(net.classes_), f"{where}.classes_")
            fitted["module_state"] = {
                "__dict__": {
                    key: self._store(t.detach().cpu().numpy(), f"{where}.module_.{key}")
                    for key, t in net.module_.state_dict().items()
                }
            }
            fitted["history"] = json.loads(json.dumps(net.history.to_list(), default=_plain))
        return {"__net__": {"class": name, "params": params, "fitted": fitted}}


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return None


class _Decoder:
    def __init__(self, arrays):
        self.arrays = arrays
        self.allowed = _allowed()

    def _cls(self, name):
        try:
            return self.allowed[name]
        except KeyError:
            raise ValueError(
                f"load_model: the file names class {name!r}, which is not on the allow-list; refusing to load it."
            ) from None

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (tag, body), = value.items()
            if tag == "__tuple__":
                return tuple(self.decode(v) for v in body)
            if tag == "__dict__":
                return {k: self.decode(v) for k, v in body.items()}
            if tag == "__path__":
                return Path(body)
            if tag == "__array__":
                return self.arrays[body]
            if tag == "__dtype__":
                return np.dtype(body)
            if tag == "__class__":
                return self._cls(body)
            if tag == "__estimator__":
                return self._estimator(body)
            if tag == "__net__":
                return self._net(body)
        if set(value) == {"__strarray__", "shape"}:
            return np.array(value["__strarray__"], dtype=str).reshape(value["shape"])
        raise ValueError(f"load_model: unexpected entry {str(value)[:80]} in {_JSON_NAME}; the file is damaged.")

    def _estimator(self, body):
        est = self._cls(body["class"])(**{k: self.decode(v) for k, v in body["params"].items()})
        for k, v in body["fitted"].items():
            setattr(est, k, self.decode(v))
        return est

    def _net(self, body):
        net = self._cls(body["class"])(**{k: self.decode(v) for k, v in body["params"].items()})
        fitted = body["fitted"]
        if fitted is None:
            return net
        for k in _NET_STATE:
            setattr(net, k, self.decode(fitted[k]))
        net.label_encoder_ = LabelEncoder()
        net.label_encoder_.classes_ = self.decode(fitted["classes_"])
        # initialize() builds the module from input_shapes_ and classes_, exactly as in fit.
        net.initialize()
        state = {k: torch.from_numpy(np.array(v)) for k, v in self.decode(fitted["module_state"]).items()}
        net.module_.load_state_dict(state)
        net.module_.eval()
        from skorch.history import History

        net.history_ = History(fitted.get("history") or [])
        return net


def save_model(model, path, *, overwrite=False):
    """Save a fitted pipeline (or FusionClassifier) in a format that runs no code when loaded.

    The file is a zip holding ``model.json`` (class names from an allow-list, parameters,
    class labels, fitted scalars/strings/tuples of every step, the training history) and
    ``model.safetensors`` (network weights and every fitted array, e.g. MFCC standardisation
    statistics). Unlike pickle/joblib, :func:`load_model` only instantiates allow-listed
    mmemotion/scikit-learn/torch classes with plain-data arguments, so a file from an untrusted
    source cannot run code.

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline or FusionClassifier
        Fitted or unfitted; every step must be an allow-listed class with JSON-able parameters
        (``memory`` given as a path, not a ``joblib.Memory``).
    path : str or path-like
        Destination, conventionally ``*.mmemotion`` (any name works). Written atomically.
    overwrite : bool, default=False
        Replace an existing file.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        If some part of the model cannot be represented (use joblib.dump for such models).

    Examples
    --------
    >>> from mmemotion.models import save_model, load_model  # doctest: +SKIP
    >>> save_model(pipe, "emotion.mmemotion")                 # doctest: +SKIP
    >>> load_model("emotion.mmemotion").predict(X)            # doctest: +SKIP
    """
    path = Path(path)
    encoder = _Encoder()
    tree = encoder.encode(model, "model")
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "mmemotion_version": importlib.import_module("mmemotion").__version__,
        "model": tree,
    }
    payload = json.dumps(doc, indent=1, allow_nan=True).encode("utf-8")
    tensors = st_save(encoder.arrays) if encoder.arrays else st_save({})
    with atomic_path(path, overwrite=overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_JSON_NAME, payload)
            zf.writestr(_TENSORS_NAME, tensors)
    return path


def load_model(path):
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    model : sklearn.pipeline.Pipeline or FusionClassifier
        Ready to ``predict``; the network is on ``device`` (resolved as in fit) in eval mode.

    Raises
    ------
    ValueError
        If the file is not an mmemotion model file, is from a newer format version, or names a
        class outside the allow-list.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            doc = json.loads(zf.read(_JSON_NAME).decode("utf-8"))
            raw = zf.read(_TENSORS_NAME)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"load_model: {path} is not an mmemotion model file (expected a zip with {_JSON_NAME} and "
            f"{_TENSORS_NAME}, as written by save_model): {exc}"
        ) from None
    # The type first: a JSON list or number has no .get (issue 13 found an AttributeError here).
    if not isinstance(doc, dict):
        raise ValueError(f"load_model: {path} is not an mmemotion model file ({_JSON_NAME} is not a JSON object).")
    if doc.get("format") != FORMAT:
        raise ValueError(f"load_model: {path} is not an mmemotion model file (format={doc.get('format')!r}).")
    version = doc.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"load_model: {path} is damaged: format_version={version!r} is not an integer.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"load_model: {path} uses format version {version}, newer than this mmemotion "
            f"supports ({FORMAT_VERSION}); upgrade mmemotion."
        )
    try:
        arrays = st_load(raw) if raw else {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError type
        raise ValueError(
            f"load_model: {path} is not a valid mmemotion model file: {_TENSORS_NAME} is not a "
            f"safetensors file ({type(exc).__name__}: {exc})."
        ) from None
    try:
        return _Decoder(arrays).decode(doc["model"])
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        # Entries of the wrong JSON type (a list where parameters belong, a number for a class
        # name) or missing keys: the structure is not what save_model writes.
        raise ValueError(
            f"load_model: {path} is damaged: {_JSON_NAME} does not have the structure save_model writes "
            f"({type(exc).__name__}: {exc})."
        ) from None
