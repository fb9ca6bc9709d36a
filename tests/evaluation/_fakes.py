"""Held-out probabilities with a known structure, for tests that need no trained model."""

import numpy as np

from mmemotion.datasets._codes import EMOTIONS


def held_out_proba(n_actors=12, clips=30, *, skill=None, sharpness=3.0, seed=0):
    """Probabilities of ``n_actors`` x ``clips`` clips; actor ``a`` is right with rate ``skill[a]``.

    Each actor also gets its own offset of the logits, so clips of one actor are alike and
    clips of different actors are not (as with real speakers).
    """
    rng = np.random.default_rng(seed)
    skill = np.full(n_actors, 0.7) if skill is None else np.asarray(skill, dtype=float)
    k = len(EMOTIONS)
    y = rng.integers(0, k, n_actors * clips)
    actors = np.repeat(np.arange(1001, 1001 + n_actors), clips)
    logits = rng.normal(size=(len(y), k)) + np.repeat(rng.normal(0, 0.5, (n_actors, k)), clips, axis=0)
    right = rng.random(len(y)) < np.repeat(skill, clips)
    target = np.where(right, y, (y + rng.integers(1, k, len(y))) % k)
    logits[np.arange(len(y)), target] += sharpness
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return proba, np.asarray(EMOTIONS)[y], actors
