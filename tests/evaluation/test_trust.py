import numpy as np
import pandas as pd
import pytest

from mmemotion.datasets._codes import EMOTIONS
from mmemotion.evaluation import HeldOutPredictions, analyse_held_out

from ._fakes import held_out_proba


def _held(n_actors, folds=1):
    proba, y, actors = held_out_proba(n_actors=n_actors, clips=30)
    frame = pd.DataFrame({"clip_id": [f"c{i}" for i in range(len(y))],
                          "sex": np.where(actors % 2, "Male", "Female")})
    return HeldOutPredictions(proba=proba, classes=list(EMOTIONS), y_true=y, actor_id=actors,
                              fold=(actors - 1001) % folds, frame=frame)


def test_every_part_of_the_analysis_for_several_actors():
    analysis = analyse_held_out(_held(6, folds=3), n_boot=100)
    assert analysis["n_folds"] == 3 and len(analysis["folds"]) == 3 and analysis["fold_spread"]["sd"] is not None
    assert analysis["calibration"]["after"] is not None and set(analysis["calibration"]["temperatures"]) == set(
        range(1001, 1007))
    assert len(analysis["sets"]) == 180 and analysis["not_fitted"] is None
    assert 0.8 <= analysis["conformal"]["coverage"] <= 1
    assert "sex" in analysis["audit"]["attributes"]
    assert analysis["protocol"].startswith("Out-of-fold: 3 actor-grouped folds")


def test_one_held_out_actor_gets_reliability_but_nothing_fitted_on_itself():
    analysis = analyse_held_out(_held(1), n_boot=100)
    assert analysis["calibration"]["before"]["ece"] >= 0
    assert analysis["calibration"]["after"] is None and analysis["conformal"] is None and analysis["sets"] is None
    assert "at least 2" in analysis["not_fitted"]
    with pytest.raises(ValueError, match="no held-out clip"):
        empty = _held(1)
        analyse_held_out(HeldOutPredictions(proba=empty.proba[:0], classes=empty.classes, y_true=empty.y_true[:0],
                                            actor_id=empty.actor_id[:0], fold=empty.fold[:0]))
