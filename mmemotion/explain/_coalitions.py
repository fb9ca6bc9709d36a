"""Forward passes over coalitions of modalities: exact modality Shapley values and ablation scores."""

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, f1_score

from ._context import baseline_rows
from ._shapley import coalition_masks, exact_shapley_values
from ._shares import normalise_rows

__all__ = ["ablation_scores", "coalition_pass", "coalition_proba", "scores"]


def coalition_pass(problem, exp):
    """Exact modality Shapley values and/or ablation scores, whichever ``problem.methods`` asks for."""
    p = problem
    masks = coalition_masks(len(p.modalities))
    proba = coalition_proba(p.forward, p.inputs, p.baselines, masks, p.batches, p.tracker)
    if "shapley" in p.methods:
        phi = exact_shapley_values(proba)  # (n, k, m)
        exp.shapley_values = phi
        exp.shapley_base = proba[0]
        exp.shapley_full = proba[-1]
        exp.modality_shares["shapley"] = normalise_rows(np.abs(phi[np.arange(len(p.target)), p.target]))
    if "ablation" in p.methods:
        exp.ablation, exp.ablation_alone = ablation_scores(proba, masks, p.modalities, p.classes, p.y)


@torch.no_grad()
def coalition_proba(forward, inputs, baselines, masks, batches, tracker):
    """Softmax probabilities for every coalition; shape (2**m, n, k), absent = baseline."""
    out = []
    for mask in masks:
        rows = []
        # All coalitions together are one pass over the clips on the progress bar.
        for b in tracker.batches(batches, "modality coalitions", weight=1 / len(masks)):
            batch = tuple(
                x[b] if present else base.expand_as(x[b])
                for x, base, present in zip(inputs, baseline_rows(baselines, b), mask)
            )
            rows.append(torch.softmax(forward(*batch), dim=-1).detach().cpu().numpy())
        out.append(np.concatenate(rows))
    return np.stack(out).astype(np.float64)


def scores(y_true, proba, classes):
    """Accuracy, macro-F1 and log-loss of the probabilities ``proba`` against ``y_true``."""
    y_pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    true = pd.Index(list(classes)).get_indexer(np.asarray(y_true, dtype=object))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        # Continuous companion of accuracy: on a few dozen clips, removing a modality often
        # flips no prediction while the true class still loses probability. Not
        # sklearn.metrics.log_loss: it warns on every call that these rows (float32 softmax,
        # cast) do not sum to 1 within its float64 tolerance (1.5e-8; they are off by up to
        # 1.3e-7), and clips at float64's eps instead of 1e-15 (a true class at probability 0
        # scores 36.0 nats there, 34.5 here); renormalising first moved the scores by 2e-8.
        "log_loss": float(-np.log(np.clip(proba[np.arange(len(proba)), true], 1e-15, 1.0)).mean()),
    }


def ablation_scores(coalition_proba, masks, modalities, classes, y_true):
    """Scores with one modality removed (``ablation``) and with one modality alone."""
    code = {tuple(mask): c for c, mask in enumerate(masks.tolist())}
    m = len(modalities)
    full = (True,) * m
    removed = {"none": scores(y_true, coalition_proba[code[full]], classes)}
    alone = {}
    for j, name in enumerate(modalities):
        without = tuple(k != j for k in range(m))
        only = tuple(k == j for k in range(m))
        removed[name] = scores(y_true, coalition_proba[code[without]], classes)
        alone[name] = scores(y_true, coalition_proba[code[only]], classes)
    return removed, alone
