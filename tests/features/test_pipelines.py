"""Each transformer alone in a plain scikit-learn pipeline, scored with actor-grouped CV."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mmemotion.datasets import EMOTIONS
from mmemotion.features import FrameSampler, MFCCTransformer

CHANCE = 1 / len(EMOTIONS)


@pytest.mark.parametrize(
    "transformer, C",
    [
        (MFCCTransformer(), 1.0),
        # Small grey face crops keep the test fast; the default (3x16x64x64) works the same way.
        (FrameSampler(n_frames=4, size=(32, 32), crop="face", color=False), 0.001),
    ],
    ids=["mfcc", "frames"],
)
def test_pipeline_scores_above_chance_with_actor_grouped_cv(synthetic_bunch, tmp_path, transformer, C):
    X, y = synthetic_bunch.data, synthetic_bunch.target
    # The cache makes the 4 folds decode each clip once (as in a real grid search).
    pipe = make_pipeline(transformer.set_params(memory=tmp_path), StandardScaler(), LogisticRegression(C=C, max_iter=300))
    # One BLAS thread: on a busy 2-core machine, OpenBLAS threads spinning against each other
    # made lbfgs 5x slower (measured).
    with threadpool_limits(1):
        scores = cross_val_score(pipe, X, y, groups=X["actor_id"], cv=GroupKFold(n_splits=4))
    assert scores.mean() > CHANCE, scores
    assert set(y) == set(EMOTIONS) and np.unique(X["actor_id"]).size >= 4
