"""Run one transformer per modality and return their outputs as a SliceDict, unstacked."""

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from skorch.helper import SliceDict
from sklearn.base import TransformerMixin, clone
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted

from ..utils import progress

__all__ = ["ModalityUnion"]


def _fit_transform_one(transformer, X, y):
    Xt = transformer.fit_transform(X, y)
    return transformer, Xt


class ModalityUnion(TransformerMixin, _BaseComposition):
    """Like :class:`~sklearn.pipeline.FeatureUnion`, but keeps modalities apart and in shape.

    Each transformer sees the same X (typically the :func:`~mmemotion.datasets.load_crema_d`
    frame); its 2-D output is reshaped to ``(n_samples, *output_shape_)`` (a view: no copy, and
    no ``hstack`` of ~200,000 video columns) and stored in a :class:`skorch.helper.SliceDict`
    under the step's name. The step names should be the modality names (``"audio"``,
    ``"video"``, ``"text"``), which are also the ``forward`` arguments of the fusion network.
    A ``SliceDict`` can be indexed like an array (``Xt[train_idx]``), so the union works inside
    :class:`~sklearn.model_selection.GridSearchCV` and ``cross_val_score`` (with
    :class:`~sklearn.model_selection.GroupKFold` over actors, for instance).

    Parameters
    ----------
    transformer_list : list of (str, transformer)
        Steps; a transformer may be ``"drop"``. Transformers without ``output_shape_`` keep
        their 2-D output. Nested parameters use the step name: ``audio__n_mfcc``.
    n_jobs : int, default=None
        Transformers fitted in parallel (:class:`joblib.Parallel`). Each transformer also has
        its own ``n_jobs`` for its files; use one level of parallelism, not both.
    verbose : bool, default=False
        Show a progress bar over the steps.

    Attributes
    ----------
    transformers_ : dict of str to transformer
        The fitted transformers, by step name (``"drop"`` steps left out).
    output_shapes_ : dict of str to tuple of int
        The per-sample shape of each modality, e.g. ``{"audio": (1, 40, 100)}``.

    Notes
    -----
    The output is a dict, not a matrix, so there is no ``get_feature_names_out`` on the union
    and ``set_output`` does not apply to it; ask a step for its names:
    ``union.transformers_["audio"].get_feature_names_out()`` (C order of ``output_shapes_``).

    Examples
    --------
    >>> from mmemotion.features import FilenameEmbedder, ModalityUnion
    >>> union = ModalityUnion([("text", FilenameEmbedder(dim=4))])
    >>> Xt = union.fit_transform(["1001_DFA_ANG_XX", "1002_IEO_SAD_HI"])
    >>> Xt["text"].shape, union.output_shapes_
    ((2, 4), {'text': (4,)})
    """

    _parameter_constraints = {
        "transformer_list": [list],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }
    # _BaseComposition handles get_params/set_params of the steps and of their parameters.
    _required_parameters = ["transformer_list"]

    def __init__(self, transformer_list, *, n_jobs=None, verbose=False):
        self.transformer_list = transformer_list
        self.n_jobs = n_jobs
        self.verbose = verbose

    def get_params(self, deep=True):
        """Parameters of the union and, with ``deep=True``, of its steps (``audio__n_mfcc``).

        Parameters
        ----------
        deep : bool, default=True

        Returns
        -------
        params : dict
        """
        return self._get_params("transformer_list", deep=deep)

    def set_params(self, **params):
        """Set parameters of the union, replace steps (``audio=...``) or set theirs (``audio__sr=...``).

        Parameters
        ----------
        **params : dict

        Returns
        -------
        self : ModalityUnion
        """
        self._set_params("transformer_list", **params)
        return self

    def _steps(self):
        self._validate_params()
        names = [name for name, _ in self.transformer_list]
        self._validate_names(names)
        for name, t in self.transformer_list:
            if t != "drop" and not (hasattr(t, "fit_transform") and hasattr(t, "transform")):
                raise TypeError(f"ModalityUnion step {name!r} must be a transformer or 'drop', got {t!r}.")
        return [(name, t) for name, t in self.transformer_list if not (isinstance(t, str) and t == "drop")]

    def fit(self, X, y=None):
        """Fit every step on X (decodes the media once per step, like ``fit_transform``).

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)
        y : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : ModalityUnion
        """
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit every step and return their outputs as a SliceDict.

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)
        y : array-like of shape (n_samples,), default=None

        Returns
        -------
        Xt : skorch.helper.SliceDict
            ``{name: ndarray of shape (n_samples, *output_shapes_[name])}``.
        """
        steps = self._steps()
        if not steps:
            raise ValueError("ModalityUnion has no step left (all are 'drop'); keep at least one modality.")
        jobs = (delayed(_fit_transform_one)(clone(t), X, y) for _, t in steps)
        results = Parallel(n_jobs=self.n_jobs)(progress(jobs, verbose=self.verbose, desc="ModalityUnion", total=len(steps)))
        self.transformers_ = {name: fitted for (name, _), (fitted, _) in zip(steps, results)}
        self.output_shapes_ = {name: self._shape_of(name, Xt) for (name, _), (_, Xt) in zip(steps, results)}
        return self._assemble([Xt for _, Xt in results])

    def transform(self, X):
        """Transform X with every fitted step.

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)

        Returns
        -------
        Xt : skorch.helper.SliceDict
            ``{name: ndarray of shape (n_samples, *output_shapes_[name])}``.
        """
        check_is_fitted(self)
        fitted = list(self.transformers_.values())
        jobs = (delayed(t.transform)(X) for t in fitted)
        outputs = Parallel(n_jobs=self.n_jobs)(progress(jobs, verbose=self.verbose, desc="ModalityUnion", total=len(fitted)))
        return self._assemble(outputs)

    def _shape_of(self, name, Xt):
        shape = getattr(self.transformers_[name], "output_shape_", None)
        return tuple(shape) if shape is not None else tuple(np.shape(Xt)[1:])

    def _assemble(self, outputs):
        data = {}
        for name, Xt in zip(self.transformers_, outputs):
            # np.asarray is free for ndarrays; a step set to pandas output gets converted.
            Xt = np.asarray(Xt)
            # reshape of a C-contiguous array is a view: the big video block is never copied.
            data[name] = Xt.reshape(len(Xt), *self.output_shapes_[name])
        return SliceDict(**data)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags
