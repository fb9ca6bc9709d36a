"""Alarms a reader of an explanation must see: a model at chance, or one modality explaining everything."""

import numpy as np
import pandas as pd

__all__ = [
    "ALONE_ACCURACY_ALARM",
    "CHANCE_ALARM_P",
    "DOMINANT_SHARE_ALARM",
    "MIN_CLIPS_FOR_ACCURACY_ALARM",
    "chance_alarm",
    "leakage_alarms",
    "raise_alarms",
]

#: Leakage alarm thresholds: accuracy of one modality alone, share of one modality in every clip.
ALONE_ACCURACY_ALARM = 0.95
DOMINANT_SHARE_ALARM = 0.9
#: Below this many labelled clips an accuracy of 1.0 is too likely by chance to raise an alarm.
MIN_CLIPS_FOR_ACCURACY_ALARM = 12
#: The chance alarm: the explained clips' accuracy is "not clearly above chance" when a model that
#: guessed the most frequent label would reach it with at least this probability (one-sided
#: binomial test).
CHANCE_ALARM_P = 0.05

_LEAK_HINT = (
    "On CREMA-D the classic cause is the emotion code in the file name (e.g. '1001_DFA_ANG_XX'): "
    "check that no feature sees the full clip id (FilenameEmbedder(include_label_codes=True), a "
    "path column, a per-file cache key) before trusting the model."
)


def raise_alarms(exp):
    """Put the chance alarm first and the leakage alarms last in ``exp.warnings``."""
    alarm = chance_alarm(exp)
    if alarm:
        exp.warnings.insert(0, alarm)
    exp.warnings.extend(leakage_alarms(exp))


def chance_alarm(exp):
    """A warning when the explained clips' accuracy is not clearly above chance, else None.

    Chance is the rate of the most frequent true label among the explained clips (what always
    guessing it scores). With k of n clips right, the alarm fires when P(X >= k) >= CHANCE_ALARM_P
    for X ~ Binomial(n, chance): such a model's attributions are faithful to it, but they describe
    a model that has not learnt the task, not how emotion shows in voice or face. Records the
    p-value as ``exp.sanity["accuracy_vs_chance_p"]``.
    """
    if exp.y_true is None or not len(exp.y_true):
        return None
    from scipy.stats import binom

    y_true = np.asarray(exp.y_true, dtype=object)
    n = len(y_true)
    correct = int(np.sum(y_true == np.asarray(exp.y_pred, dtype=object)))
    chance = float(pd.Series(y_true).value_counts(normalize=True).iloc[0])
    p_value = float(binom.sf(correct - 1, n, chance))
    exp.sanity["accuracy_vs_chance_p"] = p_value
    if p_value < CHANCE_ALARM_P:
        return None
    return (
        f"Chance alarm: the model gets {correct} of the {n} explained clips right ({correct / n:.2f}), not "
        f"clearly above chance ({chance:.2f}, always the most frequent label; one-sided binomial p = "
        f"{p_value:.2f}). These explanations describe a model that has not learnt the task, not how emotion "
        "shows in the voice or the face; fix the model (more data, other features, check the labels) before "
        "reading them."
    )


def leakage_alarms(exp):
    """Warnings when one modality explains (almost) everything."""
    alarms = []
    n_labelled = 0 if exp.y_true is None else len(exp.y_true)
    for name, scores in getattr(exp, "ablation_alone", {}).items():
        if n_labelled >= MIN_CLIPS_FOR_ACCURACY_ALARM and scores["accuracy"] >= ALONE_ACCURACY_ALARM:
            alarms.append(
                f"Leakage alarm: the {name} stream alone (every other modality at its baseline) "
                f"reaches accuracy {scores['accuracy']:.2f} on {n_labelled} clips. Near-perfect "
                f"single-modality accuracy is implausible for acted emotion. {_LEAK_HINT}"
            )
    for j, name in enumerate(exp.modalities):
        dominated = [
            method
            for method, shares in exp.modality_shares.items()
            if len(exp.modalities) > 1 and len(shares) and np.all(np.asarray(shares)[:, j] > DOMINANT_SHARE_ALARM)
        ]
        if dominated:
            alarms.append(
                f"Leakage alarm: {name} carries more than {DOMINANT_SHARE_ALARM:.0%} of the attribution "
                f"in every one of the {len(exp.clip_ids)} clips ({', '.join(dominated)}). {_LEAK_HINT}"
            )
    return alarms
