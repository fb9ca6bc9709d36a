"""FusionClassifier's linear experts and the fixed stream fronts computed once per fit."""

import numpy as np
import torch
from skorch.helper import SliceDict
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ..modalities import get_modality


class LinearExpertFitting:
    """Mixin of :class:`~mmemotion.models.FusionClassifier`: fits the module's linear experts."""

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
            features = self._in_batches(X[name], lambda x, m=name: self.module_.linear_expert_features(m, x), name)
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
            out[name] = self._in_batches(X[name], describe, name)
        return X if out is None else out

    def _in_batches(self, arr, fn, modality, batch_size=64):
        """``fn`` of ``arr`` without autograd, 64 samples at a time, as a numpy array; integer inputs
        are scaled as the module's forward scales them (the modality's ``integer_divisor``)."""
        dtype = next(self.module_.parameters()).dtype
        divisor = get_modality(modality).integer_divisor
        chunks = []
        with torch.no_grad():
            for start in range(0, len(arr), batch_size):
                x = torch.as_tensor(np.asarray(arr[start:start + batch_size]), device=self.device)
                if torch.is_floating_point(x) or not divisor:
                    x = x.to(dtype)
                else:
                    x = x.to(dtype).div_(divisor)
                chunks.append(fn(x).cpu().numpy())
        return np.concatenate(chunks)
