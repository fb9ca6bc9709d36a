"""make_synthetic_crema_d: layout, formats, determinism, parameters."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mmemotion.datasets import EMOTIONS, SIMULATED_VOTE_ACCURACY, make_synthetic_crema_d, parse_stem
from mmemotion.datasets._synthetic import _clip_duration, _simulated_vote

DATA = Path(__file__).parent.parent / "data"
TINY = {"n_actors": 2, "clips_per_actor": 3, "duration": 0.4, "verbose": False}


def _frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.array(frames)


def _stems(root, folder, suffix):
    return sorted(p.stem for p in (root / folder).glob(f"*{suffix}"))


def test_layout_names_and_balance(synthetic_root):
    wavs, flvs = _stems(synthetic_root, "AudioWAV", ".wav"), _stems(synthetic_root, "VideoFlash", ".flv")
    assert wavs == flvs and len(wavs) == 8 * 12
    parts = pd.DataFrame([parse_stem(s) for s in wavs])
    assert sorted(parts["actor_id"].unique()) == list(range(1001, 1009))
    # Balanced: every actor shows every emotion twice.
    assert (parts.groupby(["actor_id", "emotion"]).size() == 2).all()
    # The explicit intensity levels appear on IEO only, as in CREMA-D.
    assert set(parts.loc[parts["level"] != "XX", "sentence"]) <= {"IEO"}

    demo = pd.read_csv(synthetic_root / "VideoDemographics.csv")
    assert list(demo.columns) == ["ActorID", "Age", "Sex", "Race", "Ethnicity"]
    assert demo["ActorID"].tolist() == list(range(1001, 1009))
    assert set(demo["Sex"]) == {"Male", "Female"}

    votes = pd.read_csv(synthetic_root / "processedResults" / "summaryTable.csv", dtype=str, keep_default_na=False)
    real = DATA / "summaryTable.csv"
    assert list(votes.columns) == list(pd.read_csv(real, nrows=1).columns)
    first_line = (synthetic_root / "processedResults" / "summaryTable.csv").read_text().splitlines()[0]
    assert first_line == real.read_text().splitlines()[0]
    assert (synthetic_root / "VideoDemographics.csv").read_text().splitlines()[0] == (
        DATA / "VideoDemographics.csv").read_text().splitlines()[0]
    assert sorted(votes["FileName"]) == wavs
    letters = set("ADFHNS")
    for column in ("VoiceVote", "FaceVote", "MultiModalVote"):
        assert all(set(v.split(":")) <= letters for v in votes[column])


def test_media_formats(synthetic_root):
    truth = pd.read_csv(synthetic_root / "synthetic_truth.csv").set_index("clip_id")
    for stem in _stems(synthetic_root, "AudioWAV", ".wav")[:12]:
        info = sf.info(synthetic_root / "AudioWAV" / f"{stem}.wav")
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        assert info.duration == pytest.approx(truth.loc[stem, "duration"], abs=1e-3)
        assert 0.8 <= info.duration <= 1.2

        capture = cv2.VideoCapture(str(synthetic_root / "VideoFlash" / f"{stem}.flv"))
        assert capture.get(cv2.CAP_PROP_FRAME_WIDTH) == 480
        assert capture.get(cv2.CAP_PROP_FRAME_HEIGHT) == 360
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(30, abs=0.5)
        capture.release()
        frames = _frames(synthetic_root / "VideoFlash" / f"{stem}.flv")
        assert frames.shape[1:] == (360, 480, 3)
        assert abs(len(frames) - 30 * info.duration) <= 1


def test_truth_table_face_box(synthetic_root):
    truth = pd.read_csv(synthetic_root / "synthetic_truth.csv")
    assert len(truth) == 96 and truth["clip_id"].is_unique
    box = truth[["face_x0", "face_y0", "face_x1", "face_y1"]]
    assert (box["face_x0"] >= 0).all() and (box["face_x1"] <= 480).all()
    assert (box["face_y0"] >= 0).all() and (box["face_y1"] <= 360).all()
    area = (box["face_x1"] - box["face_x0"]) * (box["face_y1"] - box["face_y0"])
    assert (area < 0.5 * 480 * 360).all() and (area > 0.1 * 480 * 360).all()
    # Roughly centred.
    assert ((box["face_x0"] + box["face_x1"]) / 2).between(200, 280).all()
    emotions = truth["clip_id"].str.split("_").str[2]
    # Both modalities carry signal here, so both show the true emotion.
    assert (truth["audio_cue_emotion"] == emotions).all() and (truth["video_cue_emotion"] == emotions).all()

    # The face box really holds the face: inside it the frame differs from the background.
    first = truth.iloc[0]
    frame = _frames(synthetic_root / "VideoFlash" / f"{first.clip_id}.flv")[0].astype(float)
    cx, cy = (first.face_x0 + first.face_x1) // 2, (first.face_y0 + first.face_y1) // 2
    centre = frame[cy - 10:cy + 10, cx - 10:cx + 10].mean(axis=(0, 1))
    corner = frame[:20, :20].mean(axis=(0, 1))
    assert np.abs(centre - corner).sum() > 15


def test_same_seed_same_media_different_seed_differs(tmp_path):
    a = make_synthetic_crema_d(tmp_path / "a", random_state=3, **TINY)
    b = make_synthetic_crema_d(tmp_path / "b", random_state=3, **TINY)
    c = make_synthetic_crema_d(tmp_path / "c", random_state=4, **TINY)
    stems = _stems(a, "AudioWAV", ".wav")
    assert stems == _stems(b, "AudioWAV", ".wav")
    for stem in stems:
        wav = f"AudioWAV/{stem}.wav"
        assert (a / wav).read_bytes() == (b / wav).read_bytes()
        flv = f"VideoFlash/{stem}.flv"
        np.testing.assert_array_equal(_frames(a / flv), _frames(b / flv))
    for name in ("VideoDemographics.csv", "synthetic_truth.csv", "processedResults/summaryTable.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    # Another seed: the sentences/levels may coincide, the media must not.
    shared = sorted(set(stems) & set(_stems(c, "AudioWAV", ".wav")))
    assert shared
    for stem in shared:
        assert (a / f"AudioWAV/{stem}.wav").read_bytes() != (c / f"AudioWAV/{stem}.wav").read_bytes()
        assert not np.array_equal(_frames(a / f"VideoFlash/{stem}.flv"), _frames(c / f"VideoFlash/{stem}.flv"))


def test_clip_does_not_depend_on_dataset_size(tmp_path):
    small = make_synthetic_crema_d(tmp_path / "small", **{**TINY, "n_actors": 1, "clips_per_actor": 2})
    large = make_synthetic_crema_d(tmp_path / "large", **{**TINY, "n_actors": 2, "clips_per_actor": 4}, n_jobs=2)
    for stem in _stems(small, "AudioWAV", ".wav"):
        assert (small / f"AudioWAV/{stem}.wav").read_bytes() == (large / f"AudioWAV/{stem}.wav").read_bytes()


def test_signal_off_modality_gets_decoy_cues(make_synthetic):
    root = make_synthetic(n_actors=2, clips_per_actor=12, duration=0.3, signal=("audio",))
    truth = pd.read_csv(root / "synthetic_truth.csv")
    emotions = truth["clip_id"].str.split("_").str[2]
    assert (truth["audio_cue_emotion"] == emotions).all()
    # Decoys are drawn independently of the label: they disagree with it most of the time.
    assert (truth["video_cue_emotion"] != emotions).mean() > 0.5
    assert set(truth["video_cue_emotion"]) <= set(EMOTIONS)


def test_overwrite(tmp_path):
    make_synthetic_crema_d(tmp_path, **TINY)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_synthetic_crema_d(tmp_path, **TINY)
    make_synthetic_crema_d(tmp_path, overwrite=True, **TINY)
    assert not list(tmp_path.rglob("*.part*"))


def test_no_votes(tmp_path):
    root = make_synthetic_crema_d(tmp_path, votes=False, **TINY)
    assert not (root / "processedResults" / "summaryTable.csv").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"signal": ("text",)}, "text"),
    ({"signal": ("face",)}, "signal"),
    ({"clips_per_actor": 73}, "clips_per_actor"),
    ({"n_actors": 0}, "n_actors"),
    ({"duration": -1.0}, "duration"),
    ({"duration": (2.0, 1.0)}, "duration"),
    ({"random_state": "seed"}, "random_state"),
])
def test_invalid_parameters(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_crema_d(tmp_path, **{**TINY, **kwargs})


def test_default_durations_are_real_like():
    rng = np.random.default_rng(0)
    durations = np.array([_clip_duration(rng, None, s) for s in ["IEO", "TIE", "ITH", "TSI", "MTI"] * 400])
    assert durations.min() >= 1.3 and durations.max() <= 5.0
    assert 2.3 <= np.median(durations) <= 2.7


@pytest.mark.parametrize("presentation", ["voice", "face", "multimodal"])
def test_simulated_vote_accuracy(presentation):
    rng = np.random.default_rng(0)
    accuracy = SIMULATED_VOTE_ACCURACY[presentation]
    votes = [_simulated_vote(rng, "ANG", accuracy)[0] for _ in range(4000)]
    single = [v for v in votes if ":" not in v]
    assert 0.03 < 1 - len(single) / len(votes) < 0.11  # ties, as in CREMA-D
    assert np.mean([v == "A" for v in single]) == pytest.approx(accuracy, abs=0.03)


def test_weak_group_weakens_only_its_actors_cues(tmp_path):
    small = {"n_actors": 4, "clips_per_actor": 6, "duration": 0.3, "verbose": False, "random_state": 0}
    plain = make_synthetic_crema_d(tmp_path / "plain", **small)
    weak = make_synthetic_crema_d(tmp_path / "weak", weak_group={"sex": "Male"}, weak_group_gain=0.0, **small)
    demo = pd.read_csv(weak / "VideoDemographics.csv")
    males = set(demo.loc[demo["Sex"] == "Male", "ActorID"])
    truth_plain, truth_weak = pd.read_csv(plain / "synthetic_truth.csv"), pd.read_csv(weak / "synthetic_truth.csv")
    is_male = truth_weak["clip_id"].str[:4].astype(int).isin(males)
    assert males and (truth_weak.loc[is_male, "cue_gain"] == 0).all() and (truth_weak.loc[~is_male, "cue_gain"] == 1).all()
    cues = [c for c in truth_weak if c.startswith("audio_") and c != "audio_cue_emotion"]
    # Other actors' clips are unchanged; the weak group's cues no longer depend on the emotion.
    pd.testing.assert_frame_equal(truth_weak.loc[~is_male, cues], truth_plain.loc[~is_male, cues])
    assert not np.allclose(truth_weak.loc[is_male, cues], truth_plain.loc[is_male, cues])
    with pytest.raises(ValueError, match="no generated actor matches"):
        make_synthetic_crema_d(tmp_path / "x", weak_group={"Race": "Martian"}, **small)
    with pytest.raises(ValueError, match="not demographic columns"):
        make_synthetic_crema_d(tmp_path / "y", weak_group={"gender": "Male"}, **small)
    with pytest.raises(ValueError, match=r"weak_group_gain must be in \[0, 1\]"):
        make_synthetic_crema_d(tmp_path / "z", weak_group={"Sex": "Male"}, weak_group_gain=2, **small)
