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


@pytest.mark.parametrize("shape, cell", [((3, 64, 64), 8), ((2, 37, 45), 8), ((2, 9, 12), 2)])
def test_fused_hog_kernel_matches_the_torch_formula_and_its_gradient(shape, cell):
    # The CPU kernel (mmemotion/models/_hog_kernel.py) against the same maths in torch operations
    # (HOGLayer._cells, the path other devices take): values and gradients in float64, including
    # frames whose size is not a multiple of the cell (border pixels outside every cell).
    layer = HOGLayer(cell=cell).double()
    grey = torch.rand(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    weights = torch.randn(shape[0], 9, shape[1] // cell, shape[2] // cell, dtype=torch.float64)
    from mmemotion.models._hog_kernel import hog_cells

    fused = hog_cells(grey, layer.cos2phi, layer.sin2phi, cell)
    reference = layer._cells(grey)
    torch.testing.assert_close(fused, reference, rtol=1e-10, atol=1e-12)
    (g_fused,) = torch.autograd.grad((fused * weights).sum(), grey)
    (g_reference,) = torch.autograd.grad((reference * weights).sum(), grey)
    torch.testing.assert_close(g_fused, g_reference, rtol=1e-9, atol=1e-12)
    small = grey[:1, :8, :8].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: hog_cells(x, layer.cos2phi, layer.sin2phi, 2), (small,))


def test_hog_layer_uses_the_fused_kernel_on_cpu_in_float32():
    layer = HOGLayer(cell=8)
    grey = torch.rand(40, 64, 64, generator=torch.Generator().manual_seed(1))  # split over threads
    from mmemotion.models import _functional_layers

    calls = []
    original = _functional_layers.hog_cells
    try:
        _functional_layers.hog_cells = lambda *a: calls.append(1) or original(*a)
        out = layer(grey)
    finally:
        _functional_layers.hog_cells = original
    assert calls
    cells = layer._cells(grey)
    blocks = torch.cat([cells[:, :, :-1, :-1], cells[:, :, 1:, :-1], cells[:, :, :-1, 1:], cells[:, :, 1:, 1:]], dim=1)
    torch.testing.assert_close(out, blocks / torch.sqrt((blocks**2).sum(dim=1, keepdim=True) + 1e-2),
                               rtol=1e-4, atol=1e-6)


def test_reference_frames_as_context_keep_outputs_and_clip_gradients_and_skip_their_own():
    net = ThreeStreamModule(video_shape=(3, 6, 32, 32), modalities=("video",), video_reference_frames=4,
                            n_classes=3).eval()
    video = torch.rand(2, 3, 6, 32, 32, generator=torch.Generator().manual_seed(2), requires_grad=True)
    stream = net.streams["video"]
    out = net(video=video)
    (full,) = torch.autograd.grad(out[:, 0].sum(), video)
    stream.reference_gradients = False
    out_context = net(video=video)
    (context,) = torch.autograd.grad(out_context[:, 0].sum(), video)
    torch.testing.assert_close(out_context, out)
    torch.testing.assert_close(context[:, :, :2], full[:, :, :2])  # the clip's own frames
    assert full[:, :, 2:].abs().sum() > 0 and context[:, :, 2:].abs().sum() == 0
