"""The cell histograms of :class:`~mmemotion.models._functional_layers.HOGLayer` as one fused
kernel, forward and backward.

Written with torch operations, the soft orientation binning makes nine full-resolution copies of
every frame (one per orientation) in the forward pass and again in the backward pass; on two CPU
cores back-propagating through the HOG of 512 frames of 64x64 took 690 ms, three quarters of a
gradient step of the whole default network, and every gradient method of ``explain`` takes
hundreds of such steps. Here each pixel's nine votes are formed in registers and added straight
into their cell, and the backward pass re-derives them the same way: the same numbers (float32
rounding aside) in a fraction of the time (figures in ``benchmarks/README.md``).

The pixel maths, for central differences ``a`` (along x) and ``b`` (along y), ``eps = 1e-3``::

    q = a**2 + b**2 + eps,  m = sqrt(q),  c = (a**2 - b**2) / q,  s = 2 a b / q
    vote_k = m * max(0, c cos(2 phi_k) + s sin(2 phi_k))**2,   cell = mean of its pixels' votes

and the backward pass uses ``dm/da = a / m``, ``dc/da = 2a (2 b**2 + eps) / q**2``,
``ds/da = 2b (q - 2 a**2) / q**2`` (and the mirror images for ``b``), then hands each pixel's
``dL/da`` and ``dL/db`` to the two pixels its difference was taken between.
"""

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch

from ..features._numba_warmup import warm_up_once

__all__ = ["hog_cells"]

#: Keeps orientation and magnitude smooth where the image is flat (see HOGLayer._cells).
EPS = 1e-3


@numba.njit(inline="always")
def _pixel(grey, f, i, j, h, w):  # pragma: no cover - compiled
    """Central differences ``a`` (x) and ``b`` (y) at (i, j), one-sided at the border, with the
    pixel's magnitude ``m``, ``1 / q`` and doubled-angle cosine ``c`` and sine ``s``."""
    right, left = min(j + 1, w - 1), max(j - 1, 0)
    up, down = min(i + 1, h - 1), max(i - 1, 0)
    a = grey[f, i, right] - grey[f, i, left]
    b = grey[f, up, j] - grey[f, down, j]
    q = a * a + b * b + EPS
    iq = 1.0 / q
    return a, b, q, np.sqrt(q), iq, (a * a - b * b) * iq, 2.0 * a * b * iq, right, left, up, down


@numba.njit(nogil=True, fastmath=True, cache=True)
def _cells_forward(cos2phi, sin2phi, cell, grey, out):  # pragma: no cover - compiled
    n, h, w = grey.shape
    n_bins, hc, wc = out.shape[1], out.shape[2], out.shape[3]
    scale = 1.0 / (cell * cell)
    acc = np.zeros(n_bins, dtype=grey.dtype)
    for f in range(n):
        for ci in range(hc):
            for cj in range(wc):
                acc[:] = 0.0
                for i in range(ci * cell, (ci + 1) * cell):
                    for j in range(cj * cell, (cj + 1) * cell):
                        _, _, _, m, _, c, s, _, _, _, _ = _pixel(grey, f, i, j, h, w)
                        for k in range(n_bins):
                            r = max(c * cos2phi[k] + s * sin2phi[k], 0.0)
                            acc[k] += m * r * r
                for k in range(n_bins):
                    out[f, k, ci, cj] = acc[k] * scale


