"""Prosody and voice-quality rows of MFCCTransformer (``prosody=True``)."""

import librosa
import numpy as np
import pytest
from sklearn.base import clone

from mmemotion.features import MFCCTransformer
from mmemotion.features._prosody import PROSODY_ROWS, _zero_crossing_rate

from .conftest import SR

N_MFCC = 8
ROW = {name: N_MFCC + i for i, name in enumerate(PROSODY_ROWS)}


def harmonic(f0, seconds=1.0, *, amp=0.3, start=0.0):
    """A harmonic sum with 1/k partials below 7 kHz (a sawtooth-like voiced source)."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, int(7000 // f0) + 1))
    y = amp * y / np.abs(y).max()
    y[t < start] = 0
    return y.astype(np.float32)


def maps(waves, **params):
    est = MFCCTransformer(n_mfcc=N_MFCC, n_mels=16, prosody=True, **params)
    return est.fit_transform(waves).reshape(-1, *est.output_shape_), est


def test_shape_and_feature_names():
    X, est = maps([harmonic(150)], n_frames=20)
    assert est.output_shape_ == (1, N_MFCC + 7, 20) and X.shape == (1, 1, N_MFCC + 7, 20)
    names = est.get_feature_names_out()
    assert len(names) == (N_MFCC + 7) * 20 and len(set(names)) == len(names)
    assert names[N_MFCC * 20 - 1] == f"mfcc{N_MFCC - 1}_t19"
    assert names[N_MFCC * 20] == "prosody_log_f0_t0"
    assert names[(N_MFCC + 1) * 20 + 7] == "prosody_voicing_t7"
    assert names[-1] == "prosody_alpha_ratio_t19"


def test_deltas_of_the_prosody_rows_are_computed_like_the_mfcc_deltas():
    static, _ = maps([harmonic(150), harmonic(220)], n_frames=20)
    X, est = maps([harmonic(150), harmonic(220)], n_frames=20, deltas=True)
    assert est.output_shape_ == (3, N_MFCC + 7, 20)
    np.testing.assert_array_equal(X[:, 0], static[:, 0])
    np.testing.assert_allclose(X[:, 1], librosa.feature.delta(static[:, 0], width=9), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(X[:, 2], librosa.feature.delta(static[:, 0], width=9, order=2), rtol=1e-5, atol=1e-4)
    names = est.get_feature_names_out()
    assert names[(N_MFCC + 7) * 20 + N_MFCC * 20] == "d1_prosody_log_f0_t0"
    assert names[-1] == "d2_prosody_alpha_ratio_t19"


@pytest.mark.parametrize("f0", [75.0, 150.0, 220.0, 400.0])
def test_f0_row_within_half_a_semitone_of_a_harmonic_tone(f0):
    X, _ = maps([harmonic(f0)], n_frames=41)  # 1 s at hop 400: frames 0..40
    voiced = X[0, 0, ROW["voicing"]] == 1
    assert voiced[1:-1].all()  # every frame whose window lies inside the tone
    truth = 12 * np.log2(f0 / 100)
    np.testing.assert_allclose(X[0, 0, ROW["log_f0"], voiced], truth, atol=0.5)
    # Without the prosody rows nothing in the map encodes F0 this way (the test needs the feature).
    assert MFCCTransformer(n_mfcc=N_MFCC, n_mels=16, n_frames=41).fit([harmonic(f0)]).output_shape_[1] == N_MFCC


def test_silence_and_white_noise_are_unvoiced_with_finite_rows():
    noise = np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32)
    X, _ = maps([np.zeros(SR, np.float32), noise], n_frames=41)
    assert np.isfinite(X).all()
    for row in X[:, 0]:
        assert row[ROW["voicing"]].mean() <= 0.05
    # No voiced frame: the F0 row carries no made-up pitch.
    assert (X[0, 0, ROW["log_f0"]] == 0).all()
    assert X[1, 0, ROW["flatness_db"]].mean() > -6  # white noise is spectrally flat (0 dB)
    assert X[1, 0, ROW["zcr"]].mean() == pytest.approx(0.5, abs=0.05)


def test_unvoiced_gaps_are_interpolated_not_garbage():
    # 150 Hz, 0.3 s of silence, then 200 Hz: the gap's F0 lies between the two pitches.
    y = np.concatenate([harmonic(150, 0.5), np.zeros(int(0.3 * SR), np.float32), harmonic(200, 0.5)])
    X, _ = maps([y], n_frames=52)
    f0, voiced = X[0, 0, ROW["log_f0"]], X[0, 0, ROW["voicing"]] == 1
    low, high = 12 * np.log2(150 / 100), 12 * np.log2(200 / 100)
    gap = ~voiced[5:-5]
    assert gap.sum() >= 4
    assert ((f0[5:-5][gap] >= low - 0.5) & (f0[5:-5][gap] <= high + 0.5)).all()


def test_louder_signal_has_a_higher_rms_row():
    quiet = harmonic(150, amp=0.05)
    X, _ = maps([quiet, 4 * quiet], n_frames=41)
    rms = X[:, 0, ROW["rms_db"], 2:-2].mean(axis=1)
    assert rms[1] - rms[0] == pytest.approx(20 * np.log10(4), abs=0.1)
    # Voicing and pitch do not depend on the level.
    np.testing.assert_allclose(X[0, 0, ROW["log_f0"]], X[1, 0, ROW["log_f0"]], atol=1e-3)


def test_rows_are_aligned_with_the_mfcc_frames():
    # A tone starting at 0.5 s (frame 20 at hop 400): voicing and energy switch on together,
    # at the frame where the MFCCs change.
    X, _ = maps([harmonic(150, 1.0, start=0.5)], n_frames=41)
    voiced = np.flatnonzero(X[0, 0, ROW["voicing"]])
    loud = np.flatnonzero(X[0, 0, ROW["rms_db"]] > -40)
    mfcc_on = np.flatnonzero(np.abs(np.diff(X[0, 0, 0])) > 5)
    assert abs(voiced[0] - 20) <= 1 and abs(loud[0] - 20) <= 1 and abs(mfcc_on[0] + 1 - 20) <= 1


def test_padding_frames_are_zero_and_long_clips_fill_every_frame():
    short, long = harmonic(150, 0.3), harmonic(150, 3.0)  # 13 and 121 frames
    X, _ = maps([short, long], n_frames=50)
    prosody = X[:, 0, N_MFCC:]
    assert (prosody[0, :, 13:] == 0).all() and (prosody[0, :, :13] != 0).any(axis=1).all()
    assert (X[0, 0, ROW["voicing"], 2:10] == 1).all()
    assert (X[1, 0, ROW["voicing"], 1:] == 1).all()  # the tail of the long clip is cut, not padded


def test_zero_crossing_rate_matches_librosa():
    rng = np.random.default_rng(1)
    y = np.concatenate([harmonic(220, 0.5), rng.normal(0, 0.1, 4000), np.zeros(1000)]).astype(np.float32)
    y[100:110] = 1e-12  # treated as zero by librosa
    ref = librosa.feature.zero_crossing_rate(y, frame_length=512, hop_length=400)[0]
    np.testing.assert_allclose(_zero_crossing_rate(y, frame_length=512, hop_length=400, n=len(ref)), ref)


def test_get_params_clone_and_cache_key(tmp_path, wavs):
    est = MFCCTransformer(prosody=True, n_mfcc=N_MFCC, n_mels=16, n_frames=10)
    assert est.get_params()["prosody"] is True
    cloned = clone(est)
    assert cloned.get_params() == est.get_params() and cloned.set_params(prosody=False).prosody is False
    # prosody changes the per-file output, so it is part of the cache key: both variants keep
    # their own entries instead of overwriting each other's.
    assert "prosody" in MFCCTransformer._extract_params
    with_rows = clone(est).set_params(memory=str(tmp_path)).fit_transform(wavs)
    without = clone(est).set_params(memory=str(tmp_path), prosody=False).fit_transform(wavs)
    assert with_rows.shape == (len(wavs), (N_MFCC + 7) * 10) and without.shape == (len(wavs), N_MFCC * 10)
    entries = [p for p in (tmp_path / "mmemotion_features").rglob("*.npy") if p.parent.name != "batches"]
    assert len(entries) == 2 * len(wavs)
    np.testing.assert_array_equal(clone(est).set_params(memory=str(tmp_path)).fit_transform(wavs), with_rows)


def test_prosody_must_be_a_bool(wavs):
    with pytest.raises(ValueError, match="prosody"):
        MFCCTransformer(prosody="yes").fit(wavs)
