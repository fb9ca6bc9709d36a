import numpy as np
import pandas as pd
import pytest

from mmemotion.datasets import load_crema_d
from mmemotion.datasets._codes import EMOTIONS
from mmemotion.evaluation import HeldOutPredictions, age_band, cross_val_predict_actors, demographic_audit
from mmemotion.models import make_baseline_pipeline

from ._fakes import held_out_proba


def _held_out(skill, sex, race=None, seed=0):
    proba, y, actors = held_out_proba(n_actors=len(skill), clips=30, skill=skill, seed=seed)
    per_actor = {"sex": sex, "race": race or ["Caucasian"] * len(skill), "age": [25 + 3 * i for i in range(len(skill))]}
    index = actors - 1001
    frame = pd.DataFrame({key: np.asarray(values, dtype=object)[index] for key, values in per_actor.items()})
    return HeldOutPredictions(proba=proba, classes=list(EMOTIONS), y_true=y, actor_id=actors,
                              fold=np.zeros(len(y), int), frame=frame)


def _row(audit, attribute, group):
    return next(r for r in audit["attributes"][attribute] if r["group"] == group)


def test_a_group_the_model_fails_is_flagged_and_named():
    skill = [0.2] * 6 + [0.9] * 6
    sex = ["Female"] * 6 + ["Male"] * 6
    audit = demographic_audit(_held_out(skill, sex), n_boot=500)
    female = _row(audit, "sex", "Female")
    assert female["flagged"] and female["p_value"] < 1 - audit["gap_level"]
    assert female["accuracy_ci"][1] < female["others_accuracy_ci"][0]
    assert audit["largest_gap"]["group"] == "Female" and audit["largest_gap"]["gap"] < -0.5
    assert ["sex", "Female"] in audit["flagged"]


def test_small_groups_get_no_flag_and_say_why():
    skill = [0.1, 0.1] + [0.8] * 10
    race = ["Asian", "Asian", "African American"] + ["Caucasian"] * 9
    audit = demographic_audit(_held_out(skill, ["Male", "Female"] * 6, race=race), n_boot=500)
    asian = _row(audit, "race", "Asian")
    # Two actors out of twelve: the smallest possible permutation p-value is 1/66 > 0.05 / n_comparisons.
    assert not asian["flagged"] and "2 actors" in asian["note"]
    assert asian["accuracy_ci"] is not None
    assert _row(audit, "race", "African American")["accuracy_ci"] is None
    assert "1 actor" in _row(audit, "race", "African American")["note"]
    assert {r["group"] for r in audit["attributes"]["age_band"]} <= {"20-29", "30-39", "40-49", "50-59", "60+"}


def test_age_bands():
    assert [age_band(a) for a in (20, 29, 30, 59, 60, 74, None)] == [
        "20-29", "20-29", "30-39", "50-59", "60+", "60+", "unknown"]


@pytest.mark.slow
@pytest.mark.parametrize("weak", [True, False])
def test_audit_finds_the_group_whose_cues_were_weakened(make_synthetic, weak, tmp_path):
    """Known answer: 12 generated actors, cues of the women removed (or not); baseline out-of-fold."""
    root = make_synthetic(n_actors=12, clips_per_actor=12, weak_group={"Sex": "Female"} if weak else None,
                          weak_group_gain=0.0, n_jobs=2)
    frame = load_crema_d(root, verbose=False).frame
    held_out = cross_val_predict_actors(make_baseline_pipeline(memory=tmp_path), frame, frame["emotion"], cv=4, verbose=False)
    audit = demographic_audit(held_out)
    female = _row(audit, "sex", "Female")
    if weak:
        assert female["flagged"] and audit["largest_gap"]["group"] == "Female"
        assert female["accuracy_ci"][1] < female["others_accuracy_ci"][0]
        # The simulated raters find the weak group hard too, so the gap mirrors theirs.
        assert female["human_gap"] < -0.3
    else:
        assert audit["flagged"] == []
