"""explain() on a tiny deterministic stand-in pipeline: every method from one table."""

import dataclasses
import itertools
from math import factorial

import numpy as np
import pytest
import torch

from mmemotion import MODALITIES
from mmemotion.explain import (
    ALL_METHODS,
    Explanation,
    coalition_masks,
    exact_shapley_values,
    explain,
    map_rank_correlation,
    randomised_copy,
    to_shap_explanation,
)
from mmemotion.explain._pipeline import subsample

from ._standin import CLASSES, SHAPES, TinyNet, make_pipeline

N = 12
FAST = dict(n_samples=N, n_steps=16, shap_nsamples=8, n_background=6, verbose=False)

#: method -> what it must fill in (captum-style: one tiny model through every algorithm).
METHOD_OUTPUTS = {
    "integrated_gradients": ["modality_shares", "maps"],
    "gradient_shap": ["modality_shares"],
    "saliency": ["modality_shares"],
    "shap": ["modality_shares", "shap_maps"],
    "shapley": ["shapley_values", "shapley_base", "shapley_full", "modality_shares"],
    "ablation": ["ablation", "ablation_alone"],
    "sanity": ["sanity"],
}
SHARE_METHODS = ["integrated_gradients", "gradient_shap", "saliency", "shap", "shapley"]


@pytest.fixture(scope="module")
def stand_in():
    return make_pipeline(TinyNet(seed=1), n=24)


def _numpy_only(value):
    if isinstance(value, torch.Tensor) or isinstance(value, torch.nn.Module):
        return False
    if isinstance(value, dict):
        return all(_numpy_only(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_numpy_only(v) for v in value)
    return True


def test_method_table_covers_every_method():
    assert set(METHOD_OUTPUTS) == set(ALL_METHODS)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_each_method_fills_its_fields_with_numpy(stand_in, method):
    pipe, X, y = stand_in
    exp = explain(pipe, X, y, methods=(method,), **FAST)
    assert isinstance(exp, Explanation)
    assert exp.modalities == list(MODALITIES)
    assert len(exp.clip_ids) == N and exp.proba.shape == (N, len(CLASSES))
    assert np.allclose(exp.proba.sum(axis=1), 1)
    for name in METHOD_OUTPUTS[method]:
        value = getattr(exp, name)
        assert value is not None and (not isinstance(value, dict) or value), name
    for f in dataclasses.fields(exp):
        assert _numpy_only(getattr(exp, f.name)), f.name
    for shares in exp.modality_shares.values():
        assert shares.shape == (N, 3)
        np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-9)
    assert set(exp.baselines) == set(MODALITIES)


def test_map_shapes_and_display_data(stand_in):
    pipe, X, y = stand_in
    exp = explain(pipe, X, y, methods=("integrated_gradients", "shap"), **FAST)
    _, n_mfcc, n_frames = SHAPES["audio"]
    c, t, h, w = SHAPES["video"]
    assert list(exp.maps) == list(exp.display) == list(MODALITIES)  # every modality, in order
    assert exp.maps["audio"].shape == exp.display["audio"].shape == (N, n_mfcc, n_frames)
    assert exp.maps["video"].shape == (N, t, h, w)
    assert exp.display["video"].shape == (N, t, h, w, c) and exp.display["video"].dtype == np.uint8
    assert exp.shap_maps["audio"].shape == (N, n_mfcc, n_frames)
    assert exp.shap_maps["video"].shape == (N, t, h, w)
    assert exp.shap_maps["text"].shape == (N, SHAPES["text"][0])
    words, word_maps = exp.display["text"], exp.maps["text"]
    assert len(words) == len(word_maps) == N and all(isinstance(x, str) for x in words[0])
    assert [len(w) for w in words] == [len(a) for a in word_maps]
    # Without Integrated Gradients there are no maps, and the display data is there all the same.
    shapley = explain(pipe, X, y, methods=("shapley",), **FAST)
    assert shapley.maps == {} and list(shapley.display) == list(MODALITIES)


