"""Shared machinery: errors, on_error='zero', cache, parallel backends, progress."""

import os
import warnings

import joblib
import numpy as np
import pytest

from mmemotion.features import FrameSampler, MediaError, MediaWarning, MFCCTransformer

from .conftest import write_flv, write_wav

AUDIO_FAILURES = ["missing", "empty_wav", "corrupt_wav", "garbage_wav", "text_as_audio"]


@pytest.mark.parametrize("kind", AUDIO_FAILURES)
def test_bad_audio_is_one_clear_error_naming_the_file(bad_media, kind):
    path = bad_media[kind]
    with pytest.raises(MediaError) as info:
        MFCCTransformer().fit_transform([path])
    message = str(info.value)
    assert message.startswith(path + ": ") and "on_error='zero'" in message
    assert info.value.source == path and info.value.__cause__ is None
    assert "Traceback" not in message


def test_on_error_zero_gives_zero_rows_and_one_warning(bad_media, wavs, flvs):
    paths = [wavs[0]] + [bad_media[k] for k in AUDIO_FAILURES] + [wavs[1], None]
    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10, on_error="zero")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Xt = mfcc.fit_transform(paths)
    media = [w for w in caught if issubclass(w.category, MediaWarning)]
    assert len(media) == 1
    text = str(media[0].message)
    assert f"{len(AUDIO_FAILURES) + 1} of {len(paths)} files" in text
    assert all(bad_media[k] in text for k in AUDIO_FAILURES) and "row 7 (no path given" in text
    assert (Xt[1:-2] == 0).all() and (Xt[-1] == 0).all()
    assert np.abs(Xt[0]).sum() > 0 and np.abs(Xt[-2]).sum() > 0
    video = FrameSampler(n_frames=2, size=(4, 4), on_error="zero")
    with pytest.warns(MediaWarning, match="corrupt.flv"):
        out = video.fit_transform([flvs[0], bad_media["corrupt_flv"]])
    assert (out[1] == 0).all() and out[0].any()


def test_missing_value_in_dataframe_column_is_an_error_by_default(wavs):
    import pandas as pd

    frame = pd.DataFrame({"audio_path": [wavs[0], np.nan]})
    with pytest.raises(MediaError, match="row 1: no path given"):
        MFCCTransformer().fit_transform(frame)


class _Counting:
    """Patch `_extract_one` on a class and count the calls (in-process, n_jobs=None)."""

    def __init__(self, monkeypatch, cls):
        self.calls = []
        original = cls._extract_one

        def counted(est, item):
            self.calls.append(item)
            return original(est, item)

        monkeypatch.setattr(cls, "_extract_one", counted)


@pytest.mark.parametrize(
    "make, media",
    [
        (lambda m: MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10, memory=m), "wavs"),
        (lambda m: FrameSampler(n_frames=3, size=(8, 8), memory=m), "flvs"),
    ],
)
def test_cache_second_transform_does_not_decode(request, tmp_path, monkeypatch, make, media):
    paths = request.getfixturevalue(media)
    first = make(str(tmp_path / "cache")).fit_transform(paths)
    counter = _Counting(monkeypatch, type(make(None)))
    again = make(str(tmp_path / "cache")).fit_transform(paths)  # a fresh estimator, same cache
    assert counter.calls == []
    np.testing.assert_array_equal(first, again)
    # Another parameter value is another entry: decodes again.
    est = make(str(tmp_path / "cache")).set_params(n_frames=4)
    est.fit_transform(paths)
    assert len(counter.calls) == len(paths)


def test_cache_invalidates_when_the_file_changes(tmp_path, monkeypatch):
    path = write_wav(tmp_path / "a.wav", 0.5, freq=300.0)
    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10, memory=joblib.Memory(tmp_path / "cache", verbose=0))
    before = mfcc.fit_transform([path])
    counter = _Counting(monkeypatch, MFCCTransformer)
    write_wav(path, 0.5, freq=900.0)  # same size, new content and mtime
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    after = mfcc.transform([path])
    assert len(counter.calls) == 1 and not np.array_equal(before, after)


