"""Progress bars that can be switched off."""

from tqdm.auto import tqdm

__all__ = ["progress"]


def progress(iterable=None, *, verbose=True, desc=None, total=None, unit="it"):
    """Wrap ``iterable`` in a tqdm progress bar when ``verbose`` is true.

    Parameters
    ----------
    iterable : iterable, optional
    verbose : bool or int, default=True
        Falsy values disable the bar (tqdm still counts, but prints nothing).
    desc, total, unit
        Passed to :class:`tqdm.tqdm`.
    """
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not verbose, leave=False, dynamic_ncols=True)
