"""Demographic audit of held-out predictions, with actor-level bootstrap intervals.

Per-group point estimates come from fairlearn's ``MetricFrame``. Its own bootstrap resamples
clips, which treats the 72 clips of one actor as 72 independent observations; a group's
accuracy varies mostly *between actors*, so our intervals resample actors instead (within each
group, keeping its number of actors). A group of two actors therefore gets a wide interval,
and a group of one actor gets none.

Whether a gap is real is decided by a permutation test on actors: the group labels are
shuffled among the held-out actors (every relabelling when there are few), and the gap
(group accuracy - other actors' accuracy) is flagged when its two-sided p-value is below the
Bonferroni-adjusted level over every comparison made, so that auditing a dozen groups does not
flag one by chance. With few actors no gap can reach that level (two actors out of twelve: the
smallest possible p-value is 1/66), which is the honest answer. Percentile bootstrap intervals
over so few actors are too narrow to decide on; they are shown for scale.
"""

import itertools
import math

import numpy as np
import pandas as pd

from ._metrics import _scores_against_votes, parse_vote

__all__ = ["AUDIT_ATTRIBUTES", "age_band", "demographic_audit"]

#: Manifest column -> heading in the report.
AUDIT_ATTRIBUTES = {"sex": "sex", "age_band": "age band", "race": "race", "ethnicity": "ethnicity"}

#: Groups need this many actors (and so do the other actors) before a gap can be flagged.
MIN_ACTORS = 2


def age_band(age):
    """CREMA-D ages (20-74) in bands: ``"20-29"``, ``"30-39"``, ``"40-49"``, ``"50-59"``, ``"60+"``."""
    if age is None or pd.isna(age):
        return "unknown"
    age = int(age)
    return "60+" if age >= 60 else f"{age // 10 * 10}-{age // 10 * 10 + 9}"


def _ece(y_true, y_pred, confidence):
    """Top-label ECE from per-clip confidence (fairlearn passes 1-D sample parameters only)."""
    correct = np.asarray(y_true) == np.asarray(y_pred)
    confidence = np.asarray(confidence, dtype=float)
    which = np.clip(np.ceil(confidence * 10).astype(int) - 1, 0, 9)
    return float(sum(abs(correct[which == b].mean() - confidence[which == b].mean()) * np.mean(which == b)
                     for b in np.unique(which)))


def _uar(y_true, y_pred):
    labels = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in labels]))


class _ActorTable:
    """Per-actor sufficient statistics, so a bootstrap draw is a sum over resampled actors."""

    def __init__(self, y_true, y_pred, actors, classes, human):
        self.actors = np.unique(actors)
        n_a, n_c = len(self.actors), len(classes)
        row = np.searchsorted(self.actors, actors)
        col = np.searchsorted(np.asarray(classes), y_true)
        hit = (y_true == y_pred).astype(float)
        self.support = np.zeros((n_a, n_c))
        self.hits = np.zeros((n_a, n_c))
        np.add.at(self.support, (row, col), 1.0)
        np.add.at(self.hits, (row, col), hit)
        rated = ~np.isnan(human)
        self.human_sum = np.bincount(row[rated], weights=human[rated], minlength=n_a)
        self.human_n = np.bincount(row[rated], minlength=n_a).astype(float)

    def scores(self, draws):
        """Accuracy, UAR and human accuracy of each draw (rows of actor indices)."""
        support = self.support[draws].sum(axis=1)
        hits = self.hits[draws].sum(axis=1)
        accuracy = hits.sum(axis=1) / support.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(support > 0, hits / support, np.nan)
            human = self.human_sum[draws].sum(axis=1) / self.human_n[draws].sum(axis=1)
        return accuracy, np.nanmean(recall, axis=1), human

    def permutation_p(self, members, others, rng, max_permutations=5000):
        """Two-sided p-value of the accuracy gap when group labels are shuffled among actors.

        Exact (every relabelling) when there are at most ``max_permutations`` of them.
        """
        pool = np.concatenate([members, others])
        hits, n = self.hits[pool].sum(axis=1), self.support[pool].sum(axis=1)
        k = len(members)
        if math.comb(len(pool), k) <= max_permutations:
            chosen = np.array(list(itertools.combinations(range(len(pool)), k)))
        else:
            chosen = np.argsort(rng.random((max_permutations, len(pool))), axis=1)[:, :k]
        inside = np.zeros((len(chosen), len(pool)), dtype=bool)
        np.put_along_axis(inside, chosen, True, axis=1)
        gaps = (inside @ hits) / (inside @ n) - (~inside @ hits) / (~inside @ n)
        observed = hits[:k].sum() / n[:k].sum() - hits[k:].sum() / n[k:].sum()
        return float(np.mean(np.abs(gaps) >= abs(observed) - 1e-12))


