"""FrameSampler(crop="speaker_face"): one crop box per speaker."""

import warnings

import cv2
import numpy as np
import pandas as pd
import pytest

from mmemotion.features import FaceFallbackWarning, FrameSampler
from mmemotion.features import _frames
from mmemotion.features._speaker_face import BoxedPath, BoxKeyedCache, speaker_boxes


def _ramp_flv(path, shade):
    """A 160x120 FLV1 clip whose pixel value grows with the column (x / 2 + shade, grey), so
    the mean of a crop tells which columns it covers; ``shade`` tells the clips apart."""
    writer = cv2.VideoWriter(str(path), 2, 30, (160, 120))
    ramp = np.tile((np.arange(160) // 2 + shade).clip(0, 255).astype(np.uint8), (120, 1))
    for _ in range(6):
        writer.write(np.repeat(ramp[:, :, None], 3, axis=2))
    writer.release()
    return str(path)


# Per-clip boxes the patched detector returns, keyed by the clip's shade: three clips of one
# speaker whose own boxes drift left to right, all "detected".
_CLIP_BOXES = {0: ((0, 0, 60, 60), True), 40: ((0, 10, 60, 70), True), 80: ((0, 40, 60, 100), True)}


def _fake_clip_face_box(frames, **kwargs):
    shade = int(round(frames[0][:, :2].mean() / 10)) * 10
    return _CLIP_BOXES[shade]


@pytest.fixture
def ramps(tmp_path, monkeypatch):
    monkeypatch.setattr(_frames, "_clip_face_box", _fake_clip_face_box)
    paths = [_ramp_flv(tmp_path / f"c{shade}.flv", shade) for shade in _CLIP_BOXES]
    return pd.DataFrame({"video_path": paths, "actor_id": ["a", "a", "a"]})


def _columns_covered(out, sampler, shades):
    """Mean column index of each clip's crop, from the ramp's values."""
    frames = out.reshape(len(out), *sampler.output_shape_).astype(float)
    return [2 * (f.mean() - shade) for f, shade in zip(frames, shades)]


def test_every_clip_of_a_speaker_gets_the_speakers_median_box(ramps):
    shades = list(_CLIP_BOXES)
    per_clip = FrameSampler(n_frames=2, size=(8, 8), crop="face", dtype=np.uint8)
    per_speaker = FrameSampler(n_frames=2, size=(8, 8), crop="speaker_face", dtype=np.uint8)
    clip_cols = _columns_covered(per_clip.fit_transform(ramps), per_clip, shades)
    speaker_cols = _columns_covered(per_speaker.fit_transform(ramps), per_speaker, shades)
    # Own boxes: columns 0-60, 10-70, 40-100 (centres 30, 40, 70). Speaker box: median centre
    # 40, median side 60, so columns 10-70 for every clip.
    # (FLV1's lossy coding shifts the values, so positions are compared with each other.)
    np.testing.assert_allclose(np.subtract(clip_cols, clip_cols[0]), [0, 10, 40], atol=2)
    np.testing.assert_allclose(speaker_cols, [clip_cols[1]] * 3, atol=1)


def test_speaker_box_follows_the_clips_transformed_and_the_cache_keeps_them_apart(ramps, tmp_path):
    sampler = FrameSampler(n_frames=2, size=(8, 8), crop="speaker_face", dtype=np.uint8, memory=tmp_path / "cache")
    shades = list(_CLIP_BOXES)
    together = _columns_covered(sampler.fit_transform(ramps), sampler, shades)
    # Each clip its own speaker now: each keeps its own box, and the cached crops made with the
    # shared box are not reused.
    alone = ramps.assign(actor_id=["a", "b", "c"])
    apart = _columns_covered(sampler.transform(alone), sampler, shades)
    np.testing.assert_allclose(together, [together[1]] * 3, atol=1)
    np.testing.assert_allclose(np.subtract(apart, together[1]), [-10, 0, 30], atol=2)
    # A clip without a speaker is its own speaker.
    missing = _columns_covered(sampler.transform(ramps.assign(actor_id=[np.nan, "a", "a"])), sampler, shades)
    np.testing.assert_allclose(missing[0], apart[0], atol=1)


def test_speaker_boxes_prefer_detected_boxes_and_name_undetected_speakers():
    records = np.array([
        [0, 0, 50, 50, 1, 100, 200],  # a, detected
        [0, 20, 50, 70, 1, 100, 200],  # a, detected
        [40, 100, 100, 160, 0, 100, 200],  # a, heuristic: ignored, the detector found a's face elsewhere
        [10, 10, 30, 30, 0, 100, 200],  # b, heuristic only
        [0, 0, 0, 0, 0, 0, 0],  # unreadable clip of b: no box, not counted
    ])
    boxes, undetected = speaker_boxes(records, ["a", "a", "a", "b", "b"])
    assert boxes[:3] == [(0, 10, 50, 60)] * 3
    assert boxes[3] == (10, 10, 30, 30) and boxes[4] == (0, 0, 0, 0)
    assert undetected == ["b"]


def test_speakers_without_a_detected_face_are_named_in_one_warning(ramps, monkeypatch):
    monkeypatch.setitem(_CLIP_BOXES, 80, ((0, 40, 60, 100), False))
    frame = ramps.assign(actor_id=["a", "a", "quiet actor"])
    with pytest.warns(FaceFallbackWarning, match=r"any clip of 1 of 2 speakers \(quiet actor\)"):
        FrameSampler(n_frames=2, size=(8, 8), crop="speaker_face").fit_transform(frame)


@pytest.mark.parametrize("X", [["a.flv"], pd.DataFrame({"video_path": ["a.flv"]})])
def test_speaker_face_needs_the_speaker_column(X):
    with pytest.raises(ValueError, match=r"speaker_face.*'actor_id'"):
        FrameSampler(crop="speaker_face").fit_transform(X)


def test_the_cache_key_includes_the_box(tmp_path):
    path = tmp_path / "clip.flv"
    path.write_bytes(b"x")
    cache = BoxKeyedCache(tmp_path, "FrameSampler", {})
    keys = {cache.key(str(path)), cache.key(BoxedPath(str(path), (0, 0, 5, 5))), cache.key(BoxedPath(str(path), (0, 1, 5, 6)))}
    assert len(keys) == 3


def test_a_real_face_is_cropped_alike_in_every_clip(tmp_path):
    """On a real photograph that moves by a few pixels between clips (the astronaut portrait),
    per-clip boxes jitter with the detector while the speaker's clips share one box."""
    skimage_data = pytest.importorskip("skimage.data")
    face = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)[:300, 60:360]
    paths = []
    for k, dx in enumerate((0, 6, 12)):
        canvas = np.full((360, 480, 3), 90, np.uint8)
        canvas[30:330, 90 + dx:390 + dx] = face
        writer = cv2.VideoWriter(str(tmp_path / f"m{k}.flv"), 2, 30, (480, 360))
        for _ in range(4):
            writer.write(canvas)
        writer.release()
        paths.append(str(tmp_path / f"m{k}.flv"))
    frame = pd.DataFrame({"video_path": paths, "actor_id": ["x"] * 3})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FaceFallbackWarning)  # dlib finds this face in every clip
        shared = FrameSampler(n_frames=2, size=(32, 32), crop="speaker_face", dtype=np.uint8).fit_transform(frame)
        own = FrameSampler(n_frames=2, size=(32, 32), crop="face", dtype=np.uint8).fit_transform(frame)
    finder = _frames.FaceBoxes(n_frames=2)
    finder.output_shape_ = (7,)
    records = finder._extract_all(paths)
    assert (records[:, 4] == 1).all()  # detected, not guessed, in every clip

    def drift(out):  # mean absolute change between the first and the last clip's crops
        return np.abs(out[0].astype(float) - out[2].astype(float)).mean()

    # Per-clip boxes follow the face (in dlib's coarse steps), so its crops change less; the
    # shared box stays put and the face moves 12 pixels inside it.
    assert drift(shared) > 1.2 * drift(own)


def test_the_protocol_text_says_the_face_box_is_per_speaker(ramps):
    from mmemotion.features import ModalityUnion

    union = ModalityUnion([("video", FrameSampler(n_frames=2, size=(8, 8), crop="speaker_face"))]).fit(ramps)
    assert "video: all of a speaker's clips cropped with one face box" in union.describe_speaker_norm()
    union = ModalityUnion([("video", FrameSampler(n_frames=2, size=(8, 8), crop="face"))]).fit(ramps)
    assert "face box" not in union.describe_speaker_norm()
