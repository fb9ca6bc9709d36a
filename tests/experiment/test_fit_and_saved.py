"""fit_experiment (``mmemotion fit``) and score_fitted (``mmemotion report``) on a media-free stand-in."""

import pytest

from mmemotion.experiment import fit_experiment, score_fitted

from ._frames import feature_frame, feature_pipeline


def test_fit_experiment_fits_on_training_actors_and_scores_the_others():
    X = feature_frame(n_actors=8)
    fitted = fit_experiment(feature_pipeline(), X, X["emotion"], test_size=0.25, random_state=0, verbose=False)
    split = fitted.split
    assert not set(split["train_actors"]) & set(split["test_actors"]) and split["n_test"] == 24
    assert fitted.evaluation["n_samples"] == 24 and fitted.out_of_fold is None and fitted.search is None
    record = fitted.record()
    assert record["split"] is split and record["evaluation"] is fitted.evaluation and record["cv_results"] is None
    assert record["params"]["classifier"]["C"] == 1.0
    ev = fitted.evaluation
    assert fitted.summary() == [f"held-out actors {split['test_actors']}: accuracy {ev['accuracy']:.3f}, "
                                f"macro-F1 {ev['macro_f1']:.3f}, UAR {ev['uar']:.3f}"]


def test_fit_experiment_out_of_fold_and_grid_search():
    X = feature_frame(n_actors=6)
    everyone = fit_experiment(feature_pipeline(), X, X["emotion"], test_size=0, cv=3, out_of_fold=feature_pipeline(),
                              verbose=False)
    assert everyone.split["n_test"] == 0 and everyone.evaluation is None and "evaluation" not in everyone.record()
    oof = everyone.out_of_fold
    assert oof["n_folds"] == 3 and oof["evaluation"]["n_samples"] == 72
    assert everyone.summary()[0].startswith("out of fold (3 folds, all 6 actors): accuracy ")
    searched = fit_experiment(feature_pipeline(), X, X["emotion"], param_grid={"logisticregression__C": [1e-4, 1.0]},
                              cv=2, verbose=False)
    assert searched.search.n_splits_ == 2 and searched.record()["cv_results"] is searched.search.cv_results_
    assert any(line.startswith("best parameters {'logisticregression__C'") for line in searched.summary())
    with pytest.raises(ValueError, match="out_of_fold needs cv"):
        fit_experiment(feature_pipeline(), X, X["emotion"], out_of_fold=feature_pipeline(), verbose=False)


def test_score_fitted_reuses_the_out_of_fold_scores_of_the_same_data_only(tmp_path):
    X = feature_frame(n_actors=6)
    fitted = fit_experiment(feature_pipeline(), X, X["emotion"], cv=3, out_of_fold=feature_pipeline(), verbose=False)
    meta = {**fitted.record(), "data": str(tmp_path.resolve()), "sample": None, "modalities": ["audio", "video"]}
    test = X.iloc[[i for i, a in enumerate(X["actor_id"]) if a in fitted.split["test_actors"]]]
    evaluation, held_out, split = score_fitted(fitted.model, meta, test, data=tmp_path, verbose=False)
    assert held_out is fitted.out_of_fold and evaluation == {"fusion": fitted.out_of_fold["evaluation"]}
    assert "the saved model was trained on actors" in split["protocol"]
    # Other data (or another sample of it): the model is scored on the clips given.
    evaluation, held_out, split = score_fitted(fitted.model, dict(meta, modalities=["audio"]), test,
                                               data=tmp_path / "other", verbose=False)
    assert list(evaluation) == ["audio"] and evaluation["audio"]["n_samples"] == len(test) == split["n_test"]
    assert held_out["evaluation"]["n_samples"] == len(test)
    assert split["test_actors"] == fitted.split["test_actors"]
    _, none, _ = score_fitted(fitted.model, meta, test, data=tmp_path, sample=0.5, analyse=False, verbose=False)
    assert none is None
