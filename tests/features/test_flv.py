"""flv_frame_count: an FLV's video frames counted from its tag headers (issue 13, one decoding pass)."""

import cv2
import numpy as np

from mmemotion.features import FrameSampler
from mmemotion.features import _frames
from mmemotion.features._flv import flv_frame_count

from .conftest import write_flv

_HEADER = b"FLV\x01\x05\x00\x00\x00\x09" + b"\x00\x00\x00\x00"  # audio + video, then PreviousTagSize0


def _tag(kind, data):
    """One FLV tag: type, data size, timestamp, stream id, data, PreviousTagSize."""
    return (bytes([kind]) + len(data).to_bytes(3, "big") + b"\x00" * 7 + data
            + (11 + len(data)).to_bytes(4, "big"))


def _video(first_byte, rest=b"\x00" * 20):
    return _tag(9, bytes([first_byte]) + rest)


def _audio():
    return _tag(8, b"\x2f" + b"\xff" * 30)  # MP3


def test_counts_video_frames_only(tmp_path):
    sorenson = [_video(0x12), _audio(), _video(0x22), _audio(), _tag(18, b"\x02" * 40), _video(0x22),
                _video(0x52)]  # key frame, inter frames, a video info/command tag (not a frame)
    path = tmp_path / "spark.flv"
    path.write_bytes(_HEADER + b"".join(sorenson))
    assert flv_frame_count(path) == 3
    avc = [_video(0x17, b"\x00" + b"\x00" * 10)] + [_video(0x27, b"\x01" + b"\x00" * 10)] * 4 \
        + [_video(0x27, b"\x02" + b"\x00" * 10)]  # sequence header, 4 frames, end of sequence
    (tmp_path / "avc.flv").write_bytes(_HEADER + b"".join(avc))
    assert flv_frame_count(tmp_path / "avc.flv") == 4


def test_unknown_layouts_and_files_give_none(tmp_path):
    (tmp_path / "hevc.flv").write_bytes(_HEADER + _video(0x1C))  # codec 12
    (tmp_path / "enhanced.flv").write_bytes(_HEADER + _video(0x91))  # extended header bit
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40)
    for name in ("hevc.flv", "enhanced.flv", "clip.mp4", "missing.flv"):
        assert flv_frame_count(tmp_path / name) is None, name


def test_a_cut_tag_is_not_counted(tmp_path):
    data = _HEADER + _video(0x12) + _audio() + _video(0x22)
    path = tmp_path / "cut.flv"
    path.write_bytes(data[:-10])
    assert flv_frame_count(path) == 1


def test_agrees_with_the_decoder_on_written_clips(tmp_path, synthetic_root):
    paths = [write_flv(tmp_path / f"v{n}.flv", n) for n in (1, 5, 21)]
    paths += [str(p) for p in sorted((synthetic_root / "VideoFlash").glob("*.flv"))[:3]]
    for path in paths:
        cap, decoded = cv2.VideoCapture(path), 0
        while cap.grab():
            decoded += 1
        assert flv_frame_count(path) == decoded, path


class _OverstatingCounter:
    """A capture that reports one frame more than the clip holds (as FFmpeg does for CREMA-D's
    FLV files with MP3 audio) and counts its retrievals."""

    def __init__(self, cap, retrieved):
        self._cap, self._retrieved = cap, retrieved

    def get(self, prop):
        value = self._cap.get(prop)
        return value + 1 if prop == cv2.CAP_PROP_FRAME_COUNT else value

    def retrieve(self, *args):
        self._retrieved.append(1)
        return self._cap.retrieve(*args)

    def __getattr__(self, name):
        return getattr(self._cap, name)


def test_an_flv_is_sampled_with_no_retrieval_to_spare(tmp_path, monkeypatch):
    path = write_flv(tmp_path / "v.flv", 9)
    retrieved = []
    real_open = _frames._open_video
    monkeypatch.setattr(_frames, "_open_video", lambda p: _OverstatingCounter(real_open(p), retrieved))
    sampler = FrameSampler(n_frames=5, size=(8, 8), dtype=np.uint8)
    out = sampler.fit_transform([path])
    assert len(retrieved) == 5  # frames 0, 2, 4, 6, 8 of 9
    # Planning on the container's count instead retrieves the frames of both counts (9 and 10).
    retrieved.clear()
    monkeypatch.setattr(_frames, "flv_frame_count", lambda p: None)
    np.testing.assert_array_equal(sampler.fit_transform([path]), out)
    assert len(retrieved) == 6
