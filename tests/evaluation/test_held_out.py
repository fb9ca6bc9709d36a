import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import KFold

from mmemotion.evaluation import HeldOutPredictions, cross_val_predict_actors, held_out_predictions


class ActorSpy(ClassifierMixin, BaseEstimator):
    """Remembers the actors it was fitted on and refuses to predict any of them."""

    def __init__(self, take_groups=False):
        self.take_groups = take_groups

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.actors_ = set(X["actor_id"])
        return self

    def predict_proba(self, X):
        assert not set(X["actor_id"]) & self.actors_, "predicting an actor seen in fit"
        proba = np.zeros((len(X), len(self.classes_)))
        proba[:, 0] = 1.0
        return proba


class GroupsSpy(ActorSpy):
    def fit(self, X, y, groups=None):
        assert groups is not None and set(groups) == set(X["actor_id"])
        return super().fit(X, y)


def _frame(n_actors=6, clips=5):
    actors = np.repeat(np.arange(1001, 1001 + n_actors), clips)
    emotions = np.tile(["ANG", "SAD", "HAP", "NEU", "FEA"], n_actors)[: len(actors)]
    return pd.DataFrame({"actor_id": actors, "clip_id": [f"c{i}" for i in range(len(actors))],
                         "sex": np.where(actors % 2, "Male", "Female"), "emotion": emotions})


def test_every_clip_predicted_once_by_a_model_that_never_saw_its_actor():
    X = _frame()
    out = cross_val_predict_actors(ActorSpy(), X, X["emotion"], cv=3, verbose=False)
    assert out.proba.shape == (len(X), 5) and not np.isnan(out.proba).any()
    assert sorted(np.unique(out.fold)) == [0, 1, 2]
    for k, fitted in enumerate(out.fit_actors):
        test_actors = set(out.actor_id[out.fold == k])
        assert test_actors and not test_actors & set(fitted)
        assert test_actors | set(fitted) == set(X["actor_id"])
    # Each actor in exactly one fold.
    assert all(len(set(out.fold[out.actor_id == a])) == 1 for a in X["actor_id"].unique())
    assert out.frame["clip_id"].tolist() == X["clip_id"].tolist()
    assert [row["fold"] for row in out.per_fold()] == [0, 1, 2]
    assert out.evaluate()["n_samples"] == len(X)


def test_groups_reach_a_final_step_that_takes_them():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X = _frame()
    pipe = make_pipeline(FunctionTransformer(), GroupsSpy())
    out = cross_val_predict_actors(pipe, X, X["emotion"], cv=2, verbose=False)
    assert out.n_folds == 2


def test_splitters_that_mix_actors_are_refused():
    X = _frame()
    with pytest.warns(UserWarning, match="ignored by KFold"), pytest.raises(ValueError, match="both sides"):
        cross_val_predict_actors(ActorSpy(), X, X["emotion"], cv=KFold(4), verbose=False)
    with pytest.raises(ValueError, match="between 2 and the number of actors"):
        cross_val_predict_actors(ActorSpy(), X, X["emotion"], cv=7, verbose=False)
    with pytest.raises(ValueError, match="actor_id"):
        cross_val_predict_actors(ActorSpy(), X.drop(columns="actor_id"), X["emotion"], verbose=False)


def test_held_out_predictions_refuse_training_actors():
    X = _frame()
    train, test = X[X["actor_id"] <= 1003], X[X["actor_id"] > 1003]
    model = ActorSpy().fit(train, train["emotion"])
    out = held_out_predictions(model, test, test["emotion"], fit_actors=[1001, 1002, 1003])
    assert isinstance(out, HeldOutPredictions) and set(out.fold) == {0}
    with pytest.raises(ValueError, match=r"actors \[1001\]"):
        held_out_predictions(model, X[X["actor_id"] >= 1001], X["emotion"][X["actor_id"] >= 1001],
                             fit_actors=[1001])
