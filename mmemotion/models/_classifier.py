"""FusionClassifier: a scikit-learn classifier around :class:`ThreeStreamModule`, built on skorch."""

import contextlib
import inspect
import numbers
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit, StratifiedShuffleSplit
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.utils.class_weight import compute_class_weight
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping, EpochScoring
from skorch.dataset import Dataset
from skorch.helper import SliceDict
from skorch.utils import is_dataset, to_tensor
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler, Subset

from .. import MODALITIES
from ._module import ThreeStreamModule

__all__ = ["FusionClassifier"]

#: Per-sample rank of each modality's input (audio (C, n_mfcc, n_frames), video (C, T, H, W), text (dim,)).
_SAMPLE_NDIM = {"audio": 3, "video": 4, "text": 1}


def _resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _encoded_accuracy(net, X, y):
    """Validation accuracy on the *encoded* labels skorch sees during training.

    skorch's default ``valid_acc`` scorer compares ``net.predict(X)`` with the validation targets;
    FusionClassifier.predict returns the original string labels while the targets inside the fit
    loop are the integer codes, so the default scorer would always report 0.
    """
    y_pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(y_pred == np.asarray(y)))


class FusionClassifier(NeuralNetClassifier):
    """Multimodal emotion classifier: a skorch ``NeuralNetClassifier`` with string labels.

    Trains :class:`ThreeStreamModule` (or any module whose ``forward`` takes the modality names as
    keyword arguments) with cross-entropy and Adam. ``X`` is a :class:`skorch.helper.SliceDict`
    (or dict) keyed by modality name, as produced by :class:`mmemotion.features.ModalityUnion`;
    keys of inactive modalities are ignored. The module's input sizes and number of classes are
    read from the training data, so only architecture parameters are set, as ``module__<name>``.

    Parameters
    ----------
    module : type or torch.nn.Module, default=ThreeStreamModule
        The network. When it is a class whose constructor accepts ``audio_shape``,
        ``video_shape``, ``text_dim`` and ``n_classes``, those are set from the data at fit time.
    criterion : type, default=torch.nn.CrossEntropyLoss
        Must take logits.
    optimizer : type, default=torch.optim.Adam
    lr : float, default=1e-3
    max_epochs : int, default=20
    batch_size : int, default=32
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the loss. "balanced" uses ``n_samples / (n_classes *
        bincount(y))`` (CREMA-D has fewer neutral clips); a dict maps labels to weights
        (missing labels get 1).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, monitor the validation loss,
        stop after ``patience`` epochs without improvement and restore the best weights.
        When False (the default) there is no internal validation split at all: inside
        cross-validation or grid search the outer split already measures generalisation, and a
        random inner split would leak speakers (see ``fit``'s ``groups``).
    validation_fraction : float, default=0.2
        Fraction of the training data (of the actors, when ``groups`` are given to ``fit``) held
        out for early stopping.
    patience : int, default=5
        Epochs without improvement of the validation loss before stopping.
    random_state : int or None, default=None
        Seeds weight initialisation, dropout, batch shuffling and the validation split, so two
        fits on the same data give identical predictions (on the same device). The global torch
        random state is left untouched. None: not reproducible.
    device : str, default="auto"
        "auto" uses CUDA when available, otherwise the CPU; any torch device string works too.
    verbose : int, default=0
        1 prints skorch's per-epoch table.
    train_split : callable or None, default=None
        Leave at None to let ``early_stopping``/``validation_fraction``/``groups`` decide the
        internal split; a skorch-style ``train_split(dataset, y)`` callable overrides that logic.
    classes : sequence or None, default=None
        All labels the classifier should know (e.g. when a cross-validation fold lacks a class);
        None: the labels found in ``y``.
    linear_C : float, default=0.03
        Inverse L2 strength of the logistic regressions fitted as the module's linear experts
        (``module__linear_experts``), on standardised clip statistics, before the network trains.
    **kwargs
        Any other skorch ``NeuralNet`` parameter (``module__dropout``, ``optimizer__weight_decay``,
        ``callbacks``, ``iterator_train__num_workers``, ...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, sorted; ``predict`` returns values from here.
    label_encoder_ : sklearn.preprocessing.LabelEncoder
        Maps labels to the integer targets used inside the network.
    input_shapes_ : dict of str to tuple of int
        Per-sample input shape of each active modality seen in fit.
    modalities_ : tuple of str
        The modalities the fitted module reads.
    class_weight_ : ndarray of shape (n_classes,) or None
        Loss weights actually used.
    module_ : torch.nn.Module
        The fitted network, in eval mode.
    history_ : skorch.history.History
        Per-epoch training record (``train_loss``; ``valid_loss``/``valid_acc`` with early stopping).

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.helper import SliceDict
    >>> from mmemotion.models import FusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = SliceDict(audio=rng.normal(size=(24, 1, 8, 10)).astype("float32"),
    ...               text=rng.normal(size=(24, 4)).astype("float32"))
    >>> y = np.array(["ANG", "HAP", "SAD"] * 8)
    >>> clf = FusionClassifier(module__modalities=("audio", "text"), module__audio_widths=(4,),
    ...                        module__text_widths=(4,), module__fusion_width=8, max_epochs=2,
    ...                        random_state=0).fit(X, y)
    >>> clf.classes_.tolist()
    ['ANG', 'HAP', 'SAD']
    >>> clf.predict_proba(X).shape
    (24, 3)
    """

    def __init__(
        self,
        module=ThreeStreamModule,
        *,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=20,
        batch_size=32,
        class_weight=None,
        early_stopping=False,
        validation_fraction=0.2,
        patience=5,
        random_state=None,
        device="auto",
        verbose=0,
        train_split=None,
        classes=None,
        linear_C=0.03,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            device=device,
            verbose=verbose,
            train_split=train_split,
            classes=classes,
            **kwargs,
        )
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.linear_C = linear_C

    # -- device="auto" -------------------------------------------------------------------------
    # skorch reads `self.device` in many places (moving the module, criterion, batches, targets),
    # so the resolution of "auto" is a property: the parameter keeps the value the user gave
    # (get_params/clone/pickle see "auto") while skorch sees a real torch device.
    @property
    def device(self):
        return _resolve_device(self.__dict__.get("device", "cpu"))

    @device.setter
    def device(self, value):
        self.__dict__["device"] = value

    def get_params(self, deep=True, **kwargs):
        params = super().get_params(deep=deep, **kwargs)
        params["device"] = self.__dict__.get("device", "cpu")
        # skorch's bookkeeping of which extra keyword arguments to check, not a user setting:
        # it would show in the repr, in GridSearchCV's list of valid names and in model files.
        params.pop("_params_to_validate", None)
        return params

    def __setstate__(self, state):
        # skorch's __setstate__ maps the stored tensors onto `state["device"]`, which must be a
        # real device; restore the user's "auto" afterwards.
        raw = state.get("device")
        state["device"] = _resolve_device(raw)
        super().__setstate__(state)
        self.__dict__["device"] = raw

    # -- callbacks -----------------------------------------------------------------------------
    @property
    def _default_callbacks(self):
        callbacks = []
        for name, cb in super()._default_callbacks:
            if name == "valid_acc":
                cb = EpochScoring(_encoded_accuracy, name="valid_acc", lower_is_better=False)
            callbacks.append((name, cb))
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True),
                )
            )
        return callbacks

    # -- initialisation from the data ----------------------------------------------------------
    def _module_modalities(self):
        """Modalities the configured module will read (before it is built)."""
        kwargs = self.get_params_for("module")
        if isinstance(self.module, nn.Module):
            return tuple(getattr(self.module, "modalities", MODALITIES))
        modalities = kwargs.get("modalities")
        if modalities is None:
            try:
                modalities = inspect.signature(self.module).parameters["modalities"].default
            except (KeyError, TypeError, ValueError):
                modalities = MODALITIES
        if isinstance(modalities, str):
            modalities = (modalities,)
        unknown = [m for m in modalities if m not in MODALITIES]
        if unknown or not modalities:
            raise ValueError(
                f"FusionClassifier: module__modalities={tuple(modalities)!r} must be a non-empty subset of {MODALITIES}."
            )
        return tuple(m for m in MODALITIES if m in modalities)

    def initialize_module(self):
        """Build the module, filling its input sizes and class count from the fitted data."""
        kwargs = self.get_params_for("module")
        if not isinstance(self.module, nn.Module) and hasattr(self, "input_shapes_"):
            try:
                accepted = set(inspect.signature(self.module).parameters)
            except (TypeError, ValueError):
                accepted = set()
            from_data = {"n_classes": len(self.classes_)}
            shapes = self.input_shapes_
            if "audio" in shapes:
                from_data["audio_shape"] = shapes["audio"]
            if "video" in shapes:
                from_data["video_shape"] = shapes["video"]
            if "text" in shapes:
                from_data["text_dim"] = shapes["text"][0]
            kwargs.update({k: v for k, v in from_data.items() if k in accepted})
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Cross-entropy of the fused output, or the sum of every stream's own cross-entropy
        when the module fuses by product of experts (``module__fusion="product"``)."""
        per_stream = self.module_.__dict__.pop("stream_log_probs_", None)
        if getattr(self.module_, "fusion", None) != "product" or not per_stream:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        y_true = to_tensor(y_true, device=self.device)
        # The criterion's class weights and label smoothing apply to every stream's loss
        # (cross_entropy's log_softmax leaves log-probabilities unchanged).
        weight = getattr(self.criterion_, "weight", None)
        smoothing = float(getattr(self.criterion_, "label_smoothing", 0.0))
        return sum(nn.functional.cross_entropy(log_p, y_true, weight=weight, label_smoothing=smoothing)
                   for log_p in per_stream.values())

    def initialize_criterion(self):
        """Build the loss, adding the class weights computed in fit."""
        kwargs = self.get_params_for("criterion")
        weight = getattr(self, "class_weight_", None)
        if weight is not None and "weight" not in kwargs:
            kwargs["weight"] = torch.as_tensor(weight, dtype=torch.float32)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    # -- validation ----------------------------------------------------------------------------
    def _validate_X(self, X, *, reset):
        """Check X and return a SliceDict holding only the active modalities as arrays."""
        if not isinstance(X, Mapping):
            raise TypeError(
                f"FusionClassifier: X must be a skorch.helper.SliceDict (or dict) keyed by modality "
                f"({', '.join(MODALITIES)}), got {type(X).__name__}. Use mmemotion.features.ModalityUnion "
                "(or make_default_pipeline) to turn a CREMA-D manifest into one."
            )
        modalities = self._module_modalities() if reset else self.modalities_
        missing = [m for m in modalities if m not in X]
        if missing:
            raise ValueError(
                f"FusionClassifier: X lacks {missing} but the module reads {modalities}; add "
                f"{missing} to the ModalityUnion or set module__modalities to a subset of {tuple(X)}."
            )
        arrays, n_samples = {}, None
        for name in modalities:
            x = X[name]
            if isinstance(x, torch.Tensor):
                x = x.detach().cpu().numpy()
            x = np.asarray(x)
            if x.dtype == np.float64:
                x = x.astype(np.float32)
            if x.dtype.kind not in "fiub":
                raise TypeError(f"FusionClassifier: X['{name}'] must be numeric, got dtype {x.dtype}.")
            expected_ndim = _SAMPLE_NDIM.get(name)
            if expected_ndim is not None and x.ndim != expected_ndim + 1:
                raise ValueError(
                    f"FusionClassifier: X['{name}'] has shape {x.shape}; expected (n_samples, "
                    f"{expected_ndim} more axes) as given by ModalityUnion "
                    "(audio (n, C, n_mfcc, n_frames), video (n, C, T, H, W), text (n, dim))."
                )
            if not reset and x.shape[1:] != self.input_shapes_[name]:
                raise ValueError(
                    f"FusionClassifier: X['{name}'] has per-sample shape {x.shape[1:]} but the classifier "
                    f"was fitted on {self.input_shapes_[name]}; extract features with the same settings "
                    "as in fit."
                )
            if x.dtype.kind == "f" and not np.isfinite(x).all():
                raise ValueError(
                    f"FusionClassifier: X['{name}'] contains NaN or infinite values; check the feature "
                    "extractor (e.g. on_error='nan' rows) and drop or impute those samples."
                )
            if n_samples is None:
                n_samples = len(x)
            elif len(x) != n_samples:
                raise ValueError(
                    f"FusionClassifier: the modalities in X have different lengths "
                    f"({ {m: len(a) for m, a in arrays.items()} } vs {name}: {len(x)})."
                )
            arrays[name] = x
        if n_samples == 0:
            raise ValueError("FusionClassifier: X has 0 samples.")
        if reset:
            self._check_reference_frames(getattr(X, "appended_observations", None))
            self.modalities_ = modalities
            self.input_shapes_ = {name: tuple(int(d) for d in a.shape[1:]) for name, a in arrays.items()}
        return SliceDict(**arrays)

    def _check_reference_frames(self, appended):
        """The union's appended reference frames and the network's count of them must agree."""
        if appended is None or isinstance(self.module, nn.Module) or "video" not in self._module_modalities():
            return
        try:
            parameter = inspect.signature(self.module).parameters.get("video_reference_frames")
        except (TypeError, ValueError):
            return
        if parameter is None:
            return
        expected = int(appended.get("video", 0))
        declared = int(self.get_params_for("module").get("video_reference_frames", parameter.default))
        if declared != expected:
            raise ValueError(
                f"FusionClassifier: the ModalityUnion appends {expected} reference frames of the speaker to every "
                f"video clip (speaker_norm 'reference', reference_size) but module__video_reference_frames="
                f"{declared}; set them equal (make_default_pipeline(reference_frames=...) does), or the network "
                "would read the speaker's frames as the clip's."
            )

    def _validate_fit_params(self):
        if self.class_weight is not None and self.class_weight != "balanced" and not isinstance(self.class_weight, Mapping):
            raise ValueError(
                f"FusionClassifier: class_weight must be None, 'balanced' or a dict label -> weight, got {self.class_weight!r}."
            )
        if not (isinstance(self.validation_fraction, numbers.Real) and 0 < self.validation_fraction < 1):
            raise ValueError(
                f"FusionClassifier: validation_fraction must be in (0, 1), got {self.validation_fraction!r}."
            )
        if not (isinstance(self.linear_C, numbers.Real) and self.linear_C > 0):
            raise ValueError(f"FusionClassifier: linear_C must be a positive number, got {self.linear_C!r}.")
        if self.random_state is not None and not isinstance(self.random_state, numbers.Integral):
            raise TypeError(
                f"FusionClassifier: random_state must be an int or None, got {type(self.random_state).__name__}."
            )

    def _compute_class_weight(self, y_enc):
        if self.class_weight is None:
            return None
        n_classes = len(self.classes_)
        if self.class_weight == "balanced":
            present = np.unique(y_enc)
            weight = np.ones(n_classes)
            weight[present] = compute_class_weight("balanced", classes=present, y=y_enc)
            return weight
        unknown = set(self.class_weight) - set(self.classes_.tolist())
        if unknown:
            raise ValueError(
                f"FusionClassifier: class_weight has labels {sorted(map(str, unknown))} that are not in y "
                f"(labels: {self.classes_.tolist()})."
            )
        return np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_.tolist()])

    # -- the internal validation split ---------------------------------------------------------
    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off the early-stopping validation set (actor-grouped when groups are known)."""
        if self.train_split is not None:
            return super().get_split_datasets(X, y, **fit_params)
        dataset = self.get_dataset(X, y)
        if not self.early_stopping:
            return dataset, None
        groups = getattr(self, "fit_groups_", None)
        index = np.arange(len(y))
        if groups is not None:
            if len(np.unique(groups)) < 2:
                raise ValueError(
                    "FusionClassifier: early_stopping needs at least 2 distinct groups (actors) to hold "
                    "some out; pass more actors or set early_stopping=False."
                )
            splitter = GroupShuffleSplit(n_splits=1, test_size=self.validation_fraction, random_state=self.random_state)
            idx_train, idx_valid = next(splitter.split(index, y, groups))
        else:
            warnings.warn(
                "FusionClassifier: early_stopping without `groups` holds out a random, stratified "
                "validation set, which can put clips of one actor on both sides and overestimate the "
                "validation score; pass actor ids as fit(X, y, groups=...) (clf__groups=... in a Pipeline).",
                UserWarning,
                stacklevel=2,
            )
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=self.validation_fraction, random_state=self.random_state)
            try:
                idx_train, idx_valid = next(splitter.split(index, y))
            except ValueError:
                # Too few samples per class to stratify (tiny data); fall back to a plain split.
                rng = np.random.default_rng(self.random_state)
                perm = rng.permutation(index)
                n_valid = max(1, int(round(self.validation_fraction * len(index))))
                idx_valid, idx_train = perm[:n_valid], perm[n_valid:]
        return Subset(dataset, idx_train), Subset(dataset, idx_valid)

    # -- public API ----------------------------------------------------------------------------
    @property
    def classes_(self):
        try:
            return self.label_encoder_.classes_
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} is not fitted yet and has no classes_; call fit first.") from None

    def check_data(self, X, y):
        # skorch would store the *encoded* labels as `classes_inferred_`; classes_ comes from
        # label_encoder_ instead, so nothing to do beyond skorch's own y check.
        if y is None:
            raise ValueError("FusionClassifier: y is required.")

    def fit(self, X, y, groups=None, **fit_params):
        """Train the network from scratch.

        Parameters
        ----------
        X : SliceDict or dict of str to array-like
            ``audio`` of shape (n_samples, C, n_mfcc, n_frames), ``video`` of shape
            (n_samples, C, T, H, W) (uint8 or float in [0, 1]), ``text`` of shape
            (n_samples, dim); only the active modalities are needed.
        y : array-like of shape (n_samples,)
            Labels, e.g. emotion codes ("ANG", ...).
        groups : array-like of shape (n_samples,), default=None
            Actor ids. Used only when ``early_stopping=True``: the validation set then holds
            out whole actors (GroupShuffleSplit), so no speaker is on both sides. Without groups
            the early-stopping split is random and a warning says so. In a Pipeline pass
            ``clf__groups=X["actor_id"]``; GridSearchCV slices it per fold.
        **fit_params
            Passed on to the module's ``forward``.

        Returns
        -------
        self : FusionClassifier
        """
        self._validate_fit_params()
        X = self._validate_X(X, reset=True)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(next(iter(X.values()))):
            raise ValueError(
                f"FusionClassifier: y must be 1-D with one label per sample of X, got shape {y.shape} "
                f"for {len(next(iter(X.values())))} samples."
            )
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != y.shape:
                raise ValueError(f"FusionClassifier: groups must have shape {y.shape} like y, got {groups.shape}.")
        self.label_encoder_ = LabelEncoder().fit(y if self.classes is None else np.asarray(self.classes))
        unseen = np.setdiff1d(y, self.label_encoder_.classes_)
        if unseen.size:
            raise ValueError(f"FusionClassifier: y has labels {unseen.tolist()} that are not in classes={self.classes!r}.")
        y_enc = self.label_encoder_.transform(y).astype(np.int64)
        self.class_weight_ = self._compute_class_weight(y_enc)

        self.fit_groups_ = groups
        try:
            with self._seeded():
                super().fit(X, y_enc, **fit_params)
        finally:
            del self.fit_groups_
        # Batch norm and dropout must behave deterministically for predict and for explanations.
        self.module_.eval()
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue training for ``max_epochs`` more epochs (the first call behaves like fit).

        Parameters
        ----------
        X, y
            As in :meth:`fit`; ``y`` must only hold labels seen in the first fit.
        classes : ignored
        **fit_params
            Passed on to the module's ``forward``.
        """
        if fit_params.get("_routing_method") == "fit":
            # skorch's own fit() calls partial_fit with already validated, encoded data.
            return super().partial_fit(X, y, classes, **fit_params)
        if not getattr(self, "initialized_", False) or not hasattr(self, "label_encoder_"):
            return self.fit(X, y, **fit_params)
        X = self._validate_X(X, reset=False)
        y_enc = self._encode_known(y, "partial_fit")
        with self._seeded():
            super().partial_fit(X, y_enc, **fit_params)
        self.module_.eval()
        return self

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's training loop, on inputs whose fixed stream fronts are computed once.

        A stream with a ``describe`` method (the HOG video stream) starts with a part that has no
        weights; its output for a clip is the same in every epoch, so it is computed once here
        instead of once per epoch (the HOG of every frame was about 80% of the training time).
        """
        X = self._described(X)
        self._fit_linear_experts(X, y)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def _fit_linear_experts(self, X, y):
        """Fit the module's linear experts: logistic regressions on standardised clip statistics.

        Fitted to convergence by L-BFGS (scikit-learn), as the classical systems are, then written
        into the module with the standardisation folded into the weights, so the expert is part of
        the network: saved with it, and differentiable for the explanations.
        """
        experts = getattr(self.module_, "linear_experts", ())
        if not experts:
            return
        y = np.asarray(y)
        weight = self.class_weight_
        for name in experts:
            features = self._in_batches(X[name], lambda x, m=name: self.module_.linear_expert_features(m, x))
            features = features.astype(np.float64)
            n_classes = getattr(self.module_, f"linear_{name}_bias").shape[0]
            W, b = np.zeros((n_classes, features.shape[1])), np.full(n_classes, -20.0)
            present = np.unique(y)
            if len(present) < 2:
                b[present] = 0.0
            else:
                scaler = StandardScaler().fit(features)
                regression = LogisticRegression(
                    C=self.linear_C, max_iter=2000,
                    class_weight=None if weight is None else {int(k): float(weight[k]) for k in present},
                ).fit(scaler.transform(features), y)
                coef, intercept = regression.coef_, regression.intercept_
                if len(present) == 2:  # one logit for the second class against the first
                    coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.r_[0.0, intercept]
                coef = coef / scaler.scale_
                W[present], b[present] = coef, intercept - coef @ scaler.mean_
            getattr(self.module_, f"linear_{name}_weight").copy_(torch.as_tensor(W))
            getattr(self.module_, f"linear_{name}_bias").copy_(torch.as_tensor(b))

    def _described(self, X):
        """A copy of X with every describable stream's input replaced by its description."""
        streams = getattr(self.module_, "streams", {})
        out = None
        for name, stream in streams.items():
            describe = getattr(stream, "describe", None)
            if describe is None or name not in X or np.ndim(X[name]) == 2:
                continue
            if out is None:
                out = SliceDict(**{k: X[k] for k in X.keys()})
            out[name] = self._in_batches(X[name], describe)
        return X if out is None else out

    def _in_batches(self, arr, fn, batch_size=64):
        """``fn`` of ``arr`` without autograd, 64 samples at a time, as a numpy array; uint8 inputs
        are scaled to [0, 1] as the module's forward scales its video input."""
        dtype = next(self.module_.parameters()).dtype
        chunks = []
        with torch.no_grad():
            for start in range(0, len(arr), batch_size):
                x = torch.as_tensor(np.asarray(arr[start:start + batch_size]), device=self.device)
                x = x.to(dtype) if torch.is_floating_point(x) else x.to(dtype).div_(255.0)
                chunks.append(fn(x).cpu().numpy())
        return np.concatenate(chunks)

    @contextlib.contextmanager
    def _seeded(self):
        if self.random_state is None:
            yield
            return
        with self._own_rng():
            torch.manual_seed(int(self.random_state))
            yield

    def _own_rng(self):
        # fork_rng restores the global torch RNG afterwards, so fitting with a seed does not
        # change the random numbers the caller's own code draws next.
        devices = list(range(torch.cuda.device_count())) if str(self.device).startswith("cuda") else []
        return torch.random.fork_rng(devices=devices)

    def _encode_known(self, y, where):
        y = np.asarray(y)
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"FusionClassifier.{where}: y has labels {unseen.tolist()} never seen in fit "
                f"(known: {self.classes_.tolist()}); pass classes=[...] at construction to declare all labels."
            )
        return self.label_encoder_.transform(y).astype(np.int64)

    def check_is_fitted(self, attributes=None, *args, **kwargs):
        attributes = attributes or ["module_", "label_encoder_", "input_shapes_"]
        return super().check_is_fitted(attributes, *args, **kwargs)

    def get_iterator(self, dataset, training=False):
        """Training batches are reshuffled every epoch; evaluation batches are cut in one indexing step.

        Training: see :meth:`_train_iterator`. Evaluation: skorch's default DataLoader fetches every sample on its own and collates them, which
        made ``predict_proba`` run at 0.80x a bare PyTorch loop (``benchmarks/bench_training.py``;
        a 3x16x64x64 clip is copied twice). For evaluation the order is fixed anyway, so a
        sequential :class:`~torch.utils.data.BatchSampler` hands the dataset whole index lists
        (a SliceDict slices every modality at once) and the DataLoader does no collation
        (``batch_size=None``). Custom datasets and any ``iterator_valid__*`` setting keep
        skorch's loader.
        """
        if training:
            return self._train_iterator(dataset)
        if type(dataset) is not Dataset or self.get_params_for("iterator_valid"):
            return super().get_iterator(dataset, training=training)
        batch_size = len(dataset) if self.batch_size == -1 else self.batch_size  # -1: one batch, as in skorch
        sampler = BatchSampler(SequentialSampler(range(len(dataset))), batch_size=max(batch_size, 1), drop_last=False)
        return DataLoader(dataset, sampler=sampler, batch_size=None)

    def _train_iterator(self, dataset):
        """Training batches, reshuffled every epoch.

        skorch hands ``iterator_train__*`` to a plain DataLoader, whose ``shuffle`` defaults to
        False, so without this every epoch would see the rows in manifest order: batches of one
        actor (and mostly one emotion) at a time, with batch-norm statistics of that actor. The
        permutation is drawn from the torch random state that ``random_state`` seeds. An explicit
        ``iterator_train__shuffle``, ``__sampler`` or ``__batch_sampler`` is respected.
        """
        kwargs = self.get_params_for("iterator_train")
        if self.iterator_train is not DataLoader or {"shuffle", "sampler", "batch_sampler"} & kwargs.keys():
            return super().get_iterator(dataset, training=True)
        batch_size = kwargs.pop("batch_size", self.batch_size)
        batch_size = len(dataset) if batch_size == -1 else batch_size
        return DataLoader(dataset, batch_size=batch_size, shuffle=True, **kwargs)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : SliceDict or dict of str to array-like
            As in :meth:`fit`, with the per-sample shapes seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        self.check_is_fitted()
        if not is_dataset(X):
            # Datasets come from skorch's own scoring callbacks, built from validated data.
            X = self._validate_X(X, reset=False)
        # Every DataLoader iteration draws a base seed from the global torch RNG (even without
        # workers, torch/utils/data/dataloader.py), so predicting would shift the caller's
        # random stream; keep it unchanged.
        with self._own_rng():
            return super().predict_proba(X)

    def predict(self, X):
        """Predicted labels (values of ``classes_``).

        Parameters
        ----------
        X : SliceDict or dict of str to array-like

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of :meth:`predict` against ``y``.

        Raises ValueError when ``y`` holds labels never seen in fit.
        """
        self.check_is_fitted()
        self._encode_known(y, "score")
        return super().score(X, y, sample_weight=sample_weight)
