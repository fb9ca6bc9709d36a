"""The optional eGeMAPS transformer (openSMILE, research licence: an opt-in extra only)."""

import builtins

import numpy as np
import pandas as pd
import pytest

from mmemotion.features import EGeMAPSTransformer, ModalityUnion
from mmemotion.features import _egemaps


def test_egemaps_gives_88_named_functionals_that_track_pitch(tmp_path):
    sr = 16000
    t = np.arange(int(1.0 * sr)) / sr
    paths = []
    for i, f0 in enumerate((120.0, 240.0)):
        wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)).astype(np.float32) * 0.2
        import soundfile as sf

        path = tmp_path / f"tone{i}.wav"
        sf.write(path, wave, sr)
        paths.append(str(path))
    t = EGeMAPSTransformer().fit(paths)
    out = t.transform(paths)
    names = list(t.get_feature_names_out())
    assert out.shape == (2, 88) and t.output_shape_ == (88,)
    pitch = out[:, names.index("F0semitoneFrom27.5Hz_sma3nz_amean")]
    # One octave higher is 12 semitones more.
    assert abs((pitch[1] - pitch[0]) - 12.0) < 1.0


def test_egemaps_in_a_speaker_normalised_union(wavs):
    X = pd.DataFrame({"audio_path": wavs[:4], "actor_id": [1, 1, 2, 2]})
    out = ModalityUnion([("audio", EGeMAPSTransformer())], speaker_norm="zscore", min_speaker_clips=2).fit_transform(X)
    assert out["audio"].shape == (4, 88) and np.isfinite(out["audio"]).all()


def test_missing_opensmile_names_the_extra_and_the_licence(monkeypatch, wavs):
    real_import = builtins.__import__

    def no_opensmile(name, *args, **kwargs):
        if name == "opensmile":
            raise ImportError("No module named 'opensmile'")
        return real_import(name, *args, **kwargs)

    _egemaps._smile.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_opensmile)
    with pytest.raises(ImportError, match=r"mmemotion\[opensmile\].*|research licence"):
        EGeMAPSTransformer().fit(wavs[:1])
    monkeypatch.undo()
    _egemaps._smile.cache_clear()
