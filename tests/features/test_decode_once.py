"""Issue 13: FrameSampler decodes each clip once, whatever the crop."""

import os
import threading
import warnings
from pathlib import Path

import cv2
import joblib
import numpy as np
import pandas as pd
import pytest

from mmemotion.features import FaceFallbackWarning, FrameSampler, MediaError, MediaWarning
from mmemotion.features import _frames, _speaker_face
from mmemotion.features._speaker_face import speaker_boxes

# Each clip's own face box (what the patched detector returns), keyed by the clip's frame width,
# which tells the clips apart. Speaker "a": centres (50, 60), (54, 70), (48, 80), side 80, so its
# box is (10, 30, 90, 110); each clip's box grown by a quarter of its side contains it.
_BOXES = {160: (10, 20, 90, 100), 176: (14, 30, 94, 110), 192: (8, 40, 88, 120), 208: (20, 40, 100, 120)}


def _textured_flv(path, width, n_frames=9):
    """A 120-pixel-high FLV1 clip of seeded noise that drifts a pixel per frame."""
    texture = np.random.default_rng(width).integers(0, 256, (120, width + n_frames, 3), dtype=np.uint8)
    texture = cv2.GaussianBlur(texture, (5, 5), 0)  # detail that FLV1 keeps
    writer = cv2.VideoWriter(str(path), 2, 30, (width, 120))
    for i in range(n_frames):
        writer.write(np.ascontiguousarray(texture[:, i:i + width]))
    writer.release()
    return str(path)


class _Overstating:
    """A capture that reports one frame more than the clip holds, as FFmpeg does for FLV files
    whose MP3 audio outlasts the video (CREMA-D-like clips)."""

    def __init__(self, cap):
        self._cap = cap

    def get(self, prop):
        value = self._cap.get(prop)
        return value + 1 if prop == cv2.CAP_PROP_FRAME_COUNT else value

    def __getattr__(self, name):
        return getattr(self._cap, name)


@pytest.fixture
def clips(tmp_path, monkeypatch):
    """Four clips (speakers a, a, a, b) with known per-clip face boxes."""
    monkeypatch.setattr(_frames, "_clip_face_box", lambda frames, **kw: (_BOXES[frames[0].shape[1]], True))
    paths = [_textured_flv(tmp_path / f"clip{w}.flv", w) for w in _BOXES]
    return pd.DataFrame({"video_path": paths, "actor_id": ["a", "a", "a", "b"]})


@pytest.fixture
def opened(monkeypatch):
    """Paths opened for decoding, with the frame count over-stated by one."""
    paths = []
    real = _frames._open_video

    def counting_open(path):
        paths.append(path)
        return _Overstating(real(path))

    monkeypatch.setattr(_frames, "_open_video", counting_open)
    return paths


def _speaker_box_reference(clips, monkeypatch, **params):
    """The two-pass result: every clip cropped (as crop="face" crops) with its speaker's box."""
    widths = [int(Path(p).stem.removeprefix("clip")) for p in clips["video_path"]]
    records = [[*_BOXES[w], 1, 120, w] for w in widths]
    box_of = dict(zip(widths, speaker_boxes(records, clips["actor_id"].tolist())[0]))
    with monkeypatch.context() as m:
        m.setattr(_frames, "_clip_face_box", lambda frames, **kw: (box_of[frames[0].shape[1]], True))
        return FrameSampler(crop="face", **params).fit_transform(clips)


@pytest.mark.parametrize("crop", ["center", "face", "speaker_face", None])
def test_each_clip_is_decoded_once_for_every_crop(clips, opened, crop, monkeypatch):
    # Before issue 13: twice for every crop (the over-stated count forced a second pass), and
    # four times with "speaker_face" (a first pass for the boxes, then one with the box).
    honest = FrameSampler(n_frames=5, size=(16, 16), crop=crop, dtype=np.uint8)
    with monkeypatch.context() as m:
        m.setattr(_frames, "_open_video", lambda path: cv2.VideoCapture(path, cv2.CAP_FFMPEG))
        expected = honest.fit_transform(clips)
    opened.clear()
    out = FrameSampler(n_frames=5, size=(16, 16), crop=crop, dtype=np.uint8).fit_transform(clips)
    assert sorted(opened) == sorted(clips["video_path"])
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_speaker_face_equals_cropping_each_clip_with_its_speakers_box(clips, monkeypatch, n_jobs):
    params = dict(n_frames=5, size=(16, 16), dtype=np.uint8)
    expected = _speaker_box_reference(clips, monkeypatch, **params)
    # Threads, so that the workers see the patched detector.
    with joblib.parallel_config(backend="threading"):
        out = FrameSampler(crop="speaker_face", n_jobs=n_jobs, **params).fit_transform(clips)
    np.testing.assert_array_equal(out, expected)
    # The speaker's box differs from some clips' own boxes, so this is not crop="face".
    assert not np.array_equal(out, FrameSampler(crop="face", **params).fit_transform(clips))


