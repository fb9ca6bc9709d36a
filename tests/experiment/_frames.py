"""A manifest-shaped frame with numeric features instead of media, and a pipeline that reads them.

Lets the experiment runners (split, fit, score, analyse) be tested in a second, without media
or a network; the end-to-end runs with both are the CLI's slow tests.
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

EMOTIONS = ("ANG", "HAP", "SAD")


def feature_frame(n_actors=6, clips=12, seed=0):
    """``n_actors`` x ``clips`` rows: ``actor_id``, ``clip_id``, ``emotion``, demographics, votes, ``f0``-``f2``."""
    rng = np.random.default_rng(seed)
    actors = np.repeat(np.arange(1001, 1001 + n_actors), clips)
    emotion = np.tile(np.resize(EMOTIONS, clips), n_actors)
    signal = (emotion[:, None] == np.asarray(EMOTIONS)).astype(float)
    features = signal + rng.normal(0, 0.6, signal.shape)
    return pd.DataFrame({
        "actor_id": actors,
        "clip_id": [f"{a}_IEO_{e}_XX_{k}" for k, (a, e) in enumerate(zip(actors, emotion))],
        "emotion": emotion,
        "sex": np.where(actors % 2 == 0, "Female", "Male"),
        "age": 20 + actors % 30,
        "multimodal_vote": emotion,
        **{f"f{j}": features[:, j] for j in range(len(EMOTIONS))},
    })


def feature_pipeline(C=1.0):
    """Selects ``f0``-``f2`` and fits a logistic regression."""
    columns = [f"f{j}" for j in range(len(EMOTIONS))]
    return make_pipeline(ColumnTransformer([("features", "passthrough", columns)]), LogisticRegression(C=C))
