"""actor_split, split_record, held_out_rows and fit_by_actor: no actor on both sides, ever."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from mmemotion.evaluation import actor_split, fit_by_actor, held_out_rows, split_record


def _frame(n_actors, clips=4):
    actors = np.repeat(np.arange(1001, 1001 + n_actors), clips)
    return pd.DataFrame({"actor_id": actors, "f": np.arange(len(actors), dtype=float)})


@pytest.mark.parametrize("n_actors, test_size, n_test_actors", [
    (3, 0.25, 1),   # round(0.75) = 1
    (4, 0.25, 1),
    (8, 0.25, 2),
    (12, 0.25, 3),
    (4, 0.9, 2),    # at most n_actors - 2: two actors stay to train with early stopping
    (10, 0.01, 1),  # at least one actor is held out
])
def test_actor_split_holds_out_whole_actors(n_actors, test_size, n_test_actors):
    frame = _frame(n_actors)
    train, test = actor_split(frame, test_size, random_state=0)
    train_actors, test_actors = set(frame["actor_id"].iloc[train]), set(frame["actor_id"].iloc[test])
    assert not train_actors & test_actors
    assert len(test_actors) == n_test_actors and len(train_actors) == n_actors - n_test_actors
    # Every clip on exactly one side, positions sorted.
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(frame)))
    assert list(train) == sorted(train) and list(test) == sorted(test)
    assert len(test) == 4 * n_test_actors


def test_actor_split_is_reproducible_and_depends_on_the_seed():
    frame = _frame(12)
    first = actor_split(frame, 0.25, random_state=0)
    assert all(np.array_equal(a, b) for a, b in zip(first, actor_split(frame, 0.25, random_state=0)))
    others = {tuple(actor_split(frame, 0.25, random_state=seed)[1]) for seed in range(5)}
    assert len(others) > 1


def test_actor_split_refuses_fewer_than_three_actors():
    with pytest.raises(ValueError, match=r"the data has 2 actor\(s\); an actor-independent split needs at least 3"):
        actor_split(_frame(2), 0.25)


def test_split_record_names_the_actors_of_each_side():
    frame = _frame(4, clips=2)
    train, test = actor_split(frame, 0.25, random_state=0)
    record = split_record(frame, train, test)
    assert record["n_train"] == 6 and record["n_test"] == 2
    assert sorted(record["train_actors"] + record["test_actors"]) == [1001, 1002, 1003, 1004]
    assert all(isinstance(a, int) for a in record["train_actors"] + record["test_actors"])
    assert "no test actor is seen in training" in record["protocol"]
    everything = split_record(frame, np.arange(len(frame)), np.array([], dtype=int))
    assert everything["test_actors"] == [] and everything["n_test"] == 0
    assert everything["protocol"] == "trained on every clip (no held-out actors)"


def test_held_out_rows_leave_out_the_training_actors():
    frame = pd.DataFrame({"actor_id": [1001, 1002, 1001, 1003, 1002]})
    assert held_out_rows(frame, [1001]).tolist() == [1, 3, 4]
    assert held_out_rows(frame, [1001, 1002, 1003]).tolist() == []
    assert held_out_rows(frame, []).tolist() == [0, 1, 2, 3, 4]  # unknown: every row


class _GroupsSpy(ClassifierMixin, BaseEstimator):
    """Records the groups its fit received."""

    def fit(self, X, y, groups=None):
        self.groups_ = None if groups is None else np.asarray(groups)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_fit_by_actor_passes_the_actor_ids_to_a_final_step_that_takes_groups():
    frame = _frame(3, clips=2)
    y = ["ANG", "SAD"] * 3
    model, search = fit_by_actor(make_pipeline(_GroupsSpy()), frame, y)
    assert search is None
    np.testing.assert_array_equal(model[-1].groups_, frame["actor_id"].to_numpy())
    # A final step without groups is fitted without them.
    plain, _ = fit_by_actor(make_pipeline(LogisticRegression()), frame, y)
    assert hasattr(plain[-1], "coef_")


def test_fit_by_actor_grid_searches_over_actor_folds():
    frame = _frame(4, clips=2)
    y = ["ANG", "SAD"] * 4
    model, search = fit_by_actor(make_pipeline(LogisticRegression()), frame, y,
                                 param_grid={"logisticregression__C": [0.1, 1.0]}, cv=10)
    assert search.n_splits_ == 4  # capped at the number of actors
    assert model is search.best_estimator_ and len(search.cv_results_["params"]) == 2
    for train, test in search.cv.split(frame, y, frame["actor_id"]):
        assert not set(frame["actor_id"].iloc[train]) & set(frame["actor_id"].iloc[test])
