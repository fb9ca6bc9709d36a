"""Fixed, differentiable layers that compute classical clip features inside the network.

A few hundred clips (CREMA-D has ~1,200 per emotion across 91 actors) are too few for
convolutions learnt from scratch to find what decades of affective computing already know to
measure: statistics of the frame-level descriptors over the clip (Eyben et al. 2016, eGeMAPS),
and the edge orientations of the face (HOG, Dalal & Triggs 2005). Computing them here, with no
learnt weights, rather than in a feature transformer keeps the input of the network the MFCC map
and the pixels, so Integrated Gradients still attributes to MFCC cells and to pixels.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._hog_kernel import hog_cells

__all__ = ["masked_time_statistics", "HOGLayer"]


def masked_time_statistics(x, dim=-1):
    """Mean and standard deviation of ``x`` along ``dim`` over its non-padding steps.

    A step is padding when it is exactly zero in every other feature (the zeros
    :class:`~mmemotion.features.MFCCTransformer` pads short clips with); such steps are left out.

    Parameters
    ----------
    x : Tensor of shape (n, F, T) when ``dim=-1``
    dim : int, default=-1
        The time axis.

    Returns
    -------
    stats : Tensor of shape (n, 2 * F)
        Means, then standard deviations.
    """
    x = x.movedim(dim, -1)
    valid = (x != 0).any(dim=1, keepdim=True).to(x.dtype)
    count = valid.sum(dim=-1).clamp_min(1.0)
    mean = (x * valid).sum(dim=-1) / count
    var = (((x - mean.unsqueeze(-1)) * valid) ** 2).sum(dim=-1) / count
    # The epsilon (small against the unit variance of speaker-normalised rows) keeps the square
    # root smooth near zero spread, which Integrated Gradients' quadrature needs.
    return torch.cat([mean, torch.sqrt(var + 1e-2)], dim=1)


class HOGLayer(nn.Module):
    """Histograms of oriented gradients of grey frames, differentiable in the pixels.

    Central-difference gradients; each pixel votes with its gradient magnitude for ``n_bins``
    unsigned orientations, softly (``max(0, cos(2 (theta - phi_k)))**2``, a smooth stand-in for
    the linear binning of the original, so gradients reach every pixel); votes are averaged over
    ``cell`` x ``cell`` cells and every 2x2 block of cells is L2-normalised.

    Parameters
    ----------
    cell : int, default=8
    n_bins : int, default=9

    Shape
    -----
    input (n, H, W) -> output (n, 4 * n_bins, H // cell - 1, W // cell - 1)
    """

    def __init__(self, cell=8, n_bins=9):
        super().__init__()
        self.cell = int(cell)
        phi = (torch.arange(n_bins, dtype=torch.float32) + 0.5) * math.pi / n_bins
        self.register_buffer("cos2phi", torch.cos(2 * phi).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("sin2phi", torch.sin(2 * phi).view(1, -1, 1, 1), persistent=False)

    def forward(self, grey):
        if grey.device.type == "cpu" and min(grey.shape[-2:]) >= 2 and grey.dtype in (torch.float32, torch.float64):
            cells = hog_cells(grey, self.cos2phi, self.sin2phi, self.cell)
        else:
            cells = self._cells(grey)
        blocks = torch.cat(
            [cells[:, :, :-1, :-1], cells[:, :, 1:, :-1], cells[:, :, :-1, 1:], cells[:, :, 1:, 1:]], dim=1
        )
        # The epsilon keeps near-flat blocks (background) from being blown up to unit norm, and
        # keeps the layer smooth enough for Integrated Gradients' quadrature.
        return blocks / torch.sqrt((blocks**2).sum(dim=1, keepdim=True) + 1e-2)

    def _cells(self, grey):
        """The cell histograms in torch operations (any device); on the CPU :func:`hog_cells`
        computes the same numbers several times faster."""
        # Central differences by slicing (edge pixels: one-sided), several times faster on CPU
        # than a 1-channel conv2d.
        x = grey.unsqueeze(1)
        gx = torch.cat([x[..., :, 1:2] - x[..., :, 0:1], x[..., :, 2:] - x[..., :, :-2],
                        x[..., :, -1:] - x[..., :, -2:-1]], dim=-1)
        gy = torch.cat([x[..., 1:2, :] - x[..., 0:1, :], x[..., 2:, :] - x[..., :-2, :],
                        x[..., -1:, :] - x[..., -2:-1, :]], dim=-2)
        # The epsilon (a gradient of 0.03 on the [0, 1] pixel scale) keeps the orientation and
        # magnitude smooth where the image is flat, as on the path from the black baseline that
        # Integrated Gradients integrates along: with 1e-8 the completeness gap was 0.09 of
        # f(x) - f(baseline) at 16 steps on the video-planted faithfulness set, 0.05 with 1e-3.
        sq = gx * gx + gy * gy + 1e-3
        mag = torch.sqrt(sq)
        # cos(2 theta) and sin(2 theta) without atan2: orientation is unsigned (theta ~ theta + pi).
        cos2, sin2 = (gx * gx - gy * gy) / sq, 2 * gx * gy / sq
        similarity = F.relu(cos2 * self.cos2phi + sin2 * self.sin2phi)
        votes = mag * (similarity * similarity)
        return F.avg_pool2d(votes, self.cell)
