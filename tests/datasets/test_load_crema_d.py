"""load_crema_d on synthetic folders: structure, injected defects, sampling, errors, metadata."""

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mmemotion.datasets import EMOTIONS, FRAME_COLUMNS, CremaDQualityWarning, SENTENCES, load_crema_d

DATA = Path(__file__).parent.parent / "data"


def test_bunch_follows_sklearn_conventions(synthetic_bunch, synthetic_root):
    frame = synthetic_bunch.frame
    assert list(frame.columns) == FRAME_COLUMNS
    assert isinstance(frame.index, pd.RangeIndex) and len(frame) == 96
    assert frame["clip_id"].is_monotonic_increasing and frame["clip_id"].is_unique
    assert list(synthetic_bunch.data.columns) == [c for c in FRAME_COLUMNS if c != "emotion"]
    assert synthetic_bunch.feature_names == list(synthetic_bunch.data.columns)
    assert synthetic_bunch.target.name == "emotion"
    assert synthetic_bunch.target.tolist() == frame["emotion"].tolist()
    assert synthetic_bunch.target_names == list(EMOTIONS)
    assert synthetic_bunch.quality.empty and list(synthetic_bunch.quality.columns) == ["clip_id", "path", "reason",
                                                                                         "detail"]
    assert synthetic_bunch.root == synthetic_root.resolve()
    assert "CREMA-D" in synthetic_bunch.DESCR and "96 clips" in synthetic_bunch.DESCR

    for column, folder, suffix in (("audio_path", "AudioWAV", ".wav"), ("video_path", "VideoFlash", ".flv")):
        paths = frame[column].map(Path)
        assert all(p.is_absolute() and p.is_file() and p.parent.name == folder and p.suffix == suffix for p in paths)
        assert (paths.map(lambda p: p.stem) == frame["clip_id"]).all()
    assert frame["actor_id"].dtype == np.int64
    assert (frame["sentence_text"] == frame["sentence"].map(SENTENCES)).all()
    assert frame["age"].notna().all() and set(frame["sex"]) == {"Male", "Female"}
    assert frame["duration"].between(0.8, 1.2).all()
    for column in ("voice_vote", "face_vote", "multimodal_vote"):
        assert all(set(v.split(":")) <= set(EMOTIONS) for v in frame[column])
    # Simulated raters are right most of the time on faces, as real raters are.
    assert (frame["face_vote"] == frame["emotion"]).mean() > 0.4


def test_return_X_y(synthetic_root, synthetic_bunch):
    X, y = load_crema_d(synthetic_root, return_X_y=True)
    pd.testing.assert_frame_equal(X, synthetic_bunch.data)
    pd.testing.assert_series_equal(y, synthetic_bunch.target)


def _write_video(path, n_frames, size=(32, 24), fps=30.0):
    writer = cv2.VideoWriter(str(path), 2, fps, size)
    for i in range(n_frames):
        writer.write(np.full((size[1], size[0], 3), i % 255, np.uint8))
    writer.release()


@pytest.fixture
def defective_root(make_synthetic, tmp_path):
    root = tmp_path / "crema"
    shutil.copytree(make_synthetic(n_actors=2, clips_per_actor=6, duration=0.6), root)
    wav, flv = root / "AudioWAV", root / "VideoFlash"
    stems = sorted(p.stem for p in wav.glob("*.wav"))
    expected = {}
    # Zero-length FLV.
    (flv / f"{stems[0]}.flv").write_bytes(b"")
    expected[stems[0]] = {"empty file"}
    # Silent 0.1 s WAV.
    sf.write(wav / f"{stems[1]}.wav", np.zeros(1600), 16000, subtype="PCM_16")
    expected[stems[1]] = {"audio too short"}
    # Unpaired audio and unpaired video.
    (flv / f"{stems[2]}.flv").unlink()
    expected[stems[2]] = {"unpaired audio"}
    (wav / f"{stems[3]}.wav").unlink()
    expected[stems[3]] = {"unpaired video"}
    # A video container with a header but no frames.
    _write_video(flv / f"{stems[4]}.flv", 0)
    expected[stems[4]] = {"unreadable video", "video has no frames"}
    # A video far shorter than its audio.
    _write_video(flv / f"{stems[5]}.flv", 8)
    expected[stems[5]] = {"audio/video length mismatch"}
    # Names that are not CREMA-D clips.
    shutil.copy(wav / f"{stems[6]}.wav", wav / "holiday_photo.wav")
    expected["holiday_photo"] = {"name does not parse"}
    shutil.copy(wav / f"{stems[6]}.wav", wav / "1001_XYZ_ANG_XX.wav")
    shutil.copy(flv / f"{stems[6]}.flv", flv / "1001_XYZ_ANG_XX.flv")
    expected["1001_XYZ_ANG_XX"] = {"unknown code"}
    # Files the loader must ignore silently.
    (wav / "notes.txt").write_text("not media")
    (wav / f".{stems[7]}.wav").write_bytes(b"hidden")
    # A converted video (.mp4 name) is accepted.
    (flv / f"{stems[8]}.flv").rename(flv / f"{stems[8]}.mp4")
    usable = sorted(set(stems) - set(expected))
    return root, usable, expected


