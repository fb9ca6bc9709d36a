"""make_synthetic_crema_d(realism="realistic"): real TTS speech, varied faces, CREMA-D layout.

These tests need the espeak-ng program (Debian package ``espeak-ng``; ``.ci/run`` installs
it). They are not skipped without it: ``test_espeak_ng_is_installed`` fails with the fix, and
the generator itself raises a RuntimeError naming the package.
"""

import hashlib
import shutil

import cv2
import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mmemotion.datasets import EMOTIONS, SENTENCES, load_crema_d, make_synthetic_crema_d, parse_stem
from mmemotion.datasets._synthetic_cues import draw_cues
from mmemotion.datasets._synthetic_speech import SPEECH_CUES, draw_speaker, speak, speech_envelope

REALISTIC = {"realism": "realistic", "n_actors": 3, "clips_per_actor": 6, "duration": None, "random_state": 0}
TINY = {"realism": "realistic", "n_actors": 2, "clips_per_actor": 2, "duration": 0.8, "verbose": False}


def _semitones(hz):
    return 12 * np.log2(hz / 100.0)


def _pitch(wave, sr=16000):
    """pyin f0 (Hz) of the voiced frames and the voiced fraction of the speech."""
    f0, voiced, _ = librosa.pyin(np.asarray(wave, dtype=float), fmin=60, fmax=450, sr=sr, frame_length=1024)
    return f0[voiced], voiced.mean()


def _active_db(wave):
    rms = librosa.feature.rms(y=np.asarray(wave, dtype=float), frame_length=512, hop_length=160)[0]
    db = 20 * np.log10(rms + 1e-6)
    return db[db > db.max() - 25].mean()


@pytest.fixture(scope="module")
def realistic_root(make_synthetic):
    return make_synthetic(**REALISTIC)


@pytest.fixture(scope="module")
def clip_stats(realistic_root):
    """One row per clip: codes, median pyin f0 (semitones re 100 Hz), voiced fraction, level."""
    rows = []
    for path in sorted((realistic_root / "AudioWAV").glob("*.wav")):
        wave, _ = sf.read(path)
        f0, voiced = _pitch(wave)
        rows.append({**parse_stem(path.stem), "f0_hz": np.median(f0), "f0_st": np.median(_semitones(f0)),
                     "voiced": voiced, "db": _active_db(wave)})
    return pd.DataFrame(rows)


def test_espeak_ng_is_installed():
    assert shutil.which("espeak-ng"), (
        "espeak-ng is not on PATH: install the Debian package espeak-ng (`apt-get install espeak-ng`; "
        ".ci/run does) to run the realistic synthetic tests.")


def test_realism_is_validated(tmp_path):
    with pytest.raises(ValueError, match="realism must be one of"):
        make_synthetic_crema_d(tmp_path, realism="photo", verbose=False)


def test_missing_espeak_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        make_synthetic_crema_d(tmp_path / "out", verbose=False, realism="realistic")
    assert not (tmp_path / "out").exists()


def test_same_seed_same_bytes(tmp_path):
    def digests(folder, seed):
        make_synthetic_crema_d(folder, random_state=seed, **TINY)
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.suffix in (".wav", ".csv")}

    first, again, other = digests(tmp_path / "a", 7), digests(tmp_path / "b", 7), digests(tmp_path / "c", 8)
    assert first == again and len(first) == 4 + 3
    # Another seed draws other levels, so compare the audio contents, not the names.
    assert not {v for k, v in first.items() if k.endswith(".wav")} & set(other.values())


def test_names_formats_and_loader(realistic_root):
    stems = sorted(p.stem for p in (realistic_root / "AudioWAV").glob("*.wav"))
    assert stems == sorted(p.stem for p in (realistic_root / "VideoFlash").glob("*.flv"))
    parts = pd.DataFrame([parse_stem(s) for s in stems])
    assert len(parts) == 18 and (parts.groupby("actor_id")["emotion"].nunique() == 6).all()
    truth = pd.read_csv(realistic_root / "synthetic_truth.csv").set_index("clip_id")
    expected = {"audio_display_gain", "video_display_gain", "audio_pitch_st", "video_mouth_curve"}
    assert expected <= set(truth.columns)
    for stem in stems[:4]:
        info = sf.info(realistic_root / "AudioWAV" / f"{stem}.wav")
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        assert info.duration == pytest.approx(truth.loc[stem, "duration"], abs=1e-3)
        assert 0.8 < info.duration <= 5.0
        capture = cv2.VideoCapture(str(realistic_root / "VideoFlash" / f"{stem}.flv"))
        assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (480, 360)
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(30, abs=0.5)
        n_frames = 0
        while capture.read()[0]:
            n_frames += 1
        capture.release()
        assert abs(n_frames - 30 * info.duration) <= 1
        x0, y0, x1, y1 = truth.loc[stem, ["face_x0", "face_y0", "face_x1", "face_y1"]]
        assert 0 <= x0 < x1 <= 480 and 0 <= y0 < y1 <= 360

    bunch = load_crema_d(realistic_root)
    assert len(bunch.frame) == 18
    assert sorted(bunch.frame["clip_id"]) == stems


