import cv2
import numpy as np
import pandas as pd
import pytest

from mmemotion.features import FrameSampler, MediaError, face_box
from mmemotion.features import _frames

from .conftest import write_flv


def _grey_levels(sampler, path):
    """Mean grey level of each sampled frame (write_flv makes frame i grey 10 * i)."""
    out = sampler.fit_transform([path]).reshape(sampler.output_shape_)
    return out.mean(axis=(0, 2, 3)) * (255 if out.dtype != np.uint8 else 1)


def test_evenly_spaced_frames_in_order(tmp_path):
    path = write_flv(tmp_path / "v.flv", 25)
    levels = _grey_levels(FrameSampler(n_frames=5, size=(8, 8)), path)
    # frames 0, 6, 12, 18, 24 -> grey 0, 60, 120, 180, 240 (FLV1 is lossy: a few levels off)
    np.testing.assert_allclose(levels, [0, 60, 120, 180, 240], atol=6)


def test_shorter_than_n_frames_repeats_frames(tmp_path):
    path = write_flv(tmp_path / "short.flv", 3)
    levels = _grey_levels(FrameSampler(n_frames=7, size=(8, 8)), path)
    assert np.allclose(levels[:2], levels[0], atol=1) and levels[-1] > levels[0] + 15
    assert np.all(np.diff(levels) >= -1)  # non-decreasing: nearest frames in time order


class _LyingCapture:
    """Wraps a real capture but reports a wrong CAP_PROP_FRAME_COUNT."""

    def __init__(self, cap, reported):
        self._cap, self._reported = cap, reported

    def get(self, prop):
        return self._reported if prop == cv2.CAP_PROP_FRAME_COUNT else self._cap.get(prop)

    def __getattr__(self, name):
        return getattr(self._cap, name)


@pytest.mark.parametrize("reported, passes", [(0, 1), (-1, 1), (15, 1), (22, 1), (23, 2), (40, 2), (100, 2)])
def test_wrong_frame_count(tmp_path, monkeypatch, reported, passes):
    # Unknown count (0, -1): counted while grabbing, one pass. Under-stated (15): frames after
    # it are not read, one pass. Over-stated by one (22, as FLV with MP3 audio): the frames of
    # both counts are retrieved, one pass. Further over-stated (23, 40, 100): a second pass
    # with the true count.
    path = write_flv(tmp_path / "v.flv", 21)
    opened, grabs = [], []
    # As for a container whose frames cannot be counted from its headers (FLV's can: test_flv.py).
    monkeypatch.setattr(_frames, "flv_frame_count", lambda p: None)

    def lying_open(p):
        cap = _LyingCapture(cv2.VideoCapture(p), reported)
        real_grab = cap._cap.grab
        cap.grab = lambda: grabs.append(1) or real_grab()
        opened.append(p)
        return cap

    monkeypatch.setattr(_frames, "_open_video", lying_open)
    levels = _grey_levels(FrameSampler(n_frames=5, size=(8, 8)), path)
    assert len(opened) == passes and len(grabs) <= passes * 22  # sequential, no seeking
    last = 10 * (min(reported, 21) - 1) if reported > 0 else 200
    assert levels[0] < 8 and abs(levels[-1] - last) < 8
    assert np.all(np.diff(levels) > 15)  # 5 distinct frames in time order


def test_truncated_file_uses_the_frames_that_decode(flvs, tmp_path):
    data = open(flvs[2], "rb").read()
    cut = tmp_path / "cut.flv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    cap = cv2.VideoCapture(str(cut))
    reported = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    real = 0
    while cap.grab():
        real += 1
    assert 0 < real < reported  # the container over-states the count
    out = FrameSampler(n_frames=6, size=(8, 8)).fit_transform([str(cut)])
    assert np.isfinite(out).all() and out.max() > 0


def test_output_scaling_dtype_and_grey(flvs):
    f = FrameSampler(n_frames=4, size=(10, 12)).fit_transform(flvs)
    u = FrameSampler(n_frames=4, size=(10, 12), dtype=np.uint8).fit_transform(flvs)
    g = FrameSampler(n_frames=4, size=(10, 12), color=False).fit(flvs)
    assert f.dtype == np.float32 and 0 <= f.min() and f.max() <= 1
    assert u.dtype == np.uint8 and u.max() > 1
    np.testing.assert_allclose(f, u / 255, atol=1e-6)
    assert g.output_shape_ == (1, 4, 10, 12) and g.transform(flvs).shape == (3, 480)
    names = g.get_feature_names_out()
    assert names[0] == "grey_t0_y0_x0" and names[-1] == "grey_t3_y9_x11"


