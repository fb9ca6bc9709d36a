"""The gradient passes: Integrated Gradients (maps, completeness), Captum's others, and SHAP.

Each pass takes the :class:`~mmemotion.explain._problem.Problem` and fills its part of the
:class:`~mmemotion.explain.Explanation`.
"""

import warnings

import numpy as np
import torch

from ._attribution import GRADIENT_METHODS, shap_gradient
from ._context import baseline_rows
from ._modalities import reduce_map
from ._passes import batched_attribution, concat, run_integrated_gradients
from ._shares import shares

__all__ = ["COMPLETENESS_WARNING", "captum_pass", "completeness", "integrated_gradients_pass", "shap_pass"]

#: IG completeness gaps above this fraction of |f(x) - f(baseline)| deserve a larger n_steps.
COMPLETENESS_WARNING = 0.05


def integrated_gradients_pass(problem, exp):
    """Integrated-Gradients shares and maps of every modality, and the completeness check."""
    p = problem
    attr, grads = run_integrated_gradients(
        p.attr_forward, p.own_inputs, p.own_baselines, p.target, p.tracker.batches(p.batches, "integrated_gradients"),
        p.common, p.context,
    )
    p.ig_attributions = attr
    exp.modality_shares["integrated_gradients"] = shares(attr)
    for m, spec, a in zip(p.modalities, p.specs, attr):
        exp.maps[m] = reduce_map(spec, a)
    gap, scale = completeness(p.attr_forward, p.own_inputs, p.own_baselines, p.target, attr, p.logits, p.batches,
                              p.context)
    exp.sanity["ig_completeness_error"] = float(np.mean(np.abs(gap)))
    exp.sanity["ig_completeness_relative_error"] = float(np.mean(np.abs(gap)) / max(np.mean(scale), 1e-12))
    if exp.sanity["ig_completeness_relative_error"] > COMPLETENESS_WARNING:
        exp.warnings.append(
            "Integrated Gradients completeness error is "
            f"{100 * exp.sanity['ig_completeness_relative_error']:.1f}% of |f(x) - f(baseline)|; "
            f"the maps are approximate. Increase n_steps (now {p.settings['n_steps']})."
        )
    _split_maps(p, exp, attr, grads)


def _split_maps(problem, exp, attributions, gradients):
    """Replace map and display by the registry entry's ``split_map`` where it has one."""
    p = problem
    for j, (m, spec) in enumerate(zip(p.modalities, p.specs)):
        if spec.split_map is None:
            continue
        # A split reports its cautions as UserWarnings; the reader of the explanation must see
        # them, so they go into the explanation. Other warnings (deprecations) go on as usual.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            split = spec.split_map(attributions[j], gradients[j], p.own_inputs[j].detach().cpu().numpy(),
                                   p.own_baselines[j].detach().cpu().numpy(), p.transformers.get(m), p.X)
        for w in caught:
            if issubclass(w.category, UserWarning):
                exp.warnings.append(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if split is not None:
            exp.display[m], exp.maps[m] = split


@torch.no_grad()
def completeness(forward, inputs, baselines, target, attributions, logits, batches, context=()):
    """Gap between the summed IG attributions and ``f(x) - f(baseline)`` for each clip."""
    base = np.concatenate([
        forward(*(r.expand_as(x[b]) for r, x in zip(baseline_rows(baselines, b), inputs)),
                *(c[b] for c in context)).detach().cpu().numpy()
        for b in batches
    ]).astype(np.float64)
    rows = np.arange(len(target))
    diff = logits[rows, target] - base[rows, target]
    total = sum(a.reshape(len(a), -1).astype(np.float64).sum(axis=1) for a in attributions)
    return total - diff, np.abs(diff)


def captum_pass(name, problem, exp):
    """Modality shares of the Captum method ``name`` (``"gradient_shap"`` or ``"saliency"``)."""
    p = problem
    attr = batched_attribution(GRADIENT_METHODS[name], p.attr_forward, p.own_inputs, p.own_baselines, p.target,
                               p.tracker.batches(p.batches, name), p.common, p.context)
    exp.modality_shares[name] = shares(attr)


def shap_pass(problem, exp):
    """``shap.GradientExplainer`` shares and within-modality maps."""
    p = problem
    values = concat([
        shap_gradient(p.attr_forward, tuple(x[b] for x in p.own_inputs), p.target[b], background=p.own_background,
                      n_draws=p.settings["shap_nsamples"], seed=p.settings["random_state"],
                      batch_size=p.settings["batch_size"], context=tuple(c[b] for c in p.context))
        for b in p.tracker.batches(p.batches, "shap")
    ])
    exp.modality_shares["shap"] = shares(values)
    exp.shap_maps = {m: reduce_map(s, v) for m, s, v in zip(p.modalities, p.specs, values)}
