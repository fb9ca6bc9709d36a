"""FusionClassifier: a scikit-learn classifier around :class:`ThreeStreamModule`, built on skorch.

About 500 lines on purpose: skorch calls its hooks (``initialize_module``, ``get_loss``,
``get_split_datasets``, ``fit_loop``, ...) on the class itself, and the numpydoc is a fifth of
it; input checks, linear experts and batching live in mixins (``_classifier_inputs``,
``_linear_experts``, ``_batches``).
"""

import inspect
import warnings
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.model_selection import GroupShuffleSplit
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.class_weight import compute_class_weight
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping, EpochScoring
from skorch.dataset import ValidSplit
from skorch.utils import is_dataset, to_tensor
from torch import nn
from torch.utils.data import Subset

from ._batches import Batches
from ._classifier_inputs import InputChecks
from ._linear_experts import LinearExpertFitting
from ._three_stream import ThreeStreamModule

__all__ = ["FusionClassifier"]



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


class FusionClassifier(InputChecks, LinearExpertFitting, Batches, NeuralNetClassifier):
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
    def initialize_module(self):
        """Build the module, filling its input sizes and class count from the fitted data."""
        kwargs = self.get_params_for("module")
        if not isinstance(self.module, nn.Module) and hasattr(self, "input_shapes_"):
            try:
                accepted = set(inspect.signature(self.module).parameters)
            except (TypeError, ValueError):
                accepted = set()
            from_data = {"n_classes": len(self.classes_), "shapes": dict(self.input_shapes_)}
            # A module of another design may take each shape as <modality>_shape instead.
            from_data.update({f"{m}_shape": shape for m, shape in self.input_shapes_.items()})
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
    #: Checked by scikit-learn's parameter validation at fit (skorch's own parameters are skorch's).
    _parameter_constraints = {
        "class_weight": [StrOptions({"balanced"}), Mapping, None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "linear_C": [Interval(Real, 0, None, closed="neither")],
        "random_state": [Integral, None],
    }

    def _validate_fit_params(self):
        validate_parameter_constraints(
            self._parameter_constraints, {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
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
        if groups is not None:
            if len(np.unique(groups)) < 2:
                raise ValueError(
                    "FusionClassifier: early_stopping needs at least 2 distinct groups (actors) to hold "
                    "some out; pass more actors or set early_stopping=False."
                )
            splitter = GroupShuffleSplit(n_splits=1, test_size=self.validation_fraction, random_state=self.random_state)
            return ValidSplit(splitter)(dataset, y, groups=groups)
        warnings.warn(
            "FusionClassifier: early_stopping without `groups` holds out a random, stratified "
            "validation set, which can put clips of one actor on both sides and overestimate the "
            "validation score; pass actor ids as fit(X, y, groups=...) (clf__groups=... in a Pipeline).",
            UserWarning,
            stacklevel=2,
        )
        try:
            return ValidSplit(self.validation_fraction, stratified=True, random_state=self.random_state)(dataset, y)
        except ValueError:
            # Too few samples per class to stratify (tiny data), which ValidSplit does not handle;
            # fall back to a plain random split.
            index = np.arange(len(y))
            perm = np.random.default_rng(self.random_state).permutation(index)
            n_valid = max(1, int(round(self.validation_fraction * len(index))))
            return Subset(dataset, perm[n_valid:]), Subset(dataset, perm[:n_valid])

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
