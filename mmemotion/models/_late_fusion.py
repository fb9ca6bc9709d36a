"""Late fusion of per-modality classifiers by the product of their probabilities."""

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

__all__ = ["LateFusionClassifier"]


def _blocks(X, caller):
    if not hasattr(X, "keys"):  # a dict or skorch's SliceDict
        raise TypeError(f"{caller}: X must be a SliceDict/dict keyed by modality (a ModalityUnion output), "
                        f"got {type(X).__name__}.")
    return {k: np.asarray(X[k]).reshape(len(X[k]), -1) for k in sorted(X.keys())}


class LateFusionClassifier(ClassifierMixin, BaseEstimator):
    """One classifier per modality; the fused probabilities are the normalised product of theirs.

    Each block of a :class:`~mmemotion.features.ModalityUnion` output (flattened) gets its own
    clone of ``estimator``, fitted on that block alone. The fused log-probability of a class is
    the weighted sum of the modalities' log-probabilities, renormalised (a product of experts,
    the "product rule" of classifier combination; Kittler et al., IEEE TPAMI 20(3), 1998).
    Fitting each modality on its own keeps a weak, high-dimensional block (HOG descriptors of
    the face) from drowning a strong, small one (voice functionals): on unseen actors of the
    realistic synthetic corpus (10 actors, 5 folds by actor) logistic regressions on audio
    reached 0.667, on video 0.463, on both concatenated 0.553 and fused by this rule 0.687
    (0.737 with 96x96 grey frames and a stronger penalty for video; benchmarks/README.md).

    Parameters
    ----------
    estimator : classifier
        Fitted once per modality (cloned); needs ``predict_log_proba`` or ``predict_proba``.
        A ``Pipeline`` (e.g. ``StandardScaler`` + ``LogisticRegression``) is fine.
    weights : dict of str to float, default=None
        Weight of each modality's log-probabilities; missing modalities weigh 1.

    Attributes
    ----------
    estimators_ : dict of str to estimator
        The fitted clone of each modality, keyed like the input blocks.
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mmemotion.models import LateFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = {"audio": rng.normal(size=(40, 3)), "video": rng.normal(size=(40, 2, 2))}
    >>> y = np.repeat(["ANG", "SAD"], 20)
    >>> clf = LateFusionClassifier(LogisticRegression()).fit(X, y)
    >>> clf.predict_proba(X).shape
    (40, 2)
    """

    def __init__(self, estimator, *, weights=None):
        self.estimator = estimator
        self.weights = weights

    def fit(self, X, y):
        """Fit one clone of ``estimator`` per modality block.

        Parameters
        ----------
        X : skorch.helper.SliceDict or dict of str to ndarray
            Per-modality features, first axis the clips.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : LateFusionClassifier
        """
        blocks = _blocks(X, "LateFusionClassifier")
        if not blocks:
            raise ValueError("LateFusionClassifier: X holds no modality block.")
        unknown = sorted(set(self.weights or {}) - set(blocks))
        if unknown:
            raise ValueError(f"LateFusionClassifier: weights name modalities {unknown} that X lacks "
                             f"(it has {sorted(blocks)}).")
        self.estimators_ = {name: clone(self.estimator).fit(block, y) for name, block in blocks.items()}
        self.classes_ = next(iter(self.estimators_.values())).classes_
        return self

    def predict_log_proba_by_modality(self, X):
        """Each modality's own class log-probabilities.

        Parameters
        ----------
        X : skorch.helper.SliceDict or dict of str to ndarray

        Returns
        -------
        log_proba : dict of str to ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        blocks = _blocks(X, "LateFusionClassifier")
        missing = sorted(set(self.estimators_) - set(blocks))
        if missing:
            raise ValueError(f"LateFusionClassifier: X lacks the modalities {missing} seen in fit.")
        out = {}
        for name, est in self.estimators_.items():
            if hasattr(est, "predict_log_proba"):
                out[name] = log_softmax(est.predict_log_proba(blocks[name]), axis=1)
            else:
                out[name] = np.log(np.clip(est.predict_proba(blocks[name]), 1e-12, None))
        return out

    def _fused_log_proba(self, X):
        weights = self.weights or {}
        parts = self.predict_log_proba_by_modality(X)
        return log_softmax(sum(weights.get(name, 1.0) * lp for name, lp in parts.items()), axis=1)

    def predict_log_proba(self, X):
        """Fused class log-probabilities.

        Parameters
        ----------
        X : skorch.helper.SliceDict or dict of str to ndarray

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._fused_log_proba(X)

    def predict_proba(self, X):
        """Fused class probabilities (normalised product of the modalities').

        Parameters
        ----------
        X : skorch.helper.SliceDict or dict of str to ndarray

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return softmax(self._fused_log_proba(X), axis=1)

    def predict(self, X):
        """Most probable class under the fused probabilities.

        Parameters
        ----------
        X : skorch.helper.SliceDict or dict of str to ndarray

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self.classes_[np.argmax(self._fused_log_proba(X), axis=1)]
