"""load_crema_d(modalities=...): folders that hold only the media some modalities need."""

import shutil

import numpy as np
import pytest

from mmemotion.datasets import load_crema_d


def _copy_without(src, dst, folder):
    shutil.copytree(src, dst)
    shutil.rmtree(dst / folder)
    return dst


@pytest.fixture
def audio_only_root(make_synthetic, tmp_path):
    return _copy_without(make_synthetic(), tmp_path / "audio_only", "VideoFlash")


@pytest.fixture
def video_only_root(make_synthetic, tmp_path):
    return _copy_without(make_synthetic(), tmp_path / "video_only", "AudioWAV")


def test_audio_only_folder_loads_for_audio_and_text(audio_only_root):
    bunch = load_crema_d(audio_only_root)
    assert bunch.modalities == ("audio", "text")
    assert len(bunch.frame) == 24 and bunch.quality.empty
    assert bunch.frame["video_path"].isna().all()
    assert bunch.frame["audio_path"].map(lambda p: p.endswith(".wav")).all()
    assert bunch.frame["duration"].between(0.8, 1.2).all()
    explicit = load_crema_d(audio_only_root, modalities="audio")
    assert explicit.modalities == ("audio",) and len(explicit.frame) == 24


def test_video_only_folder_loads_for_video(video_only_root):
    bunch = load_crema_d(video_only_root)
    assert bunch.modalities == ("video", "text")
    assert len(bunch.frame) == 24 and bunch.frame["audio_path"].isna().all()
    # The duration is the video's when there is no audio.
    assert bunch.frame["duration"].between(0.7, 1.3).all()


def test_asking_for_missing_media_names_the_reason(audio_only_root):
    with pytest.raises(ValueError, match=r"modalities=\('audio', 'video'\).*'unpaired audio': 24"):
        load_crema_d(audio_only_root, modalities=("audio", "video"))


def test_full_folder_for_audio_ignores_broken_and_missing_videos(make_synthetic, tmp_path):
    root = tmp_path / "full"
    shutil.copytree(make_synthetic(), root)
    videos = sorted((root / "VideoFlash").glob("*.flv"))
    videos[0].write_bytes(b"not a video")
    videos[1].unlink()
    orphan = sorted((root / "AudioWAV").glob("*.wav"))[2]
    orphan.unlink()
    with pytest.warns(UserWarning, match="excluded"):
        both = load_crema_d(root)
    assert len(both) and len(both.frame) == 21
    assert set(both.quality["reason"]) == {"unreadable video", "unpaired audio", "unpaired video"}

    with pytest.warns(UserWarning, match="excluded 1 file"):
        audio = load_crema_d(root, modalities=("audio", "text"))
    # Every clip with a WAV is kept; the WAV-less video is listed, the broken one is not needed.
    assert len(audio.frame) == 23
    assert audio.quality["reason"].tolist() == ["unpaired video"]
    assert audio.quality["clip_id"].tolist() == [orphan.stem]
    kept = audio.frame.set_index("clip_id")
    assert kept.loc[videos[0].stem, "video_path"] == str(videos[0])
    assert kept.loc[videos[1].stem, "video_path"] is None


def test_text_only_needs_one_file_of_either_kind(make_synthetic, tmp_path):
    root = tmp_path / "mixed"
    shutil.copytree(make_synthetic(), root)
    wavs = sorted((root / "AudioWAV").glob("*.wav"))
    for wav in wavs[:5]:
        wav.unlink()
    bunch = load_crema_d(root, modalities="text")
    assert len(bunch.frame) == 24 and bunch.quality.empty
    assert bunch.frame["audio_path"].isna().sum() == 5
    assert np.isfinite(bunch.frame["duration"]).all()


@pytest.mark.parametrize("modalities", [(), ("speech",), ["audio", "face"]])
def test_invalid_modalities(synthetic_root, modalities):
    with pytest.raises(ValueError, match="load_crema_d: modalities=.*must be a non-empty subset"):
        load_crema_d(synthetic_root, modalities=modalities)
