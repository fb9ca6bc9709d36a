"""Tiny hand-made media for the feature tests (faster than the generator; edge cases on demand)."""

import cv2
import numpy as np
import pytest
import soundfile as sf

SR = 16000


def write_wav(path, seconds=0.5, *, sr=SR, channels=1, freq=440.0, subtype="PCM_16"):
    """A sine (plus a little noise) WAV; returns the path as str."""
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(int(freq)).normal(size=t.size)
    data = np.stack([y] * channels, axis=1) if channels > 1 else y
    sf.write(path, data.astype(np.float32), sr, subtype=subtype)
    return str(path)


def write_flv(path, n_frames=12, *, size=(160, 120), shade=0):
    """An FLV1 clip whose frame i has grey level 10 * i + shade (so frame order is visible)."""
    # FFmpeg's tag for Sorenson/FLV1 in FLV is 2; passing it directly avoids OpenCV's warning
    # about the "FLV1" fourcc (seen with opencv-python-headless 5.0).
    writer = cv2.VideoWriter(str(path), 2, 30, size)
    assert writer.isOpened()
    for i in range(n_frames):
        writer.write(np.full((size[1], size[0], 3), min(10 * i + shade, 255), np.uint8))
    writer.release()
    return str(path)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("features_media")


@pytest.fixture(scope="session")
def wavs(media_dir):
    """Four short mono 16 kHz WAVs with different pitches."""
    return [write_wav(media_dir / f"tone{i}.wav", 0.4 + 0.1 * i, freq=220.0 * (i + 1)) for i in range(4)]


@pytest.fixture(scope="session")
def flvs(media_dir):
    """Three short FLV1 clips of different lengths and brightness."""
    return [write_flv(media_dir / f"clip{i}.flv", 10 + 4 * i, shade=20 * i) for i in range(3)]


@pytest.fixture(scope="session")
def bad_media(media_dir, wavs, flvs):
    """Paths that must fail cleanly: kind -> path."""
    d = media_dir / "bad"
    d.mkdir()
    (d / "empty.wav").write_bytes(b"")
    (d / "empty.flv").write_bytes(b"")
    good_wav = open(wavs[0], "rb").read()
    (d / "corrupt.wav").write_bytes(good_wav[:44] + b"\x00" * 0)  # header only, promises data
    (d / "garbage.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk" * 10)
    (d / "notes.txt").write_text("this is not audio\n" * 50)
    good_flv = open(flvs[2], "rb").read()
    (d / "corrupt.flv").write_bytes(good_flv[:13] + bytes(range(256)) * 8)
    (d / "notes.flv").write_text("this is not a video\n" * 50)
    return {
        "missing": str(d / "missing.wav"),
        "empty_wav": str(d / "empty.wav"),
        "empty_flv": str(d / "empty.flv"),
        "corrupt_wav": str(d / "corrupt.wav"),
        "garbage_wav": str(d / "garbage.wav"),
        "text_as_audio": str(d / "notes.txt"),
        "corrupt_flv": str(d / "corrupt.flv"),
        "text_as_video": str(d / "notes.flv"),
        "missing_flv": str(d / "missing.flv"),
    }
