"""The explanation problem: the network, the explained clips as tensors, baselines and targets.

Built once by :func:`make_problem`; every pass of :func:`~mmemotion.explain.explain` reads it.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ._attribution import PositionalForward
from ._context import OwnPart, speaker_baselines
from ._modalities import as_float_input, make_baseline, spec_for
from ._pipeline import network_device, network_modalities

__all__ = ["Problem", "make_problem"]


@dataclass
class Problem:
    """What the passes over the explained clips share.

    Tensors are tuples with one entry per modality, in ``modalities`` order, of shape
    ``(n, *shape)``; baselines are ``(1, *shape)`` (shared) or ``(n, *shape)`` (per clip).

    Attributes
    ----------
    net : torch.nn.Module
        The fitted network, in eval mode.
    modalities : tuple of str
    specs : tuple of ModalityExplanation
        The registry's explanation settings, one per modality.
    transformers : dict of str -> transformer
        The pipeline's fitted feature steps by modality.
    X : pandas.DataFrame or ndarray
        The explained rows.
    y : ndarray of shape (n,) or None
        Their true labels.
    classes : list
    methods : tuple of str
    settings : dict
        ``explain``'s numeric parameters (``batch_size``, ``n_steps``, ``shap_nsamples``,
        ``n_background``, ``random_state``).
    inputs, baselines : tuple of Tensor
        Whole inputs (appended reference observations included) and their baselines.
    own : OwnPart
        Splits a modality's appended reference observations off.
    own_inputs, own_baselines, own_background, context : tuple of Tensor
        The clips' own observations, their baselines and background (what the gradient methods
        attribute), and the appended observations they read as context.
    forward, attr_forward : PositionalForward
        The network on whole inputs, and on own observations followed by context.
    batches : list of slice
    common : dict
        Keyword arguments shared by the gradient methods.
    logits : ndarray of shape (n, k)
    target : ndarray of shape (n,)
        The explained class of each clip (the predicted one).
    tracker : ClipProgress
    ig_attributions : tuple of ndarray or None
        Integrated-Gradients attributions of the own observations, once that pass ran (the
        sanity pass compares them with a randomised network's).
    """

    net: torch.nn.Module
    modalities: tuple
    specs: tuple
    transformers: dict
    X: object
    y: np.ndarray
    classes: list
    methods: tuple
    settings: dict
    inputs: tuple
    baselines: tuple
    own: OwnPart
    own_inputs: tuple
    own_baselines: tuple
    own_background: tuple
    context: tuple
    forward: PositionalForward
    attr_forward: PositionalForward
    batches: list
    common: dict
    logits: np.ndarray = None
    target: np.ndarray = None
    tracker: object = None
    ig_attributions: tuple = None


def make_problem(clf, transformers, features, background_features, appended, X_sub, y_sub, methods, settings):
    """Tensors, baselines and forwards of the explained clips.

    Parameters
    ----------
    clf : FusionClassifier
        Fitted; its ``module_`` is explained.
    transformers : dict of str -> transformer
    features, background_features : SliceDict
        Network inputs of the explained clips and of the background clips.
    appended : dict
        :func:`~mmemotion.explain._pipeline.appended_observations` of the pipeline.
    X_sub, y_sub
        The explained rows and their labels (or None).
    methods : tuple of str
    settings : dict
        ``batch_size``, ``n_steps``, ``shap_nsamples``, ``n_background`` and ``random_state``.

    Returns
    -------
    problem : Problem
    bg_index : ndarray
        The background clips drawn.
    """
    net = clf.module_
    net.eval()
    modalities = network_modalities(net, features)
    specs = tuple(spec_for(m) for m in modalities)
    device = network_device(net)
    arrays = [as_float_input(s, features[m]) for s, m in zip(specs, modalities)]
    bg_arrays = [as_float_input(s, background_features[m]) for s, m in zip(specs, modalities)]
    inputs = tuple(torch.as_tensor(a, device=device) for a in arrays)
    baselines = tuple(torch.as_tensor(make_baseline(s, b), device=device) for s, b in zip(specs, bg_arrays))
    rng = np.random.default_rng(settings["random_state"])
    n_bg = len(bg_arrays[0])
    bg_index = np.sort(rng.choice(n_bg, min(settings["n_background"], n_bg), replace=False))
    background = tuple(torch.as_tensor(b[bg_index], device=device) for b in bg_arrays)
    baselines = speaker_baselines(baselines, inputs, modalities, appended)
    n, batch_size = len(arrays[0]), settings["batch_size"]
    # The gradient methods attribute each clip's own observations only; appended reference
    # observations ride along as context (see PositionalForward), which also halves the work
    # through the video stream.
    own = OwnPart(modalities, appended)
    own_background = own.own(background)
    problem = Problem(
        net=net, modalities=modalities, specs=specs, transformers=transformers, X=X_sub, y=y_sub,
        classes=list(np.asarray(clf.classes_).tolist()), methods=methods, settings=settings,
        inputs=inputs, baselines=baselines, own=own, own_inputs=own.own(inputs), own_baselines=own.own(baselines),
        own_background=own_background, context=own.context(inputs),
        forward=PositionalForward(net, modalities),
        attr_forward=PositionalForward(net, modalities, context_dims=own.context_dims),
        batches=[slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)],
        common=dict(n_steps=settings["n_steps"], internal_batch_size=batch_size, background=own_background,
                    n_draws=settings["shap_nsamples"], seed=settings["random_state"]),
    )
    return problem, bg_index
