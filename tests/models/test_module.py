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
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ThreeStreamModule(**{**SHAPES, **TINY, **kwargs})


def test_modalities_order_is_canonical():
    a = ThreeStreamModule(modalities=("text", "audio"), **SHAPES, **TINY)
    assert a.modalities == ("audio", "text")


def test_video_stem_stride_reduces_the_first_feature_map():
    net = ThreeStreamModule(modalities=("video",), video_stem_stride=(1, 2, 2), **SHAPES, **TINY)
    first = net.streams["video"].blocks[0]
    assert first.stride == (1, 2, 2)
    assert first(torch.rand(1, 3, 4, 10, 10)).shape[-3:] == (4, 5, 5)
