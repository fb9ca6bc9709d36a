"""Sections built from :func:`mmemotion.evaluation.analyse_held_out`: calibration, sets, audit."""

from ..datasets._codes import EMOTION_NAMES
from . import _figures as fig
from ._common import unavailable

__all__ = ["calibration_section", "audit_section", "fold_rows", "largest_gap_text"]

_NO_ANALYSIS = ("not available because no held-out analysis was passed "
                "(render_report(held_out=analyse_held_out(...)); `mmemotion demo` computes it).")


def fold_rows(analysis):
    """Per-fold scores and their spread, or None for a single split."""
    if not analysis or analysis.get("n_folds", 1) < 2:
        return None
    return {"rows": analysis["folds"], "spread": analysis["fold_spread"], "protocol": analysis["protocol"]}


def calibration_section(analysis):
    if not analysis:
        return unavailable(_NO_ANALYSIS)
    calibration, conformal = analysis["calibration"], analysis["conformal"]
    per_class = [] if conformal is None else [(label, EMOTION_NAMES.get(label, ""), row) for label, row in conformal["per_class"].items()]
    return {
        "available": True,
        "protocol": analysis["protocol"],
        "n_actors": analysis["n_actors"],
        "before": calibration["before"],
        "after": calibration.get("after"),
        "median_temperature": calibration.get("median_temperature"),
        "figure": fig.reliability_diagram(calibration["before"], calibration.get("after")),
        "conformal": conformal,
        "per_class": per_class,
        "not_fitted": analysis.get("not_fitted"),
        "numbers": {"calibration": calibration, "conformal": conformal, "sets": analysis.get("sets") or {}},
    }


def audit_section(analysis):
    if not analysis:
        return unavailable(_NO_ANALYSIS)
    audit = analysis["audit"]
    if not audit["attributes"]:
        return unavailable("not available because the held-out clips have no demographic columns "
                            "(sex, age, race, ethnicity: VideoDemographics.csv).")
    return {
        "available": True,
        "audit": audit,
        "tables": [(audit["headings"][a], rows) for a, rows in audit["attributes"].items()],
        "figure": fig.group_accuracy(audit["attributes"], audit["headings"]),
        "largest": largest_gap_text(audit),
        "numbers": {"audit": audit},
    }


def largest_gap_text(audit):
    """One sentence naming the largest demographic gap and whether it is beyond chance."""
    if not audit or not audit.get("largest_gap"):
        return None
    row = audit["largest_gap"]
    heading = audit["headings"].get(row["attribute"], row["attribute"])
    text = (f"Largest demographic gap: {heading} = {row['group']} ({row['n_actors']} held-out actors), accuracy "
            f"{row['accuracy']:.3f} vs {row['others_accuracy']:.3f} for the other actors (gap {row['gap']:+.3f}, "
            f"actor permutation p = {row['p_value']:.3f}).")
    if row["flagged"]:
        text += (f" This is beyond chance at the Bonferroni-adjusted level over {audit['n_comparisons']} "
                 "comparisons: the model works worse for this group.")
    else:
        text += (f" It is within what reshuffling actors gives by chance (adjusted level over "
                 f"{audit['n_comparisons']} comparisons), so no group is ranked on it.")
    if row.get("human_gap") is not None:
        text += f" The raters' gap for the same group: {row['human_gap']:+.3f}."
    return text