def test_ig_maps_and_word_attributions_add_up_to_the_logit_change(stand_in):
    # Completeness through the display representation: MFCC map + frame maps + per-word
    # attributions must sum to f(x) - f(baseline) for the explained logit, which checks the
    # exact per-word split of the mean-pooled text vector.
    pipe, X, y = stand_in
    exp = explain(pipe, X, y, methods=("integrated_gradients",), **FAST)
    net = pipe[-1].module_
    feats = pipe[:-1].transform(X.iloc[exp.params["index"]])
    audio = torch.as_tensor(feats["audio"])
    video = torch.as_tensor(feats["video"]).float() / 255
    text = torch.as_tensor(feats["text"])
    base = (audio.mean(dim=(0, 3), keepdim=True), video.mean(dim=(0, 2), keepdim=True), torch.zeros(1, 5))
    with torch.no_grad():
        fx = net(audio=audio, video=video, text=text)
        fb = net(audio=base[0].expand_as(audio), video=base[1].expand_as(video), text=base[2])
    rows = np.arange(N)
    diff = (fx.numpy()[rows, exp.target_class] - fb.numpy()[0, exp.target_class])
    total = (
        exp.maps["audio"].sum(axis=(1, 2))
        + exp.maps["video"].sum(axis=(1, 2, 3))
        + np.array([a.sum() for a in exp.maps["text"]])
    )
    np.testing.assert_allclose(total, diff, atol=1e-4)
    assert exp.sanity["ig_completeness_error"] < 1e-4


def test_word_split_that_does_not_add_up_is_recorded_as_a_warning():
    from ._standin import WordStub

    class Shifted(WordStub):
        def transform(self, X):
            return super().transform(X) + 1.0  # no longer the mean of the word vectors

    pipe, X, y = make_pipeline(TinyNet(seed=1), n=12)
    pipe[0].transformer_list = [("text", Shifted())]
    exp = explain(pipe, X, y, methods=("integrated_gradients",), **FAST)
    notes = [w for w in exp.warnings if "word_vectors" in w]
    assert len(notes) == 1 and "Shifted" in notes[0] and "indicative only" in notes[0]
    assert len(exp.maps["text"]) == N  # still split, per clip


@pytest.mark.parametrize("method", SHARE_METHODS)
@pytest.mark.parametrize("modality", MODALITIES)
def test_planted_modality_gets_all_the_credit(method, modality):
    pipe, X, y = make_pipeline(TinyNet(only=modality, seed=2), n=18)
    exp = explain(pipe, X, y, methods=(method,), **FAST)
    shares = exp.mean_modality_shares()[method]
    assert shares[modality] > 0.99, shares
    if method == "shapley":
        others = [j for j, m in enumerate(MODALITIES) if m != modality]
        np.testing.assert_allclose(exp.shapley_values[..., others], 0.0, atol=1e-7)


def test_shapley_efficiency(stand_in):
    pipe, X, y = stand_in
    exp = explain(pipe, X, y, methods=("shapley",), **FAST)
    assert exp.shapley_values.shape == (N, len(CLASSES), 3)
    gap = exp.shapley_values.sum(-1) - (exp.shapley_full - exp.shapley_base)
    assert np.abs(gap).max() < 1e-5
    np.testing.assert_allclose(exp.shapley_full, exp.proba, atol=1e-6)
    # Probabilities sum to one in every coalition, so the values of all classes cancel out.
    np.testing.assert_allclose(exp.shapley_values.sum(axis=1), 0.0, atol=1e-6)
    wrapped = to_shap_explanation(exp)
    assert wrapped.values.shape == (N, 3) and list(wrapped.feature_names) == list(MODALITIES)


def test_exact_shapley_matches_permutation_definition():
    rng = np.random.default_rng(0)
    m = 3
    values = rng.normal(size=(2**m, 4))
    phi = exact_shapley_values(values)
    expected = np.zeros((4, m))
    for order in itertools.permutations(range(m)):
        coalition = 0
        for player in order:
            expected[:, player] += values[coalition | (1 << player)] - values[coalition]
            coalition |= 1 << player
    np.testing.assert_allclose(phi, expected / factorial(m), atol=1e-12)
    assert coalition_masks(m).shape == (8, 3) and coalition_masks(m)[-1].all()
    with pytest.raises(ValueError, match="2\\*\\*m"):
        exact_shapley_values(np.zeros((6, 2)))


def test_ablation_of_an_unused_modality_changes_nothing():
    pipe, X, y = make_pipeline(TinyNet(only="audio", seed=3), n=24)
    exp = explain(pipe, X, y, methods=("ablation",), **FAST)
    assert exp.ablation["video"] == exp.ablation["none"] == exp.ablation["text"]
    assert exp.ablation_alone["audio"] == exp.ablation["none"]