def test_cache_entries_are_written_atomically_and_bad_entries_are_ignored(tmp_path, wavs):
    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10, memory=tmp_path)
    expected = mfcc.fit_transform(wavs[:1])
    files = list((tmp_path / "mmemotion_features" / "MFCCTransformer").rglob("*"))
    entries = [f for f in files if f.is_file()]
    assert len(entries) == 1 and entries[0].suffix == ".npy" and not entries[0].name.startswith(".")
    # A damaged entry (e.g. a disk error) is a miss, not a crash or wrong features.
    entries[0].write_bytes(b"\x93NUMPY garbage")
    np.testing.assert_array_equal(mfcc.transform(wavs[:1]), expected)


def test_killed_write_leaves_no_entry(tmp_path, wavs, monkeypatch):
    from mmemotion.features import _cache

    def dying_save(path, arr, allow_pickle=False):
        open(path, "wb").write(b"\x93NUMPY half")
        raise KeyboardInterrupt

    monkeypatch.setattr(_cache.np, "save", dying_save)
    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10, memory=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        mfcc.fit_transform(wavs[:1])
    assert [f for f in tmp_path.rglob("*") if f.is_file()] == []


def test_joblib_memory_without_location_disables_the_cache(wavs, monkeypatch):
    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10, memory=joblib.Memory(None))
    mfcc.fit_transform(wavs[:1])
    counter = _Counting(monkeypatch, MFCCTransformer)
    mfcc.transform(wavs[:1])
    assert len(counter.calls) == 1


def test_parallel_loky_and_swappable_backend(wavs, flvs):
    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10)
    serial = mfcc.fit_transform(wavs)
    np.testing.assert_array_equal(mfcc.set_params(n_jobs=2).fit_transform(wavs), serial)
    # The user picks the backend around the call; no code change in mmemotion.
    with joblib.parallel_config(backend="threading", n_jobs=2):
        np.testing.assert_array_equal(MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10).fit_transform(wavs), serial)
    sampler = FrameSampler(n_frames=3, size=(8, 8))
    np.testing.assert_array_equal(sampler.set_params(n_jobs=2).fit_transform(flvs), sampler.set_params(n_jobs=1).fit_transform(flvs))


def test_dask_backend(wavs):
    distributed = pytest.importorskip("distributed")
    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10)
    serial = mfcc.fit_transform(wavs)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None):
        with joblib.parallel_config(backend="dask"):
            np.testing.assert_array_equal(mfcc.set_params(n_jobs=-1).fit_transform(wavs), serial)


def test_errors_from_workers_are_reported_the_same(bad_media, wavs):
    with pytest.raises(MediaError, match="garbage.wav"):
        MFCCTransformer(n_jobs=2).fit_transform([wavs[0], bad_media["garbage_wav"]])


def test_verbose_shows_a_progress_bar(wavs, capsys):
    MFCCTransformer(n_mfcc=8, n_mels=16, verbose=True).fit_transform(wavs)
    assert "MFCCTransformer" in capsys.readouterr().err


def test_one_file_and_tuple_and_pathlike_input(tmp_path):
    path = write_wav(tmp_path / "one.wav", 0.3)
    video = write_flv(tmp_path / "one.flv", 5)
    from pathlib import Path

    assert MFCCTransformer(n_mfcc=8, n_mels=16).fit_transform((Path(path),)).shape == (1, 800)
    assert FrameSampler(n_frames=2, size=(4, 4)).fit_transform(np.array([video])).shape == (1, 96)


def test_rerun_of_the_same_batch_reads_one_cache_entry(tmp_path, wavs, monkeypatch):
    from mmemotion.features import _cache

    mfcc = MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10, memory=tmp_path)
    first = mfcc.fit_transform(wavs)
    loads = []
    original = _cache.FeatureCache.load

    def counted(cache, key, shape, dtype):
        loads.append(key)
        return original(cache, key, shape, dtype)

    monkeypatch.setattr(_cache.FeatureCache, "load", counted)
    np.testing.assert_array_equal(mfcc.transform(wavs), first)
    assert len(loads) == 1 and loads[0].startswith("batch-")
    # Another order is another batch: served from the per-file entries, then stored as a batch.
    loads.clear()
    np.testing.assert_array_equal(mfcc.transform(wavs[::-1]), first[::-1])
    assert len(loads) == 1 + len(wavs)
