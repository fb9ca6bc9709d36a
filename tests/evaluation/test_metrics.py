import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from mmemotion.datasets._codes import EMOTIONS
from mmemotion.evaluation import evaluate, human_agreement, parse_vote


@pytest.mark.parametrize(
    "vote, expected",
    [("A", ("ANG",)), ("ANG", ("ANG",)), ("A:S", ("ANG", "SAD")), ("ANG:SAD", ("ANG", "SAD")),
     ("F:N:S", ("FEA", "NEU", "SAD")), (None, ()), (float("nan"), ()), ("", ()), (np.nan, ())],
)
def test_parse_vote(vote, expected):
    assert parse_vote(vote) == expected


def test_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.choice(EMOTIONS, 200)
    pred = np.where(rng.random(200) < 0.6, y, rng.choice(EMOTIONS, 200))
    result = evaluate(y, pred, EMOTIONS)
    assert result["accuracy"] == pytest.approx(np.mean(y == pred))
    assert result["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert result["uar"] == pytest.approx(balanced_accuracy_score(y, pred))
    cm = np.array(result["confusion_matrix"])
    assert cm.shape == (6, 6) and cm.sum() == 200 and np.trace(cm) == np.sum(y == pred)
    assert [result["per_class"][c]["support"] for c in EMOTIONS] == [int(np.sum(y == c)) for c in EMOTIONS]
    assert result["human"] == {}


def test_absent_class_keeps_its_row_and_uar_ignores_it():
    result = evaluate(["ANG", "ANG", "SAD"], ["ANG", "SAD", "SAD"], EMOTIONS)
    assert result["per_class"]["HAP"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert result["uar"] == pytest.approx((0.5 + 1.0) / 2)
    assert len(result["confusion_matrix"]) == 6


def test_input_errors_say_what_to_do():
    with pytest.raises(ValueError, match="one prediction per clip"):
        evaluate(["ANG"], ["ANG", "SAD"])
    with pytest.raises(ValueError, match="classes=model.classes_"):
        evaluate(["ANG"], ["XYZ"])
    with pytest.raises(ValueError, match="no samples"):
        evaluate([], [])
    with pytest.raises(ValueError, match="same rows"):
        evaluate(["ANG", "SAD"], ["ANG", "SAD"], votes={"voice_vote": ["A"]})


def test_ties_count_as_a_random_tie_break():
    y = ["ANG", "ANG", "SAD", "HAP"]
    pred = ["ANG", "SAD", "SAD", "NEU"]
    votes = pd.DataFrame({"voice_vote": ["A", "A:S", "F:N:S", None],
                          "face_vote": [None] * 4, "multimodal_vote": ["ANG", "SAD", "SAD", "HAP"]})
    result = evaluate(y, pred, EMOTIONS, votes=votes)
    voice = result["human"]["voice"]
    assert voice["n_rated"] == 3 and voice["n_ties"] == 2
    assert voice["human_accuracy"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert voice["human_accuracy_lenient"] == pytest.approx(1.0)
    assert voice["human_accuracy_strict"] == pytest.approx(1 / 3)
    assert voice["model_accuracy"] == pytest.approx(2 / 3)  # on the rated clips only
    assert voice["agreement"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert "face" not in result["human"]  # no vote at all for that presentation
    multimodal = result["human"]["multimodal"]
    assert multimodal["human_accuracy"] == pytest.approx(0.75)
    assert multimodal["agreement"] == pytest.approx(0.75)
    assert multimodal["both_right"] == pytest.approx(0.5)
    assert multimodal["only_human_right"] == pytest.approx(0.25)


def test_agreement_kappa_is_one_when_model_copies_raters():
    votes = ["ANG", "SAD", "HAP", "NEU", "ANG", "FEA"]
    result = human_agreement(["ANG"] * 6, votes, votes, classes=EMOTIONS)
    assert result["kappa"] == pytest.approx(1.0) and result["agreement"] == 1.0


def test_result_is_json_ready():
    import json

    votes = {"multimodal_vote": ["A", "S"]}
    json.dumps(evaluate(np.array(["ANG", "SAD"]), np.array(["ANG", "ANG"]), votes=votes), allow_nan=False)