def test_defects_are_excluded_with_reasons(defective_root):
    root, usable, expected = defective_root
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bunch = load_crema_d(root)
    assert bunch.frame["clip_id"].tolist() == usable
    assert bunch.frame["video_path"].str.endswith(".mp4").sum() == 1

    quality = bunch.quality
    assert set(quality["clip_id"]) == set(expected)
    for clip_id, reasons in expected.items():
        rows = quality[quality["clip_id"] == clip_id]
        assert set(rows["reason"]) <= reasons, (clip_id, rows)
        assert all(Path(p).parent.parent == root.resolve() for p in rows["path"])
    assert quality.loc[quality["clip_id"] == "1001_XYZ_ANG_XX", "detail"].str.contains("sentence 'XYZ'").all()
    assert (quality["reason"] == "unknown code").sum() == 2  # both files of the clip

    quality_warnings = [w for w in caught if issubclass(w.category, CremaDQualityWarning)]
    assert len(quality_warnings) == 1
    message = str(quality_warnings[0].message)
    assert f"excluded {len(quality)} file(s)" in message and "1 empty file" in message
    assert f"kept {len(usable)} clips" in message


def test_check_media_false_trusts_names_and_sizes(defective_root):
    root, usable, expected = defective_root
    with pytest.warns(CremaDQualityWarning):
        bunch = load_crema_d(root, check_media=False)
    # Header-level defects pass without media checks; name, pairing and size defects do not.
    header_defects = {c for c, r in expected.items() if r & {"audio too short", "unreadable video",
                                                              "audio/video length mismatch"}}
    assert set(bunch.frame["clip_id"]) == set(usable) | header_defects
    assert bunch.frame["duration"].isna().all()


def test_duplicate_container_prefers_flv(make_synthetic, tmp_path):
    root = tmp_path / "crema"
    shutil.copytree(make_synthetic(n_actors=1, clips_per_actor=6, duration=0.6), root)
    flv = sorted((root / "VideoFlash").glob("*.flv"))[0]
    shutil.copy(flv, flv.with_suffix(".mp4"))
    with pytest.warns(CremaDQualityWarning, match="1 duplicate"):
        bunch = load_crema_d(root)
    assert len(bunch.frame) == 6 and bunch.frame["video_path"].str.endswith(".flv").all()
    assert bunch.quality["path"].tolist() == [str(flv.with_suffix(".mp4").resolve())]


def test_too_long_video(make_synthetic, tmp_path):
    root = tmp_path / "crema"
    shutil.copytree(make_synthetic(n_actors=1, clips_per_actor=6, duration=0.6), root)
    flv = sorted((root / "VideoFlash").glob("*.flv"))[0]
    _write_video(flv, 30 * 12)
    with pytest.warns(CremaDQualityWarning, match="1 video too long"):
        bunch = load_crema_d(root, max_duration=10)
    assert len(bunch.frame) == 5


