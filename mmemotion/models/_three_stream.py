"""ThreeStreamModule: the fusion network with the built-in modalities' stream parameters documented.

Its docstring records the measurements behind each default (the values live in the registry
entries, :mod:`mmemotion.modalities`).
"""

from ._module import MultiStreamModule

__all__ = ["ThreeStreamModule"]


class ThreeStreamModule(MultiStreamModule):
    """Audio / video / text network with late fusion, returning fused class log-scores.

    Each active modality has its own stream that ends in pooling over time (and space), so the
    network accepts any MFCC length or clip size. By default every stream is a classifier of
    its own, trained on its own loss, and the fused class probabilities are the normalised
    product of the streams' (``fusion="product"``); ``fusion="concat"`` concatenates the
    layer-normalised stream embeddings into one dense head instead, with modality dropout. The
    same class gives audio-only, video-only, text-only and fused models through ``modalities``.

    Used through :class:`~mmemotion.models.FusionClassifier`, which fills in ``shapes`` and
    ``n_classes`` from the training data; set the other parameters there as
    ``module__<name>``. It is :class:`MultiStreamModule` with the built-in modalities' stream
    parameters documented here; their defaults live in the registry entries
    (``mmemotion.modalities.get_modality(name).stream_defaults``).

    Parameters
    ----------
    shapes : dict of str -> tuple of int, default=None
        Per-sample input shape of each active modality (overrides the three below).
    audio_shape : tuple of int (C, n_mfcc, n_frames), default=None
        Per-sample shape of the audio input. Required when "audio" is active.
    video_shape : tuple of int (C, T, H, W), default=None
        Per-sample shape of the video input. Required when "video" is active.
    text_dim : int, default=None
        Size of the text embedding. Required when "text" is active.
    n_classes : int, default=6
        Number of output logits.
    modalities : tuple of str, default=None
        Active streams, a non-empty subset of the registered modalities; None: ("audio",
        "video", "text") (:data:`mmemotion.MODALITIES`). Inputs of inactive
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
    streams, shapes, head, heads
        As in :class:`MultiStreamModule`.

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