def test_speech_is_voiced_in_the_speech_range_and_differs_across_actors(clip_stats):
    assert (clip_stats["voiced"] > 0.2).all()
    assert clip_stats["f0_hz"].between(70, 350).all()
    per_actor = clip_stats.groupby("actor_id")["f0_st"].median()
    assert per_actor.max() - per_actor.min() > 3  # semitones


def test_actors_differ_more_than_emotions(clip_stats):
    # Every actor speaks every emotion once, so the two groupings see the same clips.
    for column in ("f0_st", "db"):
        between_actors = clip_stats.groupby("actor_id")[column].mean().std()
        between_emotions = clip_stats.groupby("emotion")[column].mean().std()
        assert between_actors > between_emotions, column


def test_actors_look_more_different_than_expressions(realistic_root):
    rows = []
    for path in sorted((realistic_root / "VideoFlash").glob("*.flv")):
        capture = cv2.VideoCapture(str(path))
        ok, frame = capture.read()
        capture.release()
        assert ok
        small = cv2.resize(frame, (24, 18), interpolation=cv2.INTER_AREA).astype(float).ravel()
        rows.append((parse_stem(path.stem)["actor_id"], parse_stem(path.stem)["emotion"], small))
    actors, emotions, images = zip(*rows)
    images = np.array(images)
    frame = pd.DataFrame(images)
    between_actors = frame.groupby(np.array(actors)).mean().std().mean()
    between_emotions = frame.groupby(np.array(emotions)).mean().std().mean()
    assert between_actors > 3 * between_emotions


@pytest.mark.parametrize("emotion, sign", [("HAP", 1), ("SAD", -1)])
def test_intensity_level_strengthens_prosody(emotion, sign):
    speaker = draw_speaker(np.random.default_rng(3), "Female")
    measured = {}
    for level in ("LO", "HI"):
        # The same clip noise for both levels: only the intensity differs.
        cues = draw_cues(np.random.default_rng(4), SPEECH_CUES, emotion, level, speaker)
        wave, _ = speak(np.random.default_rng(5), SENTENCES["IEO"], speaker, cues)
        f0, _ = _pitch(wave)
        measured[level] = (np.median(_semitones(f0)), _active_db(wave))
    (pitch_lo, db_lo), (pitch_hi, db_hi) = measured["LO"], measured["HI"]
    # HAP is spoken higher and louder than neutral, SAD lower and softer: HI more so than LO.
    assert sign * (pitch_hi - pitch_lo) > 0.5
    assert sign * (db_hi - db_lo) > 1.0


def test_mouth_follows_the_speech_envelope():
    speaker = draw_speaker(np.random.default_rng(0), "Male")
    cues = draw_cues(np.random.default_rng(1), SPEECH_CUES, "NEU", "XX", speaker)
    wave, dry = speak(np.random.default_rng(2), SENTENCES["TSI"], speaker, cues, duration=1.5)
    assert len(wave) == len(dry) == 24000
    times = (np.arange(45) + 0.5) / 30
    env = speech_envelope(dry, times)
    assert env.shape == (45,) and env.max() == pytest.approx(1.0) and env.min() >= 0
    assert env[0] < 0.2  # the clip starts with a pause


@pytest.mark.parametrize("signal", [("audio",), ("video",)])
def test_single_signal_modality(make_synthetic, signal):
    root = make_synthetic(realism="realistic", n_actors=1, clips_per_actor=6, duration=0.8, signal=signal)
    truth = pd.read_csv(root / "synthetic_truth.csv")
    emotions = truth["clip_id"].map(lambda s: parse_stem(s)["emotion"])
    on, off = signal[0], "video" if signal[0] == "audio" else "audio"
    assert (truth[f"{on}_cue_emotion"] == emotions).all()
    assert set(truth[f"{off}_cue_emotion"]) <= set(EMOTIONS)
