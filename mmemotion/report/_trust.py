"""The trust section: alarms (leakage, chance, demographic gaps), the explanation's sanity checks
and the comparison of each model with the human raters who saw the same modalities."""

from ..evaluation import actor_overlap, human_comparison
from . import _figures as fig
from ._common import unavailable
from ._held_out_sections import largest_gap_text

__all__ = ["trust"]

#: Rater presentation -> how the page names it.
_PRESENTATION_NAMES = {"voice": "voice only", "face": "face only", "multimodal": "audio-visual"}

_SANITY_HELP = {
    "randomisation_spearman": "Rank correlation between the attribution maps of the trained model and of "
    "a re-initialised one (Adebayo et al., 2018). Low means the maps depend on what was learned; "
    "close to 1 means they would look the same for an untrained network.",
    "ig_completeness_error": "Mean absolute gap between the sum of Integrated-Gradients attributions and "
    "f(x) − f(baseline). Near 0 means the integral was approximated with enough steps.",
    "accuracy_vs_chance_p": "Probability that always guessing the most frequent label gets at least as many "
    "of the explained clips right (one-sided binomial test). At 0.05 or above, the explanations describe a "
    "model that has not learnt the task (chance alarm).",
    "ig_completeness_relative_error": "The completeness gap relative to |f(x) − f(baseline)|.",
    "randomisation_spearman_abs": "As randomisation_spearman, on absolute attribution maps.",
}

#: Per-modality sanity keys, ``<prefix><modality>``, longest prefix first.
_SANITY_PREFIX_HELP = (
    ("randomisation_spearman_abs_", "As randomisation_spearman, on absolute maps, for the {} input only."),
    ("randomisation_spearman_", "As randomisation_spearman, for the {} input only."),
    ("randomised_share_", "Share of attribution the re-initialised model gives the {} input (compare with the "
                          "trained model's share in Modality importance)."),
)


def _sanity_help(key):
    """Words for a sanity-check key, including explain's per-modality and absolute variants."""
    if key in _SANITY_HELP:
        return _SANITY_HELP[key]
    for prefix, text in _SANITY_PREFIX_HELP:
        if key.startswith(prefix):
            return text.format(key[len(prefix):])
    return ""


def _alarms_and_checks(explanation, split, audit):
    alarms = [str(w) for w in (getattr(explanation, "warnings", None) or [])]
    checks = []
    overlap = actor_overlap(split)
    if overlap is not None:
        if overlap:
            alarms.append(f"Actors {overlap} appear in both the training and the test set: scores are "
                          "not actor-independent and overstate how the model does on new speakers.")
        checks.append(f"train/test actor overlap: {len(overlap)} actor(s)")
    if explanation is not None:
        checks.append(f"{len(explanation.warnings or [])} warning(s) raised by explain()")
    if audit is not None:
        for attribute, group in audit["flagged"]:
            row = next(r for r in audit["attributes"][attribute] if r["group"] == group)
            if row["gap"] < 0:
                alarms.append(f"The model is less accurate for {audit['headings'][attribute]} = {group} "
                              f"({row['accuracy']:.3f} vs {row['others_accuracy']:.3f} for the other held-out "
                              f"actors, permutation p = {row['p_value']:.3f}); see Demographic audit.")
        checks.append(f"demographic gaps tested: {audit['n_comparisons']}, beyond chance: {len(audit['flagged'])}")
    return alarms, checks


def _human_reason(evaluations, rows):
    if not evaluations:
        return "not available because no evaluation was passed."
    if not rows:
        return ("not available because the evaluated clips have no CREMA-D rater votes "
                "(processedResults/summaryTable.csv missing, or evaluate() called without votes=).")
    return None


def trust(explanation, evaluations, split, synthetic=False, held_out=None):
    if explanation is None and not evaluations and not split and not held_out:
        return unavailable("not available because no explanation, evaluation or split was passed.")
    numbers = {}
    sanity_rows = []
    if explanation is not None:
        sanity_rows = [(key, value, _sanity_help(key)) for key, value in (explanation.sanity or {}).items()]
        numbers["sanity"] = dict(explanation.sanity or {})
    audit = (held_out or {}).get("audit")
    alarms, checks = _alarms_and_checks(explanation, split, audit)
    gap_text = largest_gap_text(audit)
    numbers["alarms"] = alarms
    numbers["largest_gap"] = gap_text
    all_rows = [dict(row, presentation_name=_PRESENTATION_NAMES.get(row["presentation"], row["presentation"]))
                for row in human_comparison(evaluations)]
    numbers["human_vs_model"] = all_rows
    human_rows = [dict(row, label=f"{row['model']} vs {row['presentation_name']}")
                  for row in all_rows if row["matched"]]
    return {
        "available": True,
        "sanity_rows": sanity_rows,
        "sanity_reason": None if sanity_rows else (
            "not available because no explanation was passed." if explanation is None
            else "not available because explain was run without the \"sanity\" method."),
        "alarms": alarms,
        "checks": checks,
        "human_rows": human_rows,
        "all_rows": all_rows,
        "human_figure": fig.model_vs_human(human_rows) if human_rows else None,
        "human_reason": _human_reason(evaluations, all_rows),
        "simulated_votes": synthetic,
        "largest_gap": gap_text,
        "numbers": numbers,
    }
