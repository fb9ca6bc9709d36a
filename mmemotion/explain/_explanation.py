"""The :class:`Explanation` result: plain numpy data, no torch objects.

``explain`` fills it; ``report`` renders it. Keeping it numpy-only means a report can be
rendered (and the object pickled or turned into JSON) without torch, Captum or SHAP.
"""

from dataclasses import dataclass, field
from html import escape

import numpy as np

__all__ = ["Explanation"]


@dataclass(repr=False)
class Explanation:
    """Per-clip and aggregated explanations of a fitted mmemotion pipeline.

    Shapes use ``n`` explained clips, ``k`` classes, ``m`` modalities (in ``modalities`` order).

    Attributes
    ----------
    classes : list of str
        Class labels, in the column order of ``proba``.
    modalities : list of str
        Modality names present in the model, e.g. ``["audio", "video", "text"]``; the keys of
        every per-modality dict below.
    clip_ids : list of str
        Clip identifiers (file stems) of the explained clips.
    y_true : ndarray of shape (n,) or None
        True labels, when given.
    y_pred : ndarray of shape (n,)
        Predicted labels.
    proba : ndarray of shape (n, k)
        Predicted class probabilities.
    target_class : ndarray of shape (n,)
        Index into ``classes`` of the class each map explains (the predicted class).
    modality_shares : dict of str -> ndarray of shape (n, m)
        For each attribution method (``"integrated_gradients"``, ``"gradient_shap"``,
        ``"saliency"``, ``"shap"``), each modality's share of the clip's total absolute
        attribution; rows sum to 1. ``"shapley"`` holds the same share computed from the
        absolute modality Shapley values of the predicted class.
    maps : dict of str -> ndarray or list of ndarray
        Integrated-Gradients attribution for the target class, per modality (every modality once
        Integrated Gradients ran): an ndarray of shape ``(n, ...)``, the input's attribution
        summed over the registry entry's ``sum_axes`` (audio ``(n, n_mfcc, n_frames)``; video
        ``(n, T, H, W)``, summed over colour channels), or, where the entry's ``split_map``
        split it, a per-clip list (text: one attribution per word of ``display["text"]``).
    display : dict of str -> ndarray or list
        What a report draws each modality's map over, per clip: the registry entry's
        ``display`` of the input as decoded, before speaker normalisation (audio: MFCCs
        ``(n, n_mfcc, n_frames)``; video: frames ``(n, T, H, W, C)``, uint8, C is 1 or 3), the
        float input itself for an entry without one, or the per-clip list of the entry's
        ``split_map`` (text: the words the text stream saw, a list of list of str).
    shap_maps : dict of str -> ndarray
        Within-modality SHAP values (``shap.GradientExplainer``) for the target class, keyed by
        modality, reduced like the Integrated-Gradients maps (audio ``(n, n_mfcc, n_frames)``,
        video ``(n, T, H, W)``, text ``(n, dim)`` per embedding coordinate).
    shapley_values : ndarray of shape (n, k, m)
        Exact modality-level Shapley values of the predicted probability of every class.
    shapley_base : ndarray of shape (n, k)
        Model output with every modality at its baseline, ``f(none)``.
    shapley_full : ndarray of shape (n, k)
        Model output with every modality present, ``f(all)``;
        ``shapley_values.sum(-1) == shapley_full - shapley_base``.
    ablation : dict of str -> dict of str -> float
        ``{"none": {...}, "audio": {...}, ...}``: accuracy, macro-F1 and log-loss (mean
        cross-entropy of the true class; lower is better) with no modality removed, or with
        the named modality replaced by its baseline (needs ``y_true``).
    ablation_alone : dict of str -> dict of str -> float
        ``{"audio": {...}, ...}``: the same scores with only the named modality present,
        every other modality at its baseline (needs ``y_true``). Feeds the leakage alarm.
    sanity : dict of str -> float
        Sanity checks, e.g. ``"randomisation_spearman"`` (rank correlation of trained vs
        re-initialised model maps; low means the maps depend on what was learned) and
        ``"ig_completeness_error"`` (mean absolute gap between the sum of IG attributions and
        ``f(x) - f(baseline)``).
    baselines : dict of str -> str
        How each modality's baseline (the "absent" value) was chosen, in words.
    warnings : list of str
        Leakage alarms and other cautions a reader of the report must see.
    timings : dict of str -> float
        Seconds spent per step.
    params : dict
        The arguments ``explain`` was called with (methods, n_samples, random_state, ...).
    model : dict or None
        Fingerprint of the explained model (``weights_sha256``, ``classes``, ``modalities``;
        see :func:`~mmemotion.explain.model_fingerprint`), so that a report refuses to pair the
        explanation with another model. None in explanations saved by older versions.
    """

    classes: list
    modalities: list
    clip_ids: list
    y_pred: np.ndarray
    proba: np.ndarray
    target_class: np.ndarray
    y_true: np.ndarray = None
    modality_shares: dict = field(default_factory=dict)
    maps: dict = field(default_factory=dict)
    display: dict = field(default_factory=dict)
    shap_maps: dict = field(default_factory=dict)
    shapley_values: np.ndarray = None
    shapley_base: np.ndarray = None
    shapley_full: np.ndarray = None
    ablation: dict = field(default_factory=dict)
    ablation_alone: dict = field(default_factory=dict)
    sanity: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    model: dict = None

    def _summary(self):
        """(label, value) rows describing the explanation, shared by the text and HTML reprs."""
        n = len(self.clip_ids)
        rows = [("clips", str(n)), ("modalities", str(list(self.modalities))), ("classes", str(list(self.classes)))]
        if self.y_true is not None and n:
            accuracy = float(np.mean(np.asarray(self.y_pred) == np.asarray(self.y_true)))
            rows.append(("accuracy", f"{accuracy:.3f}"))
        for method, shares in self.mean_modality_shares().items():
            rows.append((method, ", ".join(f"{m} {v:.2f}" for m, v in shares.items())))
        rows.append(("warnings", str(len(self.warnings))))
        if self.model:
            rows.append(("model weights", str(self.model.get("weights_sha256"))))
        return rows

    def __repr__(self):
        # The dataclass repr printed every array (about 120,000 characters for 24 clips); this
        # one says what the explanation holds, in a few lines.
        parts = []
        for label, value in self._summary():
            parts.append(f"{value} clips" if label == "clips" else
                         f"{label}: {value}" if label in self.modality_shares else f"{label}={value}")
        return "Explanation(" + ";\n            ".join(parts) + ")"

    def _repr_html_(self):
        """A small table for notebooks: the rows of the text repr, then each warning in full."""
        cells = "".join(f"<tr><th style='text-align:left'>{escape(label)}</th><td>{escape(value)}</td></tr>"
                        for label, value in self._summary())
        notes = "".join(f"<li>{escape(str(w))}</li>" for w in self.warnings)
        return (f"<div><strong>Explanation</strong><table>{cells}</table>"
                + (f"<ul>{notes}</ul>" if notes else "") + "</div>")

    def save(self, path, *, overwrite=False):
        """Write to ``path`` (``.npz``, no pickle): :func:`mmemotion.explain.save_explanation`."""
        from ._io import save_explanation

        return save_explanation(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path):
        """Read a file written by :meth:`save` (runs no code): :func:`mmemotion.explain.load_explanation`."""
        from ._io import load_explanation

        return load_explanation(path)

    def mean_modality_shares(self):
        """Mean share of each modality per method.

        Returns
        -------
        shares : dict of str -> dict of str -> float
            ``{method: {modality: mean share}}``.
        """
        return {
            method: dict(zip(self.modalities, np.asarray(values).mean(axis=0).tolist()))
            for method, values in self.modality_shares.items()
        }

    def mean_abs_shapley(self):
        """Mean absolute modality Shapley value of the predicted class.

        Returns
        -------
        importance : dict of str -> float
        """
        n = len(self.clip_ids)
        picked = self.shapley_values[np.arange(n), self.target_class]  # (n, m)
        return dict(zip(self.modalities, np.abs(picked).mean(axis=0).tolist()))
