"""On-disk cache of per-file features, keyed by the file's identity and the extraction parameters.

Why not ``joblib.Memory(...).cache`` (whose ``location`` is still where this cache lives when a
Memory is passed): joblib keys a call by its arguments' values, so the file's size and mtime
would have to be passed as arguments anyway, and a hit costs more. Measured on 300 entries of
shape (1, 40, 100) float32 (2 loaded cores): a hit took 0.12-0.16 ms here and 0.41-0.60 ms
through a memoised ``f(params, path, size, mtime_ns)`` (3.3-3.7x: the arguments are pickled to
hash them, ``metadata.json`` is read, the result unpickled), against 1-2.3 ms to compute an MFCC;
joblib also writes two files per entry instead of one. Entries are written atomically in both.
"""

import hashlib
import json
import math
import mmap
import os
import tempfile
from pathlib import Path

import numpy as np

from ..utils import atomic_path

__all__ = ["MMAP_BYTES", "FeatureCache", "resolve_cache_dir", "scratch_array"]

#: Feature arrays of at least this many bytes are memory-mapped when a cache directory is set:
#: new ones on an unnamed file there (:func:`scratch_array`), cached batches read back in place
#: (:meth:`FeatureCache.load`).
MMAP_BYTES = 64 * 2**20

# Bump when the per-file output of any transformer changes for the same parameters, so that
# entries written by an older mmemotion are never read back. 2: FrameSampler(crop="face") finds
# the face with dlib's detector first (version 1 entries hold the heuristic's crops). 3: the
# colour/motion heuristic's face box sits lower (_face_box._HEURISTIC_DROP).
_FORMAT_VERSION = 3


def resolve_cache_dir(memory):
    """Return the cache directory for ``memory``, or None when caching is off.

    Parameters
    ----------
    memory : None, str, path-like or object with a ``location`` attribute
        A directory, or a :class:`joblib.Memory` (its ``location`` is used; ``location=None``
        disables caching as it does in joblib).

    Returns
    -------
    path : pathlib.Path or None
    """
    if memory is None:
        return None
    if isinstance(memory, (str, os.PathLike)):
        return Path(memory)
    if hasattr(memory, "location"):
        location = memory.location
        return None if location is None else Path(location)
    raise TypeError(
        f"memory={memory!r} is not supported; pass None, a directory path or a joblib.Memory "
        "(e.g. memory='~/.cache/mmemotion')."
    )


def scratch_array(shape, dtype, memory):
    """A new, uninitialised array for a transformer's output.

    In RAM, unless ``memory`` names a cache directory and the array takes at least
    :data:`MMAP_BYTES`: then it is memory-mapped on an unnamed temporary file under
    ``<cache>/mmemotion_features/scratch`` (the file is gone once the array is freed). Its pages
    are the kernel's to write out and drop under memory pressure, so a large feature matrix (full
    CREMA-D's frames with their reference frames: 2.9 GB) need not fit in RAM beside everything
    else; with RAM to spare they stay in the page cache and cost nothing more
    (``benchmarks/bench_scaling.py`` reports both kinds of memory).

    Parameters
    ----------
    shape : tuple of int
    dtype : numpy dtype
    memory : None, str, path-like or joblib.Memory
        As the transformers' ``memory`` parameter.

    Returns
    -------
    array : numpy.ndarray
        Over a memory map when mapped (a plain array, see :func:`_array_on`).
    """
    dtype = np.dtype(dtype)
    root = resolve_cache_dir(memory)
    size = math.prod(shape) * dtype.itemsize
    if root is None or size < MMAP_BYTES:
        return np.empty(shape, dtype=dtype)
    folder = Path(root).expanduser() / "mmemotion_features" / "scratch"
    folder.mkdir(parents=True, exist_ok=True)
    # The map keeps its own handle on the file, which has no name on POSIX already.
    with tempfile.TemporaryFile(dir=folder) as handle:
        handle.truncate(size)
        return _array_on(mmap.mmap(handle.fileno(), size), dtype, shape)


