"""make_default_pipeline: the manifest frame in, emotion codes out; grid search with cached features."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import GridSearchCV, GroupKFold

from mmemotion import MODALITIES
from mmemotion.datasets import EMOTIONS
from mmemotion.features import MFCCTransformer
from mmemotion.models import FusionClassifier, compare_split_protocols, load_model, make_default_pipeline, save_model

from ._helpers import TINY_PIPELINE


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One feature cache for the tests that do not count decodes (decoding dominates their time)."""
    return tmp_path_factory.mktemp("feature_cache")


@pytest.mark.parametrize("modalities", [("audio",), ("video", "text"), MODALITIES])
def test_union_holds_only_the_active_modalities(modalities):
    pipe = make_default_pipeline(modalities=modalities, **TINY_PIPELINE)
    assert [name for name, _ in pipe.named_steps["features"].transformer_list] == list(modalities)
    clf = pipe.named_steps["clf"]
    assert isinstance(clf, FusionClassifier)
    assert clf.get_params()["module__modalities"] == modalities
    assert clf.max_epochs == 2 and clf.random_state == 0


def test_bad_modalities():
    with pytest.raises(ValueError, match="non-empty subset"):
        make_default_pipeline(modalities=("audio", "face"))


def test_fit_predict_on_the_manifest_frame(synthetic_bunch, shared_cache):
    X, y = synthetic_bunch.frame, synthetic_bunch.target
    pipe = make_default_pipeline(memory=shared_cache, **TINY_PIPELINE, early_stopping=True)
    pipe.fit(X, y, clf__groups=X["actor_id"])
    clf = pipe.named_steps["clf"]
    assert clf.classes_.tolist() == list(EMOTIONS)
    # 13 MFCCs + 7 prosody rows (pitch, voicing, loudness, ...), the default since issue 12; 4 frames
    # of the clip + the speaker's 16 reference frames (video speaker_norm "reference", the default).
    assert clf.input_shapes_ == {"audio": (1, 13 + 7, 20), "video": (3, 4 + 16, 16, 16), "text": (8,)}
    assert clf.module_.streams["video"].n_reference == 16
    pred = pipe.predict(X.iloc[:10])
    assert set(pred) <= set(EMOTIONS)
    assert pipe.predict_proba(X.iloc[:10]).shape == (10, 6)
    assert not clf.module_.training


class _Counter:
    """Wraps a transformer's per-file ``_extract_one`` and counts real decodes."""

    def __init__(self, monkeypatch, cls):
        self.n = 0
        original = cls._extract_one

        def counted(transformer, item):
            self.n += 1
            return original(transformer, item)

        monkeypatch.setattr(cls, "_extract_one", counted)


class _OpenCounter:
    """Counts the videos FrameSampler opens for decoding (its speaker_face crop decodes clip by
    clip outside ``_extract_one``)."""

    def __init__(self, monkeypatch):
        from mmemotion.features import _frames

        self.n = 0
        original = _frames._open_video

        def counted(path):
            self.n += 1
            return original(path)

        monkeypatch.setattr(_frames, "_open_video", counted)


def test_grid_search_with_actor_folds_reuses_cached_features(synthetic_bunch, tmp_path, monkeypatch):
    X, y = synthetic_bunch.frame, synthetic_bunch.target
    audio, video = _Counter(monkeypatch, MFCCTransformer), _OpenCounter(monkeypatch)
    pipe = make_default_pipeline(memory=tmp_path / "cache", **TINY_PIPELINE)
    grid = {"clf__lr": [1e-2], "clf__module__dropout": [0.0, 0.2]}
    search = GridSearchCV(pipe, grid, cv=GroupKFold(n_splits=2), error_score="raise")
    search.fit(X, y, groups=X["actor_id"])
    # 2 candidates x 2 folds + the refit transform every clip 5 times; each file is decoded once
    # (a video whose speaker's box reaches outside the part kept while the speaker's other clips
    # are read is opened a second time: 1 of these 96; without the cache it would be 5 x 96).
    assert audio.n == len(X) and len(X) <= video.n <= len(X) + 3
    assert search.cv_results_["mean_test_score"].shape == (2,)
    assert set(search.best_params_) == set(grid)
    assert set(search.predict(X.iloc[:5])) <= set(EMOTIONS)


def test_grid_search_slices_clf_groups_per_fold(synthetic_bunch, shared_cache):
    X, y = synthetic_bunch.frame, synthetic_bunch.target
    pipe = make_default_pipeline(memory=shared_cache, **TINY_PIPELINE, early_stopping=True)
    search = GridSearchCV(pipe, {"clf__lr": [1e-2]}, cv=GroupKFold(n_splits=2), error_score="raise")
    # GridSearchCV indexes every fit parameter by the fold's training rows, so each inner
    # early-stopping split gets the matching actor ids.
    search.fit(X, y, groups=X["actor_id"], clf__groups=X["actor_id"])
    assert "valid_loss" in search.best_estimator_.named_steps["clf"].history[-1]


