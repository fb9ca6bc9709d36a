"""In-memory SliceDicts with planted cues, shared by the model tests."""

import numpy as np
from skorch.helper import SliceDict

CLASSES = np.array(["ANG", "HAP", "SAD"])

#: Tiny network settings: the tests check behaviour, not accuracy.
TINY = dict(
    module__audio_widths=(4,),
    module__video_widths=(4,),
    module__text_widths=(4,),
    module__fusion_width=8,
    module__dropout=0.0,
    batch_size=16,
    lr=1e-2,
    max_epochs=2,
    random_state=0,
)


def planted(n=48, *, seed=0, strength=3.0, n_actors=6):
    """Return X (SliceDict audio/video/text), y (string codes), groups (actor ids).

    The label shifts one MFCC row of the audio input, so an audio model can learn it quickly;
    video and text are noise.
    """
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % len(CLASSES)
    audio = rng.normal(size=(n, 1, 6, 8)).astype(np.float32)
    audio[np.arange(n), 0, codes, :] += strength
    video = rng.integers(0, 256, size=(n, 3, 2, 8, 8), dtype=np.uint8)
    text = rng.normal(size=(n, 5)).astype(np.float32)
    groups = 1001 + (np.arange(n) // 3) % n_actors
    return SliceDict(audio=audio, video=video, text=text), CLASSES[codes], groups


#: Tiny media features + network for pipeline-level tests (behaviour, not accuracy).
TINY_PIPELINE = dict(
    n_mfcc=13,
    n_audio_frames=20,
    n_video_frames=4,
    frame_size=(16, 16),
    text_dim=8,
    max_epochs=2,
    batch_size=16,
    lr=1e-2,
    module__audio_widths=(4,),
    module__video_widths=(4,),
    module__text_widths=(4,),
    module__fusion_width=8,
)
