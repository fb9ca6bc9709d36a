"""Clip-level statistics ("functionals") of a time-varying feature, and a SliceDict-to-matrix step."""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from ._base import path_input_tags
from ._speaker_norm import as_observations, pooled_axes_of

__all__ = ["Functionals", "ConcatModalities", "STATISTICS"]

#: Statistics a :class:`Functionals` step can compute over the valid frames of a clip.
STATISTICS = ("mean", "std", "p10", "p90", "min", "max")


def _statistic(name, x, valid):
    """One statistic over axis 1 of ``x`` (n, n_obs, n_feat), using only ``valid`` (n, n_obs) frames."""
    masked = np.where(valid[..., None], x, np.nan)
    # A clip with no valid frame (missing file zero-filled) gives NaN here; zeroed by the caller.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if name == "mean":
            return np.nanmean(masked, axis=1)
        if name == "std":
            return np.nanstd(masked, axis=1)
        if name == "min":
            return np.nanmin(masked, axis=1)
        if name == "max":
            return np.nanmax(masked, axis=1)
        return np.nanpercentile(masked, float(name[1:]), axis=1)


class Functionals(TransformerMixin, BaseEstimator):
    """Statistics over time of another transformer's output: the classical clip-level features.

    Emotion recognition from speech has long used *functionals* (means, spreads and
    percentiles over a clip of frame-level descriptors; e.g. the eGeMAPS set of Eyben et al.
    2016) with a linear model or an SVM. This step computes them for any transformer that
    declares which per-sample axes are time (``speaker_norm_pooled_axes``): MFCC maps, HOG of
    video frames. Frames that are all zeros (padding after a clip's end) are left out.

    Parameters
    ----------
    transformer : transformer
        E.g. ``MFCCTransformer(prosody=True)`` or ``FrameHOG()``; it must set ``output_shape_``.
    statistics : tuple of str, default=("mean", "std", "p10", "p90")
        Any of :data:`STATISTICS`, computed per feature over the valid frames.

    Attributes
    ----------
    transformer_ : transformer
        The fitted inner transformer.
    output_shape_ : tuple of int
        ``(n_statistics * n_features,)``.

    Examples
    --------
    >>> from mmemotion.features import Functionals, MFCCTransformer
    >>> Functionals(MFCCTransformer(n_mfcc=13)).get_params()["statistics"]
    ('mean', 'std', 'p10', 'p90')
    """

    _parameter_constraints = {
        "transformer": [HasMethods(["fit", "transform"])],
        "statistics": [tuple, list],
    }

    def __init__(self, transformer, *, statistics=("mean", "std", "p10", "p90")):
        self.transformer = transformer
        self.statistics = statistics

    def fit(self, X, y=None):
        """Fit the inner transformer.

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)
        y : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : Functionals
        """
        self._validate_params()
        unknown = [s for s in self.statistics if s not in STATISTICS]
        if unknown or not self.statistics:
            raise ValueError(f"Functionals: statistics={self.statistics!r} must be a non-empty subset of {STATISTICS}.")
        self.transformer_ = clone(self.transformer).fit(X, y)
        shape = getattr(self.transformer_, "output_shape_", None)
        if shape is None:
            raise ValueError(
                f"Functionals: {type(self.transformer_).__name__} has no output_shape_, so its time axis is unknown; "
                "wrap a transformer of mmemotion.features."
            )
        pooled = pooled_axes_of(self.transformer_)
        n_feat = int(np.prod([d for a, d in enumerate(shape) if a not in pooled]))
        self.output_shape_ = (len(self.statistics) * n_feat,)
        return self

    def transform(self, X):
        """Statistics of every feature over the valid frames of each clip.

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_statistics * n_features), float32
            Statistic-major: all means, then all standard deviations, ...
        """
        check_is_fitted(self)
        A = np.asarray(self.transformer_.transform(X)).reshape(-1, *self.transformer_.output_shape_)
        obs, _ = as_observations(A, pooled_axes_of(self.transformer_))
        obs = obs.astype(np.float64)
        valid = np.any(obs != 0, axis=2)
        out = np.concatenate([_statistic(s, obs, valid) for s in self.statistics], axis=1)
        return np.nan_to_num(out, nan=0.0).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        """``{statistic}_{index}`` in output order (index over the non-time axes, C order).

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self)
        n_feat = self.output_shape_[0] // len(self.statistics)
        return np.array([f"{s}_{j}" for s in self.statistics for j in range(n_feat)], dtype=object)

    def __sklearn_tags__(self):
        return path_input_tags(super().__sklearn_tags__())


class ConcatModalities(TransformerMixin, BaseEstimator):
    """Flatten and concatenate the blocks of a :class:`ModalityUnion` output into one matrix.

    Lets an ordinary scikit-learn model (``LogisticRegression``, ``SVC``) follow the union:
    ``make_pipeline(ModalityUnion(...), ConcatModalities(), StandardScaler(), LogisticRegression())``.

    Attributes
    ----------
    blocks_ : dict of str to int
        Columns of each block, in output order (sorted by key).
    """

    def fit(self, X, y=None):
        """Record the block sizes.

        Parameters
        ----------
        X : skorch.helper.SliceDict or dict of str to ndarray
        y : ignored

        Returns
        -------
        self : ConcatModalities
        """
        if not hasattr(X, "keys"):
            raise TypeError(f"ConcatModalities: X must be a SliceDict/dict keyed by modality, got {type(X).__name__}.")
        self.blocks_ = {k: int(np.prod(np.shape(X[k])[1:])) for k in sorted(X.keys())}
        return self

    def transform(self, X):
        """Concatenate the flattened blocks.

        Parameters
        ----------
        X : skorch.helper.SliceDict or dict of str to ndarray

        Returns
        -------
        Xt : ndarray of shape (n_samples, sum(blocks_.values()))
        """
        check_is_fitted(self)
        missing = sorted(set(self.blocks_) - set(X.keys()))
        if missing:
            raise ValueError(f"ConcatModalities: X lacks the blocks {missing} seen in fit.")
        return np.hstack([np.asarray(X[k]).reshape(len(X[k]), -1) for k in self.blocks_])

    def get_feature_names_out(self, input_features=None):
        """``{block}_{index}`` in output order.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self)
        return np.array([f"{k}_{j}" for k, n in self.blocks_.items() for j in range(n)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.dict = True
        tags.requires_fit = True
        return tags
