"""A fourth modality registered from this file alone goes through every layer.

Its transformer (loudness of eight segments of the WAV), its network stream and its report view
are defined here; no package file names it. Fit, predict, every explanation method (maps
included), the safe model file, the explanation file and the HTML report must all work with it.
"""

import numpy as np
import pytest
import soundfile as sf
import torch
from markupsafe import Markup, escape
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from mmemotion.explain import ALL_METHODS, explain, load_explanation, save_explanation
from mmemotion.modalities import Modality, get_modality, register_modality, unregister_modality
from mmemotion.models import load_model, make_default_pipeline, save_model
from mmemotion.report import render_report

N_SEGMENTS = 8


class SegmentLoudness(TransformerMixin, BaseEstimator):
    """Root-mean-square level of ``n_segments`` equal parts of each clip's WAV, in dB."""

    def __init__(self, n_segments=N_SEGMENTS):
        self.n_segments = n_segments

    def fit(self, X, y=None):
        self.n_features_in_ = 1
        return self

    def transform(self, X):
        check_is_fitted(self)
        rows = []
        for path in X["audio_path"]:
            signal, _ = sf.read(path, dtype="float32", always_2d=True)
            parts = np.array_split(signal[:, 0], self.n_segments)
            rows.append([10 * np.log10(np.mean(p ** 2) + 1e-10) for p in parts])
        return np.asarray(rows, dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"loudness{i}" for i in range(self.n_segments)], dtype=object)


class LoudnessStream(nn.Module):
    """Batch-normalised loudness profile through one dense layer."""

    def __init__(self, width, n_in, norm):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm1d(n_in), nn.Linear(n_in, width), nn.ReLU())
        self.out_features = width
        self.norm = nn.LayerNorm(width) if norm else nn.Identity()

    def forward(self, x):
        return self.norm(self.body(x))


def _loudness_stream(name, shape, *, dropout, norm, width):
    return LoudnessStream(int(width), int(shape[0]), norm)


def _loudness_view(display, attribution):
    cells = Markup(" ").join(Markup('<i class="loud" title="{:.4f}">{:.1f}</i>').format(float(a), float(v))
                             for v, a in zip(display, attribution))
    return {"html": Markup('<p class="loudness">') + cells + Markup("</p>"), "caption": "loudness per segment"}


@pytest.fixture
def loudness():
    entry = register_modality(Modality(
        name="loudness",
        sample_ndim=1,
        shape_doc="(n_segments,)",
        make_transformer=lambda options: SegmentLoudness(),
        make_stream=_loudness_stream,
        stream_defaults={"width": 6},
        colour="#8c564b",
        gallery=_loudness_view,
        media="audio",
        persist_classes=(SegmentLoudness,),
    ))
    yield entry
    unregister_modality("loudness")


def test_a_modality_registered_here_fits_explains_saves_and_reports(loudness, make_synthetic, tmp_path):
    from mmemotion.datasets import load_crema_d

    bunch = load_crema_d(make_synthetic(n_actors=4, clips_per_actor=6))
    X, y = bunch.frame, bunch.target
    pipe = make_default_pipeline(modalities=("audio", "loudness"), n_mfcc=13, n_audio_frames=20, max_epochs=3,
                                 batch_size=8, module__audio_widths=(4,), module__fusion_width=8,
                                 module__loudness_width=5, random_state=0)
    torch.manual_seed(0)
    pipe.fit(X, y)

    features = pipe.named_steps["features"].transform(X.iloc[:3])
    assert features["loudness"].shape == (3, N_SEGMENTS)
    net = pipe.named_steps["clf"].module_
    assert net.modalities == ("audio", "loudness")
    assert isinstance(net.streams["loudness"], LoudnessStream) and net.streams["loudness"].out_features == 5
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), 6) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    # The stream is used: zeroing its head changes the fused output.
    with torch.no_grad():
        for p in net.heads["loudness"].parameters():
            p.mul_(0)
    assert not np.allclose(pipe.predict_proba(X), proba)
    pipe.fit(X, y)
    proba = pipe.predict_proba(X)

    # The safe model file names the registered transformer class and rebuilds the network.
    save_model(pipe, tmp_path / "loud.mmemotion")
    loaded = load_model(tmp_path / "loud.mmemotion")
    np.testing.assert_allclose(loaded.predict_proba(X), proba, atol=1e-6)

    exp = explain(pipe, X.iloc[:6], y[:6], methods=ALL_METHODS, n_samples=4, n_steps=8, shap_nsamples=4,
                  verbose=False)
    assert exp.modalities == ["audio", "loudness"]
    n = len(exp.clip_ids)
    assert n == 4
    # Every method attributes the new modality; its map and display keep the input's own shape.
    for method in ("integrated_gradients", "gradient_shap", "saliency", "shap", "shapley"):
        shares = exp.modality_shares[method]
        assert shares.shape == (n, 2) and np.allclose(shares.sum(axis=1), 1, atol=1e-5), method
    assert exp.maps["loudness"].shape == (n, N_SEGMENTS) and np.abs(exp.maps["loudness"]).sum() > 0
    np.testing.assert_allclose(exp.display["loudness"], features_of(pipe, X.set_index("clip_id").loc[exp.clip_ids].reset_index()), rtol=1e-6)
    assert exp.shap_maps["loudness"].shape == (n, N_SEGMENTS)
    assert exp.shapley_values.shape == (n, 6, 2)
    assert set(exp.ablation) >= {"none", "loudness"} and "loudness" in exp.ablation_alone
    assert "loudness" in exp.baselines
    # Integrated Gradients adds up over both modalities (completeness).
    assert exp.sanity["ig_completeness_relative_error"] < 0.1, exp.sanity

    save_explanation(exp, tmp_path / "loud.npz")
    back = load_explanation(tmp_path / "loud.npz")
    np.testing.assert_array_equal(back.maps["loudness"], exp.maps["loudness"])
    np.testing.assert_array_equal(back.display["loudness"], exp.display["loudness"])

    report = render_report(tmp_path / "report.html", dataset=bunch, explanation=exp, model=pipe)
    html = report.read_text(encoding="utf-8") if hasattr(report, "read_text") else (tmp_path / "report.html").read_text()
    assert html.count('class="loudness"') >= 1 and "loudness per segment" in html
    assert get_modality("loudness").colour in html or "loudness" in html


def features_of(pipe, X):
    return pipe.named_steps["features"].transform(X)["loudness"]