def _array_on(buffer, dtype, shape, offset=0):
    """A plain ndarray over a mapped ``buffer``, not a :class:`numpy.memmap`.

    joblib hands a ``numpy.memmap`` to its worker processes by file name and offset, to be mapped
    again there: an unnamed file has none, and a copy-on-write map of a cache entry would reach
    them without the changes made to it in this process (standardised MFCCs would arrive raw).
    A plain array is pickled by value instead.
    """
    count = math.prod(shape)
    return np.frombuffer(buffer, dtype=dtype, count=count, offset=offset).reshape(shape)


def _map_npy(path):
    """The array in the ``.npy`` file ``path``, mapped copy-on-write: changes to it stay in this
    process and never reach the file."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"{path}: .npy format version {version} is not mapped")
        shape, fortran, dtype = readers[version](handle)
        if fortran or dtype.hasobject:
            raise ValueError(f"{path}: not a C-ordered numeric array")
        return _array_on(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY), dtype, shape, handle.tell())


class FeatureCache:
    """One ``.npy`` file per (file, parameters) pair under ``<root>/mmemotion_features/<namespace>/``.

    A whole batch (the ordered list of per-file keys) is also stored as one entry under
    ``batches/``: a per-file hit still costs a stat, an open and a small read (about a tenth of
    the ~1 ms an MFCC takes to compute), so a grid search re-transforming the same fold is only
    fast if the fold is read back in one piece. This doubles the disk used by the cache.

    The key hashes the resolved path, the file's size and ``st_mtime_ns`` and the extraction
    parameters, so editing or replacing a clip (or changing ``n_mfcc``) misses the cache instead
    of returning stale features. Entries are written through :func:`mmemotion.utils.atomic_path`:
    a run killed mid-write leaves at most a hidden temporary file, never a truncated entry under
    the final name.

    Parameters
    ----------
    root : path-like
        Cache directory.
    namespace : str
        Usually the transformer's class name.
    params : dict
        JSON-serialisable (``str`` is applied to anything else) extraction parameters.
    """

    def __init__(self, root, namespace, params):
        self.dir = Path(root).expanduser() / "mmemotion_features" / namespace
        self._salt = json.dumps([_FORMAT_VERSION, namespace, params], sort_keys=True, default=str)

    def key(self, path):
        """Return the cache key of ``path``, or None when the file cannot be stat'ed."""
        # abspath, not Path.resolve(): resolve() makes a syscall per path component and was the
        # largest cost of a cached rerun; a file reached through two symlinks just gets two entries.
        absolute = os.path.abspath(os.path.expanduser(os.fspath(path)))
        try:
            st = os.stat(absolute)
        except OSError:
            # Missing or unreadable: let extraction produce the real, user-facing error.
            return None
        material = f"{self._salt}\0{absolute}\0{st.st_size}\0{st.st_mtime_ns}"
        return hashlib.sha256(material.encode()).hexdigest()

    def _file(self, key):
        if key.startswith("batch-"):
            return self.dir / "batches" / f"{key}.npy"
        return self.dir / key[:2] / f"{key}.npy"

    @staticmethod
    def batch_key(keys):
        """Return the key of an ordered batch of per-file keys, or None if any key is None."""
        if any(k is None for k in keys):
            return None
        return "batch-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()

    def load(self, key, shape, dtype):
        """Return the cached array, or None on a miss or an entry that does not match."""
        if key is None:
            return None
        path = self._file(key)
        try:
            # A large batch is mapped, not read: copy-on-write, so in-place post-processing
            # (MFCCTransformer's standardisation) never reaches the file.
            large = key.startswith("batch-") and path.stat().st_size >= MMAP_BYTES
            arr = _map_npy(path) if large else np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if arr.shape != tuple(shape) or arr.dtype != np.dtype(dtype):
            return None
        return arr

    def save(self, key, arr):
        """Store ``arr`` under ``key`` atomically (no-op when ``key`` is None)."""
        if key is None:
            return
        with atomic_path(self._file(key), overwrite=True) as tmp:
            np.save(tmp, arr, allow_pickle=False)
