"""Compile librosa's cached numba functions in one process at a time, before workers start.

librosa compiles several functions with ``numba`` and ``cache=True`` (e.g. the parabolic
interpolation inside ``librosa.yin``, a ``guvectorize`` function). numba writes the compiled
function and its gufunc wrapper as two separate cache files; when several processes compile
the same function at once (joblib's loky workers on a fresh install, or pytest-xdist workers),
the pair can come from different processes and every later call segfaults, in every later run,
until the cache files are deleted. This is numba issue #10128 (open; reported for librosa in
librosa issue #1998). We met it in a fresh clone: ``make demo`` died with "Fatal Python error:
Segmentation fault" in ``librosa.yin`` and left the cache broken for ``make test``.

The workaround suggested there: compile once in the parent before any worker starts. A file
lock in the temporary directory also serialises the first compilation across independent
processes (pytest-xdist workers, two users' jobs), so the cache is written by one of them and
loaded, complete, by the others.
"""

import contextlib
import os
import tempfile

try:  # POSIX; elsewhere processes are not serialised, the in-process warm-up still helps
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["warm_up_once"]

_done = set()


@contextlib.contextmanager
def _machine_lock():
    if fcntl is None:
        yield
        return
    path = os.path.join(tempfile.gettempdir(), "mmemotion-numba-warmup.lock")
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def warm_up_once(key, run):
    """Call ``run()`` under a machine-wide lock, once per process and ``key``.

    Parameters
    ----------
    key : hashable
        What is compiled (e.g. the extraction parameters that change numba signatures).
    run : callable
        Exercises the numba functions, e.g. one extraction of a short synthetic waveform.
    """
    if key in _done:
        return
    with _machine_lock():
        run()
    _done.add(key)
