"""The modality registry: one :class:`Modality` entry per input kind, looked up by name.

Every layer that treats modalities differently (the default pipeline's transformers, the
network's streams, the explanation baselines, the report's views, the loader's media) reads
the entry of the modality at hand instead of branching on its name, so a new modality is one
:func:`register_modality` call.
"""

import importlib
from dataclasses import dataclass, field

__all__ = [
    "Modality",
    "ModalityExplanation",
    "check_modalities",
    "get_modality",
    "register_modality",
    "registered_modalities",
    "unregister_modality",
]


@dataclass(frozen=True)
class ModalityExplanation:
    """How :func:`~mmemotion.explain.explain` treats one modality.

    Parameters
    ----------
    baseline : {"mean", "zeros"}, default="mean"
        The "absent" input. ``"mean"`` averages the background clips over the sample axis and over
        ``mean_axes`` (per-sample axes; kept with length 1 and broadcast back); ``"zeros"`` is the
        all-zero input.
    mean_axes : tuple of int, default=()
        Per-sample axes (0 = first axis after the sample axis) also averaged by the mean baseline.
    sum_axes : tuple of int, default=()
        Per-sample axes summed when reducing an attribution to its display map.
    display : callable or None, default=None
        Maps the batch of inputs ``(n, *shape)`` (float, integer inputs already scaled by
        ``integer_scale``) to what a report shows per clip; None shows the input itself.
    integer_scale : float, default=1.0
        Factor applied to integer-typed inputs before they enter the network as floats; gradients
        need float inputs, and the network's own integer path must see the same values.
    description : str
        The baseline in words, copied into ``Explanation.baselines``.
    split_map : callable or None, default=None
        ``split_map(attributions, gradients, inputs, baseline, transformer, X)`` returns
        ``(display, maps)``, per-clip lists that replace the display data and the reduced
        Integrated-Gradients map, e.g. the text entry splits the attribution of a sentence
        embedding exactly over its words; or None to keep them. ``attributions``, ``gradients``
        (the path-averaged gradients, ``attributions = (inputs - baseline) * gradients``) and
        ``inputs`` are float arrays ``(n, *shape)``, ``baseline`` is ``(1, *shape)`` or
        ``(n, *shape)``, ``transformer`` is the fitted step that made the modality's features
        (None when the pipeline has none of that name) and ``X`` the explained rows. Each
        ``UserWarning`` it issues is recorded in ``Explanation.warnings``.
    legacy_fields : tuple of str, default=()
        ``(map_field, display_field)``: the top-level fields in which explanation files saved
        before the modality registry kept this modality's map and display data;
        :func:`~mmemotion.explain.load_explanation` moves them into ``maps`` and ``display``.
    """

    baseline: str = "mean"
    mean_axes: tuple = ()
    sum_axes: tuple = ()
    display: object = None
    integer_scale: float = 1.0
    description: str = "per-feature mean over the background clips"
    split_map: object = None
    legacy_fields: tuple = ()


@dataclass(frozen=True)
class Modality:
    """Everything mmemotion needs to know about one input modality.

    Parameters
    ----------
    name : str
        The one key used everywhere: the union's step name, the ``SliceDict`` key, the
        network's ``forward`` argument, the explanation's dict key and the report's section id.
        Module parameters of its stream are spelled ``<name>_<parameter>``.
    sample_ndim : int
        Rank of one sample of the transformer's output (e.g. 3 for ``(C, n_mfcc, n_frames)``).
    make_transformer : callable
        ``make_transformer(options)`` returns the unfitted feature transformer of the default
        pipeline; ``options`` holds :func:`~mmemotion.models.make_default_pipeline`'s keyword
        arguments (``n_jobs``, ``memory``, ``verbose``, ``random_state``, ...).
    make_stream : callable
        ``make_stream(name, shape, *, dropout, norm, **params)`` returns the network stream: a
        ``torch.nn.Module`` mapping a batch ``(n, *shape)`` to ``(n, out_features)`` with an
        ``out_features`` attribute. A stream that also has ``expert_features(x)`` and
        ``expert_width`` can feed a linear expert (``module__linear_experts``).
    stream_defaults : dict, default={}
        The stream's parameters and their defaults (``params`` above); the network takes them as
        ``<name>_<parameter>``.
    shape_doc : str, default="(...)"
        The per-sample shape in words, for error messages.
    make_baseline_transformer : callable or None, default=None
        Like ``make_transformer`` for :func:`~mmemotion.models.make_baseline_pipeline` (fixed
        clip features for a linear model); None: the modality has no linear baseline.
    in_baseline : bool, default=True
        Whether the linear baseline uses it by default.
    speaker_norm : str or None, default=None
        Default per-speaker normalisation of its features in the default pipeline
        (see :class:`~mmemotion.features.ModalityUnion`).
    reference_frames : bool, default=False
        Whether its stream reads the speaker's reference samples appended by
        ``speaker_norm="reference"`` (it then takes a ``reference_frames`` stream parameter).
    linear_expert : bool, default=False
        Whether the default pipeline gives it a linear expert.
    integer_divisor : float or None, default=None
        Integer-typed inputs are divided by this inside the network (uint8 frames by 255);
        None casts them as they are.
    explanation : ModalityExplanation
        Baseline, map reduction and display for explanations.
    media : str or None, default=None
        The media kind (``"audio"`` or ``"video"`` file) a clip needs for this modality;
        None when the modality reads the manifest only.
    label : str or None, default=None
        What a report calls its evidence (e.g. "voice"); None uses ``name``.
    colour : str, default="#7f7f7f"
        Its colour in every chart.
    gallery : callable or None, default=None
        ``gallery(display, attribution)`` draws one clip of the report's gallery from its
        ``Explanation.display[name][i]`` and ``Explanation.maps[name][i]`` (either may be None) and
        returns ``{"image": data_uri}`` or ``{"html": markup}`` (a ``markupsafe.Markup``; escape
        what it quotes), with a ``caption`` and optionally ``alt`` and ``numbers`` (JSON-ready,
        for the sidecar); or None when there is nothing to show. None leaves the modality out of
        the gallery.
    eda : callable or None, default=None
        ``eda(frame)`` shows a sample of the manifest ``frame`` in the report's data section. It
        returns None when the frame holds nothing of the modality (it is then left out), else
        a dict with one of ``image`` (data URI), ``table`` (``{"header": [...], "rows": [...]}``)
        or ``html`` (markup), or a ``reason`` (``"not available because ..."``), and optionally
        ``title`` and ``sample`` (the heading after the modality's name, and the clip shown),
        ``caption``, ``note`` and ``numbers`` (for the sidecar). None leaves the modality out
        of the data section.
    persist_classes : tuple, default=()
        Classes, beyond mmemotion's own, that a saved model of this modality may name
        (see :func:`~mmemotion.models.load_model`).
    """

    name: str
    sample_ndim: int
    make_transformer: object
    make_stream: object
    stream_defaults: dict = field(default_factory=dict)
    shape_doc: str = "(...)"
    make_baseline_transformer: object = None
    in_baseline: bool = True
    speaker_norm: str = None
    reference_frames: bool = False
    linear_expert: bool = False
    integer_divisor: float = None
    explanation: ModalityExplanation = ModalityExplanation()
    media: str = None
    label: str = None
    colour: str = "#7f7f7f"
    gallery: object = None
    eda: object = None
    persist_classes: tuple = ()

    @property
    def display_name(self):
        """``label``, or ``name`` when there is none."""
        return self.label or self.name


