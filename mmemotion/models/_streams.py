"""The network streams, one per kind of input, and the factories the modality registry names.

A stream maps a batch ``(n, *shape)`` to ``(n, out_features)``; the built-in modality entries
(:mod:`mmemotion.modalities`) build them through :func:`make_audio_stream`,
:func:`make_video_stream` and :func:`make_text_stream`. A stream that can feed a linear expert
has ``expert_width``, ``expert_input(x)`` (the input it reads, described once when its front
has no weights) and ``expert_features(x)``.
"""

import numbers

import torch
from torch import nn
from torch.nn import functional as F

from ._functional_layers import HOGLayer, masked_time_statistics

__all__ = ["make_audio_stream", "make_text_stream", "make_video_stream"]


def _as_tuple(value, name, *, length=None, allow_empty=False):
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"ThreeStreamModule: `{name}` must be a sequence of ints, got {value!r}.") from None
    if (not out and not allow_empty) or any(v <= 0 for v in out):
        raise ValueError(f"ThreeStreamModule: `{name}` must hold positive ints, got {value!r}.")
    if length is not None and len(out) != length:
        raise ValueError(f"ThreeStreamModule: `{name}` must have {length} entries, got {value!r}.")
    return out


class _FeatureBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d that uses its running statistics for a training batch of one sample.

    skorch's last batch of an epoch can hold a single clip (e.g. 33 clips, batch size 32), whose
    batch variance is undefined; plain BatchNorm1d raises there.
    """

    def forward(self, x):
        if self.training and x.shape[0] == 1:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                            False, 0.0, self.eps)
        return super().forward(x)


class _AudioStream(nn.Module):
    """Conv2D blocks over MFCC maps ``(n, C, n_mfcc, n_frames)`` -> ``(n, widths[-1] * freq_bins)``."""

    def __init__(self, shape, widths, freq_bins, dropout, norm=False, statistics=True, conv=True):
        super().__init__()
        channels, n_mfcc, _ = shape
        self.statistics, self.conv = bool(statistics), bool(conv)
        if not (self.statistics or self.conv):
            raise ValueError("ThreeStreamModule: the audio stream needs audio_statistics=True or audio_widths.")
        # Mean and spread over time of every input row (the classical functionals), standardised
        # over the batch: what a linear model on clip statistics uses, inside the network.
        self.stats_norm = _FeatureBatchNorm(2 * channels * n_mfcc) if self.statistics else None
        # MFCC coefficients differ in scale by two orders of magnitude (c0 is the log energy), so
        # each (channel, coefficient) row is normalised on its own with running statistics; this
        # keeps the network usable on raw, unstandardised MFCCTransformer output.
        self.input_norm = nn.BatchNorm1d(channels * n_mfcc)
        layers, c_in = [], channels
        for width in widths:
            layers += [
                nn.Conv2d(c_in, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                # ceil_mode keeps tiny maps (e.g. 1 MFCC frame) from collapsing to size 0.
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            c_in = width
        self.blocks = nn.Sequential(*layers)
        # Pool over time only: unlike image axes, the MFCC axis is not shift-invariant (which
        # coefficient is high says where the spectral energy is), so a few frequency bands are
        # kept apart; the fixed output size keeps the stream agnostic to the clip length.
        self.pool = nn.AdaptiveAvgPool2d((freq_bins, 1))
        self.out_features = (c_in * freq_bins if self.conv else 0) + (2 * channels * n_mfcc if self.statistics else 0)
        self.norm = nn.LayerNorm(self.out_features) if norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        #: Width of the linear expert's input: mean and spread over time of every input row.
        self.expert_width = 2 * channels * n_mfcc

    def expert_input(self, x):
        return x

    def expert_features(self, x):
        """Mean and spread over time of every input row (padding skipped): ``(n, expert_width)``."""
        return masked_time_statistics(x.reshape(x.shape[0], -1, x.shape[-1]))

    def forward(self, x):
        n, c, m, f = x.shape
        parts = []
        if self.statistics:
            parts.append(self.stats_norm(masked_time_statistics(x.reshape(n, c * m, f))))
        if self.conv:
            x = self.input_norm(x.reshape(n, c * m, f)).reshape(n, c, m, f)
            parts.append(self.pool(self.blocks(x)).flatten(1))
        return self.dropout(self.norm(torch.cat(parts, dim=1)))


class _VideoStream(nn.Module):
    """Conv3D blocks over clips ``(n, C, T, H, W)`` -> ``(n, widths[-1] * grid_h * grid_w)``."""

    def __init__(self, shape, widths, stem_stride, grid, dropout, norm=False, standardize=False, motion_blocks=1,
                 n_reference=0):
        super().__init__()
        channels = shape[0]
        self.n_reference = int(n_reference)
        self.standardize = bool(standardize)
        layers, c_in = [], channels
        first_motion = len(widths) - motion_blocks
        for i, width in enumerate(widths):
            # The strided first layer quarters the spatial work of every later layer; on 2 CPU
            # cores it roughly doubles training throughput (benchmarks/bench_training.py).
            stride = stem_stride if i == 0 else 1
            # Early blocks see one frame at a time (kernel 1x3x3) and only the last
            # `motion_blocks` span three frames: an expression (brow tilt, eye opening, mouth
            # corners, a few pixels each) holds over the clip while the mouth talks. On held-out
            # actors of a 6-emotion synthetic set with the emotion in the face only, the
            # video-only model reached 0.55 accuracy with one motion block, 0.46 with
            # none and 0.35 with 3x3x3 kernels throughout (benchmarks/bench_video_stream.py).
            t = 3 if i >= first_motion else 1
            layers += [
                nn.Conv3d(c_in, width, kernel_size=(t, 3, 3), stride=stride, padding=(t // 2, 1, 1), bias=False),
                nn.BatchNorm3d(width),
                nn.ReLU(inplace=True),
            ]
            if i < len(widths) - 1:
                # Spatial pooling only: CREMA-D clips give a handful of sampled frames, and
                # halving the time axis twice left the motion blocks one or two frames.
                layers.append(nn.MaxPool3d((1, 2, 2), ceil_mode=True))
            c_in = width
        self.blocks = nn.Sequential(*layers)
        # Pool over time and into a coarse spatial grid: where a feature fires (brows in the
        # upper half, mouth in the lower half of a face crop) carries the expression.
        self.pool = nn.AdaptiveAvgPool3d((1, *grid))
        self.out_features = c_in * grid[0] * grid[1]
        self.norm = nn.LayerNorm(self.out_features) if norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        if self.n_reference:
            # The speaker's reference frames are not part of the clip; these blocks do not use them.
            x = x[:, :, : x.shape[2] - self.n_reference]
        if self.standardize:
            # Per clip and colour channel: an actor's skin tone, lighting and background shift
            # the whole clip's brightness, which says nothing about the expression; removing
            # the clip mean and scale leaves the shapes (mouth, brows, eyes) the convs need.
            mean = x.mean(dim=(2, 3, 4), keepdim=True)
            std = x.std(dim=(2, 3, 4), keepdim=True)
            x = (x - mean) / (std + 1e-3)
        return self.dropout(self.norm(self.pool(self.blocks(x)).flatten(1)))


class _VideoHOGStream(nn.Module):
    """HOG of every frame, then its mean and spread over time: ``(n, C, T, H, W)`` -> ``(n, 2 * D)``."""

    def __init__(self, shape, cell, dropout, norm=False, standardize=False, grid=None, n_reference=0):
        super().__init__()
        _, _, h, w = shape
        self.n_reference = int(n_reference)
        #: False while the reference frames are fixed context (``explain``): their HOG is then
        #: computed without gradients, which halves the backward pass through the stream.
        self.reference_gradients = True
        self.grid = tuple(grid) if grid is not None else None
        # Small frames (thumbnails, tests) get smaller cells: HOG needs at least 2x2 of them.
        cell = max(1, min(cell, h // 2, w // 2))
        self.standardize = bool(standardize)
        self.hog = HOGLayer(cell=cell)
        # The HOG block grid of the nominal frame size; other sizes are pooled to it, so the stream
        # (like the others) accepts any frame size.
        self.blocks_grid = (h // cell - 1, w // cell - 1)
        d = self.grid[0] * self.grid[1] if self.grid is not None else 36 * self.blocks_grid[0] * self.blocks_grid[1]
        self.stats_norm = _FeatureBatchNorm(2 * d)
        self.out_features = 2 * d
        self.norm = nn.LayerNorm(self.out_features) if norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        # A 2-D input is describe()'s output, precomputed once per fit (FusionClassifier.fit_loop).
        stats = x if x.dim() == 2 else self.describe(x)
        return self.dropout(self.norm(self.stats_norm(stats)))

    @property
    def expert_width(self):
        return self.stats_norm.num_features

    def expert_input(self, x):
        """The clip's description, computed once for the stream and its linear expert."""
        return x if x.dim() == 2 else self.describe(x)

    def expert_features(self, x):
        return self.expert_input(x)

    def describe(self, x):
        """The clip's descriptor statistics ``(n, 2 * D)``: the stream's fixed part, with no weights."""
        n, c, t, h, w = x.shape
        if self.standardize:
            x = (x - x.mean(dim=(2, 3, 4), keepdim=True)) / (x.std(dim=(2, 3, 4), keepdim=True) + 1e-3)
        grey = x.mean(dim=1).reshape(n * t, h, w)
        if self.grid is not None:
            descriptors = F.adaptive_avg_pool2d(grey.unsqueeze(1), self.grid).reshape(n, t, -1)
        else:
            # The HOG layer has no weights: in training nothing upstream needs its gradient, so
            # skipping autograd's bookkeeping here more than halves the cost of the video stream.
            with torch.set_grad_enabled(grey.requires_grad and torch.is_grad_enabled()):
                if self.n_reference and not self.reference_gradients:
                    own = t - self.n_reference
                    frames = grey.reshape(n, t, h, w)
                    descriptors = torch.cat([
                        self._frame_descriptors(frames[:, :own].reshape(-1, h, w)).reshape(n, own, -1),
                        self._frame_descriptors(frames[:, own:].detach().reshape(-1, h, w)).reshape(n, t - own, -1),
                    ], dim=1)
                else:
                    descriptors = self._frame_descriptors(grey).reshape(n, t, -1)
        mean_reference = 0.0
        if self.n_reference:
            # The last frames are the speaker's reference frames (ModalityUnion(speaker_norm=
            # "reference")): the clip's mean descriptor is taken relative to theirs, which
            # removes most of what is the speaker's face rather than the expression.
            # Dividing by the reference frames' spread of each descriptor as well (a per-speaker
            # z-score) lowered the fused network from 0.813 to 0.773 (realistic corpus, seed 0).
            mean_reference = descriptors[:, t - self.n_reference:].mean(dim=1)
            descriptors = descriptors[:, : t - self.n_reference]
        # Frames are never padding (FrameSampler repeats the last frame), so plain statistics; the
        # epsilon keeps the spread differentiable where it is zero (a still clip, the black
        # baseline of Integrated Gradients).
        spread = torch.sqrt(descriptors.var(dim=1, unbiased=False) + 1e-4)
        return torch.cat([descriptors.mean(dim=1) - mean_reference, spread], dim=1)

    def _frame_descriptors(self, grey):
        """HOG blocks of every grey frame ``(m, H, W)``, on the nominal block grid."""
        blocks = self.hog(grey)
        if tuple(blocks.shape[-2:]) != self.blocks_grid:
            blocks = F.adaptive_avg_pool2d(blocks, self.blocks_grid)
        return blocks


