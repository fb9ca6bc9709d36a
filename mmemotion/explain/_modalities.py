"""Per-modality table: how each input is made "absent", displayed and cast for gradients.

Everything downstream of this table is keyed by modality name only. Adding a modality means one
entry here; a modality without an entry gets :data:`DEFAULT_SPEC` (mean baseline over clips,
maps kept in the input's own shape).
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_SPEC",
    "MODALITY_SPECS",
    "ModalitySpec",
    "as_float_input",
    "make_baseline",
    "reduce_map",
    "spec_for",
]


def _first_channel(x):
    return x[:, 0]


def _channels_last_uint8(x):
    # Frames arrive as float in [0, 1] (after the integer scaling below), shown as uint8 RGB.
    x = np.moveaxis(x, 1, -1)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ModalitySpec:
    """How one modality is treated by :func:`~mmemotion.explain.explain`.

    Parameters
    ----------
    baseline : {"mean", "zeros"}
        The "absent" input. ``"mean"`` averages the background clips over the sample axis and over
        ``mean_axes`` (per-sample axes; kept with length 1 and broadcast back); ``"zeros"`` is the
        all-zero input.
    mean_axes : tuple of int
        Per-sample axes (0 = first axis after the sample axis) also averaged by the mean baseline.
    sum_axes : tuple of int
        Per-sample axes summed when reducing an attribution to its display map.
    display : callable or None
        Maps the batch of inputs ``(n, *shape)`` to what a report shows; None keeps nothing.
    map_field, display_field : str or None
        :class:`Explanation` fields that receive the Integrated-Gradients maps and the display data.
    integer_scale : float
        Factor applied to integer-typed inputs before they enter the network as floats; gradients
        need float inputs, and the network's own integer path must see the same values.
    description : str
        The baseline in words, copied into ``Explanation.baselines``.
    """

    baseline: str = "mean"
    mean_axes: tuple = ()
    sum_axes: tuple = ()
    display: object = None
    map_field: str = None
    display_field: str = None
    integer_scale: float = 1.0
    description: str = "per-feature mean over the background clips"


MODALITY_SPECS = {
    # Raw (unstandardised) MFCCs have large, coefficient-specific offsets (c0 is around -300), so
    # zeros would be a loud, unnatural "sound". The per-coefficient mean over clips and frames is a
    # flat average spectrum with no temporal structure: the information IG asks about is removed.
    "audio": ModalitySpec(
        baseline="mean",
        mean_axes=(2,),
        sum_axes=(0,),
        display=_first_channel,
        map_field="audio_maps",
        display_field="mfcc",
        description=(
            "per-coefficient mean MFCC over the background clips and all frames (a flat average "
            "spectrum: timing and emotion-specific spectral shape removed)"
        ),
    ),
    # The mean frame over clips and time keeps the static scene (background, average face
    # position) and removes what changes between clips and over time. A black frame would credit
    # every bright background pixel with evidence it does not carry.
    "video": ModalitySpec(
        baseline="mean",
        mean_axes=(1,),
        sum_axes=(0,),
        display=_channels_last_uint8,
        map_field="video_maps",
        display_field="frames",
        integer_scale=1.0 / 255.0,
        description=(
            "mean frame over the background clips and all sampled frames, repeated over time "
            "(static scene kept, clip-specific and moving content removed)"
        ),
    ),
    # The text vector is a mean of word vectors, so the zero vector is "no words at all"; it also
    # makes the per-word split of the attribution exact (see _text_words in _explain.py).
    "text": ModalitySpec(
        baseline="zeros",
        description="zero vector (no words: the embedding of an empty sentence)",
    ),
}

DEFAULT_SPEC = ModalitySpec()


def spec_for(modality):
    """Return the :class:`ModalitySpec` of ``modality`` (the default one when unknown)."""
    return MODALITY_SPECS.get(modality, DEFAULT_SPEC)


def make_baseline(spec, background):
    """Baseline of shape ``(1, *shape)`` from a background batch ``(n_background, *shape)``.

    Parameters
    ----------
    spec : ModalitySpec
    background : ndarray of shape (n_background, *shape), float

    Returns
    -------
    baseline : ndarray of shape (1, *shape), float32
    """
    if spec.baseline == "zeros":
        return np.zeros((1,) + background.shape[1:], dtype=np.float32)
    axes = (0,) + tuple(a + 1 for a in spec.mean_axes)
    mean = background.astype(np.float64).mean(axis=axes, keepdims=True)
    return np.broadcast_to(mean, (1,) + background.shape[1:]).astype(np.float32)


def reduce_map(spec, attribution):
    """Sum an attribution batch ``(n, *shape)`` over the spec's ``sum_axes`` for display."""
    if not spec.sum_axes:
        return attribution
    return attribution.sum(axis=tuple(a + 1 for a in spec.sum_axes))


def as_float_input(spec, values):
    """Cast a feature batch to float32, scaling integer inputs as the network does."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer):
        return values.astype(np.float32) * np.float32(spec.integer_scale)
    return values.astype(np.float32, copy=False)
