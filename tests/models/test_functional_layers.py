"""The fixed feature layers of the network: masked time statistics and a differentiable HOG."""

import numpy as np
import pytest
import torch

from mmemotion.models import ThreeStreamModule
from mmemotion.models._functional_layers import HOGLayer, masked_time_statistics


def test_time_statistics_skip_padding_frames():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 10)).astype(np.float32)
    x[0, :, 7:] = 0  # clip 0 ends after 7 frames
    stats = masked_time_statistics(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(stats[0, :3], x[0, :, :7].mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(stats[0, 3:], np.sqrt(x[0, :, :7].var(axis=1) + 1e-2), rtol=1e-3)
    np.testing.assert_allclose(stats[1, :3], x[1].mean(axis=1), rtol=1e-5)


def _stripes(vertical, size=32, period=8):
    ramp = (torch.arange(size) % period < period // 2).float()
    return ramp.repeat(size, 1) if vertical else ramp.repeat(size, 1).T


def test_hog_layer_sees_orientation_ignores_brightness_and_passes_gradients():
    layer = HOGLayer(cell=8)
    h = layer(torch.stack([_stripes(True), _stripes(False)]))
    assert h.shape == (2, 36, 3, 3)
    per_bin = h.reshape(2, 4, 9, 3, 3).sum(dim=(1, 3, 4))
    # Vertical stripes have horizontal gradients (0 degrees): bins 0 and 8 (centres 10 and 170
    # degrees) lead, and bins 45 degrees or more away (centres 50-130) get no vote at all.
    assert set(per_bin[0].topk(2).indices.tolist()) == {0, 8} and per_bin[0, 2:7].sum() == 0
    # Horizontal stripes: 90 degrees, bin 4 leads; bins 0-1 and 7-8 get nothing.
    assert per_bin[1].argmax() == 4 and per_bin[1, [0, 1, 7, 8]].sum() == 0
    image = torch.rand(1, 32, 32)
    torch.testing.assert_close(layer(image + 0.3), layer(image), atol=1e-5, rtol=1e-4)
    image.requires_grad_(True)
    layer(image).sum().backward()
    assert image.grad.abs().sum() > 0


@pytest.mark.parametrize("representation", ["hog", "grid", "conv3d"])
def test_module_video_representations_and_linear_head(representation):
    net = ThreeStreamModule(audio_shape=(1, 6, 12), video_shape=(3, 4, 32, 32), text_dim=5,
                            audio_statistics=True, audio_conv=False, video_representation=representation, video_widths=(4,),
                            video_grid=(2, 2), fusion_width=0, n_classes=3)
    assert all(isinstance(h[0], torch.nn.Linear) and len(h) == 1 for h in net.heads.values())
    logits = net(audio=torch.randn(2, 1, 6, 12), video=torch.randint(0, 255, (2, 3, 4, 32, 32), dtype=torch.uint8),
                 text=torch.randn(2, 5))
    assert logits.shape == (2, 3)
    with pytest.raises(ValueError, match="video_representation"):
        ThreeStreamModule(video_shape=(3, 4, 32, 32), modalities=("video",), video_representation="pixels")
    with pytest.raises(ValueError, match="audio_statistics=True or audio_widths"):
        ThreeStreamModule(audio_shape=(1, 6, 12), modalities=("audio",), audio_statistics=False, audio_conv=False)
