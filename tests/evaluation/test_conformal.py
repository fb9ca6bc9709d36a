import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mmemotion.datasets._codes import EMOTIONS
from mmemotion.evaluation import ConformalPredictor, cross_fit_sets, set_summary

from ._fakes import held_out_proba


@pytest.mark.parametrize("level", [0.8, 0.9])
def test_cross_fitted_sets_cover_new_actors_at_the_level_asked(level):
    proba, y, actors = held_out_proba(n_actors=20, clips=60, seed=1)
    sets = cross_fit_sets(proba, y, EMOTIONS, actors, confidence_level=level)
    summary = set_summary(sets, y, EMOTIONS, confidence_level=level)
    assert level - 0.05 <= summary["coverage"] <= level + 0.05
    assert 1 <= summary["mean_size"] < len(EMOTIONS)
    assert set(summary["per_class"]) == set(EMOTIONS)
    # A higher level never gives smaller sets.
    wider = cross_fit_sets(proba, y, EMOTIONS, actors, confidence_level=0.95)
    assert (wider | sets == wider).all()


def test_an_actors_sets_ignore_its_own_labels():
    proba, y, actors = held_out_proba(n_actors=5)
    sets = cross_fit_sets(proba, y, EMOTIONS, actors)
    y2 = y.copy()
    y2[actors == 1001] = "NEU"
    again = cross_fit_sets(proba, y2, EMOTIONS, actors)
    assert (again[actors == 1001] == sets[actors == 1001]).all()
    assert (again[actors != 1001] != sets[actors != 1001]).any()


def test_conformal_predictor_on_a_fitted_model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, 4)), columns=list("abcd"))
    y = np.repeat(["ANG", "SAD", "HAP"], 200)
    X.loc[y == "ANG", "a"] += 1.5
    X.loc[y == "SAD", "b"] += 1.5
    X["actor_id"] = np.tile(np.arange(30), 20)
    train, cal, test = X["actor_id"] < 10, X["actor_id"].between(10, 19), X["actor_id"] >= 20
    model = LogisticRegression().fit(X[train], y[train])
    cp = ConformalPredictor(model, confidence_level=0.9).fit(X[cal], y[cal], groups=X["actor_id"][cal])
    sets = cp.predict_sets(X[test])
    assert sets.shape == (int(test.sum()), 3) and sets.dtype == bool
    coverage = sets[np.arange(len(sets)), [list(cp.classes_).index(t) for t in y[test]]].mean()
    assert 0.85 <= coverage <= 0.97
    with pytest.raises(ValueError, match="used for calibration"):
        cp.predict_sets(X[cal])
    with pytest.raises(ValueError, match="confidence_level"):
        ConformalPredictor(model, confidence_level=90).fit(X[cal], y[cal])