_REGISTRY = {}


def register_modality(modality, *, replace=False):
    """Add ``modality`` to the registry (after the ones already there).

    Parameters
    ----------
    modality : Modality
    replace : bool, default=False
        Replace an entry of the same name (keeping its position) instead of raising.

    Returns
    -------
    modality : Modality

    Examples
    --------
    >>> from mmemotion.modalities import (Modality, register_modality, registered_modalities,
    ...                                   unregister_modality)
    >>> _ = register_modality(Modality(name="toy", sample_ndim=1, make_transformer=None, make_stream=None))
    >>> "toy" in registered_modalities()
    True
    >>> unregister_modality("toy")
    """
    if not isinstance(modality, Modality):
        raise TypeError(f"register_modality: expected a Modality, got {type(modality).__name__}.")
    name = modality.name
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(
            f"register_modality: the name {name!r} must be a Python identifier: it becomes a keyword "
            "argument of the network's forward."
        )
    if name in _REGISTRY and not replace:
        raise ValueError(f"register_modality: {name!r} is registered already; pass replace=True to replace it.")
    clash = [other for other in _REGISTRY if other != name and (other.startswith(name + "_") or name.startswith(other + "_"))]
    if clash:
        raise ValueError(
            f"register_modality: {name!r} and {clash[0]!r} would make the stream parameters "
            "`<name>_<parameter>` ambiguous; choose a name that is not a prefix of another."
        )
    _REGISTRY[name] = modality
    return modality


def unregister_modality(name):
    """Remove the entry ``name`` (no error when there is none)."""
    _REGISTRY.pop(name, None)


def registered_modalities():
    """Names of the registered modalities, in registration order (the canonical order).

    Returns
    -------
    names : tuple of str
    """
    return tuple(_REGISTRY)


def get_modality(name):
    """Return the :class:`Modality` registered as ``name``.

    Raises
    ------
    ValueError
        When no modality of that name is registered.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown modality {name!r}; registered: {registered_modalities()}. "
            "Add one with mmemotion.modalities.register_modality."
        ) from None


def check_modalities(modalities, caller):
    """Return ``modalities`` as a tuple in canonical order, or raise naming ``caller``.

    Parameters
    ----------
    modalities : str or iterable of str
        Registered modality names; a single name may be given as a string.
    caller : str
        Named in the error message.

    Returns
    -------
    modalities : tuple of str
        The same names, in registration order.

    Examples
    --------
    >>> from mmemotion.modalities import check_modalities
    >>> check_modalities(["text", "audio"], "example")
    ('audio', 'text')
    """
    if isinstance(modalities, str):
        modalities = (modalities,)
    modalities = tuple(modalities)
    known = registered_modalities()
    unknown = [m for m in modalities if m not in known]
    if unknown or not modalities or len(set(modalities)) != len(modalities):
        raise ValueError(
            f"{caller}: modalities={modalities!r} must be a non-empty subset of {known} without repeats."
        )
    return tuple(m for m in known if m in modalities)


def resolve(dotted):
    """Import ``"package.module:attribute"`` on first use (keeps the registry free of heavy imports)."""
    module_name, _, attribute = dotted.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def lazy(dotted):
    """A callable that imports ``"package.module:function"`` when first called, then calls it."""

    def call(*args, **kwargs):
        return resolve(dotted)(*args, **kwargs)

    call.__qualname__ = call.__name__ = dotted.rpartition(":")[2]
    call.dotted = dotted
    return call