def _interval(values, level):
    tail = 100 * (1 - level) / 2
    values = values[~np.isnan(values)]
    if not len(values):
        return None
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]


def demographic_audit(held_out, *, n_boot=2000, level=0.95, random_state=0):
    """Accuracy, UAR, calibration and human raters' accuracy per demographic group.

    Parameters
    ----------
    held_out : HeldOutPredictions
        Predictions of held-out actors whose ``frame`` has demographic columns (``sex``,
        ``age``, ``race``, ``ethnicity``; those missing are skipped) and, optionally,
        ``multimodal_vote`` (the raters' audio-visual majority vote).
    n_boot : int, default=2000
        Actor-level bootstrap draws.
    level : float, default=0.95
        Confidence of the per-group intervals. Gaps are tested at the Bonferroni level
        ``1 - (1 - level) / n_comparisons``.
    random_state : int, default=0

    Returns
    -------
    audit : dict
        ``attributes``: ``{column: [group rows]}``, each row ``group``, ``n_actors``,
        ``n_clips``, ``accuracy``, ``accuracy_ci``, ``uar``, ``uar_ci``, ``ece``,
        ``human_accuracy``, ``human_accuracy_ci``, ``others_accuracy`` and
        ``others_accuracy_ci`` (every other held-out actor), ``gap`` (accuracy minus the others'),
        ``gap_ci``, ``p_value`` (actor permutation test), ``human_gap``, ``flagged`` (p-value
        below ``1 - gap_level``) and ``note``;
        ``n_comparisons``, ``gap_level``, ``largest_gap`` (the row with the largest absolute gap
        among groups with enough actors, plus its ``attribute``; None if none), ``flagged``
        (``[(attribute, group)]``), ``n_actors``, ``n_boot``.
    """
    from fairlearn.metrics import MetricFrame

    frame = held_out.frame.copy()
    if "age" in frame:
        frame["age_band"] = [age_band(a) for a in frame["age"]]
    attributes = [a for a in AUDIT_ATTRIBUTES if a in frame and frame[a].notna().any()]
    y_true, y_pred = np.asarray(held_out.y_true).astype(str), held_out.y_pred.astype(str)
    actors = np.asarray(held_out.actor_id)
    confidence = held_out.proba.max(axis=1)
    human = np.full(len(y_true), np.nan)
    if "multimodal_vote" in frame:
        human = _scores_against_votes(y_true, [parse_vote(v) for v in frame["multimodal_vote"]])[0]
    table = _ActorTable(y_true, y_pred, actors, held_out.classes, human)
    rng = np.random.default_rng(random_state)

    plan = {}
    for attribute in attributes:
        values = frame[attribute].astype(str).to_numpy()
        per_actor = pd.Series(values).groupby(actors).agg(lambda v: v.iloc[0])
        plan[attribute] = (values, per_actor)
    n_comparisons = sum(
        1 for _, per_actor in plan.values() for g in per_actor.unique()
        if per_actor.nunique() > 1 and (per_actor == g).sum() >= MIN_ACTORS and (per_actor != g).sum() >= MIN_ACTORS)
    gap_level = 1 - (1 - level) / max(n_comparisons, 1)

    out = {}
    for attribute, (values, per_actor) in plan.items():
        metrics = MetricFrame(
            metrics={"accuracy": lambda t, p: float(np.mean(t == p)), "uar": _uar, "ece": _ece},
            y_true=y_true, y_pred=y_pred, sensitive_features=pd.Series(values, name=attribute),
            sample_params={"ece": {"confidence": confidence}})
        rows = []
        for group in sorted(per_actor.unique()):
            members = np.searchsorted(table.actors, per_actor.index[per_actor == group])
            others = np.searchsorted(table.actors, per_actor.index[per_actor != group])
            mask = values == group
            row = {"group": group, "n_actors": int(len(members)), "n_clips": int(mask.sum()),
                   "accuracy": float(metrics.by_group.loc[group, "accuracy"]),
                   "uar": float(metrics.by_group.loc[group, "uar"]),
                   "ece": float(metrics.by_group.loc[group, "ece"]),
                   "human_accuracy": float(np.nanmean(human[mask])) if (~np.isnan(human[mask])).any() else None,
                   "accuracy_ci": None, "uar_ci": None, "human_accuracy_ci": None,
                   "others_accuracy": None, "others_accuracy_ci": None, "gap": None, "gap_ci": None,
                   "p_value": None, "human_gap": None, "flagged": False, "note": ""}
            draws_g = members[rng.integers(len(members), size=(n_boot, len(members)))]
            acc_g, uar_g, hum_g = table.scores(draws_g)
            if len(members) >= MIN_ACTORS:
                row["accuracy_ci"], row["uar_ci"] = _interval(acc_g, level), _interval(uar_g, level)
                row["human_accuracy_ci"] = _interval(hum_g, level)
            else:
                row["note"] = "1 actor: no interval; a single speaker says nothing about the group"
            if len(others):
                acc_o, _, hum_o = table.scores(others[None, :])
                row["gap"] = row["accuracy"] - float(acc_o[0])
                row["others_accuracy"] = float(acc_o[0])
                if not np.isnan(hum_o[0]) and row["human_accuracy"] is not None:
                    row["human_gap"] = row["human_accuracy"] - float(hum_o[0])
                if len(members) >= MIN_ACTORS and len(others) >= MIN_ACTORS:
                    draws_o = others[rng.integers(len(others), size=(n_boot, len(others)))]
                    acc_o = table.scores(draws_o)[0]
                    row["others_accuracy_ci"] = _interval(acc_o, level)
                    row["gap_ci"] = _interval(acc_g - acc_o, level)
                    row["p_value"] = table.permutation_p(members, others, rng)
                    row["flagged"] = bool(row["p_value"] < 1 - gap_level)
                    if len(members) < 4 and not row["note"]:
                        row["note"] = f"only {len(members)} actors: wide interval, do not rank on it"
            rows.append(row)
        out[attribute] = rows

    candidates = [(attribute, row) for attribute, rows in out.items() for row in rows if row["gap_ci"] is not None]
    # On a tie (the two groups of a binary attribute) name the group that does worse.
    largest = max(candidates, key=lambda item: (round(abs(item[1]["gap"]), 9), item[1]["gap"] < 0), default=None)
    return {
        "attributes": out,
        "headings": {a: AUDIT_ATTRIBUTES[a] for a in out},
        "n_comparisons": int(n_comparisons),
        "level": float(level),
        "gap_level": float(gap_level),
        "largest_gap": None if largest is None else {"attribute": largest[0], **largest[1]},
        "flagged": [[attribute, row["group"]] for attribute, rows in out.items() for row in rows if row["flagged"]],
        "n_actors": int(len(table.actors)),
        "n_boot": int(n_boot),
    }
