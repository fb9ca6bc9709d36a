"""The loader against the real CREMA-D listing (names and sizes of all 7,442 clips, no media)."""

from pathlib import Path

import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mmemotion.datasets import CremaDQualityWarning, load_crema_d, parse_stem
from mmemotion.datasets._loader import _demographics, _votes
from mmemotion.datasets._manifest import build_manifest

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def listing():
    return pd.read_csv(DATA / "media_files.tsv", sep="\t")


def test_every_real_name_parses_and_pairs(listing):
    clips, quality = build_manifest(zip(listing["path"], listing["bytes"]), Path("/data/CREMA-D"))
    assert quality.empty, quality.head()
    assert len(clips) == 7442 and clips["clip_id"].is_unique
    assert clips["clip_id"].map(parse_stem).notna().all()
    assert clips["actor_id"].nunique() == 91
    assert clips["actor_id"].min() == 1001 and clips["actor_id"].max() == 1091
    counts = clips["emotion"].value_counts()
    assert counts.drop("NEU").eq(1271).all() and counts["NEU"] == 1087
    levels = clips["level"].value_counts()
    assert levels[["LO", "MD", "HI"]].eq(455).all() and levels["XX"] == 6077
    assert set(clips.loc[clips["level"] != "XX", "sentence"]) == {"IEO"}
    assert clips["sentence"].nunique() == 12
    assert clips["audio_path"].str.startswith("/data/CREMA-D/AudioWAV/").all()
    assert clips["video_path"].str.endswith(".flv").all()


def test_real_listing_missing_or_empty_files(listing):
    # Drop one video and empty one audio file of the real listing: both clips are reported.
    rows = listing[listing["path"] != "VideoFlash/1001_DFA_ANG_XX.flv"].copy()
    rows.loc[rows["path"] == "AudioWAV/1091_WSI_SAD_XX.wav", "bytes"] = 0
    clips, quality = build_manifest(zip(rows["path"], rows["bytes"]), Path("/data"))
    assert len(clips) == 7440
    assert dict(zip(quality["clip_id"], quality["reason"])) == {
        "1001_DFA_ANG_XX": "unpaired audio", "1091_WSI_SAD_XX": "empty file"}


def test_real_demographics_and_votes():
    demo = _demographics(DATA)
    assert len(demo) == 91 and demo["sex"].value_counts().to_dict() == {"Male": 48, "Female": 43}
    assert demo["age"].min() == 20 and demo["age"].max() == 74
    votes = _votes(DATA).set_index("clip_id")
    assert len(votes) == 7442
    emotion = votes.index.str.split("_").str[2]
    # The majority vote names the intended emotion about as often as the dataset README says
    # (voice 44.6%, face 68.5%, audio-visual 74.4%; ties count as wrong here).
    assert (votes["voice_vote"] == emotion).mean() == pytest.approx(0.446, abs=0.03)
    assert (votes["face_vote"] == emotion).mean() == pytest.approx(0.685, abs=0.03)
    assert (votes["multimodal_vote"] == emotion).mean() == pytest.approx(0.744, abs=0.03)
    assert votes["voice_vote"].str.contains(":").any()


def _wav(path, seconds):
    sf.write(path, np.random.default_rng(0).normal(0, 0.1, int(16000 * seconds)), 16000, subtype="PCM_16")


def _flv(path, n_frames):
    # Tiny frames: the loader only reads the container's frame count and fps.
    writer = cv2.VideoWriter(str(path), 2, 30.0, (32, 24))
    for i in range(n_frames):
        writer.write(np.full((24, 32, 3), i % 255, np.uint8))
    writer.release()


def test_known_broken_clips_are_excluded(tmp_path):
    (tmp_path / "AudioWAV").mkdir()
    (tmp_path / "VideoFlash").mkdir()
    # Placeholders imitating the defects the CREMA-D README lists, plus one healthy clip.
    plan = {
        "1001_DFA_ANG_XX": (2.0, 60, None),
        "1064_IEO_DIS_MD": (4.1, 30 * 61, {"video too long"}),  # all IEO takes in one minute
        "1064_TIE_SAD_XX": (3.3, 0, {"unreadable video", "video has no frames"}),  # no duration
        "1076_MTI_NEU_XX": (2.4, 5, {"video too short", "audio/video length mismatch"}),
        "1076_MTI_SAD_XX": (0.1, 3, {"audio too short"}),
    }
    for stem, (seconds, n_frames, _) in plan.items():
        _wav(tmp_path / "AudioWAV" / f"{stem}.wav", seconds)
        _flv(tmp_path / "VideoFlash" / f"{stem}.flv", n_frames)
    shutil.copy(DATA / "VideoDemographics.csv", tmp_path)
    with pytest.warns(CremaDQualityWarning, match="excluded 4 file"):
        bunch = load_crema_d(tmp_path)
    assert bunch.frame["clip_id"].tolist() == ["1001_DFA_ANG_XX"]
    assert bunch.frame["duration"].tolist() == [2.0]
    assert bunch.frame["age"].tolist() == [51]
    reasons = dict(zip(bunch.quality["clip_id"], bunch.quality["reason"]))
    for stem, (_, _, expected) in plan.items():
        if expected:
            assert reasons[stem] in expected, (stem, reasons[stem])
