"""A synthetic CREMA-D written as a whole: built in a temporary sibling folder, renamed into place."""

import os
import shutil
import tempfile
from pathlib import Path

from ._synthetic import make_synthetic_crema_d

__all__ = ["write_synthetic_crema_d"]


def write_synthetic_crema_d(path, *, overwrite=False, **params):
    """:func:`make_synthetic_crema_d` into a folder that appears complete or not at all.

    The set is generated in a temporary folder beside ``path`` and renamed onto ``path`` at the
    end, so an error or Ctrl-C leaves no half-written set (nor any temporary folder), and
    ``overwrite=True`` replaces an earlier synthetic set as a whole: none of its files
    survive. A folder that is not a synthetic set (no ``synthetic_truth.csv``) is never deleted.

    Parameters
    ----------
    path : str or path-like
        The folder to write.
    overwrite : bool, default=False
        Replace an existing synthetic set at ``path``. Otherwise an existing ``path`` raises
        :class:`FileExistsError`.
    **params
        Passed to :func:`make_synthetic_crema_d` (``n_actors``, ``clips_per_actor``,
        ``duration``, ``signal``, ``random_state``, ...).

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    FileExistsError
        When ``path`` exists and ``overwrite`` is False, or when ``path`` is a non-empty folder
        without ``synthetic_truth.csv`` (even with ``overwrite``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "synthetic"
    >>> root = write_synthetic_crema_d(out, n_actors=2, clips_per_actor=6, duration=0.5, verbose=False)
    >>> root = write_synthetic_crema_d(out, overwrite=True, n_actors=3, clips_per_actor=6, duration=0.5,
    ...                                verbose=False)
    >>> len(list((root / "AudioWAV").glob("*.wav")))
    18
    """
    out = Path(path)
    if out.exists():
        if not overwrite:
            raise FileExistsError(f"{out} already exists; pass overwrite=True (CLI: --force) to replace it.")
        if out.is_dir() and any(out.iterdir()) and not (out / "synthetic_truth.csv").is_file():
            raise FileExistsError(f"{out} exists and does not look like a synthetic CREMA-D folder (no "
                                  "synthetic_truth.csv); refusing to delete it even with overwrite=True "
                                  "(CLI: --force). Choose another folder.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        make_synthetic_crema_d(tmp, **{**params, "overwrite": True})
        # mkdtemp creates the folder private (0700); give it the permissions of a normal mkdir.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out
