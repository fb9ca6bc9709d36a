"""How each input is made "absent", reduced and cast for gradients: the registry entry's explanation.

Everything downstream is keyed by modality name only; the per-modality choices live in the
registry (:class:`~mmemotion.modalities.ModalityExplanation`). A modality without an entry gets
:data:`DEFAULT_SPEC` (mean baseline over clips, maps kept in the input's own shape).
"""

import numpy as np

from ..modalities import ModalityExplanation, get_modality

__all__ = ["DEFAULT_SPEC", "as_float_input", "make_baseline", "reduce_map", "spec_for"]

DEFAULT_SPEC = ModalityExplanation()


def spec_for(modality):
    """Return the registry's :class:`~mmemotion.modalities.ModalityExplanation` of ``modality``.

    A network may name a modality that is not registered (a stand-in in a test, a modality
    unregistered since); it gets :data:`DEFAULT_SPEC`.
    """
    try:
        return get_modality(modality).explanation
    except ValueError:
        return DEFAULT_SPEC


def make_baseline(spec, background):
    """Baseline of shape ``(1, *shape)`` from a background batch ``(n_background, *shape)``.

    Parameters
    ----------
    spec : ModalityExplanation
    background : ndarray of shape (n_background, *shape), float

    Returns
    -------
    baseline : ndarray of shape (1, *shape), float32
    """
    if spec.baseline == "zeros":
        return np.zeros((1,) + background.shape[1:], dtype=np.float32)
    axes = (0,) + tuple(a + 1 for a in spec.mean_axes)
    mean = background.astype(np.float64).mean(axis=axes, keepdims=True)
    return np.broadcast_to(mean, (1,) + background.shape[1:]).astype(np.float32)


def reduce_map(spec, attribution):
    """Sum an attribution batch ``(n, *shape)`` over the spec's ``sum_axes`` for display."""
    if not spec.sum_axes:
        return attribution
    return attribution.sum(axis=tuple(a + 1 for a in spec.sum_axes))


def as_float_input(spec, values):
    """Cast a feature batch to float32, scaling integer inputs as the network does."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer):
        return values.astype(np.float32) * np.float32(spec.integer_scale)
    return values.astype(np.float32, copy=False)
