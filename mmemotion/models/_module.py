"""The three-stream (audio, video, text) fusion network."""

import math
import numbers

import torch
from torch import nn
from torch.nn import functional as F

from .. import MODALITIES
from ._functional_layers import HOGLayer, masked_time_statistics

__all__ = ["ThreeStreamModule"]


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


class ThreeStreamModule(nn.Module):
    """Audio / video / text network with late fusion, returning fused class log-scores.

    Each active modality has its own stream that ends in pooling over time (and space), so the
    network accepts any MFCC length or clip size. By default every stream is a classifier of
    its own, trained on its own loss, and the fused class probabilities are the normalised
    product of the streams' (``fusion="product"``); ``fusion="concat"`` concatenates the
    layer-normalised stream embeddings into one dense head instead, with modality dropout. The
    same class gives audio-only, video-only, text-only and fused models through ``modalities``.

    Used through :class:`~mmemotion.models.FusionClassifier`, which fills in ``audio_shape``,
    ``video_shape``, ``text_dim`` and ``n_classes`` from the training data; set the other
    parameters there as ``module__<name>``.

    Parameters
    ----------
    audio_shape : tuple of int (C, n_mfcc, n_frames), default=None
        Per-sample shape of the audio input. Required when "audio" is active.
    video_shape : tuple of int (C, T, H, W), default=None
        Per-sample shape of the video input. Required when "video" is active.
    text_dim : int, default=None
        Size of the text embedding. Required when "text" is active.
    n_classes : int, default=6
        Number of output logits.
    modalities : tuple of str, default=("audio", "video", "text")
        Active streams, a non-empty subset of :data:`mmemotion.MODALITIES`. Inputs of inactive
        modalities are accepted by :meth:`forward` and ignored.
    audio_widths : tuple of int, default=(16, 32, 64)
        Output channels of the Conv2D blocks (one block per entry: conv 3x3, batch norm,
        ReLU, 2x2 max pooling).
    audio_freq_bins : int, default=4
        The audio feature map is average-pooled over time and into this many bands along the
        MFCC axis, giving ``audio_widths[-1] * audio_freq_bins`` features.
    video_widths : tuple of int, default=(16, 32, 64)
        Output channels of the Conv3D blocks (conv, batch norm, ReLU, then 2x2 spatial max
        pooling between blocks). The kernels are 1x3x3 (one frame) except in the last
        ``video_motion_blocks`` blocks, which are 3x3x3.
    video_motion_blocks : int, default=1
        How many of the last Conv3D blocks convolve over time (3 frames) as well as space;
        0 gives a frame-wise 2D network with temporal average pooling.
    video_stem_stride : tuple of int (t, h, w), default=(1, 2, 2)
        Stride of the first Conv3D layer.
    video_grid : tuple of int (h, w), default=(2, 2)
        The video feature map is average-pooled over time and into this spatial grid, giving
        ``video_widths[-1] * h * w`` features.
    text_widths : tuple of int, default=(32,)
        Hidden sizes of the text stream's dense layers (may be empty: the embedding is used as is).
    fusion_width : int, default=64
        Hidden size of the dense layer of each head (per stream, or after concatenation); 0
        gives a linear read-out.
    dropout : float, default=0.3
        Dropout on each stream embedding and on the fusion layer.
    stream_norm : bool, default=True
        LayerNorm on each stream embedding before concatenation, so that the streams enter
        the fusion layer on a comparable scale whatever their width and input statistics.
    modality_dropout : float, default=0.2
        During training, each stream embedding of each sample is zeroed with this probability
        (at least one stream is kept per sample; no effect with a single active stream or with
        ``fusion="product"``, whose streams learn apart anyway). It keeps a "concat" or "sum"
        model from relying on whichever stream fits the training actors fastest. 0 switches it
        off.
    video_standardize : bool, default=True
        Standardise every clip per colour channel (zero mean, unit variance over time and
        space) before the Conv3D blocks (or the "grid" cells), removing clip-wide brightness and
        contrast (skin tone, lighting, background) that vary by actor, not by emotion. The HOG
        representation needs no such step (gradients ignore brightness offsets, block norms
        ignore contrast), and it would break Integrated Gradients' completeness: the
        standardised clip jumps from zero to full contrast just off the black baseline.
    fusion : {"product", "concat", "sum"}, default="product"
        "product": product of experts; every stream has its own head (``heads``: hidden layer
        of ``fusion_width``, then logits) and is trained with its own cross-entropy, as if it
        were a model of its own; the output is the sum of the streams' log-probabilities (in
        training mode ``stream_log_probs_`` keeps them per stream until the loss takes them) and
        ``modality_dropout`` is not used. "concat": the stream embeddings are concatenated and
        passed through one hidden dense layer (``head``). "sum": every stream has its own head
        and the logits are summed and trained jointly. On unseen actors of the realistic
        synthetic corpus (10 actors, 5 folds by actor; benchmarks/bench_generalisation.py)
        "product" reached 0.663 where "concat" reached 0.587 (both with weight decay 0.01;
        without it "product" reached 0.697; Conv3D video stream: 0.567
        against 0.470): trained
        jointly, the stream that fits the training actors fastest leaves the others little to
        learn, and the fused model leans on it (the weak video stream dragged fusion below audio
        alone). Logistic regressions on the same kind of features tell the same story (0.687
        multiplied, 0.553 on concatenated features).
    audio_statistics : bool, default=True
        Mean and standard deviation over time of every input row (MFCCs and prosody rows; padding
        frames skipped), batch-normalised: the classical clip functionals, computed inside the
        network so that attributions still reach every MFCC cell. Added to the Conv2D features,
        they raised the acceptance set (tests/models/test_acceptance.py) from audio 0.667 /
        fusion 0.693 to 0.714 / 0.755, and the audio model on the realistic corpus from 0.447
        (Conv2D alone) to 0.570.
    audio_conv : bool, default=True
        Also run the Conv2D blocks (``audio_widths``) and add their pooled features. Giving the
        statistics and the convolutional features a head and a loss each (two audio experts in
        the product) lowered the fused network on the realistic corpus from 0.813 to 0.713. On unseen
        actors of the realistic synthetic corpus (10 actors, 5 folds by actor) the audio-only
        model scored 0.593 with statistics alone and 0.570 with both, at 13x the training time;
        but on the audio-planted faithfulness set (tests/explain/test_faithfulness.py) the
        statistics alone reached 0.50 held-out accuracy where the convolutions reach 0.84 (the
        toy voice's cues are temporal: tremor, rate), so they stay on.
    video_representation : {"hog", "conv3d", "grid"}, default="hog"
        "hog": histograms of oriented gradients of every frame (a fixed, differentiable layer,
        :class:`~mmemotion.models._functional_layers.HOGLayer`; ``video_hog_cell`` pixels per
        cell, 2x2-cell blocks, 9 orientations), then their mean and spread over the clip, so
        attributions still reach pixels. "conv3d": the learnt Conv3D blocks (``video_widths``,
        ...). "grid": grey level averaged into a ``video_grid`` of cells per frame, mean and
        spread over the clip. On unseen actors of the realistic corpus, video alone: "hog" 0.390,
        "conv3d" 0.313, "grid" (8x8) 0.197; fused with "product": 0.62 against 0.567; on the
        video-planted faithfulness set (tests/explain/test_faithfulness.py) "hog" 0.91-0.97
        held-out accuracy against 0.62. A few hundred clips are too few for Conv3D kernels
        learnt from scratch.
    video_hog_cell : int, default=8
        HOG cell size in pixels.
    video_reference_frames : int, default=0
        The last this many frames of every video input are the speaker's reference frames
        (appended by ``ModalityUnion(speaker_norm={"video": "reference"}, reference_size=...)``,
        which must use the same number): the "hog" and "grid" streams subtract their mean
        descriptor from the clip's and compute the spread over the clip's own frames only; the
        "conv3d" stream drops them. 0: every frame is the clip's. On unseen actors of the
        realistic corpus (10 actors, 5 folds by actor) 16 reference frames raised the fused
        network from 0.697 / 0.690 / 0.663 to 0.750 / 0.750 / 0.680 (seeds 0 / 1 / 2). It is not the
        default: on the audio-planted faithfulness set (tests/explain/test_faithfulness.py,
        whose clips have 2 frames) the decoy face then fitted noise, held-out accuracy fell
        from 0.75 to 0.69 and Integrated Gradients gave the face more credit than the voice
        (0.50 against 0.48). Dividing the difference by the spread of the clips' own mean
        descriptors instead of standardising it made that worse (0.62 against 0.38).

    linear_experts : tuple of str, default=()
        Modalities ("audio", "video") that get a linear expert besides their stream: a logistic
        regression on the stream's fixed clip statistics (audio: mean and spread over time of
        every input row; video: the HOG stream's :meth:`describe`), multiplied into the product
        (``fusion="product"`` only). Its weights are buffers (``linear_<modality>_weight`` and
        ``_bias``) that :class:`~mmemotion.models.FusionClassifier` fits before training
        (``linear_C``) and the optimiser leaves alone; until then they are zero (a uniform
        expert). ``make_default_pipeline`` sets ``("audio",)``: on unseen actors of the
        realistic corpus it raised fused accuracy from 0.813 / 0.800 / 0.790 (seeds 0 / 1 / 2) to
        0.840 / 0.817 / 0.820 with frame-level z-scored audio; see that function for the rest.

    Attributes
    ----------
    streams : torch.nn.ModuleDict
        One sub-network per active modality, keyed by modality name.
    head : torch.nn.Sequential
        Fusion layers mapping the concatenated embeddings to logits (``fusion="concat"``).
    heads : torch.nn.ModuleDict
        Per-stream layers mapping each embedding to logits (``fusion="product"`` or ``"sum"``).

    Examples
    --------
    >>> import torch
    >>> from mmemotion.models import ThreeStreamModule
    >>> net = ThreeStreamModule(audio_shape=(1, 20, 30), video_shape=(3, 4, 16, 16), text_dim=8,
    ...                         audio_widths=(4,), video_widths=(4,), text_widths=(4,), fusion_width=8)
    >>> logits = net(audio=torch.randn(2, 1, 20, 30), video=torch.randint(0, 255, (2, 3, 4, 16, 16),
    ...              dtype=torch.uint8), text=torch.randn(2, 8))
    >>> tuple(logits.shape)
    (2, 6)
    """

    def __init__(
        self,
        *,
        audio_shape=None,
        video_shape=None,
        text_dim=None,
        n_classes=6,
        modalities=MODALITIES,
        audio_widths=(16, 32, 64),
        audio_freq_bins=4,
        video_widths=(16, 32, 64),
        video_stem_stride=(1, 2, 2),
        video_grid=(2, 2),
        video_motion_blocks=1,
        text_widths=(32,),
        fusion_width=64,
        dropout=0.3,
        stream_norm=True,
        modality_dropout=0.2,
        video_standardize=True,
        fusion="product",
        audio_statistics=True,
        audio_conv=True,
        video_representation="hog",
        video_hog_cell=8,
        video_reference_frames=0,
        linear_experts=(),
    ):
        super().__init__()
        if isinstance(modalities, str):
            modalities = (modalities,)
        modalities = tuple(modalities)
        unknown = [m for m in modalities if m not in MODALITIES]
        if not modalities or unknown or len(set(modalities)) != len(modalities):
            raise ValueError(
                f"ThreeStreamModule: `modalities` must be a non-empty subset of {MODALITIES} without "
                f"repeats, got {modalities!r}."
            )
        if not (isinstance(dropout, numbers.Real) and 0 <= dropout < 1):
            raise ValueError(f"ThreeStreamModule: `dropout` must be in [0, 1), got {dropout!r}.")
        if not (isinstance(modality_dropout, numbers.Real) and 0 <= modality_dropout < 1):
            raise ValueError(
                f"ThreeStreamModule: `modality_dropout` must be in [0, 1), got {modality_dropout!r}."
            )
        self.modality_dropout = float(modality_dropout)
        if fusion not in ("concat", "sum", "product"):
            raise ValueError(f"ThreeStreamModule: `fusion` must be 'concat', 'sum' or 'product', got {fusion!r}.")
        self.fusion = fusion
        # Keep the canonical order so that the fusion layer's input layout does not depend on
        # how the user spelled `modalities`.
        self.modalities = tuple(m for m in MODALITIES if m in modalities)
        self.n_classes = int(n_classes)

        streams = {}
        if "audio" in self.modalities:
            if audio_shape is None:
                raise ValueError("ThreeStreamModule: `audio_shape` (C, n_mfcc, n_frames) is required when 'audio' is active.")
            self.audio_shape = _as_tuple(audio_shape, "audio_shape", length=3)
            streams["audio"] = _AudioStream(
                self.audio_shape, _as_tuple(audio_widths, "audio_widths", allow_empty=True), int(audio_freq_bins),
                dropout, norm=stream_norm, statistics=audio_statistics, conv=audio_conv,
            )
        if "video" in self.modalities:
            if video_shape is None:
                raise ValueError("ThreeStreamModule: `video_shape` (C, T, H, W) is required when 'video' is active.")
            self.video_shape = _as_tuple(video_shape, "video_shape", length=4)
            if video_representation not in ("conv3d", "hog", "grid"):
                raise ValueError(
                    "ThreeStreamModule: `video_representation` must be 'conv3d', 'hog' or 'grid', got "
                    f"{video_representation!r}."
                )
            video_widths = _as_tuple(video_widths, "video_widths")
            if not (isinstance(video_motion_blocks, numbers.Integral) and 0 <= video_motion_blocks <= len(video_widths)):
                raise ValueError(
                    f"ThreeStreamModule: `video_motion_blocks` must be an int from 0 to len(video_widths)="
                    f"{len(video_widths)}, got {video_motion_blocks!r}."
                )
            n_reference = int(video_reference_frames)
            if not 0 <= n_reference < self.video_shape[1]:
                raise ValueError(
                    f"ThreeStreamModule: `video_reference_frames` must be from 0 to the number of frames "
                    f"minus one ({self.video_shape[1] - 1}), got {video_reference_frames!r}."
                )
            if video_representation in ("hog", "grid"):
                streams["video"] = _VideoHOGStream(
                    self.video_shape, int(video_hog_cell), dropout, norm=stream_norm,
                    # HOG ignores brightness offsets (gradients) and contrast (block norms) by itself.
                    standardize=video_standardize and video_representation == "grid",
                    grid=_as_tuple(video_grid, "video_grid", length=2) if video_representation == "grid" else None,
                    n_reference=n_reference,
                )
            else:
                streams["video"] = _VideoStream(
                    self.video_shape,
                    video_widths,
                    _as_tuple(video_stem_stride, "video_stem_stride", length=3),
                    _as_tuple(video_grid, "video_grid", length=2),
                    dropout,
                    norm=stream_norm,
                    standardize=video_standardize,
                    motion_blocks=video_motion_blocks,
                    n_reference=n_reference,
                )
        if "text" in self.modalities:
            if text_dim is None:
                raise ValueError("ThreeStreamModule: `text_dim` is required when 'text' is active.")
            self.text_dim = int(text_dim)
            streams["text"] = _TextStream(self.text_dim, _as_tuple(text_widths, "text_widths", allow_empty=True), dropout, norm=stream_norm
            )
        self.streams = nn.ModuleDict(streams)

        def make_head(n_in):
            if not fusion_width:
                # A linear read-out of the stream features: with a few hundred clips this is what
                # the classical systems (functionals + linear model) do best.
                return nn.Sequential(nn.Linear(n_in, self.n_classes))
            return nn.Sequential(
                nn.Linear(n_in, int(fusion_width)),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(int(fusion_width), self.n_classes),
            )

        if isinstance(linear_experts, str):
            linear_experts = (linear_experts,)
        self.linear_experts = tuple(m for m in MODALITIES if m in tuple(linear_experts) and m in self.modalities)
        unusable = [m for m in linear_experts if m not in ("audio", "video")]
        if unusable or (self.linear_experts and self.fusion != "product"):
            raise ValueError(
                "ThreeStreamModule: `linear_experts` takes 'audio' and/or 'video' (the streams with fixed clip "
                f"statistics) and needs fusion='product'; got {tuple(linear_experts)!r} with fusion={fusion!r}."
            )
        if "video" in self.linear_experts and not hasattr(self.streams["video"], "describe"):
            raise ValueError("ThreeStreamModule: a video linear expert needs video_representation 'hog' or 'grid'.")
        for m in self.linear_experts:
            # Filled by FusionClassifier.fit (a logistic regression fitted to convergence, its
            # standardisation folded in); buffers, not parameters: the optimiser never moves them,
            # and they are saved with the weights.
            n_in = self.linear_expert_features(m, None)
            self.register_buffer(f"linear_{m}_weight", torch.zeros(self.n_classes, n_in))
            self.register_buffer(f"linear_{m}_bias", torch.zeros(self.n_classes))

        if self.fusion == "concat":
            self.head = make_head(sum(stream.out_features for stream in self.streams.values()))
        else:
            self.heads = nn.ModuleDict({m: make_head(s.out_features) for m, s in self.streams.items()})

    def reset_parameters(self):
        """Draw the linear experts' weights afresh, as ``nn.Linear`` initialises its own.

        The streams' layers reset themselves; this covers the experts, which are buffers, so
        that a model-randomisation test (``mmemotion.explain.randomised_copy``) randomises them too.
        """
        for m in self.linear_experts:
            weight, bias = getattr(self, f"linear_{m}_weight"), getattr(self, f"linear_{m}_bias")
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
            bound = 1 / math.sqrt(weight.shape[1])
            nn.init.uniform_(bias, -bound, bound)

    def linear_expert_features(self, modality, x):
        """The fixed clip statistics a linear expert reads (its width when ``x`` is None).

        Audio: mean and spread over time of every input row (padding skipped); video: the HOG
        stream's :meth:`describe` (its 2-D input is taken as already described).
        """
        if modality == "audio":
            channels, n_rows, _ = self.audio_shape
            if x is None:
                return 2 * channels * n_rows
            return masked_time_statistics(x.reshape(x.shape[0], -1, x.shape[-1]))
        stream = self.streams["video"]
        if x is None:
            return stream.stats_norm.num_features
        return x if x.dim() == 2 else stream.describe(x)

    def forward(self, audio=None, video=None, text=None):
        """Return class logits.

        Parameters
        ----------
        audio : Tensor of shape (n, C, n_mfcc, n_frames), optional
        video : Tensor of shape (n, C, T, H, W), optional
            uint8 in [0, 255] (scaled by 1/255 here) or float in [0, 1].
        text : Tensor of shape (n, dim), optional

        Returns
        -------
        logits : Tensor of shape (n, n_classes)
        """
        inputs = {"audio": audio, "video": video, "text": text}
        embeddings, linear = [], []
        for name in self.modalities:
            x = inputs[name]
            if x is None:
                raise ValueError(
                    f"ThreeStreamModule: the '{name}' stream is active (modalities={self.modalities}) but "
                    f"`{name}` was not passed to forward; pass it or drop it from `modalities`."
                )
            if name == "video" and not torch.is_floating_point(x):
                # uint8 clips are 4x smaller in memory than float32; scaling here keeps the
                # feature cache and the DataLoader batches small.
                x = x.float().div_(255.0)
            # float64 numpy arrays and integer embeddings meet float32 weights here.
            x = x.to(self._dtype())
            if name == "video" and "video" in self.linear_experts and x.dim() != 2:
                x = self.streams["video"].describe(x)  # once, for the stream and its linear expert
            if name in self.linear_experts:
                statistics = self.linear_expert_features(name, x)
                linear.append(torch.log_softmax(
                    F.linear(statistics, getattr(self, f"linear_{name}_weight"), getattr(self, f"linear_{name}_bias")), dim=1))
            embeddings.append(self.streams[name](x))
        if self.fusion == "product":
            # Product of experts: each stream is a classifier of its own; the fused class
            # probabilities are the normalised product of theirs, i.e. softmax of the summed
            # log-probabilities returned here. Training uses each stream's own loss
            # (stream_log_probs_, read by FusionClassifier.get_loss), so a stream that fits the
            # training actors fast cannot make the others lazy. Kept in training mode only, and
            # taken away by get_loss, so no autograd graph outlives its step.
            log_probs = [torch.log_softmax(self.heads[m](e), dim=1) for m, e in zip(self.modalities, embeddings)]
            if self.training:
                self.stream_log_probs_ = dict(zip(self.modalities, log_probs))
            # The linear experts are fixed in training (fitted before it); they join the product.
            return torch.stack(log_probs + linear).sum(dim=0)
        if self.fusion == "sum":
            # Late fusion: every stream votes with its own logits; a dropped stream abstains.
            embeddings = [self.heads[m](e) for m, e in zip(self.modalities, embeddings)]
        if self.training and self.modality_dropout > 0 and len(embeddings) > 1:
            embeddings = self._drop_modalities(embeddings)
        if self.fusion == "sum":
            return torch.stack(embeddings).sum(dim=0)
        return self.head(torch.cat(embeddings, dim=1))

    def _dtype(self):
        return next(self.parameters()).dtype

    def _drop_modalities(self, embeddings):
        """Zero whole stream embeddings per sample, keeping at least one stream per sample."""
        n, k = embeddings[0].shape[0], len(embeddings)
        device = embeddings[0].device
        keep = torch.rand(n, k, device=device) >= self.modality_dropout
        # A sample that lost every stream gets one back at random: all-zero input teaches nothing.
        none_kept = ~keep.any(dim=1)
        if none_kept.any():
            rescue = torch.randint(0, k, (n,), device=device)
            keep[none_kept, rescue[none_kept]] = True
        # With per-stream LayerNorm a zeroed embedding equals the stream's mean embedding
        # (before the affine shift), i.e. "no evidence from this modality". The fused head
        # then cannot lean on one easy stream (the one that fits the training actors fastest)
        # and must learn each stream's evidence on its own, which is what generalises to new
        # actors (same idea as ModDrop, Neverova et al. 2016).
        return [e * keep[:, i : i + 1].to(e.dtype) for i, e in enumerate(embeddings)]
