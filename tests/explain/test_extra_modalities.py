"""explain() on modalities beyond the built-in three: one registered from this file alone, one unregistered."""

import numpy as np
import pytest
import torch

from mmemotion import MODALITIES
from mmemotion.explain import ALL_METHODS, explain, load_explanation
from mmemotion.modalities import Modality, ModalityExplanation, register_modality, unregister_modality

from ._standin import CLASSES, TinyNet, make_pipeline
from .test_explain import FAST, N


@pytest.fixture
def toy_modality():
    """A fourth modality, registered from this file alone, with its own baseline, reduction and display."""
    entry = register_modality(Modality(
        name="toy", sample_ndim=2, make_transformer=None, make_stream=None,
        explanation=ModalityExplanation(baseline="zeros", sum_axes=(0,), display=lambda x: x.mean(axis=1),
                                        description="all-zero toy input"),
    ))
    yield entry.name
    unregister_modality(entry.name)


def test_every_method_covers_a_registered_and_an_unregistered_extra_modality(toy_modality, tmp_path):
    # "toy" is registered (zero baseline, maps summed over its first axis, its own display);
    # "plain" is not, and gets the default treatment (mean baseline, maps and display as input).
    shapes = {toy_modality: (2, 5), "plain": (3,)}
    modalities = tuple(MODALITIES) + tuple(shapes)
    pipe, X, y = make_pipeline(TinyNet(modalities=modalities, seed=1, shapes=shapes), n=24, extra=shapes)
    exp = explain(pipe, X, y, methods=ALL_METHODS, **FAST)
    assert exp.modalities == list(modalities) == list(exp.maps) == list(exp.display)
    assert exp.maps[toy_modality].shape == exp.display[toy_modality].shape == (N, 5)
    assert exp.maps["plain"].shape == exp.display["plain"].shape == (N, 3)
    assert exp.shap_maps[toy_modality].shape == (N, 5)
    assert exp.baselines[toy_modality] == "all-zero toy input"
    assert all(shares.shape == (N, len(modalities)) for shares in exp.modality_shares.values())
    assert exp.shapley_values.shape == (N, len(CLASSES), len(modalities))
    assert {toy_modality, "plain"} <= set(exp.ablation) & set(exp.ablation_alone)
    assert np.isfinite(exp.sanity[f"randomisation_spearman_{toy_modality}"])
    # Completeness over all five maps: nothing was dropped on the way.
    total = sum(np.sum(exp.maps[m], axis=tuple(range(1, np.ndim(exp.maps[m])))) for m in modalities if m != "text")
    total = total + np.array([a.sum() for a in exp.maps["text"]])
    net = pipe[-1].module_
    feats = pipe[:-1].transform(X.iloc[exp.params["index"]])
    inputs = {m: torch.as_tensor(feats[m]) for m in modalities}
    inputs["video"] = inputs["video"].float() / 255
    base = {"audio": inputs["audio"].mean(dim=(0, 3), keepdim=True),
            "video": inputs["video"].mean(dim=(0, 2), keepdim=True), "text": torch.zeros(1, 5),
            toy_modality: torch.zeros(1, 2, 5), "plain": inputs["plain"].mean(dim=0, keepdim=True)}
    with torch.no_grad():
        fx = net(**inputs).numpy()
        fb = net(**{m: base[m].expand_as(inputs[m]) for m in modalities}).numpy()
    rows = np.arange(N)
    np.testing.assert_allclose(total, fx[rows, exp.target_class] - fb[rows, exp.target_class], atol=1e-4)
    loaded = load_explanation(exp.save(tmp_path / "toy.npz"))
    np.testing.assert_array_equal(loaded.maps[toy_modality], exp.maps[toy_modality])
    np.testing.assert_array_equal(loaded.display["plain"], exp.display["plain"])