def test_clone_of_pipeline_keeps_module_params():
    pipe = make_default_pipeline(modalities=("audio",), **TINY_PIPELINE)
    pipe.set_params(clf__module__dropout=0.4)
    assert clone(pipe).get_params()["clf__module__dropout"] == 0.4


def test_compare_split_protocols_runs_both(synthetic_bunch, shared_cache):
    X, y = synthetic_bunch.frame, synthetic_bunch.target
    pipe = make_default_pipeline(modalities=("audio",), memory=shared_cache, **TINY_PIPELINE)
    result = compare_split_protocols(pipe, X, y, n_splits=2)
    assert result["random_scores"].shape == result["actor_scores"].shape == (2,)
    assert result["optimism"] == pytest.approx(result["random"] - result["actor"])
    with pytest.raises(ValueError, match="exceeds the 8 actors"):
        compare_split_protocols(pipe, X, y, n_splits=9)


class _FoldRecorder(ClassifierMixin, BaseEstimator):
    """Remembers the clips and actors it was fitted on; ``_record_fold`` logs them with the test fold's."""

    #: class-level: cross_val_score fits clones, so instances cannot carry the record out.
    folds = []

    def fit(self, X, y):
        self.train_clips_, self.train_actors_ = X["clip_id"].tolist(), X["actor_id"].tolist()
        self.classes_ = np.unique(y)
        return self


def _record_fold(estimator, X, y):
    _FoldRecorder.folds.append({"train_clips": estimator.train_clips_, "train_actors": estimator.train_actors_,
                                "test_clips": X["clip_id"].tolist(), "test_actors": X["actor_id"].tolist(),
                                "test_labels": list(y)})
    return float(len(_FoldRecorder.folds) - 1)  # the score names the recorded fold


