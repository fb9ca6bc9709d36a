"""What an explanation says, as plain data: importance measures, rankings, clips, rater matches."""

from types import SimpleNamespace

import numpy as np
import pytest

from mmemotion.evaluation import (actor_overlap, confident_clips, human_comparison, importance_measures,
                                  matched_presentation, rank_modalities)

MODALITIES = ("audio", "video", "text")


def _explanation(shares, drops, alone=None):
    """Duck-typed explanation with one share method and ablation results."""
    ablation = {"none": {"accuracy": 0.6}}
    ablation.update({m: {"accuracy": 0.6 - d} for m, d in zip(MODALITIES, drops) if d is not None})
    return SimpleNamespace(modalities=MODALITIES, mean_modality_shares=lambda: {"ig": dict(zip(MODALITIES, shares))},
                           ablation=ablation, ablation_alone=alone or {})


def test_measures_in_order_with_a_missing_ablation_as_no_drop():
    ex = _explanation((0.6, 0.3, 0.1), (0.4, None, 0.1), alone={"audio": {"accuracy": 0.5}})
    ex.shapley_values = np.array([[[0.3, -0.1, 0.0]], [[0.1, 0.1, 0.0]]])  # (n=2, k=1, m=3)
    ex.target_class = np.array([0, 0])
    measures = dict(importance_measures(ex))
    assert list(measures) == ["Attribution share", "Modality Shapley (pred. class)", "Ablation drop",
                              "Score with it alone"]
    assert measures["Attribution share"] == {"ig": [0.6, 0.3, 0.1]}
    assert np.allclose(measures["Modality Shapley (pred. class)"]["mean |φ|"], [0.2, 0.1, 0.0])
    assert np.allclose(measures["Modality Shapley (pred. class)"]["mean φ"], [0.2, 0.0, 0.0])
    assert np.allclose(measures["Ablation drop"]["accuracy drop"], [0.4, 0.0, 0.1])
    alone = measures["Score with it alone"]["accuracy alone"]
    assert alone[0] == 0.5 and np.isnan(alone[1:]).all()


@pytest.mark.parametrize(
    "shares, drops, agree, top, conflicts",
    [
        ((0.6, 0.3, 0.1), (0.4, 0.2, 0.0), True, None, []),
        # Same leader, the two minor modalities swapped: a note, not an alarm.
        ((0.6, 0.3, 0.1), (0.4, 0.0, 0.1), False, ["audio"], ["video and text"]),
        # The leader itself differs.
        ((0.6, 0.3, 0.1), (0.1, 0.4, 0.0), False, None, ["audio and video"]),
    ],
)
def test_rankings_name_what_the_measures_disagree_on(shares, drops, agree, top, conflicts):
    ranks = rank_modalities(MODALITIES, importance_measures(_explanation(shares, drops)))
    assert ranks["agree"] is agree
    assert ranks["top_agree"] == top
    assert ranks["conflicts"] == conflicts


def test_ties_and_flat_measures_rank_nothing():
    ranks = rank_modalities(MODALITIES, [("share", {"s": [0.5, 0.25, 0.25]}), ("drop", {"s": [0.0, 0.0, 0.0]})])
    assert ranks["rankings"] == {"share": "audio > video = text"}
    assert ranks["flat"] == ["drop"] and ranks["agree"]


def test_confident_clips_right_then_wrong():
    ex = SimpleNamespace(proba=np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]]),
                         target_class=np.array([0, 0, 1, 1]), y_pred=np.array(["a", "a", "b", "b"]),
                         y_true=np.array(["a", "b", "b", "a"]))
    assert confident_clips(ex, per_kind=1) == [(0, True), (3, False)]
    assert confident_clips(ex, per_kind=2) == [(0, True), (2, True), (3, False), (1, False)]
    ex.y_true = None
    assert confident_clips(ex, per_kind=1) == [(0, None), (2, None)]


def test_models_are_matched_with_the_raters_of_their_modality():
    # The registry's labels decide: a voice-only model meets the voice-only raters.
    assert [matched_presentation(name) for name in ("audio", "video", "text", "fusion", "baseline")] == [
        "voice", "face", "multimodal", "multimodal", "multimodal"]
    rows = human_comparison({"audio": {"human": {"voice": {"agreement": 0.5}, "multimodal": {"agreement": 0.4}}},
                             "fusion": {"human": {}}})
    assert [(r["model"], r["presentation"], r["matched"], r["agreement"]) for r in rows] == [
        ("audio", "voice", True, 0.5), ("audio", "multimodal", False, 0.4)]


def test_actor_overlap():
    assert actor_overlap({"train_actors": [1, 2, 3], "test_actors": [3, 4]}) == [3]
    assert actor_overlap({"train_actors": [1], "test_actors": [2]}) == []
    assert actor_overlap({"protocol": "random"}) is None and actor_overlap(None) is None
