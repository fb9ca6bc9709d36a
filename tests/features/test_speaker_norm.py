"""Per-speaker normalisation in ModalityUnion: transductive, label-free, searchable, single-clip safe."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline

from mmemotion.features import ConcatModalities, MFCCTransformer, ModalityUnion


class SeriesTransformer(TransformerMixin, BaseEstimator):
    """Reads per-sample arrays of shape (2, 5) (2 features x 5 time steps) from column "x"."""

    speaker_norm_pooled_axes = (1,)

    def fit(self, X, y=None):
        self.output_shape_ = (2, 5)
        return self

    def transform(self, X):
        return np.stack([np.asarray(v, dtype=np.float64).ravel() for v in X["x"]])


def _frame(rng, actors, clips_per_actor, offset_by_actor=None):
    rows = []
    for a in actors:
        shift = (offset_by_actor or {}).get(a, 10.0 * a)
        for _ in range(clips_per_actor):
            rows.append({"actor_id": a, "x": shift + rng.normal(size=(2, 5))})
    return pd.DataFrame(rows)


def _union(**kw):
    return ModalityUnion([("series", SeriesTransformer())], **kw)


def test_statistics_come_only_from_the_predicted_speakers_own_clips():
    rng = np.random.default_rng(0)
    train = _frame(rng, [1, 2, 3], 6)
    test = _frame(rng, [7, 8], 6)
    out = _union(speaker_norm="zscore").fit(train).transform(test)["series"]
    # Expected: actor 7's clips z-scored per feature with the mean/std of actor 7's clips only.
    x7 = np.stack(test.loc[test.actor_id == 7, "x"].to_list())
    mean, sd = x7.mean(axis=(0, 2), keepdims=True), x7.std(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(out[:6], (x7 - mean) / sd, rtol=1e-5, atol=1e-5)
    # Other actors in the batch and the training actors do not change actor 7's output.
    other_train = _frame(np.random.default_rng(5), [4, 5], 9, offset_by_actor={4: -50.0, 5: 80.0})
    alone = _union(speaker_norm="zscore").fit(other_train).transform(test[test.actor_id == 7])["series"]
    np.testing.assert_allclose(alone, out[:6], rtol=1e-6)
    # transform takes no labels at all; a shifted speaker gives the same normalised output.
    shifted = test.assign(x=[v + 1000.0 for v in test["x"]])
    np.testing.assert_allclose(_union(speaker_norm="zscore").fit(train).transform(shifted)["series"], out, atol=1e-3)


def test_unseen_speaker_with_one_clip_falls_back_to_training_statistics():
    rng = np.random.default_rng(1)
    train = _frame(rng, [1, 2], 6)
    union = _union(speaker_norm="zscore", min_speaker_clips=3).fit(train)
    one = _frame(rng, [9], 1)
    out = union.transform(one)["series"]
    g = union.global_statistics_["series"]
    expected = (one["x"].iloc[0] - g["mean"][:, None]) / g["scale"][:, None]
    np.testing.assert_allclose(out[0], expected, rtol=1e-5)
    assert np.isfinite(out).all()


def test_padding_is_neither_counted_nor_changed_and_mean_mode_keeps_scale():
    rng = np.random.default_rng(2)
    frame = _frame(rng, [1], 6)
    padded = frame.copy()
    padded.at[0, "x"] = np.concatenate([frame.at[0, "x"][:, :3], np.zeros((2, 2))], axis=1)
    out = _union(speaker_norm="mean").fit(padded).transform(padded)["series"]
    assert (out[0, :, 3:] == 0).all()
    stacked = np.stack(padded["x"].to_list())
    valid = stacked.any(axis=1, keepdims=True)
    mean = (stacked * valid).sum(axis=(0, 2)) / valid.sum()
    np.testing.assert_allclose(out[1], stacked[1] - mean[:, None], rtol=1e-5)


def test_per_modality_dict_and_clear_errors():
    rng = np.random.default_rng(3)
    frame = _frame(rng, [1, 2], 5)
    raw = _union().fit_transform(frame)["series"]
    assert np.array_equal(_union(speaker_norm={"series": None}).fit_transform(frame)["series"], raw)
    with pytest.raises(ValueError, match="unknown steps"):
        _union(speaker_norm={"audio": "zscore"}).fit(frame)
    with pytest.raises(ValueError, match="'speaker'.*speaker_norm=None"):
        _union(speaker_norm="mean", speaker_column="speaker").fit(frame)
    with pytest.raises(ValueError, match="speaker_norm"):
        _union(speaker_norm="median").fit(frame)


def test_grid_search_switches_speaker_norm():
    rng = np.random.default_rng(4)
    frames, labels = [], []
    for a in range(6):
        # The speaker's offset swamps the emotion effect (+-1.5): only per-speaker normalisation
        # makes the label linearly readable across speakers.
        offset = rng.normal(0, 10.0)
        for k in range(8):
            label = k % 2
            frames.append({"actor_id": a, "x": offset + (3.0 * label - 1.5) + rng.normal(size=(2, 5))})
            labels.append(label)
    X, y = pd.DataFrame(frames), np.array(labels)
    pipe = Pipeline([("features", _union()), ("concat", ConcatModalities()), ("clf", LogisticRegression())])
    search = GridSearchCV(pipe, {"features__speaker_norm": [None, "zscore"]}, cv=GroupKFold(3))
    search.fit(X, y, groups=X["actor_id"])
    scores = dict(zip([p["features__speaker_norm"] for p in search.cv_results_["params"]],
                      search.cv_results_["mean_test_score"]))
    assert search.best_params_ == {"features__speaker_norm": "zscore"}
    assert scores["zscore"] > 0.9 > scores[None] + 0.2


def test_mfcc_maps_get_the_speakers_cepstral_mean_removed(wavs):
    X = pd.DataFrame({"audio_path": wavs[:4], "actor_id": [1, 1, 2, 2]})
    union = ModalityUnion([("audio", MFCCTransformer(n_mfcc=6, n_mels=12, n_frames=8))], speaker_norm="mean",
                          min_speaker_clips=2)
    out = union.fit_transform(X)["audio"]
    raw = union.extract(X)["audio"]
    for rows in ([0, 1], [2, 3]):
        block = raw[rows]
        valid = block.any(axis=(1, 2), keepdims=True)
        mean = (block * valid).sum(axis=(0, 3), keepdims=True) / valid.sum()
        np.testing.assert_allclose(out[rows], (block - mean) * valid, rtol=1e-4, atol=1e-3)
    assert clone(union).get_params()["speaker_norm"] == "mean"


def _clip_functionals(series):
    """Per-clip mean and spread over time of (n_clips, n_features, n_steps), padding excluded."""
    valid = series.any(axis=1, keepdims=True)
    count = valid.sum(axis=2)
    mean = (series * valid).sum(axis=2) / count
    spread = np.sqrt((((series - mean[..., None]) * valid) ** 2).sum(axis=2) / count)
    return mean, spread


def test_functionals_mode_standardises_each_speakers_clip_means_and_spreads():
    rng = np.random.default_rng(6)
    rows = []
    for a, (offset, scale) in {1: (5.0, 1.0), 2: (-40.0, 6.0), 3: (0.0, 0.2)}.items():
        for _ in range(8):
            rows.append({"actor_id": a, "x": offset + scale * rng.gamma(2.0) * rng.normal(size=(2, 5))})
    frame = pd.DataFrame(rows)
    # One clip of actor 1 is padded after 3 steps: padding is neither counted nor changed.
    frame.at[0, "x"] = np.concatenate([frame.at[0, "x"][:, :3], np.zeros((2, 2))], axis=1)
    out = _union(speaker_norm="functionals").fit(frame).transform(frame)["series"].astype(np.float64)
    assert (out[0, :, 3:] == 0).all()
    for a in (1, 2, 3):
        rows = (frame.actor_id == a).to_numpy()
        raw_mean, raw_spread = _clip_functionals(np.stack(frame.loc[rows, "x"].to_list()))
        mean, spread = _clip_functionals(out[rows])
        # Every speaker's clip means become z-scores among that speaker's clip means ...
        np.testing.assert_allclose(mean, (raw_mean - raw_mean.mean(0)) / raw_mean.std(0), atol=1e-5)
        # ... and clip spreads 1 + 0.25 z, with z the z-score among the speaker's clip spreads.
        z = (raw_spread - raw_spread.mean(0)) / raw_spread.std(0)
        np.testing.assert_allclose(spread, np.maximum(1 + 0.25 * z, 0.05), atol=1e-5)
        # Within a clip the shape over time is kept (a positive affine map of the raw series).
        for clip, raw in zip(out[rows], np.stack(frame.loc[rows, "x"].to_list())):
            keep = raw.any(axis=0)
            for f in range(2):
                assert np.corrcoef(clip[f, keep], raw[f, keep])[0, 1] > 0.9999
    # The statistics come from the speaker's own clips: scoring actor 2 alone, after fitting on
    # other actors, gives the same output.
    alone = _union(speaker_norm="functionals").fit(frame[frame.actor_id != 2]).transform(frame[frame.actor_id == 2])
    np.testing.assert_allclose(alone["series"], out[(frame.actor_id == 2).to_numpy()], atol=1e-5)


def test_functionals_mode_single_clip_uses_training_statistics():
    rng = np.random.default_rng(7)
    train = _frame(rng, [1, 2], 6)
    union = _union(speaker_norm="functionals", min_speaker_clips=3).fit(train)
    assert set(union.global_statistics_["series"]) == {"mean", "scale", "spread_mean", "spread_scale"}
    one = _frame(rng, [9], 1)
    out = union.transform(one)["series"]
    g = union.global_statistics_["series"]
    mean, _ = _clip_functionals(out.astype(np.float64))
    raw_mean, _ = _clip_functionals(np.stack(one["x"].to_list()))
    np.testing.assert_allclose(mean[0], (raw_mean[0] - g["mean"]) / g["scale"], atol=1e-5)
    assert np.isfinite(out).all()
    assert "clip means and clip spreads" in union.describe_speaker_norm()


def test_reference_mode_appends_the_speakers_own_observations_and_changes_nothing_else():
    rng = np.random.default_rng(8)
    frame = _frame(rng, [1, 2], 6)
    union = _union(speaker_norm="reference", reference_size=4)
    out = union.fit(frame).transform(frame)["series"]
    # The values (and dtype: the transformer's own, e.g. uint8 frames stay uint8) are unchanged.
    assert out.shape == (12, 2, 9) and out.dtype == np.float64
    assert union.appended_observations_ == {"series": 4}
    raw = np.stack(frame["x"].to_list())
    np.testing.assert_array_equal(out[:, :, :5], raw)
    for a in (1, 2):
        rows = np.flatnonzero(frame.actor_id == a)
        ref = out[rows, :, 5:]
        # The same reference for every clip of a speaker, taken from that speaker's clips only:
        # clip k * 6 // 4 of the speaker, at step (k + 0.5) / 4 of its 5 steps.
        assert (ref == ref[:1]).all()
        expected = [raw[rows[(k * 6) // 4], :, int((k + 0.5) / 4 * 5)] for k in range(4)]
        np.testing.assert_array_equal(ref[0].T, np.stack(expected))
    # Scored alone, a speaker gets the same reference (no other speaker, no label involved).
    alone = _union(speaker_norm="reference", reference_size=4).fit(frame[frame.actor_id == 1])
    np.testing.assert_array_equal(alone.transform(frame[frame.actor_id == 2])["series"], out[6:])
    assert "4 of the speaker's own frames" in union.describe_speaker_norm()


def test_reference_mode_single_clip_gets_the_training_reference():
    rng = np.random.default_rng(9)
    train = _frame(rng, [1, 2], 6)
    union = _union(speaker_norm="reference", reference_size=3, min_speaker_clips=3).fit(train)
    out = union.transform(_frame(rng, [9], 1))["series"]
    np.testing.assert_allclose(out[0, :, 5:].T, union.global_statistics_["series"]["reference"])
    with pytest.raises(ValueError, match="one pooled axis"):
        ModalityUnion([("x", ConcatModalities())], speaker_norm="reference").fit_transform(
            pd.DataFrame({"actor_id": [1, 1]}))


def test_reference_mode_fills_its_output_in_place():
    # Full CREMA-D's video with reference frames is a 2.9 GB array: building it from per-speaker
    # parts and then reordering them held three such arrays at once.
    rng = np.random.default_rng(10)
    union = _union(speaker_norm="reference", reference_size=4).fit(_frame(rng, [1, 2], 6))
    speakers = np.array([str(i % 12) for i in range(60)])  # interleaved, so rows must be put back in order
    A = rng.normal(size=(60, 2, 4000))
    fallback = np.zeros((4, 2))
    tracemalloc.start()
    try:
        out = union._append_references(A, (1,), speakers, fallback)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (60, 2, 4004)
    np.testing.assert_array_equal(out[:, :, :4000], A)
    for s in np.unique(speakers):
        rows = np.flatnonzero(speakers == s)
        assert (out[rows, :, 4000:] == out[rows[:1], :, 4000:]).all()
    assert peak < 2 * out.nbytes, peak / out.nbytes  # 3x before


def test_reference_observations_scan_the_clips_without_copying_them_whole():
    from mmemotion.features._speaker_norm import as_observations, reference_observations

    rng = np.random.default_rng(11)
    A = rng.integers(0, 3, size=(600, 3, 8, 16, 16), dtype=np.uint8)  # (clips, channels, time, h, w)
    A[:40] = 0  # clips without any valid frame are skipped
    A[100, :, :5] = 0  # and so are the empty frames of a clip
    tracemalloc.start()
    try:
        ref = reference_observations(A, (1,), 7)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The same observations as taking them from the whole observation view at once.
    obs = as_observations(A, (1,))[0]
    valid = np.any(obs != 0, axis=2)
    clips = np.flatnonzero(valid.any(axis=1))
    expected = [obs[clips[(k * len(clips)) // 7], np.flatnonzero(valid[clips[(k * len(clips)) // 7]])[
        int((k + 0.5) / 7 * valid[clips[(k * len(clips)) // 7]].sum())]] for k in range(7)]
    np.testing.assert_array_equal(ref, np.stack(expected))
    assert peak < 0.5 * A.nbytes, peak / A.nbytes  # 2x before: the transposed copy and its mask
