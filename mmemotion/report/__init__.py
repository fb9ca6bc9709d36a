"""The explainability report: one self-contained HTML file (+ JSON sidecar) per run.

This subpackage never imports torch, Captum or SHAP: it renders the plain numpy results of
:mod:`mmemotion.evaluation` and :func:`mmemotion.explain.explain`.
"""

from ._model_card import pipeline_card, speaker_norm_text, training_history
from ._render import render_report
from ._sections import SECTIONS

__all__ = ["SECTIONS", "pipeline_card", "render_report", "speaker_norm_text", "training_history"]
