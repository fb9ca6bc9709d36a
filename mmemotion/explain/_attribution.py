"""Gradient attributions on the tuple of modality tensors: one table, one code path.

Every method takes a batch ``inputs`` (tuple of tensors, one per modality, in
``Explanation.modalities`` order) and returns a tuple of numpy attributions of the same shapes,
for the logit of ``target``.
"""

import numpy as np
import torch
from torch import nn

__all__ = ["GRADIENT_METHODS", "PositionalForward", "integrated_gradients", "shap_gradient"]


class PositionalForward(nn.Module):
    """Call a network whose ``forward`` takes one keyword per modality with positional tensors.

    Captum passes its input tuple positionally and shap's PyTorch ``GradientExplainer`` calls
    ``model(*inputs)`` (shap/explainers/_gradient.py, ``_PyTorchGradient.gradient``), so this thin
    wrapper fixes the order to ``modalities``; modalities left out are passed as None.

    Context: a modality can carry observations that are read but never attributed (the speaker's
    reference frames that ``ModalityUnion(speaker_norm="reference")`` appends to every clip). The
    attribution methods then see only the clip's own part; the context tensors, one per entry of
    ``context_dims``, come after the inputs (Captum's ``additional_forward_args``, which it repeats
    along its path steps and draws) or from :attr:`bound` (shap, which explains one clip at a
    time), and are appended along their axis before the network is called.

    Parameters
    ----------
    net : torch.nn.Module
        Network whose ``forward`` takes one keyword argument per modality and returns logits.
    modalities : sequence of str
        Order of the positional tensors.
    probabilities : bool, default=False
        Return softmax probabilities instead of logits.
    context_dims : dict, default=None
        ``{position of a modality: tensor axis}`` of the modalities that take context.

    Attributes
    ----------
    bound : tuple of Tensor or None
        One context row per entry of ``context_dims``, used (broadcast over the batch) when a
        call passes no context.
    """

    def __init__(self, net, modalities, *, probabilities=False, context_dims=None):
        super().__init__()
        self.net = net
        self.modalities = tuple(modalities)
        self.probabilities = probabilities
        self.context_dims = dict(context_dims or {})
        self.bound = None

    def forward(self, *inputs):
        k = len(self.modalities)
        inputs, context = list(inputs[:k]), inputs[k:]
        if self.context_dims:
            if not context:
                context = tuple(c.expand(len(inputs[0]), *c.shape[1:]) for c in self.bound)
            for (position, dim), extra in zip(sorted(self.context_dims.items()), context):
                inputs[position] = torch.cat([inputs[position], extra.to(inputs[position].dtype)], dim=dim)
        out = self.net(**dict(zip(self.modalities, inputs)))
        return torch.softmax(out, dim=-1) if self.probabilities else out


def _numpy(tensors):
    return tuple(t.detach().cpu().numpy() for t in tensors)


def integrated_gradients(forward, inputs, baselines, target, *, n_steps, internal_batch_size, context=(), **_):
    """Path-averaged gradients ``G`` of Integrated Gradients, the attribution is ``(x - b) * G``.

    Captum multiplies by ``inputs - baselines`` itself unless ``multiply_by_inputs=False``
    (captum/attr/_core/integrated_gradients.py). Keeping ``G`` separate lets the text attribution
    be split exactly over words even where a pooled coordinate is zero.

    ``context`` (tensors with one row per clip) is passed to ``forward`` after the inputs and
    not attributed (see :class:`PositionalForward`).

    Returns
    -------
    attributions, path_gradients : tuple of ndarray
    """
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(forward, multiply_by_inputs=False)
    grads = ig.attribute(
        inputs,
        baselines=tuple(b.expand_as(x) for b, x in zip(baselines, inputs)),
        target=target,
        n_steps=n_steps,
        method="gausslegendre",
        internal_batch_size=internal_batch_size,
        additional_forward_args=tuple(context) or None,
    )
    grads = _numpy(grads)
    deltas = _numpy(tuple(x - b for x, b in zip(inputs, baselines)))
    return tuple(d * g for d, g in zip(deltas, grads)), grads