@pytest.mark.parametrize("setting", [(_frames, "_REGION_GROWTH", 0.0), (_speaker_face, "_WAITING_BYTES", 0)])
def test_clips_whose_frames_cannot_wait_are_decoded_again_with_the_box(clips, opened, monkeypatch, setting):
    # No margin around a clip's own box (the speaker's box then reaches outside it for the
    # clips of "a" whose box is not the median) or no memory for waiting frames.
    params = dict(n_frames=5, size=(16, 16), dtype=np.uint8)
    expected = _speaker_box_reference(clips, monkeypatch, **params)
    monkeypatch.setattr(*setting)
    opened.clear()
    out = FrameSampler(crop="speaker_face", **params).fit_transform(clips)
    np.testing.assert_array_equal(out, expected)
    assert 4 < len(opened) <= 8


def test_speaker_face_cache_reads_back_and_follows_new_clips(clips, opened, monkeypatch, tmp_path):
    params = dict(n_frames=5, size=(16, 16), dtype=np.uint8, memory=tmp_path / "cache")
    first = FrameSampler(crop="speaker_face", **params).fit_transform(clips)
    opened.clear()
    again = FrameSampler(crop="speaker_face", **params).fit_transform(clips)
    assert opened == [] and np.array_equal(again, first)
    # Clip 176 moves to speaker "b": both speakers' boxes change; each clip is decoded at most
    # once, its box record coming from the cache.
    moved = clips.assign(actor_id=["a", "b", "a", "b"])
    out = FrameSampler(crop="speaker_face", **params).fit_transform(moved)
    assert len(opened) == len(set(opened))
    params.pop("memory")
    np.testing.assert_array_equal(out, _speaker_box_reference(moved, monkeypatch, **params))


def test_speaker_face_reports_unreadable_clips_like_every_crop(clips, tmp_path):
    bad = tmp_path / "notes.flv"
    bad.write_text("this is not a video\n" * 50)
    frame = pd.concat([clips, pd.DataFrame({"video_path": [str(bad)], "actor_id": ["a"]})], ignore_index=True)
    sampler = FrameSampler(n_frames=3, size=(8, 8), crop="speaker_face", dtype=np.uint8)
    with pytest.raises(MediaError, match=r"FrameSampler.*on_error='zero'") as info:
        sampler.fit_transform(frame)
    assert info.value.source == str(bad)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = sampler.set_params(on_error="zero").fit_transform(frame)
    media = [w for w in record if issubclass(w.category, MediaWarning)]
    assert len(media) == 1 and "1 of 5 files" in str(media[0].message) and str(bad) in str(media[0].message)
    assert not any(issubclass(w.category, FaceFallbackWarning) for w in record)
    assert not out[4].any() and out[:4].any(axis=1).all()


def _plain_extract_one(self, item):
    """Decode, then crop and resize every frame (the path without a helper thread)."""
    frames, order = self._sample(os.fspath(item))
    box = _frames._centre_box(*frames[order[0]].shape[:2]) if self.crop == "center" else None
    return self._stack(frames, order, box)


@pytest.mark.parametrize("crop", ["center", None])
def test_frames_are_cropped_beside_the_decoding_when_the_box_is_known(clips, opened, crop, monkeypatch):
    # The centre box and the whole frame are known before decoding: each frame is cropped and
    # resized in the decoding thread's helper thread while the next ones decode. Same output as
    # finishing them after the pass (the over-stated count of `opened` hands over frames that
    # are then not used).
    reference = FrameSampler(n_frames=5, size=(16, 16), crop=crop, dtype=np.uint8)
    finished_in = []
    real_finish = FrameSampler._finish

    def finish(self, frame, box):
        finished_in.append(threading.current_thread().name)
        return real_finish(self, frame, box)

    with monkeypatch.context() as m:
        m.setattr(FrameSampler, "_extract_one", _plain_extract_one)
        expected = reference.fit_transform(clips)
    monkeypatch.setattr(FrameSampler, "_finish", finish)
    out = FrameSampler(n_frames=5, size=(16, 16), crop=crop, dtype=np.uint8).fit_transform(clips)
    np.testing.assert_array_equal(out, expected)
    assert len(finished_in) >= 4 * 5 and all(name.startswith("mmemotion-frames") for name in finished_in)


def test_a_forked_process_starts_its_own_helper_thread(tmp_path):
    # A child forked after the helper started inherits the executor but not its thread; frames
    # handed to it would never be finished. (Linux's default start method for multiprocessing.)
    import multiprocessing

    path = _textured_flv(tmp_path / "clip.flv", 160)
    sampler = FrameSampler(n_frames=3, size=(8, 8), dtype=np.uint8).fit([path])
    expected = sampler.transform([path])  # starts this thread's helper
    with multiprocessing.get_context("fork").Pool(1) as pool:
        out = pool.apply_async(sampler.transform, ([path],)).get(timeout=20)
    np.testing.assert_array_equal(out, expected)
