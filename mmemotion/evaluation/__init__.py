"""Held-out evaluation: metrics, out-of-fold predictions, calibration, conformal sets, audit.

Only numpy, pandas, scikit-learn and the libraries those build on (MAPIE, fairlearn) are used
here, so the report (which must not import torch) can call it, and so can anyone evaluating
predictions that did not come from mmemotion.
"""

from ._audit import AUDIT_ATTRIBUTES, age_band, demographic_audit
from ._calibration import ProbabilityPassthrough, cross_fit_temperature, reliability
from ._conformal import ConformalPredictor, cross_fit_sets, set_summary
from ._held_out import HeldOutPredictions, cross_val_predict_actors, held_out_predictions
from ._metrics import PRESENTATIONS, evaluate, human_agreement, parse_vote
from ._trust import analyse_held_out

__all__ = [
    "AUDIT_ATTRIBUTES", "ConformalPredictor", "HeldOutPredictions", "PRESENTATIONS", "ProbabilityPassthrough",
    "age_band", "analyse_held_out", "cross_fit_sets", "cross_fit_temperature", "cross_val_predict_actors",
    "demographic_audit", "evaluate", "held_out_predictions", "human_agreement", "parse_vote", "reliability",
    "set_summary",
]