def _integrated_gradients_attributions(forward, inputs, baselines, target, **kw):
    return integrated_gradients(forward, inputs, baselines, target, **kw)[0]


def _gradient_shap(forward, inputs, baselines, target, *, background, n_draws, seed, context=(), **_):
    from captum.attr import GradientShap

    # GradientShap draws the background rows with torch's RNG but the points on the path with
    # numpy's *global* RNG (np.random.uniform in captum/attr/_core/gradient_shap.py). Both are
    # seeded for reproducibility and restored afterwards so the caller's streams are untouched.
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            attr = GradientShap(forward).attribute(
                inputs, baselines=background, n_samples=n_draws, stdevs=0.0, target=target,
                additional_forward_args=tuple(context) or None,
            )
    finally:
        np.random.set_state(state)
    return _numpy(attr)


def _saliency(forward, inputs, baselines, target, context=(), **_):
    from captum.attr import Saliency

    # Leaf copies that already require gradients: Captum would otherwise warn once per input.
    inputs = tuple(x.detach().clone().requires_grad_() for x in inputs)
    return _numpy(Saliency(forward).attribute(inputs, target=target, abs=True,
                                              additional_forward_args=tuple(context) or None))


#: Captum gradient methods by public name; all share one signature and return a tuple of arrays.
GRADIENT_METHODS = {
    "integrated_gradients": _integrated_gradients_attributions,
    "gradient_shap": _gradient_shap,
    "saliency": _saliency,
}


def shap_gradient(forward, inputs, target, *, background, n_draws, seed, batch_size, context=()):
    """SHAP values (expected gradients) of the logit of each clip's top class.

    Uses :class:`shap.GradientExplainer` with a list of tensors (one per modality). Quirks of
    shap 0.51 read from its source (shap/explainers/_gradient.py):

    - With ``ranked_outputs=1, output_rank_order="max"`` it explains the largest logit, i.e. the
      predicted class, and returns ``(values, ranks)``; each value array has a trailing axis of
      length 1. ``output_rank_order="custom"`` is not accepted by the PyTorch path.
    - With a single input the values come back as one array instead of a list.
    - It reseeds numpy's *global* RNG (``np.random.seed(rseed)``), so the caller's state is saved
      and restored here.
    - It has no extra forward arguments, so clips with ``context`` (one row per clip, see
      :class:`PositionalForward`) are explained one at a time with their context bound to
      ``forward``; every background clip is then read with the explained clip's context.

    Returns
    -------
    values : tuple of ndarray
        One per modality, shaped like the inputs.
    """
    import shap

    if len(inputs) and inputs[0].shape[0] == 0:
        return tuple(np.zeros(x.shape, dtype=np.float32) for x in inputs)
    state = np.random.get_state()
    try:
        if context:
            forward.bound = tuple(c[:1] for c in context)
        explainer = shap.GradientExplainer(forward, list(background), batch_size=batch_size)
        if context:
            rows = []
            for j in range(len(inputs[0])):
                forward.bound = tuple(c[j : j + 1] for c in context)
                rows.append(_shap_values(explainer, [x[j : j + 1] for x in inputs], n_draws, seed + j))
            values = [np.concatenate([r[i] for r in rows]) for i in range(len(inputs))]
        else:
            values = _shap_values(explainer, list(inputs), n_draws, seed)
    finally:
        np.random.set_state(state)
        if context:
            forward.bound = None
    return tuple(values)


def _shap_values(explainer, inputs, n_draws, seed):
    values, ranks = explainer.shap_values(
        [x.detach().clone() for x in inputs],
        nsamples=n_draws,
        ranked_outputs=1,
        output_rank_order="max",
        rseed=seed,
    )
    if not isinstance(values, list):
        values = [values]
    # ranks[:, 0] is the argmax of the logits, i.e. the target (up to exact ties).
    return [np.asarray(v)[..., 0].astype(np.float32) for v in values]
