"""Explanations of fitted mmemotion pipelines: per-modality attributions, saliency maps,
exact modality Shapley values, ablation, sanity checks and a leakage alarm.

Results are plain numpy data (:class:`Explanation`), rendered by :mod:`mmemotion.report`.
"""

from ._explain import ALL_METHODS, DEFAULT_METHODS, METHOD_PRESETS, explain
from ._explanation import Explanation
from ._fingerprint import check_explains, model_fingerprint
from ._io import load_explanation, save_explanation
from ._sanity import map_rank_correlation, randomised_copy
from ._shapley import coalition_masks, exact_shapley_values, to_shap_explanation

__all__ = [
    "ALL_METHODS",
    "DEFAULT_METHODS",
    "METHOD_PRESETS",
    "Explanation",
    "check_explains",
    "coalition_masks",
    "exact_shapley_values",
    "explain",
    "load_explanation",
    "map_rank_correlation",
    "model_fingerprint",
    "randomised_copy",
    "save_explanation",
    "to_shap_explanation",
]