def test_stratified_sample_is_reproducible(synthetic_root):
    first = load_crema_d(synthetic_root, sample=0.5, random_state=0).frame
    again = load_crema_d(synthetic_root, sample=0.5, random_state=0).frame
    other = load_crema_d(synthetic_root, sample=0.5, random_state=1).frame
    pd.testing.assert_frame_equal(first, again)
    assert first["clip_id"].tolist() != other["clip_id"].tolist()
    assert len(first) == 48 and (first["emotion"].value_counts() == 8).all()
    assert isinstance(first.index, pd.RangeIndex) and first["clip_id"].is_monotonic_increasing

    counted = load_crema_d(synthetic_root, sample=12, random_state=0).frame
    assert len(counted) == 12 and (counted["emotion"].value_counts() == 2).all()
    # 5% of 96 is 4.8 -> 5 clips spread over 5 different emotions.
    tiny = load_crema_d(synthetic_root, sample=0.05, random_state=0).frame
    assert len(tiny) == 5 and tiny["emotion"].is_unique

    plain = load_crema_d(synthetic_root, sample=30, stratify=False, random_state=0).frame
    assert len(plain) == 30 and plain["clip_id"].is_unique
    assert len(load_crema_d(synthetic_root, sample=1.0).frame) == 96


@pytest.mark.parametrize("sample", [0, -0.5, 1.5, 97, "half", True])
def test_invalid_sample(synthetic_root, sample):
    with pytest.raises(ValueError, match="sample"):
        load_crema_d(synthetic_root, sample=sample)


def test_not_a_crema_d_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="does not exist.*AudioWAV"):
        load_crema_d(missing)
    with pytest.raises(FileNotFoundError, match="not a CREMA-D folder.*AudioWAV"):
        load_crema_d(tmp_path)
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        load_crema_d(afile)
    (tmp_path / "AudioWAV").mkdir()
    (tmp_path / "VideoFlash").mkdir()
    (tmp_path / "AudioWAV" / "song.wav").write_bytes(b"RIFF")
    with pytest.raises(ValueError, match="No usable CREMA-D clip.*name does not parse"):
        load_crema_d(tmp_path)


def _placeholder_root(tmp_path, stems):
    # Non-empty placeholder files: enough for check_media=False.
    for stem in stems:
        for folder, suffix in (("AudioWAV", ".wav"), ("VideoFlash", ".flv")):
            (tmp_path / folder).mkdir(exist_ok=True)
            (tmp_path / folder / f"{stem}{suffix}").write_bytes(b"placeholder")
    return tmp_path


def test_real_votes_and_demographics(tmp_path):
    root = _placeholder_root(tmp_path, ["1001_IEO_SAD_HI", "1001_IEO_ANG_MD", "1002_DFA_HAP_XX"])
    (root / "processedResults").mkdir()
    shutil.copy(DATA / "summaryTable.csv", root / "processedResults")
    shutil.copy(DATA / "VideoDemographics.csv", root)
    frame = load_crema_d(root, check_media=False).frame.set_index("clip_id")
    # Real rows: 1001_IEO_SAD_HI is voted N / A:F / N, 1001_IEO_ANG_MD A:D / A / A.
    assert frame.loc["1001_IEO_SAD_HI", ["voice_vote", "face_vote", "multimodal_vote"]].tolist() == [
        "NEU", "ANG:FEA", "NEU"]
    assert frame.loc["1001_IEO_ANG_MD", "voice_vote"] == "ANG:DIS"
    assert frame.loc["1001_IEO_ANG_MD", ["age", "sex", "race", "ethnicity"]].tolist() == [
        51, "Male", "Caucasian", "Not Hispanic"]
    assert frame.loc["1002_DFA_HAP_XX", "sex"] == "Female"


def test_demographics_in_processed_results_and_no_votes(tmp_path):
    root = _placeholder_root(tmp_path, ["1001_DFA_ANG_XX", "1091_TSI_NEU_XX"])
    (root / "processedResults").mkdir()
    shutil.copy(DATA / "VideoDemographics.csv", root / "processedResults")
    frame = load_crema_d(root, check_media=False).frame
    assert frame["age"].notna().all()
    assert frame[["voice_vote", "face_vote", "multimodal_vote"]].isna().all().all()


def test_missing_demographics_warns(tmp_path):
    root = _placeholder_root(tmp_path, ["1001_DFA_ANG_XX"])
    with pytest.warns(CremaDQualityWarning, match="VideoDemographics.csv"):
        frame = load_crema_d(root, check_media=False).frame
    assert frame[["age", "sex", "race", "ethnicity"]].isna().all().all()
    assert list(frame.columns) == FRAME_COLUMNS
