"""Faithfulness on planted signal: real features + FusionClassifier on synthetic CREMA-D.

With ``make_synthetic_crema_d(signal=(m,))`` only modality ``m`` carries emotion, so every
attribution method must rank ``m`` first. The models are small and trained briefly on three
emotions whose face and voice cues differ most (FEA, HAP, SAD), which is enough for the planted
modality to be learned reliably with fixed seeds.
"""

import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline

from mmemotion.datasets import load_crema_d
from mmemotion.explain import explain, map_rank_correlation
from mmemotion.features import FilenameEmbedder, FrameSampler, MFCCTransformer, ModalityUnion
from mmemotion.models import FusionClassifier

pytestmark = pytest.mark.slow

EMOTIONS = ("FEA", "HAP", "SAD")
FRAME_SIZE = 64
#: Clips explained per planted set (all held-out actors).
N_EXPLAIN = 24


def _pipeline(*, include_label_codes=False, modalities=("audio", "video", "text")):
    steps = {
        "audio": MFCCTransformer(n_mfcc=20, n_frames=32),
        "video": FrameSampler(n_frames=2, size=(FRAME_SIZE, FRAME_SIZE), crop="center"),
        "text": FilenameEmbedder(dim=8, include_label_codes=include_label_codes),
    }
    clf = FusionClassifier(
        module__modalities=modalities,
        module__audio_widths=(8, 16),
        module__video_widths=(8, 16, 32),
        module__text_widths=(8,),
        module__fusion_width=16,
        module__dropout=0.2,
        # The network as it was before the fusion defaults (per-clip video standardisation,
        # per-stream LayerNorm, modality dropout) were added: those help fusion accuracy but made
        # this small video-planted model lean on the decoy voice cues instead (measured: video
        # share 0.17-0.42, audio 0.58-0.83).
        module__video_standardize=False,
        module__stream_norm=False,
        module__modality_dropout=0.0,
        optimizer__weight_decay=1e-3,
        max_epochs=30,
        lr=3e-3,
        batch_size=16,
        random_state=0,
    )
    return Pipeline([("features", ModalityUnion([(m, steps[m]) for m in modalities])), ("clf", clf)])


def _split(root):
    X, y = load_crema_d(root, return_X_y=True)
    keep = y.isin(EMOTIONS).to_numpy()
    X, y = X[keep].reset_index(drop=True), y[keep].reset_index(drop=True)
    held_out = (X["actor_id"] >= sorted(X["actor_id"].unique())[-2]).to_numpy()
    return X[~held_out], y[~held_out], X[held_out], y[held_out]


@pytest.fixture(scope="module")
def fitted(make_synthetic):
    """``fitted(modality)`` -> (root, pipeline, X_test, y_test, explanation), built once per modality."""
    cache = {}

    def get(modality):
        if modality not in cache:
            root = make_synthetic(n_actors=8, clips_per_actor=24, signal=(modality,))
            X_train, y_train, X_test, y_test = _split(root)
            # One intra-op thread whether or not pytest-xdist runs this (the conftest sets it per
            # worker): float summation order, hence the trained weights, then match in both runs.
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                pipe = _pipeline().fit(X_train, y_train)
            finally:
                torch.set_num_threads(threads)
            exp = explain(pipe, X_test, y_test, n_samples=N_EXPLAIN, n_steps=16, shap_nsamples=16,
                          verbose=False)
            print(f"\n[{modality}] held-out accuracy {exp.ablation['none']['accuracy']:.2f}")
            for method, shares in exp.mean_modality_shares().items():
                print(f"[{modality}] {method}: " + ", ".join(f"{m}={v:.3f}" for m, v in shares.items()))
            print(f"[{modality}] sanity: {exp.sanity}")
            print(f"[{modality}] timings: {exp.timings}")
            cache[modality] = (root, pipe, X_test, y_test, exp)
        return cache[modality]

    return get


@pytest.fixture(params=["audio", "video"])
def planted(request, fitted):
    return (request.param,) + fitted(request.param)


@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_shap", "shap", "shapley"])
def test_planted_modality_ranks_first(planted, method):
    modality, _, _, _, _, exp = planted
    shares = exp.mean_modality_shares()[method]
    assert max(shares, key=shares.get) == modality, shares


def test_modality_shapley_values_rank_planted_first_and_are_efficient(planted, request):
    modality, root, pipe, _, _, exp = planted
    if modality == "video":
        # Open defect (issue 5 stays open): the small video-planted model is at chance on
        # held-out actors and its accuracy does not move when any modality is ablated, even on
        # its training actors, so the ablation ranking below cannot pick video. Strict: this
        # test reports XPASS (a failure) as soon as the video model really learns the face.
        request.node.add_marker(pytest.mark.xfail(strict=True, reason="video-planted model does not learn the face cues well enough for an ablation drop (issue 5 open)"))
    importance = exp.mean_abs_shapley()
    assert max(importance, key=importance.get) == modality, importance
    gap = exp.shapley_values.sum(-1) - (exp.shapley_full - exp.shapley_base)
    assert np.abs(gap).max() < 1e-5
    # Removing the planted modality hurts more than removing any other one. Measured on the
    # training actors: the tiny video-planted model does not generalise to held-out actors
    # (held-out accuracy 0.33 = chance on 3 classes), so every drop there is 0 and says nothing
    # about which modality the model uses.
    X_train, y_train, _, _ = _split(root)
    on_train = explain(pipe, X_train, y_train, methods=("shapley", "ablation"), n_samples=N_EXPLAIN,
                       verbose=False)
    drops = {m: on_train.ablation["none"]["accuracy"] - on_train.ablation[m]["accuracy"]
             for m in on_train.modalities}
    assert max(drops, key=drops.get) == modality, drops


