"""Write files so that a reader never sees a half-written one."""

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "check_can_write"]


@contextlib.contextmanager
def atomic_path(path, *, overwrite=True):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file lives in the same directory, so the final :func:`os.replace` is atomic on
    POSIX and Windows. If the block raises (including ``KeyboardInterrupt``), the temporary file
    is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        Final destination.
    overwrite : bool, default=True
        If False and ``path`` exists, raise :class:`FileExistsError` before anything is written.

    Yields
    ------
    tmp : pathlib.Path
        Where to write. It keeps the suffix of ``path`` so that writers that look at the
        extension (OpenCV, soundfile, matplotlib) pick the right format.
    """
    path = Path(path)
    check_can_write(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates the file owner-only (0600); give the result the permissions any other
        # new file would get, so a report can be shared as usual.
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _current_umask():
    # os.umask can only be read by setting it; set it back at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_can_write(path, *, overwrite=False):
    """Raise :class:`FileExistsError` when ``path`` exists and ``overwrite`` is False."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True (CLI: --force) to replace it.")


def atomic_write_bytes(path, data, *, overwrite=True):
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path, text, *, overwrite=True, encoding="utf-8"):
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    return atomic_write_bytes(path, text.encode(encoding), overwrite=overwrite)
