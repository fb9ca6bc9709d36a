"""The three-stream (audio, video, text) fusion network."""

import numbers

import torch
from torch import nn

from .. import MODALITIES

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


class _AudioStream(nn.Module):
    """Conv2D blocks over MFCC maps ``(n, C, n_mfcc, n_frames)`` -> ``(n, widths[-1] * freq_bins)``."""

    def __init__(self, shape, widths, freq_bins, dropout, norm=False):
        super().__init__()
        channels, n_mfcc, _ = shape
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
        self.out_features = c_in * freq_bins
        self.norm = nn.LayerNorm(self.out_features) if norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        n, c, m, f = x.shape
        x = self.input_norm(x.reshape(n, c * m, f)).reshape(n, c, m, f)
        return self.dropout(self.norm(self.pool(self.blocks(x)).flatten(1)))


class _VideoStream(nn.Module):
    """Conv3D blocks over clips ``(n, C, T, H, W)`` -> ``(n, widths[-1] * grid_h * grid_w)``."""

    def __init__(self, shape, widths, stem_stride, grid, dropout, norm=False, standardize=False, motion_blocks=1):
        super().__init__()
        channels = shape[0]
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
        if self.standardize:
            # Per clip and colour channel: an actor's skin tone, lighting and background shift
            # the whole clip's brightness, which says nothing about the expression; removing
            # the clip mean and scale leaves the shapes (mouth, brows, eyes) the convs need.
            mean = x.mean(dim=(2, 3, 4), keepdim=True)
            std = x.std(dim=(2, 3, 4), keepdim=True)
            x = (x - mean) / (std + 1e-3)
        return self.dropout(self.norm(self.pool(self.blocks(x)).flatten(1)))


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
    """Audio / video / text network with late (concatenation) fusion, returning logits.

    Each active modality has its own stream that ends in adaptive average pooling, so the
    network accepts any MFCC length or clip size; the stream embeddings are concatenated and
    passed through one hidden dense layer to the class logits. Each embedding is
    layer-normalised and, during training, whole embeddings are randomly dropped per sample
    (modality dropout), so that the fused model uses every stream. The same class gives
    audio-only, video-only, text-only and fused models through ``modalities``.

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
        Hidden size of the dense layer after concatenation.
    dropout : float, default=0.3
        Dropout on each stream embedding and on the fusion layer.
    stream_norm : bool, default=True
        LayerNorm on each stream embedding before concatenation, so that the streams enter
        the fusion layer on a comparable scale whatever their width and input statistics.
    modality_dropout : float, default=0.2
        During training, each stream embedding of each sample is zeroed with this probability
        (at least one stream is kept per sample; no effect with a single active stream). It
        keeps the fused model from relying on whichever stream fits the training actors
        fastest. 0 switches it off.
    video_standardize : bool, default=True
        Standardise every clip per colour channel (zero mean, unit variance over time and
        space) before the Conv3D blocks, removing clip-wide brightness and contrast (skin
        tone, lighting, background) that vary by actor, not by emotion.
    fusion : {"concat", "sum"}, default="concat"
        "concat": the stream embeddings are concatenated and passed through one hidden dense
        layer (``head``). "sum": late fusion, every stream has its own hidden layer and logits
        (``heads``) and the logits are summed; with ``modality_dropout`` each stream then also
        learns to classify on its own. On the synthetic acceptance set (8 actors, 4 folds by
        actor; tests/models/test_acceptance.py) "concat" reached 0.50 accuracy against audio
        0.38 and video 0.31 alone, "sum" with ``modality_dropout=0.5`` 0.43.

    Attributes
    ----------
    streams : torch.nn.ModuleDict
        One sub-network per active modality, keyed by modality name.
    head : torch.nn.Sequential
        Fusion layers mapping the concatenated embeddings to logits (``fusion="concat"``).
    heads : torch.nn.ModuleDict
        Per-stream layers mapping each embedding to logits (``fusion="sum"``).

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
        fusion="concat",
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
        if fusion not in ("concat", "sum"):
            raise ValueError(f"ThreeStreamModule: `fusion` must be 'concat' or 'sum', got {fusion!r}.")
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
                self.audio_shape, _as_tuple(audio_widths, "audio_widths"), int(audio_freq_bins), dropout,
                norm=stream_norm,
            )
        if "video" in self.modalities:
            if video_shape is None:
                raise ValueError("ThreeStreamModule: `video_shape` (C, T, H, W) is required when 'video' is active.")
            self.video_shape = _as_tuple(video_shape, "video_shape", length=4)
            video_widths = _as_tuple(video_widths, "video_widths")
            if not (isinstance(video_motion_blocks, numbers.Integral) and 0 <= video_motion_blocks <= len(video_widths)):
                raise ValueError(
                    f"ThreeStreamModule: `video_motion_blocks` must be an int from 0 to len(video_widths)="
                    f"{len(video_widths)}, got {video_motion_blocks!r}."
                )
            streams["video"] = _VideoStream(
                self.video_shape,
                video_widths,
                _as_tuple(video_stem_stride, "video_stem_stride", length=3),
                _as_tuple(video_grid, "video_grid", length=2),
                dropout,
                norm=stream_norm,
                standardize=video_standardize,
                motion_blocks=video_motion_blocks,
            )
        if "text" in self.modalities:
            if text_dim is None:
                raise ValueError("ThreeStreamModule: `text_dim` is required when 'text' is active.")
            self.text_dim = int(text_dim)
            streams["text"] = _TextStream(self.text_dim, _as_tuple(text_widths, "text_widths", allow_empty=True), dropout, norm=stream_norm
            )
        self.streams = nn.ModuleDict(streams)

        def make_head(n_in):
            return nn.Sequential(
                nn.Linear(n_in, int(fusion_width)),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(int(fusion_width), self.n_classes),
            )

        if self.fusion == "concat":
            self.head = make_head(sum(stream.out_features for stream in self.streams.values()))
        else:
            self.heads = nn.ModuleDict({m: make_head(s.out_features) for m, s in self.streams.items()})

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
        embeddings = []
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
            embeddings.append(self.streams[name](x))
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