def test_randomised_model_maps_differ_from_trained_maps(planted):
    # Control: the same trained model explained with a finer IG quadrature gives nearly the same
    # maps; a re-initialised copy gives maps with little rank agreement.
    modality, _, pipe, X_test, y_test, exp = planted
    finer = explain(pipe, X_test, y_test, methods=("integrated_gradients",), n_samples=N_EXPLAIN,
                    n_steps=48, verbose=False)
    field = f"{modality}_maps"
    control = map_rank_correlation(getattr(exp, field), getattr(finer, field))
    randomised = exp.sanity[f"randomisation_spearman_{modality}"]
    print(f"\n[{modality}] rank correlation: trained vs finer IG {control:.3f}, "
          f"trained vs randomised {randomised:.3f} (abs maps {exp.sanity[f'randomisation_spearman_abs_{modality}']:.3f})")
    assert control > 0.9
    assert randomised < 0.5
    assert exp.sanity["ig_completeness_relative_error"] < 0.05


def _face_masks(root, clip_ids, shape):
    """Face boxes of synthetic_truth.csv mapped through FrameSampler(crop="center") to (H, W)."""
    import pandas as pd

    truth = pd.read_csv(root / "synthetic_truth.csv").set_index("clip_id")
    height, width = shape
    # crop="center" keeps the centred 360x360 square of the 480x360 frame, then resizes it.
    side, x_off, y_off = 360, (480 - 360) // 2, 0
    ys = (np.arange(height) + 0.5) * side / height + y_off
    xs = (np.arange(width) + 0.5) * side / width + x_off
    masks = []
    for clip in clip_ids:
        box = truth.loc[clip]
        inside_y = (ys >= box.face_y0) & (ys < box.face_y1)
        inside_x = (xs >= box.face_x0) & (xs < box.face_x1)
        masks.append(inside_y[:, None] & inside_x[None, :])
    return np.stack(masks)


def _face_fraction(root, exp):
    masks = _face_masks(root, exp.clip_ids, exp.video_maps.shape[2:])
    mass = np.abs(exp.video_maps).sum(axis=1)  # (n, H, W): all sampled frames together
    return float((mass * masks).sum() / mass.sum()), float(masks.mean())


def test_frame_attribution_falls_on_the_face(fitted):
    # Measured on the clips the model was fitted on, where its predictions reflect what it
    # learned; this small video stream generalises poorly to unseen actors, so the held-out
    # fraction is reported too but only required to beat the face's share of the frame.
    root, pipe, X_test, y_test, held_out = fitted("video")
    X_train, y_train, _, _ = _split(root)
    fitted_clips = explain(pipe, X_train, y_train, methods=("integrated_gradients",),
                           n_samples=N_EXPLAIN, n_steps=16, verbose=False)
    train_fraction, train_area = _face_fraction(root, fitted_clips)
    test_fraction, test_area = _face_fraction(root, held_out)
    print(f"\n[video] IG attribution mass on the face box: {train_fraction:.3f} on fitted clips "
          f"(box covers {train_area:.3f} of the frame), {test_fraction:.3f} on held-out clips "
          f"(box covers {test_area:.3f})")
    assert train_fraction > 1.5 * train_area
    assert test_fraction > 1.2 * test_area


def test_leakage_alarm_fires_on_label_codes_in_the_file_name(make_synthetic):
    import warnings

    from mmemotion.features import LeakageWarning

    # The video-signal set with a model that sees no video: apart from the file name, nothing
    # it sees carries the emotion -- the situation the alarm exists for.
    root = make_synthetic(n_actors=8, clips_per_actor=24, signal=("video",))
    X_train, y_train, X_test, y_test = _split(root)
    with warnings.catch_warnings():
        # The embedder warns about the leak itself; this test checks that explain sees it too.
        warnings.simplefilter("ignore", LeakageWarning)
        pipe = _pipeline(include_label_codes=True, modalities=("audio", "text"))
        # The label token is one of ~8 words in the mean-pooled vector: a wider embedding and
        # text layer and more epochs let the network find it, as a real leaky model would.
        pipe.set_params(features__text__dim=32, clf__module__text_widths=(16,), clf__max_epochs=60,
                        clf__lr=1e-2)
        pipe.fit(X_train, y_train)
        exp = explain(pipe, X_test, y_test, methods=("integrated_gradients", "ablation"),
                      n_samples=N_EXPLAIN, n_steps=16, verbose=False)
    print(f"\n[leak] text alone {exp.ablation_alone['text']}, audio alone {exp.ablation_alone['audio']}")
    alarms = [w for w in exp.warnings if w.startswith("Leakage alarm")]
    assert any("text stream alone" in w for w in alarms), exp.warnings
    assert all("file name" in w for w in alarms)
