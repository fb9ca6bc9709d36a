"""ThreeStreamModule: shapes, modality subsets, input handling."""

import pytest
import torch

from mmemotion import MODALITIES
from mmemotion.models import ThreeStreamModule

TINY = dict(audio_widths=(4,), video_widths=(4, 4), text_widths=(4,), fusion_width=8)
SHAPES = dict(audio_shape=(1, 6, 9), video_shape=(3, 4, 10, 10), text_dim=5)


def _inputs(n=3, dtype=torch.uint8):
    torch.manual_seed(0)
    video = torch.randint(0, 256, (n, 3, 4, 10, 10), dtype=torch.uint8)
    return {"audio": torch.randn(n, 1, 6, 9), "video": video if dtype == torch.uint8 else video.float() / 255,
            "text": torch.randn(n, 5)}


@pytest.mark.parametrize(
    "modalities", [("audio",), ("video",), ("text",), ("audio", "video"), MODALITIES]
)
def test_logits_shape_for_every_modality_subset(modalities):
    net = ThreeStreamModule(modalities=modalities, n_classes=4, **SHAPES, **TINY).eval()
    assert set(net.streams) == set(modalities)
    assert net(**_inputs()).shape == (3, 4)


def test_inactive_inputs_are_ignored_and_not_required():
    net = ThreeStreamModule(modalities=("audio",), **SHAPES, **TINY).eval()
    x = _inputs()
    with_all = net(**x)
    only_audio = net(audio=x["audio"])
    assert torch.equal(with_all, only_audio)


def test_uint8_video_is_scaled_like_float_video():
    net = ThreeStreamModule(modalities=("video",), **SHAPES, **TINY).eval()
    assert torch.allclose(net(video=_inputs()["video"]), net(video=_inputs(dtype=torch.float32)["video"]), atol=1e-6)


def test_size_agnostic_pooling_accepts_other_input_sizes():
    net = ThreeStreamModule(**SHAPES, **TINY).eval()
    out = net(audio=torch.randn(2, 1, 6, 31), video=torch.rand(2, 3, 7, 17, 13), text=torch.randn(2, 5))
    assert out.shape == (2, 6)


def test_float64_inputs_are_cast():
    net = ThreeStreamModule(modalities=("audio", "text"), **SHAPES, **TINY).eval()
    x = _inputs()
    assert net(audio=x["audio"].double(), text=x["text"].double()).dtype == torch.float32