def test_ablation_log_loss_is_the_mean_cross_entropy_of_the_true_class():
    pipe, X, y = make_pipeline(TinyNet(only="audio", seed=3), n=24)
    exp = explain(pipe, X, y, methods=("ablation",), n_samples=None, verbose=False)
    true = np.searchsorted(exp.classes, exp.y_true)
    expected = -np.log(exp.proba[np.arange(len(true)), true]).mean()
    assert exp.ablation["none"]["log_loss"] == pytest.approx(expected, rel=1e-5)
    # The stand-in model reads audio only: removing another modality leaves the loss as it is.
    assert exp.ablation["audio"]["log_loss"] != exp.ablation["none"]["log_loss"] == exp.ablation["video"]["log_loss"]


def test_leakage_alarm_names_the_file_name_cause():
    pipe, X, _ = make_pipeline(TinyNet(only="text", seed=4), n=24)
    # Labels equal to what the text stream alone predicts: a "perfect" single modality.
    exp0 = explain(pipe, X, None, methods=("shapley",), n_samples=None, verbose=False)
    y = np.asarray(exp0.y_pred)
    exp = explain(pipe, X, y, methods=("integrated_gradients", "ablation"), n_samples=None, n_steps=8,
                  verbose=False)
    assert exp.ablation_alone["text"]["accuracy"] == 1.0
    alarms = [w for w in exp.warnings if w.startswith("Leakage alarm")]
    assert any("text stream alone" in w for w in alarms)
    assert any("text carries more than" in w for w in alarms)
    assert all("file name" in w for w in alarms)


def test_no_alarm_for_a_mixed_model(stand_in):
    pipe, X, y = stand_in
    exp = explain(pipe, X, y, methods=("integrated_gradients", "ablation"), **FAST)
    assert not [w for w in exp.warnings if w.startswith("Leakage alarm")]


def test_reproducible_and_leaves_global_rngs_alone(stand_in):
    pipe, X, y = stand_in
    np.random.seed(123)
    torch.manual_seed(123)
    np_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    a = explain(pipe, X, y, methods=("gradient_shap", "shap", "sanity"), **FAST)
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)
    b = explain(pipe, X, y, methods=("gradient_shap", "shap", "sanity"), **FAST)
    assert a.clip_ids == b.clip_ids
    for method in a.modality_shares:
        np.testing.assert_array_equal(a.modality_shares[method], b.modality_shares[method])
    np.testing.assert_array_equal(a.shap_maps["video"], b.shap_maps["video"])
    assert a.sanity == b.sanity


def test_network_is_explained_in_eval_mode(stand_in):
    # TinyNet has dropout: in train mode two predictions would differ.
    pipe, X, y = stand_in
    net = pipe[-1].module_
    net.train()
    exp = explain(pipe, X, y, methods=("integrated_gradients",), **FAST)
    assert not net.training
    assert exp.sanity["ig_completeness_error"] < 1e-4


def test_stratified_subsample_is_proportional_and_reproducible():
    y = np.array(["A"] * 60 + ["B"] * 30 + ["C"] * 10, dtype=object)
    idx = subsample(100, y, 20, 0)
    assert np.array_equal(idx, subsample(100, y, 20, 0))
    assert np.all(np.diff(idx) > 0)
    counts = {c: int((y[idx] == c).sum()) for c in "ABC"}
    assert counts == {"A": 12, "B": 6, "C": 2}
    assert len(subsample(100, None, 20, 0)) == 20
    assert np.array_equal(subsample(5, None, 50, 0), np.arange(5))


def test_randomised_copy_differs_and_rank_correlation():
    net = TinyNet(seed=0)
    rnd = randomised_copy(net, random_state=0)
    assert not rnd.training
    assert not torch.equal(net.head.weight, rnd.head.weight)
    assert torch.equal(rnd.head.weight, randomised_copy(net, random_state=0).head.weight)
    maps = np.random.default_rng(0).normal(size=(3, 50))
    assert map_rank_correlation(maps, maps) == pytest.approx(1.0)
    assert map_rank_correlation(maps, -maps) == pytest.approx(-1.0)


def test_background_frame_defines_the_baseline(stand_in):
    pipe, X, y = stand_in
    exp = explain(pipe, X, y, methods=("shapley",), X_background=X.iloc[:6], **FAST)
    assert exp.params["background"] == "X_background"
    assert np.abs(exp.shapley_values.sum(-1) - (exp.shapley_full - exp.shapley_base)).max() < 1e-5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(methods=("lime",)), "unknown methods"),
        (dict(methods=("ablation",), y=None), "y is None"),
        (dict(batch_size=0), "batch_size"),
        (dict(n_steps=1.5), "n_steps"),
        (dict(methods="lime"), "'methods' parameter"),
        (dict(random_state=-1), "random_state"),
    ],
)
def test_errors_name_the_parameter_and_fix(stand_in, kwargs, match):
    pipe, X, y = stand_in
    kwargs = {"y": y, **kwargs}
    with pytest.raises(ValueError, match=match):
        explain(pipe, X, verbose=False, **kwargs)


