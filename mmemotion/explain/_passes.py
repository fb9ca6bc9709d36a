"""Passes over the explained clips, batch by batch, with one progress bar for the whole explanation."""

import numpy as np
import torch

from ..utils import progress
from ._attribution import integrated_gradients
from ._context import baseline_rows

__all__ = ["ClipProgress", "batched_attribution", "concat", "predict_logits", "run_integrated_gradients"]


class ClipProgress:
    """One progress bar for a whole explanation, counting clips: every method passes over every
    explained clip once, so the total is clips x passes and the bar moves with each batch."""

    def __init__(self, total, verbose):
        self.bar = progress(total=total, verbose=verbose, desc="explain", unit="clip")

    def batches(self, batches, name, weight=1.0):
        """Yield ``batches`` (slices of clips), advancing the bar by ``weight`` per clip of each."""
        self.bar.set_description(f"explain: {name}", refresh=False)
        for b in batches:
            yield b
            self.bar.update(weight * (b.stop - b.start))

    def close(self):
        self.bar.close()


@torch.no_grad()
def predict_logits(forward, inputs, batches):
    """Logits of every clip, float64 ``(n, k)``."""
    out = [forward(*(x[b] for x in inputs)).detach().cpu().numpy() for b in batches]
    return np.concatenate(out).astype(np.float64)


def concat(parts):
    """Concatenate per-batch tuples of arrays (one per modality) into one tuple."""
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(len(parts[0])))


def batched_attribution(method, forward, inputs, baselines, target, batches, common, context=()):
    """Run one :data:`~mmemotion.explain._attribution.GRADIENT_METHODS` method batch by batch."""
    parts = []
    for b in batches:
        parts.append(method(forward, tuple(x[b] for x in inputs), baseline_rows(baselines, b),
                            torch.as_tensor(target[b]), context=tuple(c[b] for c in context), **common))
    return concat(parts)


def run_integrated_gradients(forward, inputs, baselines, target, batches, common, context=()):
    """Integrated-Gradients attributions and path-averaged gradients, batch by batch."""
    attr, grads = [], []
    for b in batches:
        a, g = integrated_gradients(forward, tuple(x[b] for x in inputs), baseline_rows(baselines, b),
                                    torch.as_tensor(target[b]), context=tuple(c[b] for c in context), **common)
        attr.append(a)
        grads.append(g)
    return concat(attr), concat(grads)