def test_crops(tmp_path):
    # A bright square on the right half: the centre crop of a 160x120 frame is columns 20..140.
    path = tmp_path / "sq.flv"
    writer = cv2.VideoWriter(str(path), 2, 30, (160, 120))
    for _ in range(6):
        frame = np.zeros((120, 160, 3), np.uint8)
        frame[:, 150:] = 255
        writer.write(frame)
    writer.release()
    full = FrameSampler(n_frames=2, size=(16, 16), crop=None).fit_transform([str(path)])
    centre = FrameSampler(n_frames=2, size=(16, 16), crop="center").fit_transform([str(path)])
    assert full.max() > 0.5 and centre.max() < 0.1


def _synthetic_frames(path, step=5):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames[::step]
        frames.append(frame)


def test_face_box_finds_the_synthetic_faces(synthetic_root):
    truth = pd.read_csv(synthetic_root / "synthetic_truth.csv").iloc[::7]
    covered, areas = [], []
    for row in truth.itertuples():
        y0, x0, y1, x1 = face_box(_synthetic_frames(synthetic_root / "VideoFlash" / f"{row.clip_id}.flv"))
        iy = max(0, min(y1, row.face_y1) - max(y0, row.face_y0))
        ix = max(0, min(x1, row.face_x1) - max(x0, row.face_x0))
        covered.append(iy * ix / ((row.face_y1 - row.face_y0) * (row.face_x1 - row.face_x0)))
        areas.append((y1 - y0) * (x1 - x0) / (360 * 480))
    # The box holds (nearly) the whole face yet is much smaller than the frame. The heuristic
    # is not perfect: on an actor in front of a skin-toned wall it can cut part of the face.
    covered, areas = np.array(covered), np.array(areas)
    assert np.median(covered) > 0.9 and np.mean(covered > 0.6) >= 0.8, covered.round(2)
    assert np.median(areas) < 0.4 and areas.max() < 0.75, areas.round(2)


def test_face_box_falls_back_to_centre_on_a_blank_video():
    frames = [np.full((90, 120, 3), 128, np.uint8)] * 3
    assert face_box(frames) == (0, 15, 90, 105)


def test_face_crop_in_the_sampler(synthetic_root):
    path = str(next((synthetic_root / "VideoFlash").glob("*.flv")))
    sampler = FrameSampler(n_frames=4, size=(32, 32), crop="face").fit([path])
    assert sampler.transform([path]).shape == (1, 3 * 4 * 32 * 32)


@pytest.mark.parametrize("kind", ["empty_flv", "corrupt_flv", "text_as_video", "missing_flv"])
def test_unreadable_video_is_a_clear_error(bad_media, kind):
    path = bad_media[kind]
    with pytest.raises(MediaError, match=r"FrameSampler.*on_error='zero'") as info:
        FrameSampler(n_frames=3, size=(8, 8)).fit_transform([path])
    assert str(info.value).startswith(path)
    assert info.value.__cause__ is None  # no decoder traceback chained


def test_one_frame_reads_one_frame_in_one_pass(tmp_path, monkeypatch):
    path = write_flv(tmp_path / "v.flv", 12, shade=50)
    opened = []
    real_open = _frames._open_video
    monkeypatch.setattr(_frames, "_open_video", lambda p: opened.append(p) or real_open(p))
    levels = _grey_levels(FrameSampler(n_frames=1, size=(4, 4)), path)
    assert len(opened) == 1 and abs(levels[0] - 50) < 6


def test_clips_are_decoded_with_one_ffmpeg_thread(tmp_path, monkeypatch):
    # FFmpeg's default of a thread per CPU made each retrieve() of a CREMA-D-like clip 4-8x
    # slower (benchmarks/bench_decode.py); clips are parallelised with n_jobs instead.
    path = write_flv(tmp_path / "v.flv", 6)
    calls = []
    real_capture = cv2.VideoCapture
    monkeypatch.setattr(cv2, "VideoCapture", lambda *args: calls.append(args) or real_capture(*args))
    out = FrameSampler(n_frames=2, size=(4, 4)).fit_transform([path])
    assert out.shape == (1, 3 * 2 * 4 * 4)
    assert len(calls) == 1
    _, backend, params = calls[0]
    assert backend == cv2.CAP_FFMPEG
    assert dict(zip(params[::2], params[1::2])) == {cv2.CAP_PROP_N_THREADS: 1}
