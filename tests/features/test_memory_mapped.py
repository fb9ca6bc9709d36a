"""Issue 13 (full CREMA-D scale): large feature arrays live in memory-mapped files of the cache
directory, not in the process's own memory."""

import mmap
import os

import joblib
import numpy as np
import pytest

from mmemotion.features import FrameSampler, MFCCTransformer, ModalityUnion
from mmemotion.features import _cache
from mmemotion.features._cache import scratch_array


@pytest.fixture
def tiny_threshold(monkeypatch):
    """Memory-map every array of at least 1 KiB (the real threshold is 64 MiB)."""
    monkeypatch.setattr(_cache, "MMAP_BYTES", 1024)


def _is_mapped(array):
    """Whether ``array``'s memory is a memory map (and not a numpy.memmap, which joblib would
    send to its workers by file name)."""
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        assert not isinstance(base, np.memmap)
        base = base.obj if isinstance(base, memoryview) else base.base
    return base is not None


def _scratch_files(root):
    folder = root / "mmemotion_features" / "scratch"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def test_scratch_array_is_mapped_on_an_unnamed_file_only_when_large_and_cached(tiny_threshold, tmp_path):
    small = scratch_array((4, 8), np.uint8, tmp_path)  # 32 bytes
    assert type(small) is np.ndarray
    assert type(scratch_array((64, 64), np.uint8, None)) is np.ndarray  # no cache directory
    large = scratch_array((64, 64), np.float32, tmp_path)
    assert _is_mapped(large) and large.shape == (64, 64) and large.dtype == np.float32
    large[:] = 3.0
    assert float(large.sum()) == 3.0 * 64 * 64
    assert _scratch_files(tmp_path) == []  # nothing left under a name


def test_video_and_audio_outputs_are_mapped_and_equal_the_in_ram_ones(tiny_threshold, synthetic_bunch, tmp_path):
    frame = synthetic_bunch.frame.iloc[:12]
    for make in (lambda memory: FrameSampler(n_frames=4, size=(16, 16), crop="speaker_face", dtype=np.uint8,
                                             memory=memory),
                 lambda memory: MFCCTransformer(standardize=True, memory=memory)):
        expected = make(None).fit(frame).transform(frame)
        cached = make(tmp_path).fit(frame)
        cold = cached.transform(frame)
        assert _is_mapped(cold)
        np.testing.assert_array_equal(cold, expected)
        # Read back from the cache's batch entry by mapping it, copy-on-write: MFCCTransformer
        # standardises in place, which must reach neither the file nor the next read.
        for _ in range(2):
            warm = cached.transform(frame)
            assert _is_mapped(warm)
            np.testing.assert_array_equal(warm, expected)
    assert _scratch_files(tmp_path) == []


def test_reference_frames_are_appended_into_a_mapped_array(tiny_threshold, synthetic_bunch, tmp_path):
    frame = synthetic_bunch.frame.iloc[:12]

    def union(memory):
        sampler = FrameSampler(n_frames=4, size=(16, 16), crop="center", dtype=np.uint8, memory=memory)
        return ModalityUnion([("video", sampler)], speaker_norm="reference", reference_size=3)

    expected = union(None).fit_transform(frame)["video"]
    out = union(tmp_path).fit_transform(frame)["video"]
    assert _is_mapped(out) and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_mapped_features_reach_joblib_workers_by_value(tiny_threshold, synthetic_bunch, tmp_path):
    # joblib sends numpy.memmap arrays to its worker processes by file name, to be mapped again
    # there: cached MFCC batches are standardised in place on a copy-on-write map, so a worker
    # would read them raw; an unnamed scratch file has no name to send.
    frame = synthetic_bunch.frame.iloc[:12]
    mfcc = MFCCTransformer(standardize=True, memory=tmp_path).fit(frame)
    mfcc.transform(frame)  # fills the cache
    cached = mfcc.transform(frame)  # mapped, standardised in place
    sampler = FrameSampler(n_frames=4, size=(16, 16), crop="center", dtype=np.uint8, memory=tmp_path).fit(frame)
    scratch = sampler.transform(frame)
    sums = joblib.Parallel(n_jobs=2, max_nbytes=0)(joblib.delayed(np.sum)(a, dtype=np.float64)
                                                   for a in (cached, scratch))
    assert sums == [np.sum(cached, dtype=np.float64), np.sum(scratch, dtype=np.float64)]
    assert _is_mapped(cached) and _is_mapped(scratch)
