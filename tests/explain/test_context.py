"""Reference observations as unattributed context: per-clip baselines, own part and context."""

import numpy as np
import torch

from mmemotion.explain._attribution import GRADIENT_METHODS, PositionalForward, integrated_gradients, shap_gradient
from mmemotion.explain._context import OwnPart, speaker_baselines


def test_speaker_baselines_measure_the_clip_against_the_speakers_reference_frames():
    torch.manual_seed(0)
    # Two clips of 2 own frames + 4 appended reference frames (time axis 1 of a sample).
    video = torch.rand(2, 3, 6, 4, 4)
    audio = torch.rand(2, 1, 5, 7)
    shared = (torch.zeros(1, 1, 5, 7), torch.zeros(1, 3, 6, 4, 4))
    audio_base, video_base = speaker_baselines(shared, (audio, video), ("audio", "video"), {"video": (1, 4)})
    assert audio_base is shared[0]  # other modalities keep their shared baseline
    assert video_base.shape == video.shape
    torch.testing.assert_close(video_base[:, :, 2:], video[:, :, 2:])  # reference kept
    torch.testing.assert_close(video_base[:, :, :2], video[:, :, [2, 5]])  # reference frames as the clip

    def forward(a, v):  # any differentiable model of both inputs
        return torch.stack([(v[:, :, :2] - v[:, :, 2:].mean(2, keepdim=True)).square().sum((1, 2, 3, 4)),
                            a.sum((1, 2, 3))], dim=1)

    attr, _ = integrated_gradients(forward, (audio, video), (audio_base, video_base), torch.tensor([0, 0]),
                                   n_steps=16, internal_batch_size=2)
    assert np.abs(attr[1][:, :, 2:]).max() == 0  # the reference frames get no attribution
    assert np.abs(attr[1][:, :, :2]).sum() > 0


def test_reference_frames_ride_as_context_and_every_method_attributes_the_clips_own_frames():
    torch.manual_seed(0)
    # Two clips of 2 own frames + 4 appended reference frames (time axis 1 of a sample); the
    # output couples the clip's frames with its own reference frames.
    video = torch.rand(2, 3, 6, 4, 4)
    audio = torch.rand(2, 1, 5, 7)

    class Net(torch.nn.Module):
        def forward(self, audio=None, video=None):
            own, reference = video[:, :, :2], video[:, :, 2:].mean(2, keepdim=True)
            return torch.stack([(own * reference).sum((1, 2, 3, 4)), audio.sum((1, 2, 3))], dim=1)

    modalities, appended = ("audio", "video"), {"video": (1, 4)}
    shared = (torch.zeros(1, 1, 5, 7), torch.zeros(1, 3, 6, 4, 4))
    baselines = speaker_baselines(shared, (audio, video), modalities, appended)
    split = OwnPart(modalities, appended)
    own_inputs, context, own_baselines = split.own((audio, video)), split.context((audio, video)), split.own(baselines)
    assert own_inputs[1].shape == (2, 3, 2, 4, 4) and context[0].shape == (2, 3, 4, 4, 4)
    full, with_context = PositionalForward(Net(), modalities), PositionalForward(Net(), modalities, context_dims=split.context_dims)
    torch.testing.assert_close(with_context(*own_inputs, *context), full(audio, video))

    target = torch.tensor([0, 0])
    kw = dict(n_steps=16, internal_batch_size=2)
    expected, _ = integrated_gradients(full, (audio, video), baselines, target, **kw)
    attr, _ = integrated_gradients(with_context, own_inputs, own_baselines, target, context=context, **kw)
    np.testing.assert_allclose(attr[1], expected[1][:, :, :2], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(attr[0], expected[0], rtol=1e-5, atol=1e-7)

    # Expected gradients with one background clip: the output is linear in the clip's own frames
    # with its reference mean as slope, so each clip's attribution is exactly
    # (own - background own) * own reference mean -- only if every draw read that clip's context.
    background = split.own((torch.rand(1, 1, 5, 7), torch.rand(1, 3, 6, 4, 4)))
    slope = context[0].mean(2, keepdim=True).numpy()
    exact = (own_inputs[1] - background[1]).numpy() * slope
    values = shap_gradient(with_context, own_inputs, target, background=background, n_draws=4, seed=0,
                           batch_size=4, context=context)
    np.testing.assert_allclose(values[1], exact, rtol=1e-4, atol=1e-6)
    gradient_shap = GRADIENT_METHODS["gradient_shap"](with_context, own_inputs, own_baselines, target,
                                                      background=background, n_draws=4, seed=0, context=context)
    np.testing.assert_allclose(gradient_shap[1], exact, rtol=1e-4, atol=1e-6)
    assert with_context.bound is None
