"""The explainability report: one self-contained HTML file (+ JSON sidecar) per run.

This subpackage never imports torch, Captum or SHAP: it renders the plain numpy results of
:mod:`mmemotion.evaluation` and :func:`mmemotion.explain.explain`.
"""

from ._render import render_report
from ._sections import SECTIONS

__all__ = ["SECTIONS", "render_report"]