@pytest.mark.parametrize("pairs", [False, True], ids=["actor_id", "explicit-groups"])
def test_compare_split_protocols_keeps_actors_apart_in_the_actor_folds_only(synthetic_bunch, monkeypatch, pairs):
    X, y = synthetic_bunch.frame, synthetic_bunch.target
    monkeypatch.setattr(_FoldRecorder, "folds", [])
    actor_of = dict(zip(X["clip_id"], X["actor_id"]))
    # Explicit groups (two actors per group) must replace the actor_id column.
    group_of = {c: (a - 1001) // 2 for c, a in actor_of.items()} if pairs else actor_of
    groups = X["clip_id"].map(group_of).to_numpy() if pairs else None
    result = compare_split_protocols(_FoldRecorder(), X, y, groups=groups, n_splits=4, scoring=_record_fold)
    folds = _FoldRecorder.folds
    assert len(folds) == 8
    actor_folds = [folds[int(i)] for i in result["actor_scores"]]
    random_folds = [folds[int(i)] for i in result["random_scores"]]
    assert sorted(result["actor_scores"].tolist() + result["random_scores"].tolist()) == list(range(8))
    for protocol in (actor_folds, random_folds):
        # Each protocol tests every clip exactly once and trains on all the others.
        assert sorted(c for f in protocol for c in f["test_clips"]) == sorted(X["clip_id"])
        for fold in protocol:
            assert sorted(fold["train_clips"] + fold["test_clips"]) == sorted(X["clip_id"])
    for fold in actor_folds:
        # No actor (no group) is on both sides: the test actors are unseen in training.
        assert not {group_of[c] for c in fold["train_clips"]} & {group_of[c] for c in fold["test_clips"]}
        assert not set(fold["train_actors"]) & set(fold["test_actors"])
    if pairs:
        # 4 groups, 4 folds: each test fold is exactly one pair of actors.
        assert sorted(len(set(f["test_actors"])) for f in actor_folds) == [2, 2, 2, 2]
    for fold in random_folds:
        # The random protocol mixes actors (what the comparison measures), stratified by emotion.
        assert set(fold["train_actors"]) & set(fold["test_actors"])
        counts = pd.Series(fold["test_labels"]).value_counts()
        assert len(counts) == len(EMOTIONS) and counts.max() - counts.min() <= 1


def test_grid_search_inner_validation_holds_out_actors_of_the_fold(synthetic_bunch, monkeypatch):
    # With clf__groups, each fit of a grid search gets the actor ids of its own training rows, and
    # its early-stopping split holds out whole actors among them, never the fold's test actors.
    X, y = synthetic_bunch.frame, np.asarray(synthetic_bunch.target)
    actors = X["actor_id"].to_numpy()
    folds = list(GroupKFold(n_splits=2).split(X, y, actors))
    fits = []
    split = FusionClassifier.get_split_datasets

    def recording(self, X_, y_=None, **fit_params):
        train, valid = split(self, X_, y_, **fit_params)
        fits.append((np.asarray(self.fit_groups_), self.label_encoder_.inverse_transform(np.asarray(y_)),
                     np.asarray(train.indices), np.asarray(valid.indices)))
        return train, valid

    monkeypatch.setattr(FusionClassifier, "get_split_datasets", recording)
    pipe = make_default_pipeline(modalities=("text",), max_epochs=1, early_stopping=True)
    GridSearchCV(pipe, {"clf__lr": [1e-2]}, cv=folds, error_score="raise").fit(X, y, clf__groups=actors)
    # The two folds in order (n_jobs=None), then the refit on every clip.
    outer = folds + [(np.arange(len(y)), np.array([], dtype=int))]
    assert len(fits) == len(outer)
    for (train, test), (groups, labels, inner_train, inner_valid) in zip(outer, fits):
        np.testing.assert_array_equal(groups, actors[train])  # aligned with the rows, in order
        np.testing.assert_array_equal(labels, y[train])
        assert sorted(np.r_[inner_train, inner_valid].tolist()) == list(range(len(train)))
        assert len(inner_valid) and not set(groups[inner_train]) & set(groups[inner_valid])
        assert not set(groups) & set(actors[test])


def test_video_reference_frames_from_fit_to_explanation(synthetic_bunch, shared_cache, tmp_path):
    from mmemotion.explain import explain

    X, y = synthetic_bunch.frame, synthetic_bunch.target
    pipe = make_default_pipeline(memory=shared_cache, **TINY_PIPELINE, reference_frames=3,
                                 speaker_norm={"audio": "zscore", "video": "reference"})
    assert pipe.named_steps["clf"].get_params()["module__video_reference_frames"] == 3
    pipe.fit(X, y)
    n_frames = TINY_PIPELINE["n_video_frames"]
    video = pipe.named_steps["features"].transform(X.iloc[:4])["video"]
    assert video.dtype == np.uint8 and video.shape[2] == n_frames + 3
    assert pipe.named_steps["clf"].module_.streams["video"].n_reference == 3
    assert set(pipe.predict(X.iloc[:1])) <= set(EMOTIONS)  # one clip of an unseen speaker: training frames
    exp = explain(pipe, X, y, methods=("integrated_gradients",), n_samples=4, n_steps=32, verbose=False)
    # Maps show the clip's own frames, matching the displayed frames. The baseline is the
    # speaker's own face (reference frames in place of the clip's), per clip, and IG still adds
    # up to f(x) - f(baseline).
    assert exp.maps["video"].shape[:2] == exp.display["video"].shape[:2] == (4, n_frames)
    assert "speaker's own reference frames" in exp.baselines["video"]
    assert exp.sanity["ig_completeness_relative_error"] < 0.05, exp.sanity
    # The fitted union's fallback reference survives the safe model format.
    save_model(pipe, tmp_path / "ref.mmemotion")
    loaded = load_model(tmp_path / "ref.mmemotion")
    np.testing.assert_array_equal(loaded.predict_proba(X.iloc[:6]), pipe.predict_proba(X.iloc[:6]))
    with pytest.raises(ValueError, match="video stream only"):
        make_default_pipeline(speaker_norm="reference")


def test_reference_frames_must_match_between_union_and_network(synthetic_bunch, shared_cache):
    X, y = synthetic_bunch.frame, synthetic_bunch.target
    appended = make_default_pipeline(memory=shared_cache, **TINY_PIPELINE, reference_frames=3,
                                     speaker_norm={"audio": "zscore", "video": "reference"})
    with pytest.raises(ValueError, match="appends 3 reference frames.*module__video_reference_frames=0"):
        appended.set_params(clf__module__video_reference_frames=0).fit(X, y)
    plain = make_default_pipeline(memory=shared_cache, **TINY_PIPELINE, speaker_norm="off")
    with pytest.raises(ValueError, match="appends 0 reference frames.*module__video_reference_frames=2"):
        plain.set_params(clf__module__video_reference_frames=2).fit(X, y)


def test_metadata_routing_step_params_get_a_clear_error(synthetic_bunch):
    import sklearn

    X, y = synthetic_bunch.frame, synthetic_bunch.frame["emotion"]
    pipe = make_default_pipeline(modalities=("text",), max_epochs=1, early_stopping=True)
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(TypeError, match=r"pipe\['clf'\]\.set_fit_request\(groups=True\); pipe\.fit\(X, y, groups=\.\.\.\)"):
            pipe.fit(X, y, clf__groups=X["actor_id"])
        # The way the message names works, and the validation split holds out actors.
        pipe["clf"].set_fit_request(groups=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pipe.fit(X, y, groups=X["actor_id"])
        assert not [w for w in caught if "without `groups`" in str(w.message)]
        assert "valid_loss" in pipe["clf"].history[-1]
    # Without routing the step form is the one that works.
    make_default_pipeline(modalities=("text",), max_epochs=1, early_stopping=True).fit(X, y, clf__groups=X["actor_id"])
