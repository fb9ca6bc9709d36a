"""Experiments: fit on some actors, score on the others, analyse, explain, report.

The library behind ``mmemotion demo``, ``fit`` and ``report`` (and ``examples/report.py``). It
calls every other subpackage, so it sits on top of ``report`` in the layer order, with the
command line above it.
"""

from ._fit import FitResult, fit_experiment
from ._run import ExperimentResult, machine_info, run_experiment
from ._saved import load_fitted, meta_path, predictions_table, render_fitted, save_fitted, score_fitted
from ._score import VOTE_COLUMNS, analyse, evaluate_model, score_models
from ._stages import Stages, print_analysis, print_scores

__all__ = [
    "VOTE_COLUMNS", "ExperimentResult", "FitResult", "Stages", "analyse", "evaluate_model", "fit_experiment",
    "load_fitted", "machine_info", "meta_path", "predictions_table", "print_analysis", "print_scores", "render_fitted",
    "run_experiment", "save_fitted", "score_fitted", "score_models",
]
