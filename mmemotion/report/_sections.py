"""The report's sections, in page order, and :func:`build_sections`, which builds them all.

Each section is built by its own module from plain results (see ``_common`` for the shape of a
section's context). Inputs are read by duck typing: ``explanation`` only needs the attributes of
``mmemotion.explain.Explanation``, so the report never imports the explain subpackage (which
imports torch, Captum and SHAP).
"""

import warnings

from ._card_section import model_card
from ._common import frame_and_quality, is_synthetic, main_evaluation
from ._eda import eda
from ._evaluation import evaluation_section
from ._gallery import gallery
from ._held_out_sections import audit_section, calibration_section
from ._importance import modality_importance
from ._overview import overview
from ._quality import quality
from ._trust import trust

__all__ = ["SECTIONS", "build_sections"]

#: (id, heading) of every section, in page order.
SECTIONS = (
    ("overview", "Overview"),
    ("eda", "Exploratory data analysis"),
    ("quality", "Data quality"),
    ("evaluation", "Evaluation on held-out actors"),
    ("calibration", "Calibration and prediction sets"),
    ("audit", "Demographic audit"),
    ("modality-importance", "Modality importance"),
    ("gallery", "Per-clip gallery"),
    ("trust", "Trust: sanity checks, leakage and human raters"),
    ("model-card", "Model card"),
)


def _with_level(section, held_out):
    if section.get("available") and held_out and held_out.get("conformal"):
        section["confidence_level"] = held_out["conformal"]["confidence_level"]
    return section


def build_sections(*, dataset, evaluation, explanation, history, cv_results, model_card_, split, held_out=None):
    """Context of every section, keyed by section id."""
    frame, quality_frame = frame_and_quality(dataset)
    evaluations, main = main_evaluation(evaluation)
    with warnings.catch_warnings():
        # Missing glyphs in unusual clip names only cost a box in a figure; say nothing.
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        return {
            "overview": overview(frame, dataset, split, evaluations, main, explanation),
            "eda": eda(frame),
            "quality": quality(dataset, quality_frame),
            "evaluation": evaluation_section(evaluations, main, history, cv_results, held_out),
            "calibration": calibration_section(held_out),
            "audit": audit_section(held_out),
            "modality-importance": modality_importance(explanation),
            "gallery": _with_level(gallery(explanation, sets=(held_out or {}).get("sets")), held_out),
            "trust": trust(explanation, evaluations, split, synthetic=is_synthetic(dataset), held_out=held_out),
            "model-card": model_card(model_card_, explanation),
        }
