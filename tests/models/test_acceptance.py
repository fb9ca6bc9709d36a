"""Acceptance: under actor-grouped CV the fused network beats each single-modality variant.

Slow (trains 4 variants x 4 folds). Text carries no emotion by construction (the sentence is
independent of the label and FilenameEmbedder ignores the label codes), so text-only must stay
near chance: that doubles as a leakage check.

Measured on this set (8 actors x 24 clips of 0.8-1.2 s, seed 0), actor-grouped 4-fold accuracy
with the network's defaults (product-of-experts fusion, HOG video layer, clip-statistics audio
branch, no weight decay): audio 0.714, video 0.370, text 0.167, fusion 0.719 (chance 0.17); about
1.5 min on the 2-core machine. With weight decay 0.01: audio 0.719, video 0.385, fusion 0.729;
with concatenation fusion and the Conv3D video stream: audio 0.714, video 0.349, fusion 0.755;
before the audio statistics branch: audio 0.38, video 0.31, fusion 0.50.
"""

import numpy as np
import pytest
import torch
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


@pytest.fixture
def one_torch_thread():
    # On the shared 2-core machine two intra-op threads per process oversubscribe the cores:
    # measured here, a 4-fold audio CV took > 8 min with 2 threads and 22 s with 1. Restored
    # afterwards so no other test is affected.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.slow
def test_fusion_beats_single_modalities_under_actor_grouped_cv(dataset, one_torch_thread):
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
    assert scores["audio"] > chance + 0.1 and scores["video"] > chance + 0.1
    assert scores["fusion"] > scores["audio"] and scores["fusion"] > scores["video"]
    assert abs(scores["text"] - chance) < 0.1


@pytest.mark.slow
def test_random_split_overestimates_actor_independent_accuracy(dataset, one_torch_thread):
    # Measured on this set (audio-only network): random stratified 4-fold 0.42, actor-grouped
    # 4-fold 0.38. Actor habits (pitch, loudness offsets) are learnable when the test actors
    # are also in training, so the random protocol is optimistic.
    X, y, cache = dataset
    # The network as it was before issue 12 (no speaker normalisation, no prosody rows, no weight
    # decay): speaker normalisation removes the speaker identity the random protocol leaks, and
    # with all three the optimism on this set vanished (random 0.484, actor 0.505), so this
    # configuration is the one that shows what compare_split_protocols measures.
    pipe = make_default_pipeline(modalities=("audio",), memory=cache, speaker_norm="off", prosody=False,
                                 optimizer__weight_decay=0.0, **FEATURES, **NETWORK)
    result = compare_split_protocols(pipe, X, y, n_splits=4)
    print("split protocols:", {k: round(result[k], 3) for k in ("random", "actor", "optimism")})
    assert result["random"] > result["actor"]
