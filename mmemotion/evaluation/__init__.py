"""Held-out evaluation: metrics, out-of-fold predictions, calibration, conformal sets, audit.

Only numpy, pandas, scikit-learn and the libraries those build on (MAPIE, fairlearn) are used
here, so the report (which must not import torch) can call it, and so can anyone evaluating
predictions that did not come from mmemotion.
"""

from ._actors import actor_split, fit_by_actor, held_out_rows, split_record
from ._audit import AUDIT_ATTRIBUTES, age_band, demographic_audit
from ._calibration import ProbabilityPassthrough, cross_fit_temperature, reliability
from ._conformal import ConformalPredictor, cross_fit_sets, set_summary
from ._explanation_analysis import (actor_overlap, confident_clips, human_comparison, importance_measures,
                                    matched_presentation, rank_modalities)
from ._held_out import HeldOutPredictions, cross_val_predict_actors, held_out_predictions
from ._metrics import PRESENTATIONS, evaluate, human_agreement, parse_vote
from ._trust import analyse_held_out

__all__ = [
    "AUDIT_ATTRIBUTES", "ConformalPredictor", "HeldOutPredictions", "PRESENTATIONS", "ProbabilityPassthrough",
    "actor_overlap", "actor_split", "age_band", "analyse_held_out", "confident_clips", "cross_fit_sets",
    "cross_fit_temperature", "cross_val_predict_actors", "demographic_audit", "evaluate", "fit_by_actor",
    "held_out_predictions", "held_out_rows", "human_agreement", "human_comparison", "importance_measures",
    "matched_presentation", "parse_vote", "rank_modalities", "reliability", "set_summary", "split_record",
]
