"""Acceptance: under actor-grouped CV the fused network beats each single-modality variant.

Slow (trains 4 variants x 4 folds). NOT MET YET with these settings: measured on this set
(8 actors x 24 clips), actor-grouped 4-fold accuracy was audio 0.41, video 0.23, text 0.17,
fusion 0.35 (with video_grid=(2, 2): fusion 0.26). The video stream learns slowly and, fused,
seems to fit actor-specific appearance; see the models report. Text carries no emotion by construction
(the sentence is independent of the label and FilenameEmbedder ignores the label codes), so
text-only must stay near chance: that doubles as a leakage check.
"""

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, cross_val_score

from mmemotion.datasets import load_crema_d
from mmemotion.models import compare_split_protocols, make_default_pipeline

FEATURES = dict(n_mfcc=20, n_audio_frames=40, n_video_frames=4, frame_size=(24, 24), text_dim=8)
NETWORK = dict(
    max_epochs=30,
    lr=3e-3,
    batch_size=16,
    module__audio_widths=(8, 16),
    module__video_widths=(16, 32),
    module__video_stem_stride=(1, 1, 1),
    module__video_grid=(3, 3),
    module__text_widths=(8,),
    module__fusion_width=32,
    module__dropout=0.1,
)


@pytest.fixture(scope="module")
def dataset(make_synthetic, tmp_path_factory):
    root = make_synthetic(n_actors=8, clips_per_actor=24, signal=("audio", "video"))
    X, y = load_crema_d(root, return_X_y=True)
    return X, y, tmp_path_factory.mktemp("acceptance_cache")


@pytest.mark.slow
def test_fusion_beats_single_modalities_under_actor_grouped_cv(dataset):
    X, y, cache = dataset
    cv = GroupKFold(n_splits=4)
    scores = {}
    for name, modalities in {
        "audio": ("audio",),
        "video": ("video",),
        "text": ("text",),
        "fusion": ("audio", "video", "text"),
    }.items():
        pipe = make_default_pipeline(modalities=modalities, memory=cache, **FEATURES, **NETWORK)
        scores[name] = float(np.mean(cross_val_score(pipe, X, y, cv=cv, groups=X["actor_id"])))
    chance = 1 / 6
    print("actor-grouped CV accuracy:", {k: round(v, 3) for k, v in scores.items()})
    assert scores["audio"] > chance + 0.1 and scores["video"] > chance + 0.03
    assert scores["fusion"] > scores["audio"] and scores["fusion"] > scores["video"]
    assert abs(scores["text"] - chance) < 0.1


@pytest.mark.slow
def test_random_split_overestimates_actor_independent_accuracy(dataset):
    # Measured on this set (audio-only network): random stratified 4-fold 0.53, actor-grouped
    # 4-fold 0.41. Actor habits (pitch, loudness offsets) are learnable when the test actors
    # are also in training, so the random protocol is optimistic.
    X, y, cache = dataset
    pipe = make_default_pipeline(modalities=("audio",), memory=cache, **FEATURES, **NETWORK)
    result = compare_split_protocols(pipe, X, y, n_splits=4)
    print("split protocols:", {k: round(result[k], 3) for k in ("random", "actor", "optimism")})
    assert result["random"] > result["actor"]