def test_unfitted_pipeline_is_refused():
    from sklearn.pipeline import Pipeline

    from ._standin import ArrayUnion, FakeClassifier

    pipe = Pipeline([("features", ArrayUnion()), ("clf", FakeClassifier(module=TinyNet()))])
    with pytest.raises(ValueError, match="not fitted"):
        explain(pipe, None)


def test_repr_is_a_short_summary(stand_in):
    # The dataclass repr printed every array (about 120,000 characters for 24 clips).
    pipe, X, y = stand_in
    exp = explain(pipe, X, y, methods=("integrated_gradients", "shapley"), **FAST)
    text = repr(exp)
    assert len(text) < 1000, len(text)
    assert text.startswith(f"Explanation({len(exp.clip_ids)} clips") and "modalities=" in text
    assert f"warnings={len(exp.warnings)}" in text
    assert "integrated_gradients: " in text and "accuracy=" in text


def test_chance_alarm_for_a_model_trained_on_shuffled_labels(synthetic_bunch):
    from mmemotion.models import make_default_pipeline

    X, y = synthetic_bunch.frame, synthetic_bunch.target.to_numpy()
    shuffled = np.random.default_rng(0).permutation(y)
    pipe = make_default_pipeline(modalities=("audio", "text"), n_mfcc=13, n_audio_frames=20, text_dim=8,
                                 max_epochs=5, module__audio_widths=(4,), module__text_widths=(4,),
                                 module__fusion_width=8).fit(X, shuffled)
    exp = explain(pipe, X, y, methods=("ablation",), n_samples=36, verbose=False)
    alarms = [w for w in exp.warnings if w.startswith("Chance alarm")]
    assert len(alarms) == 1 and "has not learnt the task" in alarms[0]
    assert exp.sanity["accuracy_vs_chance_p"] >= 0.05


def test_no_chance_alarm_when_the_model_is_right():
    pipe, X, _ = make_pipeline(TinyNet(seed=1), n=24)
    y = np.asarray(explain(pipe, X, None, methods=("shapley",), n_samples=None, verbose=False).y_pred)
    exp = explain(pipe, X, y, methods=("ablation",), n_samples=None, verbose=False)
    assert not [w for w in exp.warnings if w.startswith("Chance alarm")]
    assert exp.sanity["accuracy_vs_chance_p"] < 1e-4


def test_randomisation_check_uses_at_most_sanity_clips(stand_in, monkeypatch):
    from mmemotion.explain import _gradient_passes, _sanity

    sizes = []
    original = _sanity.run_integrated_gradients

    def recording(forward, inputs, *args, **kwargs):
        sizes.append(len(inputs[0]))
        return original(forward, inputs, *args, **kwargs)

    for module in (_gradient_passes, _sanity):
        monkeypatch.setattr(module, "run_integrated_gradients", recording)
    monkeypatch.setattr(_sanity, "SANITY_CLIPS", 5)
    pipe, X, y = stand_in
    exp = explain(pipe, X, y, methods=("sanity",), **FAST)
    assert sizes == [N, 5]  # the trained maps of every clip, the randomised model on 5 of them
    assert np.isfinite(exp.sanity["randomisation_spearman"])


def test_explanation_records_its_model_and_a_report_refuses_another(stand_in, tmp_path):
    from mmemotion.explain import check_explains, model_fingerprint
    from mmemotion.report import render_report

    pipe, X, y = stand_in
    exp = explain(pipe, X, y, methods=("shapley",), **FAST)
    assert exp.model == model_fingerprint(pipe)
    assert exp.model["modalities"] == list(MODALITIES) and exp.model["classes"] == CLASSES
    assert Explanation.load(exp.save(tmp_path / "e.npz")).model == exp.model
    check_explains(exp, pipe)  # its own model: no error

    other = make_pipeline(TinyNet(seed=2), n=24)[0]  # same shapes and classes, other weights
    out = tmp_path / "r.html"
    with pytest.raises(ValueError, match=r"the explanation explains another model \(.*weights "
                                         + exp.model["weights_sha256"] + r"\) than the model \(.*weights "):
        render_report(out, explanation=exp, model=other)
    assert not out.exists()
    render_report(out, explanation=exp, model=pipe)  # the matching pair renders
    exp.model = None  # saved by an older version: cannot be checked, and says so
    with pytest.warns(UserWarning, match="records no model fingerprint"):
        check_explains(exp, other)
