"""explain(methods="fast"): the forward-only preset, and a progress bar that counts clips."""

import numpy as np
import pytest

from mmemotion.explain import METHOD_PRESETS, explain
from mmemotion.explain import _explain as explain_module

from ._standin import TinyNet, make_pipeline


@pytest.fixture(scope="module")
def fitted_small():
    return make_pipeline(TinyNet(seed=1), n=12)


def test_fast_preset_gives_shapley_and_ablation_without_maps(fitted_small):
    pipe, X, y = fitted_small
    exp = explain(pipe, X, y, methods="fast", n_samples=8, verbose=False)
    assert exp.params["methods"] == list(METHOD_PRESETS["fast"])
    assert set(exp.modality_shares) == {"shapley"}
    assert exp.ablation is not None and exp.shapley_values.shape[0] == 8
    # Without labels there is nothing to ablate against: the preset keeps the Shapley values only.
    unlabelled = explain(pipe, X, methods="fast", n_samples=8, verbose=False)
    assert unlabelled.params["methods"] == ["shapley"]
    full = explain(pipe, X, y, methods="full", n_samples=8, verbose=False, n_steps=4, shap_nsamples=2)
    np.testing.assert_allclose(full.shapley_values, exp.shapley_values)


def test_progress_counts_every_clip_once_per_pass(fitted_small, monkeypatch):
    pipe, X, y = fitted_small
    seen = {}

    class Recorder(explain_module.ClipProgress):
        def __init__(self, total, verbose):
            super().__init__(total, verbose)
            seen["total"], seen["done"] = total, 0.0

        def batches(self, batches, name, weight=1.0):
            for b in super().batches(batches, name, weight):
                seen["done"] += weight * (b.stop - b.start)
                yield b

    monkeypatch.setattr(explain_module, "ClipProgress", Recorder)
    explain(pipe, X, y, methods=("integrated_gradients", "shapley", "sanity"), n_samples=8, verbose=False,
            n_steps=4, batch_size=3)
    # Three passes over 8 clips: Integrated Gradients, the coalitions, the randomised model.
    assert seen["total"] == 24
    assert seen["done"] == pytest.approx(24)
