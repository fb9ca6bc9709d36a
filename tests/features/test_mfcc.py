import librosa
import numpy as np
import pytest
import soundfile as sf

from mmemotion.features import MediaError, MFCCTransformer

from .conftest import SR, write_wav


def test_matches_librosa_and_pads_and_truncates_at_the_end(tmp_path):
    short = write_wav(tmp_path / "short.wav", 0.3)  # 12 frames at hop 400
    long = write_wav(tmp_path / "long.wav", 3.0)  # 121 frames
    mfcc = MFCCTransformer(n_frames=100).fit([short])
    Xt = mfcc.transform([short, long]).reshape(-1, *mfcc.output_shape_)
    for path, row in [(short, Xt[0, 0]), (long, Xt[1, 0])]:
        y, _ = sf.read(path, dtype="float32")
        ref = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=40, n_fft=512, hop_length=400, n_mels=64)
        n = min(100, ref.shape[1])
        np.testing.assert_allclose(row[:, :n], ref[:, :n], rtol=1e-4, atol=1e-3)
    assert (Xt[0, 0, :, 13:] == 0).all() and (Xt[0, 0, :, :12] != 0).any()  # zero padding at the end
    assert (Xt[1, 0, :, -1] != 0).any()  # the long clip fills all frames (its tail is cut)


def test_resamples_other_rates_and_mixes_stereo_down(tmp_path):
    mono16 = write_wav(tmp_path / "m16.wav", 0.5, freq=300.0)
    stereo16 = write_wav(tmp_path / "s16.wav", 0.5, freq=300.0, channels=2)
    mono22 = write_wav(tmp_path / "m22.wav", 0.5, freq=300.0, sr=22050)
    mfcc = MFCCTransformer(n_mfcc=13, n_frames=15)
    a, b, c = mfcc.fit_transform([mono16, stereo16, mono22])
    np.testing.assert_allclose(a, b, atol=1e-3)  # identical channels average to the same signal
    # Resampled audio is close but not identical (different noise samples, resampler).
    assert np.corrcoef(a, c)[0, 1] > 0.95


def test_in_memory_waveforms_match_files(wavs):
    waves = [sf.read(p, dtype="float32")[0] for p in wavs]
    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=12)
    np.testing.assert_array_equal(mfcc.fit_transform(waves), mfcc.fit_transform(wavs))
    same_length = np.stack([w[:4000] for w in waves])
    assert mfcc.fit_transform(same_length).shape == (4, 8 * 12)


def test_nan_waveform_is_a_clear_error_naming_the_row():
    waves = [np.zeros(1000, np.float32), np.full(1000, np.nan, np.float32)]
    with pytest.raises(MediaError, match=r"waveform at row 1: .*NaN"):
        MFCCTransformer().fit_transform(waves)


def test_deltas_and_standardize():
    rng = np.random.default_rng(0)
    waves = rng.normal(size=(5, 8000)).astype(np.float32) * np.linspace(0.1, 1, 5)[:, None]
    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=20, deltas=True, standardize=True)
    Xt = mfcc.fit_transform(waves).reshape(-1, *mfcc.output_shape_)
    assert mfcc.output_shape_ == (3, 8, 20) and mfcc.mean_.shape == mfcc.scale_.shape == (3, 8, 1)
    np.testing.assert_allclose(Xt.mean(axis=(0, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(Xt.std(axis=(0, 3)), 1, atol=1e-3)
    assert Xt.dtype == np.float32
    names = mfcc.get_feature_names_out()
    assert names[0] == "mfcc0_t0" and names[8 * 20] == "d1_mfcc0_t0" and names[-1] == "d2_mfcc7_t19"


def test_float64_dtype(wavs):
    assert MFCCTransformer(dtype=np.float64, n_mfcc=8, n_mels=16).fit_transform(wavs).dtype == np.float64


@pytest.mark.parametrize(
    "params, match",
    [({"n_mfcc": 80, "n_mels": 64}, "exceeds n_mels"), ({"deltas": True, "n_frames": 2}, "n_frames >= 3")],
)
def test_parameter_errors_say_how_to_fix(wavs, params, match):
    with pytest.raises(ValueError, match=match):
        MFCCTransformer(**params).fit(wavs)


def test_librosa_numba_is_compiled_once_in_this_process_before_any_file(wavs, monkeypatch):
    # numba issue #10128: workers compiling librosa's cached gufuncs at once can leave a cache
    # that segfaults every later run; the parent compiles first (mmemotion.features._numba_warmup).
    from mmemotion.features import MFCCTransformer, _numba_warmup

    monkeypatch.setattr(_numba_warmup, "_done", set())
    seen = []
    original = MFCCTransformer._features

    def recording(self, y, source):
        seen.append("warm-up" if source == "warm-up" else "file")
        return original(self, y, source)

    monkeypatch.setattr(MFCCTransformer, "_features", recording)
    MFCCTransformer(n_frames=8, prosody=True).fit_transform(wavs)
    MFCCTransformer(n_frames=12, prosody=True).fit_transform(wavs)  # other sizes: same compiled code
    assert seen == ["warm-up"] + ["file"] * (2 * len(wavs))