class _TextStream(nn.Module):
    """Dense layers over sentence embeddings ``(n, dim)`` -> ``(n, widths[-1])``."""

    def __init__(self, dim, widths, dropout, norm=False):
        super().__init__()
        layers, d_in = [], dim
        for width in widths:
            layers += [nn.Linear(d_in, width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            d_in = width
        self.blocks = nn.Sequential(*layers)
        self.out_features = d_in
        self.norm = nn.LayerNorm(self.out_features) if norm else nn.Identity()

    def forward(self, x):
        return self.norm(self.blocks(x))


def make_audio_stream(name, shape, *, dropout, norm, widths, freq_bins, statistics, conv):
    """Conv2D blocks and clip statistics over MFCC maps (the ``audio`` entry's stream)."""
    shape = _as_tuple(shape, f"{name}_shape", length=3)
    return _AudioStream(shape, _as_tuple(widths, f"{name}_widths", allow_empty=True), int(freq_bins), dropout,
                        norm=norm, statistics=statistics, conv=conv)


def make_video_stream(name, shape, *, dropout, norm, widths, stem_stride, grid, motion_blocks, standardize,
                      representation, hog_cell, reference_frames):
    """HOG, Conv3D or grey-grid stream over clips ``(C, T, H, W)`` (the ``video`` entry's stream)."""
    shape = _as_tuple(shape, f"{name}_shape", length=4)
    if representation not in ("conv3d", "hog", "grid"):
        raise ValueError(
            f"ThreeStreamModule: `{name}_representation` must be 'conv3d', 'hog' or 'grid', got {representation!r}."
        )
    widths = _as_tuple(widths, f"{name}_widths")
    if not (isinstance(motion_blocks, numbers.Integral) and 0 <= motion_blocks <= len(widths)):
        raise ValueError(
            f"ThreeStreamModule: `{name}_motion_blocks` must be an int from 0 to len({name}_widths)="
            f"{len(widths)}, got {motion_blocks!r}."
        )
    n_reference = int(reference_frames)
    if not 0 <= n_reference < shape[1]:
        raise ValueError(
            f"ThreeStreamModule: `{name}_reference_frames` must be from 0 to the number of frames "
            f"minus one ({shape[1] - 1}), got {reference_frames!r}."
        )
    if representation in ("hog", "grid"):
        return _VideoHOGStream(
            shape, int(hog_cell), dropout, norm=norm,
            # HOG ignores brightness offsets (gradients) and contrast (block norms) by itself.
            standardize=standardize and representation == "grid",
            grid=_as_tuple(grid, f"{name}_grid", length=2) if representation == "grid" else None,
            n_reference=n_reference,
        )
    stream = _VideoStream(shape, widths, _as_tuple(stem_stride, f"{name}_stem_stride", length=3),
                        _as_tuple(grid, f"{name}_grid", length=2), dropout, norm=norm, standardize=standardize,
                        motion_blocks=motion_blocks, n_reference=n_reference)
    stream.no_expert_reason = (f"`{name}_representation` 'conv3d' has no fixed clip statistics for it; use "
                               "'hog' or 'grid'")
    return stream


def make_text_stream(name, shape, *, dropout, norm, widths):
    """Dense layers over sentence embeddings (the ``text`` entry's stream)."""
    dim = _as_tuple(shape, f"{name}_shape", length=1)[0]
    return _TextStream(dim, _as_tuple(widths, f"{name}_widths", allow_empty=True), dropout, norm=norm)
