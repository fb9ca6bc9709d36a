"""Validation of a modality subset, shared by the loader and the pipeline builders."""

from .. import MODALITIES

__all__ = ["check_modalities"]


def check_modalities(modalities, caller):
    """Return ``modalities`` as a tuple in canonical order, or raise naming ``caller``.

    Parameters
    ----------
    modalities : str or iterable of str
        Names from :data:`mmemotion.MODALITIES`; a single name may be given as a string.
    caller : str
        Named in the error message.

    Returns
    -------
    modalities : tuple of str
        The same names, in the order of :data:`mmemotion.MODALITIES`.

    Examples
    --------
    >>> from mmemotion.utils import check_modalities
    >>> check_modalities(["text", "audio"], "example")
    ('audio', 'text')
    """
    if isinstance(modalities, str):
        modalities = (modalities,)
    modalities = tuple(modalities)
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown or not modalities:
        raise ValueError(f"{caller}: modalities={modalities!r} must be a non-empty subset of {MODALITIES}.")
    return tuple(m for m in MODALITIES if m in modalities)