def test_missing_active_input_raises_clear_error():
    net = ThreeStreamModule(**SHAPES, **TINY)
    x = _inputs()
    with pytest.raises(ValueError, match="'video' stream is active"):
        net(audio=x["audio"], text=x["text"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(modalities=()), "non-empty subset"),
        (dict(modalities=("audio", "face")), "non-empty subset"),
        (dict(dropout=1.5), "dropout"),
        (dict(audio_shape=None), "audio_shape"),
        (dict(video_shape=(3, 4, 10)), "video_shape"),
        (dict(audio_widths=(0,)), "audio_widths"),
        (dict(modality_dropout=1.0), "modality_dropout"),
        (dict(fusion="max"), "fusion"),
        (dict(video_motion_blocks=3), "video_motion_blocks"),
        (dict(video_motion_blocks=-1), "video_motion_blocks"),
        (dict(video_motion_blocks=1.0), "video_motion_blocks"),
        (dict(video_reference_frames=4), "video_reference_frames"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ThreeStreamModule(**{**SHAPES, **TINY, **kwargs})


def test_modalities_order_is_canonical():
    a = ThreeStreamModule(modalities=("text", "audio"), **SHAPES, **TINY)
    assert a.modalities == ("audio", "text")


def test_video_stem_stride_reduces_the_first_feature_map():
    net = ThreeStreamModule(modalities=("video",), video_representation="conv3d", video_stem_stride=(1, 2, 2),
                            **SHAPES, **TINY)
    first = net.streams["video"].blocks[0]
    assert first.stride == (1, 2, 2)
    assert first(torch.rand(1, 3, 4, 10, 10)).shape[-3:] == (4, 5, 5)


@pytest.mark.parametrize("motion_blocks, kernels", [(0, [1, 1]), (1, [1, 3]), (2, [3, 3])])
def test_video_motion_blocks_set_the_temporal_kernels_and_keep_every_frame(motion_blocks, kernels):
    net = ThreeStreamModule(modalities=("video",), video_representation="conv3d", video_motion_blocks=motion_blocks,
                            **SHAPES, **TINY)
    convs = [m for m in net.streams["video"].blocks if isinstance(m, torch.nn.Conv3d)]
    assert [c.kernel_size[0] for c in convs] == kernels
    # Pooling between blocks is spatial only: all 4 frames reach the last block.
    assert net.streams["video"].blocks(torch.rand(1, 3, 4, 10, 10)).shape[2] == 4
    assert net(video=_inputs()["video"]).shape == (3, 6)


@pytest.mark.parametrize("fusion", ["concat", "sum"])
def test_modality_dropout_only_in_training_and_only_when_fused(fusion):
    x = _inputs(n=64)
    net = ThreeStreamModule(fusion=fusion, modality_dropout=0.5, dropout=0.0, **SHAPES, **TINY)
    net.eval()
    assert torch.equal(net(**x), net(**x))
    net.train()
    torch.manual_seed(1)
    a = net(**x)
    torch.manual_seed(2)
    assert not torch.allclose(a, net(**x))
    single = ThreeStreamModule(modalities=("audio",), modality_dropout=0.5, dropout=0.0, **SHAPES, **TINY).train()
    assert torch.equal(single(**x), single(**x))
    # A product of experts trains every stream on its own: nothing is dropped.
    product = ThreeStreamModule(fusion="product", modality_dropout=0.5, dropout=0.0, **SHAPES, **TINY).train()
    assert torch.equal(product(**x), product(**x))


def test_modality_dropout_keeps_at_least_one_stream():
    net = ThreeStreamModule(modality_dropout=0.9, **SHAPES, **TINY)
    embeddings = [torch.ones(500, 3) for _ in range(3)]
    kept = torch.stack([e[:, 0] for e in net._drop_modalities(embeddings)], dim=1)
    assert (kept.sum(dim=1) >= 1).all() and (kept.sum(dim=1) < 3).any()


def test_video_standardize_ignores_clip_brightness():
    video = _inputs(dtype=torch.float32)["video"] * 0.5
    # The Conv3D stream: HOG (the default) ignores brightness offsets by construction.
    on = ThreeStreamModule(modalities=("video",), video_representation="conv3d", **SHAPES, **TINY).eval()
    off = ThreeStreamModule(modalities=("video",), video_representation="conv3d", video_standardize=False, **SHAPES,
                            **TINY).eval()
    off.load_state_dict(on.state_dict())
    assert torch.allclose(on(video=video), on(video=video + 0.3), atol=1e-4)
    assert not torch.allclose(off(video=video), off(video=video + 0.3), atol=1e-4)


def _embeddings(net, inputs):
    """Each active stream's embedding, from the inputs as ``forward`` prepares them."""
    out = {}
    for name in net.modalities:
        x = inputs[name]
        out[name] = net.streams[name](x.float().div(255) if not torch.is_floating_point(x) else x.float())
    return out


#: The fusion rules the docstring states, applied to the stream embeddings.
FUSE = {
    "concat": lambda net, e: net.head(torch.cat([e[m] for m in net.modalities], dim=1)),
    "sum": lambda net, e: sum(net.heads[m](e[m]) for m in net.modalities),
    "product": lambda net, e: sum(torch.log_softmax(net.heads[m](e[m]), dim=1) for m in net.modalities),
}


@pytest.mark.parametrize("fusion", ["concat", "sum", "product"])
@pytest.mark.parametrize("stream_norm", [True, False])
def test_fusion_variants_give_logits(fusion, stream_norm):
    net = ThreeStreamModule(fusion=fusion, stream_norm=stream_norm, **SHAPES, **TINY).eval()
    inputs = _inputs()
    with torch.no_grad():
        fused = net(**inputs)
        expected = FUSE[fusion](net, _embeddings(net, inputs))
    assert fused.shape == (3, 6)
    assert torch.allclose(fused, expected, atol=1e-5)


def test_sum_fusion_adds_the_streams_head_logits():
    net = ThreeStreamModule(fusion="sum", **SHAPES, **TINY).eval()
    inputs = _inputs()
    with torch.no_grad():
        fused = net(**inputs)
        logits = {m: net.heads[m](e) for m, e in _embeddings(net, inputs).items()}
        assert set(logits) == set(MODALITIES)
        assert torch.allclose(fused, logits["audio"] + logits["video"] + logits["text"], atol=1e-5)
        # Raw logits, not log-probabilities: the same weights under "product" give the summed
        # log-softmax instead, which differs by a per-sample shift.
        product = ThreeStreamModule(fusion="product", **SHAPES, **TINY).eval()
        product.load_state_dict(net.state_dict())
        multiplied = product(**inputs)
    assert torch.allclose(multiplied, sum(torch.log_softmax(v, dim=1) for v in logits.values()), atol=1e-5)
    assert not torch.allclose(fused, multiplied, atol=1e-3)


def test_sum_fusion_drops_a_stream_by_dropping_its_vote():
    # In training, modality dropout zeroes a stream's logits (it abstains), not its embedding
    # (which would still vote through its head's biases): every fused row is the sum of a
    # non-empty subset of the streams' logits.
    net = ThreeStreamModule(fusion="sum", modality_dropout=0.5, dropout=0.0, **SHAPES, **TINY).train()
    inputs = _inputs(n=32)
    with torch.no_grad():
        logits = torch.stack([net.heads[m](e) for m, e in _embeddings(net, inputs).items()])  # (3, n, 6)
        torch.manual_seed(0)
        fused = net(**inputs)
    subsets = torch.tensor([[a, v, t] for a in (0, 1) for v in (0, 1) for t in (0, 1)][1:], dtype=torch.float32)
    candidates = torch.einsum("sk,knc->snc", subsets, logits)  # (7 subsets, n, 6)
    error = (candidates - fused).abs().amax(dim=2)  # (7, n)
    assert (error.min(dim=0).values < 1e-5).all()
    kept = subsets[error.argmin(dim=0)]
    assert (kept.sum(dim=1) < 3).any()  # some stream was dropped somewhere


def test_stream_norm_standardises_every_stream_embedding_per_sample():
    on = ThreeStreamModule(fusion="concat", stream_norm=True, **SHAPES, **TINY).eval()
    off = ThreeStreamModule(fusion="concat", stream_norm=False, **SHAPES, **TINY)
    # Same weights; only the LayerNorms' affine parameters (fresh: scale 1, shift 0) are extra.
    missing, unexpected = off.load_state_dict(on.state_dict(), strict=False)
    assert not missing and unexpected and all(k.endswith((".norm.weight", ".norm.bias")) for k in unexpected)
    off.eval()
    inputs = _inputs(n=8)
    with torch.no_grad():
        normed, raw = _embeddings(on, inputs), _embeddings(off, inputs)
        fused_on, fused_off = on(**inputs), off(**inputs)
    for name in MODALITIES:
        mean, var = raw[name].mean(dim=1, keepdim=True), raw[name].var(dim=1, unbiased=False, keepdim=True)
        # Standardised over each sample's features (LayerNorm, eps 1e-5), one stream at a time.
        assert torch.allclose(normed[name], (raw[name] - mean) / torch.sqrt(var + 1e-5), atol=1e-4), name
        assert torch.allclose(normed[name].mean(dim=1), torch.zeros(8), atol=1e-5), name
        # Unit variance where the raw spread dwarfs the eps (HOG statistics spread ~3e-3).
        spread = var.squeeze(1) > 1e-3
        assert spread.any(), name
        assert torch.allclose(normed[name].var(dim=1, unbiased=False)[spread], torch.ones(int(spread.sum())),
                              atol=1e-2), name
        # Without stream_norm the embedding is left on its own scale.
        assert not torch.allclose(mean.squeeze(1), torch.zeros(8), atol=1e-2) or not torch.allclose(
            var.squeeze(1), torch.ones(8), atol=1e-2), name
    assert not torch.allclose(fused_on, fused_off, atol=1e-4)


def test_product_fusion_sums_the_streams_log_probabilities():
    net = ThreeStreamModule(fusion="product", **SHAPES, **TINY).eval()
    inputs = _inputs()
    fused = net(**inputs)
    assert not hasattr(net, "stream_log_probs_")  # kept in training mode only
    alone = {}
    for name in ("audio", "video", "text"):
        embedding = net.streams[name](inputs[name].float().div(255) if name == "video" else inputs[name].float())
        alone[name] = torch.log_softmax(net.heads[name](embedding), dim=1)
    assert torch.allclose(fused, sum(alone.values()), atol=1e-5)
    net.train()
    net(**inputs)
    assert set(net.stream_log_probs_) == {"audio", "video", "text"}


def test_video_reference_frames_centre_the_clips_hog_on_the_speakers():
    shapes = dict(SHAPES, video_shape=(3, 6, 16, 16))
    net = ThreeStreamModule(modalities=("video",), video_reference_frames=2, **shapes, **TINY).eval()
    stream = net.streams["video"]
    torch.manual_seed(1)
    clip = torch.rand(2, 3, 4, 16, 16)
    reference = torch.rand(1, 3, 2, 16, 16).expand(2, -1, -1, -1, -1)
    hog = stream.hog(clip.mean(dim=1).reshape(-1, 16, 16)).reshape(2, 4, -1)
    ref_hog = stream.hog(reference.mean(dim=1).reshape(-1, 16, 16)).reshape(2, 2, -1)
    stream.stats_norm = stream.norm = torch.nn.Identity()
    d = hog.shape[-1]
    stats = stream(torch.cat([clip, reference], dim=2))
    # The clip's mean descriptor minus the reference frames' mean; the spread over the clip only.
    assert torch.allclose(stats[:, :d], hog.mean(1) - ref_hog.mean(1), atol=1e-5)
    assert torch.allclose(stats[:, d:], torch.sqrt(hog.var(1, unbiased=False) + 1e-4), atol=1e-5)
    # A clip compared with itself carries no mean difference.
    same = stream(torch.cat([clip[:, :, :2], clip[:, :, :2], clip[:, :, :2]], dim=2)[:, :, :6])
    assert torch.allclose(same[:, :d], torch.zeros(2, d), atol=1e-5)


def test_conv3d_stream_ignores_the_reference_frames():
    shapes = dict(SHAPES, video_shape=(3, 6, 16, 16))
    net = ThreeStreamModule(modalities=("video",), video_representation="conv3d", video_reference_frames=2,
                            **shapes, **TINY).eval()
    clip = torch.rand(2, 3, 6, 16, 16)
    other = clip.clone()
    other[:, :, 4:] = torch.rand(2, 3, 2, 16, 16)
    assert torch.allclose(net(video=clip), net(video=other))
    assert not torch.allclose(net(video=clip), net(video=torch.rand(2, 3, 6, 16, 16)))


def test_video_stream_accepts_its_own_description():
    net = ThreeStreamModule(modalities=("video",), **SHAPES, **TINY).eval()
    video = _inputs(dtype=torch.float32)["video"]
    assert torch.allclose(net(video=video), net(video=net.streams["video"].describe(video)), atol=1e-6)


def test_linear_experts_join_the_product_as_fixed_buffers():
    net = ThreeStreamModule(modalities=("audio", "video"), linear_experts=("audio",), **SHAPES, **TINY).eval()
    assert "linear_audio_weight" in net.state_dict()
    assert not any("linear_audio" in name for name, _ in net.named_parameters())
    x = _inputs()
    before = net(audio=x["audio"], video=x["video"])
    torch.manual_seed(3)
    net.linear_audio_weight.copy_(torch.randn_like(net.linear_audio_weight))
    statistics = net.linear_expert_features("audio", x["audio"])
    expected = torch.log_softmax(statistics @ net.linear_audio_weight.T + net.linear_audio_bias, dim=1)
    # Zero weights: a uniform expert, which shifts every class by the same log(1/6).
    uniform = torch.log(torch.tensor(1 / 6))
    assert torch.allclose(net(audio=x["audio"], video=x["video"]), before - uniform + expected, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(linear_experts=("text",)), "linear_experts"), (dict(linear_experts=("audio",), fusion="concat"), "fusion='product'"),
     (dict(linear_experts=("video",), video_representation="conv3d"), "video_representation")],
)
def test_linear_experts_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ThreeStreamModule(**SHAPES, **TINY, **kwargs)


def test_randomised_copy_redraws_the_linear_experts():
    from mmemotion.explain import randomised_copy

    net = ThreeStreamModule(modalities=("audio",), linear_experts=("audio",), **SHAPES, **TINY).eval()
    net.linear_audio_weight.fill_(1.0)
    random = randomised_copy(net)
    assert not torch.equal(random.linear_audio_weight, net.linear_audio_weight)
    assert torch.equal(net.linear_audio_weight, torch.ones_like(net.linear_audio_weight))
