"""FrameSampler(crop="face") on real faces (issue 13): dlib's detector first, heuristic fallback."""

import sys
import warnings

import cv2
import numpy as np
import pandas as pd
import pytest

from mmemotion.features import FrameSampler, face_box
from mmemotion.features import _face_box, _face_detect, _frames
from mmemotion.features import FaceFallbackWarning

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the test extra")

# Hand-marked on skimage.data.astronaut() (512x512), forehead (hairline) to chin and cheek to
# cheek, as (y0, x0, y1, x1).
ASTRONAUT_FACE = (70, 180, 190, 272)


def _iou(a, b):
    iy = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ix = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iy * ix
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _write(path, frames):
    writer = cv2.VideoWriter(str(path), 2, 30, (frames[0].shape[1], frames[0].shape[0]))  # 2: FLV1
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return str(path)


def _photo_clip(path, background, scale, n_frames=12):
    """A 480x360 FLV of the astronaut (face ~``120 * scale`` px high) moving by a few pixels on
    a plain or busy background; returns (path, the true face box averaged over the frames)."""
    portrait = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    if background == "plain":
        base, crop = np.full((360, 480, 3), (150, 160, 170), np.uint8), (0, 110, 330, 350)
    else:  # head and shoulders on a cluttered photograph (the heuristic returned the whole frame)
        base = cv2.resize(cv2.cvtColor(skimage_data.coffee(), cv2.COLOR_RGB2BGR), (480, 360), interpolation=cv2.INTER_AREA)
        crop = (20, 140, 320, 310)
    y0, x0, y1, x1 = crop
    part = cv2.resize(portrait[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frames, boxes = [], []
    for t in range(n_frames):
        py, px = 15 + int(round(3 * np.sin(t / 2))), 135 + int(round(4 * np.cos(t / 3)))
        frame = base.copy()
        h, w = min(part.shape[0], 360 - py), min(part.shape[1], 480 - px)
        frame[py:py + h, px:px + w] = part[:h, :w]
        frames.append(frame)
        fy0, fx0, fy1, fx1 = ASTRONAUT_FACE
        boxes.append((py + (fy0 - y0) * scale, px + (fx0 - x0) * scale, py + (fy1 - y0) * scale, px + (fx1 - x0) * scale))
    return _write(path, frames), tuple(np.mean(boxes, axis=0))


def _sampled(path, n):
    """The ``n`` evenly spaced frames (BGR, full size) that FrameSampler(n_frames=n) samples."""
    cap, frames = cv2.VideoCapture(path), []
    while (got := cap.read())[0]:
        frames.append(got[1])
    return [frames[i] for i in np.linspace(0, len(frames) - 1, n).round().astype(int)]


@pytest.fixture
def boxes_used(monkeypatch):
    """The (box, detected) pairs FrameSampler computes, in order (sequential extraction)."""
    seen = []
    real = _frames._clip_face_box

    def spy(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(_frames, "_clip_face_box", spy)
    return seen


@pytest.mark.parametrize("background", ["plain", "busy"])
@pytest.mark.parametrize("scale", [0.85, 1.15])  # face ~102 and ~138 px high
def test_crop_box_covers_a_real_face(tmp_path, boxes_used, background, scale):
    path, truth = _photo_clip(tmp_path / "astronaut.flv", background, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FaceFallbackWarning)  # the detector must find this face
        FrameSampler(crop="face").fit_transform([path])
    (box, detected), = boxes_used
    assert detected and _iou(box, truth) >= 0.5, (box, truth)


def test_no_face_falls_back_to_the_heuristic_and_is_counted(tmp_path, boxes_used):
    face, _ = _photo_clip(tmp_path / "face.flv", "plain", 1.0)
    cup = cv2.resize(cv2.cvtColor(skimage_data.coffee(), cv2.COLOR_RGB2BGR), (480, 360))
    no_face = _write(tmp_path / "coffee.flv", [np.roll(cup, 2 * t, axis=1) for t in range(8)])
    sampler = FrameSampler(n_frames=4, size=(16, 16), crop="face")
    with pytest.warns(FaceFallbackWarning, match=r"no face in 1 of 2 clips.*coffee\.flv") as caught:
        sampler.fit_transform([face, no_face])
    assert "face.flv" not in str(caught[0].message).split("heuristic instead:")[1]
    (_, found), (box, detected) = boxes_used
    assert found and not detected
    assert box == face_box(_sampled(no_face, 4), detect=False)  # the frames FrameSampler kept


def test_fallbacks_are_counted_from_worker_processes(tmp_path):
    # With n_jobs=2 (loky) the boxes are found in other processes; the count must still arrive.
    cup = cv2.resize(cv2.cvtColor(skimage_data.coffee(), cv2.COLOR_RGB2BGR), (160, 120))
    paths = [_write(tmp_path / f"empty{i}.flv", [np.roll(cup, i + t, axis=0) for t in range(6)]) for i in range(3)]
    sampler = FrameSampler(n_frames=3, size=(8, 8), crop="face", n_jobs=2)
    with pytest.warns(FaceFallbackWarning, match="no face in 3 of 3 clips"):
        sampler.fit_transform(paths)
    assert not hasattr(sampler, "_face_token") and not _face_box._ledger  # nothing left behind


@pytest.mark.parametrize("realism", ["toy", "realistic"])
def test_drawn_faces_still_get_a_face_crop(tmp_path, realism):
    # Drawn faces: the detector finds many toy faces, fewer realistic ones; the rest fall back.
    from mmemotion.datasets import make_synthetic_crema_d

    make_synthetic_crema_d(tmp_path, n_actors=2, clips_per_actor=3, duration=(0.8, 1.0), random_state=0,
                           realism=realism, verbose=False)
    truth = pd.read_csv(tmp_path / "synthetic_truth.csv")
    ious = []
    for row in truth.itertuples():
        box = face_box(_sampled(str(tmp_path / "VideoFlash" / f"{row.clip_id}.flv"), 16))
        ious.append(_iou(box, (row.face_y0, row.face_x0, row.face_y1, row.face_x1)))
    # bench_face_crop.py, 24 clips: toy mean 0.68 (min 0.57), realistic 0.57 (min 0.24).
    assert np.mean(ious) > 0.45, np.round(ious, 2)


def test_detect_faces_on_a_blank_frame_finds_nothing():
    boxes, scores = _face_detect.detect_faces(np.zeros((120, 160, 3), np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    assert _face_detect.detected_face_box([np.zeros((120, 160, 3), np.uint8)] * 3) is None


def test_missing_dlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib -> ImportError
    monkeypatch.setattr(_face_detect, "_local", type(_face_detect._local)())
    with pytest.raises(ImportError, match=r"crop='face'.*pip install dlib-bin.*crop='center'"):
        _face_detect.detect_faces(np.zeros((8, 8, 3), np.uint8))
    # Raised by fit, before any file is read (with on_error="zero" every row would be zeroed).
    with pytest.raises(ImportError, match="pip install dlib-bin"):
        FrameSampler(crop="face", on_error="zero").fit(["no_such_file.flv"])
