"""run_experiment: the demo's split, fits, scores, analysis and report, on a media-free stand-in."""

import json

import numpy as np
import pytest

from mmemotion.experiment import Stages, run_experiment

from ._frames import feature_frame, feature_pipeline


def test_one_split_scores_every_model_on_unseen_actors_and_prints_what_it_returns(capsys):
    X = feature_frame(n_actors=8)
    result = run_experiment({"fusion": feature_pipeline(), "weak": feature_pipeline(C=1e-4)}, X, X["emotion"],
                            baseline=feature_pipeline(C=0.1), test_size=0.25, n_explain=0, random_state=0)
    split = result.split
    assert not set(split["train_actors"]) & set(split["test_actors"]) and len(split["test_actors"]) == 2
    assert sorted(result.X_test["actor_id"].unique()) == split["test_actors"]
    assert sorted(result.X_train["actor_id"].unique()) == split["train_actors"]
    assert split["n_test"] == len(result.X_test) == len(result.y_test) == 24 and split["speaker_norm"] == "none"
    assert list(result.models) == list(result.evaluation) == ["fusion", "weak", "baseline"]
    assert result.model is result.models["fusion"] and result.explanation is None
    # The analysis is the headline model's, on the same held-out clips.
    assert result.held_out["evaluation"]["accuracy"] == result.evaluation["fusion"]["accuracy"]
    assert result.evaluation["fusion"]["n_samples"] == 24
    printed = capsys.readouterr().out
    assert f"[1/2] fitting 2 model(s) on actors {split['train_actors']} ..." in printed
    assert f"[2/2] evaluating on held-out actors {split['test_actors']} ..." in printed
    for name, ev in result.evaluation.items():
        assert (f"{name:>8}: accuracy {ev['accuracy']:.3f}  macro-F1 {ev['macro_f1']:.3f}  UAR {ev['uar']:.3f}"
                in printed)
    assert "      calibration: ECE" in printed


def test_cross_validation_scores_every_clip_once_and_keeps_the_first_folds_model(capsys):
    X = feature_frame(n_actors=6)
    stages = Stages(5, quiet=True)
    result = run_experiment({"fusion": feature_pipeline()}, X, X["emotion"], baseline=feature_pipeline(C=0.1), cv=3,
                            n_explain=0, verbose=False, stages=stages)
    assert capsys.readouterr().out == ""
    assert stages.done == 2 and list(stages.timings) == ["fitting 2 model(s) on 3 actor folds (3 fits each)",
                                                         "scoring every actor out of fold"]
    assert {name: ev["n_samples"] for name, ev in result.evaluation.items()} == {"fusion": 72, "baseline": 72}
    assert list(result.models) == ["fusion"]
    split = result.split
    assert split["n_scored"] == 72 and split["n_train"] + split["n_test"] == 72
    assert not set(split["train_actors"]) & set(split["test_actors"])
    assert sorted(result.X_test["actor_id"].unique()) == split["test_actors"]
    assert not set(result.X_train["actor_id"]) & set(result.X_test["actor_id"])
    assert result.held_out["n_folds"] == 3 and result.held_out["n_actors"] == 6
    assert "every actor is held out once" in split["protocol"]


def test_the_split_follows_the_seed_and_bad_arguments_are_refused():
    X = feature_frame(n_actors=12)
    seeds = {tuple(run_experiment({"m": feature_pipeline()}, X, X["emotion"], n_explain=0, verbose=False,
                                  random_state=seed).split["test_actors"]) for seed in range(4)}
    assert len(seeds) > 1
    with pytest.raises(ValueError, match=r"cv=13 folds need between 2 and the number of actors \(12\)"):
        run_experiment({"m": feature_pipeline()}, X, X["emotion"], cv=13, n_explain=0, verbose=False)
    with pytest.raises(ValueError, match="estimators is empty"):
        run_experiment({}, X, X["emotion"], n_explain=0, verbose=False)


def test_render_writes_the_report_of_the_experiment(tmp_path):
    X = feature_frame(n_actors=6)
    result = run_experiment({"fusion": feature_pipeline()}, X, X["emotion"].to_numpy(), n_explain=0, verbose=False)
    path = result.render(tmp_path / "r.html", dataset=X, model_card={"seed": 0}, title="stand-in")
    sections = json.loads(path.with_suffix(".json").read_text())["sections"]
    assert set(sections["evaluation"]["models"]) == {"fusion"}
    assert sections["overview"]["split"]["test_actors"] == result.split["test_actors"]
    assert "stand-in" in path.read_text()
    np.testing.assert_allclose(sections["evaluation"]["models"]["fusion"]["accuracy"],
                               result.evaluation["fusion"]["accuracy"])