@numba.njit(nogil=True, fastmath=True, cache=True)
def _cells_backward(cos2phi, sin2phi, cell, grey, grad_out, grad_in):  # pragma: no cover - compiled
    n, h, w = grey.shape
    n_bins, hc, wc = grad_out.shape[1], grad_out.shape[2], grad_out.shape[3]
    scale = 1.0 / (cell * cell)
    g = np.zeros(n_bins, dtype=grey.dtype)
    for f in range(n):
        for ci in range(hc):
            for cj in range(wc):
                for k in range(n_bins):
                    g[k] = grad_out[f, k, ci, cj] * scale
                for i in range(ci * cell, (ci + 1) * cell):
                    for j in range(cj * cell, (cj + 1) * cell):
                        a, b, q, m, iq, c, s, right, left, up, down = _pixel(grey, f, i, j, h, w)
                        g_m, g_c, g_s = 0.0, 0.0, 0.0  # dL/dm, and dL/dc, dL/ds over 2 m
                        for k in range(n_bins):
                            r = max(c * cos2phi[k] + s * sin2phi[k], 0.0)
                            gr = g[k] * r
                            g_m += gr * r
                            g_c += gr * cos2phi[k]
                            g_s += gr * sin2phi[k]
                        t = 4.0 * m * iq * iq  # 2 m (from r**2) times the 2 / q**2 of dc/da, ds/da
                        g_a = g_m * a / m + t * (g_c * a * (2.0 * b * b + EPS) + g_s * b * (q - 2.0 * a * a))
                        g_b = g_m * b / m + t * (g_s * a * (q - 2.0 * b * b) - g_c * b * (2.0 * a * a + EPS))
                        grad_in[f, i, right] += g_a
                        grad_in[f, i, left] -= g_a
                        grad_in[f, up, j] += g_b
                        grad_in[f, down, j] -= g_b


def _in_threads(kernel, shared, frames):
    """``kernel(*shared, *frames)`` over chunks of the frame axis of ``frames``, in parallel
    threads (the kernels release the GIL)."""
    n_frames = len(frames[0])
    n_threads = max(1, min(torch.get_num_threads(), n_frames))
    if n_threads == 1:
        kernel(*shared, *frames)
        return
    bounds = np.linspace(0, n_frames, n_threads + 1).round().astype(int)
    with ThreadPoolExecutor(n_threads) as pool:
        futures = [pool.submit(kernel, *shared, *(a[lo:hi] for a in frames))
                   for lo, hi in zip(bounds[:-1], bounds[1:])]
        for future in futures:
            future.result()


def _warm_up(dtype):
    # Compile (or load from numba's cache) under a machine-wide lock, once per process and dtype,
    # so parallel test workers never write the same cache file at once (see _numba_warmup).
    def run():
        x = np.zeros((1, 4, 4), dtype=dtype)
        phi = np.zeros(1, dtype=dtype)
        _cells_forward(phi, phi, 2, x, np.zeros((1, 1, 2, 2), dtype=dtype))
        _cells_backward(phi, phi, 2, x, np.zeros((1, 1, 2, 2), dtype=dtype), np.zeros_like(x))

    warm_up_once(("hog_cells", np.dtype(dtype).name), run)


class _HOGCells(torch.autograd.Function):
    @staticmethod
    def forward(ctx, grey, cos2phi, sin2phi, cell):
        x = grey.detach().contiguous().numpy()
        _warm_up(x.dtype)
        c2 = cos2phi.detach().reshape(-1).numpy().astype(x.dtype)
        s2 = sin2phi.detach().reshape(-1).numpy().astype(x.dtype)
        n, h, w = x.shape
        out = np.zeros((n, len(c2), h // cell, w // cell), dtype=x.dtype)
        _in_threads(_cells_forward, (c2, s2, cell), (x, out))
        ctx.save_for_backward(grey)
        ctx.hog = (c2, s2, cell)
        return torch.from_numpy(out)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        (grey,) = ctx.saved_tensors
        c2, s2, cell = ctx.hog
        x = grey.detach().contiguous().numpy()
        grad = grad_out.detach().contiguous().numpy().astype(x.dtype, copy=False)
        grad_in = np.zeros_like(x)
        _in_threads(_cells_backward, (c2, s2, cell), (x, grad, grad_in))
        return torch.from_numpy(grad_in), None, None, None


def hog_cells(grey, cos2phi, sin2phi, cell):
    """Mean soft orientation votes per ``cell`` x ``cell`` cell: ``(n, H, W)`` -> ``(n, B, H // cell, W // cell)``.

    Parameters
    ----------
    grey : Tensor of shape (n, H, W), float32 or float64, on the CPU, with H and W at least 2
    cos2phi, sin2phi : Tensor of B elements
        ``cos(2 phi_k)`` and ``sin(2 phi_k)`` of the bin centres.
    cell : int

    Returns
    -------
    cells : Tensor of shape (n, B, H // cell, W // cell)
        Differentiable in ``grey`` (first derivatives only).
    """
    return _HOGCells.apply(grey, cos2phi, sin2phi, int(cell))
