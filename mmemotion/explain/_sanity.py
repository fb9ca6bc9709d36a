"""The parameter-randomisation test (Adebayo et al., 2018) of the Integrated-Gradients maps."""

import copy

import numpy as np
import torch
from scipy.stats import spearmanr

from ._attribution import PositionalForward
from ._modalities import reduce_map
from ._passes import run_integrated_gradients
from ._shares import shares

__all__ = ["SANITY_CLIPS", "map_rank_correlation", "randomisation_pass", "randomised_copy"]

#: The parameter-randomisation test compares the maps of at most this many of the explained clips
#: (spread evenly over them): a rank correlation of maps needs no more, and its extra Integrated
#: Gradients pass on a re-initialised network was a fifth of a default explanation.
SANITY_CLIPS = 16


def randomised_copy(net, *, random_state=0):
    """Deep copy of ``net`` with every parameter re-initialised (``reset_parameters``), in eval mode.

    Parameters
    ----------
    net : torch.nn.Module
    random_state : int, default=0
        Seed of the re-initialisation; torch's global RNG state is left as it was.

    Returns
    -------
    net : torch.nn.Module
    """
    clone = copy.deepcopy(net)
    # A seed derived from random_state, not random_state itself: a network built with
    # torch.manual_seed(random_state) would otherwise be re-initialised to its own initial weights.
    seed = int(np.random.SeedSequence([random_state, 0x5A17]).generate_state(1)[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in clone.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return clone.eval()


def map_rank_correlation(maps_a, maps_b):
    """Mean over clips of the Spearman rank correlation of two batches of maps.

    Parameters
    ----------
    maps_a, maps_b : ndarray of shape (n, ...)

    Returns
    -------
    rho : float
        NaN when every clip's maps are constant.
    """
    rhos = []
    for a, b in zip(maps_a, maps_b):
        a, b = a.reshape(-1), b.reshape(-1)
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            continue
        rhos.append(spearmanr(a, b).statistic)
    return float(np.mean(rhos)) if rhos else float("nan")


def _nanmean(values):
    return float(np.nanmean(values)) if not np.all(np.isnan(values)) else float("nan")


def randomisation_pass(problem, exp):
    """Compare the trained network's Integrated-Gradients maps with a re-initialised copy's.

    Same clips (at most :data:`SANITY_CLIPS`) and target classes. Rank correlations near 1 would
    mean the maps reflect the input (or the architecture), not what was learned. Needs the
    Integrated-Gradients pass to have run.
    """
    p = problem
    n = len(p.target)
    keep = np.unique(np.linspace(0, n - 1, min(n, SANITY_CLIPS)).round().astype(int))
    inputs = tuple(x[keep] for x in p.own_inputs)
    baselines = tuple(b if len(b) == 1 else b[keep] for b in p.own_baselines)
    context = tuple(c[keep] for c in p.context)
    trained_attr = tuple(a[keep] for a in p.ig_attributions)
    batch_size = p.settings["batch_size"]
    batches = [slice(i, min(i + batch_size, len(keep))) for i in range(0, len(keep), batch_size)]
    random_net = randomised_copy(p.net, random_state=p.settings["random_state"])
    random_forward = PositionalForward(random_net, p.modalities, context_dims=p.own.context_dims)
    random_attr, _ = run_integrated_gradients(
        random_forward, inputs, baselines, p.target[keep],
        p.tracker.batches(batches, "sanity (randomised model)", weight=n / len(keep)), p.common, context,
    )
    result = {}
    signed, absolute = [], []
    for m, s, a, r in zip(p.modalities, p.specs, trained_attr, random_attr):
        a, r = reduce_map(s, a), reduce_map(s, r)
        result[f"randomisation_spearman_{m}"] = map_rank_correlation(a, r)
        result[f"randomisation_spearman_abs_{m}"] = map_rank_correlation(np.abs(a), np.abs(r))
        signed.append(result[f"randomisation_spearman_{m}"])
        absolute.append(result[f"randomisation_spearman_abs_{m}"])
    result["randomisation_spearman"] = _nanmean(signed)
    result["randomisation_spearman_abs"] = _nanmean(absolute)
    for m, share in zip(p.modalities, shares(random_attr).mean(axis=0)):
        result[f"randomised_share_{m}"] = float(share)
    exp.sanity.update(result)
