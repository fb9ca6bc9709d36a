"""pipeline_card, speaker_norm_text and training_history: the model card, JSON-friendly, without torch."""

import json

from mmemotion.models import make_default_pipeline
from mmemotion.report import pipeline_card, speaker_norm_text, training_history


def test_pipeline_card_lists_each_modality_and_leaves_out_the_plumbing():
    pipeline = make_default_pipeline(max_epochs=3, memory="/tmp/somewhere", verbose=True)
    # The union describes its normalisation once fitted (it learns which modalities it normalises).
    pipeline[0].describe_speaker_norm = lambda: "per speaker: z-scored"
    card = pipeline_card(pipeline)
    json.dumps(card)  # plain values only
    assert card["classifier"]["max_epochs"] == 3
    assert not {"verbose", "callbacks", "memory", "n_jobs"} & set(card["classifier"])
    features = [key for key in card if key.startswith("features.")]
    steps = [name for name, _ in pipeline[0].transformer_list]
    assert [key.split(" ")[0] for key in features] == [f"features.{name}" for name in steps]
    for key in features:
        assert "memory" not in card[key] and "verbose" not in card[key]
    assert card["speaker normalisation"] == speaker_norm_text(pipeline) == "per speaker: z-scored"


def test_a_step_that_cannot_say_how_it_normalises_says_none():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=0.5))
    assert speaker_norm_text(pipeline) == "none"
    card = pipeline_card(pipeline)
    assert set(card) == {"classifier", "speaker normalisation"} and card["classifier"]["C"] == 0.5


def test_training_history_drops_the_batches():
    class Clf:
        history_ = [{"epoch": 1, "train_loss": 0.5, "batches": [{"loss": 0.4}]}]

    assert training_history([None, Clf()]) == [{"epoch": 1, "train_loss": 0.5}]
