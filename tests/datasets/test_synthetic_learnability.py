"""The planted emotion cues are learnable per modality, and absent where `signal` switches them off.

A logistic regression on a handful of per-clip statistics, cross-validated over actors
(GroupKFold), must beat chance (1/6) clearly for a modality with signal and stay near chance for
a modality without. Features are plain numpy on purpose: they test the generator, not the
project's feature extractors.
"""

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mmemotion.datasets import load_crema_d

CHANCE = 1 / 6
SETUP = {"n_actors": 6, "clips_per_actor": 12, "duration": 0.8, "random_state": 1}


def audio_statistics(path, sr=16000, frame=640, hop=160):
    """Loudness, voicing, pitch (autocorrelation peak) and brightness statistics of one WAV."""
    # librosa.yin/zero_crossing_rate would do, but librosa.yin segfaults inside its numba
    # stencil with the pinned numba/numpy (librosa issue #1928), so this stays numpy-only.
    y, _ = sf.read(path, dtype="float64")
    frames = np.lib.stride_tricks.sliding_window_view(y, frame)[::hop]
    log_rms = np.log(np.sqrt((frames**2).mean(axis=1)) + 1e-5)
    voiced = log_rms > log_rms.max() - 2.5
    windowed = frames[voiced] * np.hanning(frame)
    spectrum = np.abs(np.fft.rfft(windowed, 2 * frame, axis=1))
    lo, hi = sr // 700, sr // 70  # lags of 700 Hz .. 70 Hz
    autocorr = np.fft.irfft(spectrum**2, axis=1)[:, lo:hi]
    log_f0 = np.log(sr / (autocorr.argmax(axis=1) + lo))
    zcr = (np.diff(np.sign(windowed), axis=1) != 0).mean(axis=1)
    freqs = np.fft.rfftfreq(2 * frame, 1 / sr)
    centroid = (spectrum * freqs).sum(axis=1) / (spectrum.sum(axis=1) + 1e-9)
    onsets = (np.diff(voiced.astype(int)) > 0).sum() / (len(y) / sr)
    return [log_rms.max(), log_rms[voiced].mean(), log_rms[voiced].std(), voiced.mean(), onsets,
            np.median(log_f0), log_f0.std(), np.percentile(log_f0, 90) - np.percentile(log_f0, 10),
            zcr.mean(), np.log(centroid).mean()]


def video_statistics(path, box, n_frames=8, size=(8, 10)):
    """Mean and temporal spread of a coarse grey-level grid over the face, aligned per frame."""
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    grids = []
    for image in frames[:: max(len(frames) // n_frames, 1)]:
        face = image[y0:y1, x0:x1].astype(np.float32)
        # The head moves a few pixels: centre the grid on the skin-coloured pixels.
        skin = np.median(face[h // 2 - 10:h // 2 + 10, w // 2 - 30:w // 2 - 10].reshape(-1, 3), axis=0)
        ys, xs = np.nonzero(np.abs(face - skin).sum(axis=2) < 40)
        top, left = y0 + int(ys.mean()) - int(0.45 * h), x0 + int(xs.mean()) - int(0.4 * w)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        window = gray[max(top, 0):top + int(0.9 * h), max(left, 0):left + int(0.8 * w)]
        grids.append(cv2.resize(window, size, interpolation=cv2.INTER_AREA))
    grids = np.array(grids)
    grids -= grids.mean(axis=(1, 2), keepdims=True)
    return np.concatenate([grids.mean(axis=0).ravel(), grids.std(axis=0).ravel()])


def grouped_accuracy(root, modality):
    bunch = load_crema_d(root)
    frame = bunch.frame
    if modality == "audio":
        X = np.array([audio_statistics(p) for p in frame["audio_path"]])
    else:
        boxes = pd.read_csv(root / "synthetic_truth.csv").set_index("clip_id")
        boxes = boxes.loc[frame["clip_id"], ["face_x0", "face_y0", "face_x1", "face_y1"]].to_numpy()
        X = np.array([video_statistics(p, b) for p, b in zip(frame["video_path"], boxes)])
    groups = frame["actor_id"].to_numpy()
    # Speaker normalisation (no labels used): remove each actor's own mean.
    X = X - pd.DataFrame(X).groupby(groups).transform("mean").to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return cross_val_score(model, X, bunch.target, groups=groups, cv=GroupKFold(n_splits=3)).mean()


@pytest.mark.parametrize("signal", [("audio",), ("video",)])
def test_cues_learnable_only_where_planted(make_synthetic, signal):
    root = make_synthetic(signal=signal, **SETUP)
    on = signal[0]
    off = "video" if on == "audio" else "audio"
    accuracy_on, accuracy_off = grouped_accuracy(root, on), grouped_accuracy(root, off)
    print(f"signal={signal}: {on} accuracy {accuracy_on:.3f}, {off} accuracy {accuracy_off:.3f}")
    assert accuracy_on > 2.2 * CHANCE  # > 0.37
    assert accuracy_off < 1.8 * CHANCE  # < 0.30
