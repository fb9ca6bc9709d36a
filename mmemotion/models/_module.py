"""The fusion network: one stream per modality of the registry, late fusion of their outputs."""

import inspect
import math
import numbers

import torch
from torch import nn
from torch.nn import functional as F

from .. import MODALITIES
from ..modalities import check_modalities, get_modality, registered_modalities

__all__ = ["MultiStreamModule"]

#: Stream parameters spelled ``<modality>_shape`` / ``<modality>_dim`` (a 1-D shape) in every entry.
_SHAPE_KEYS = ("shape", "dim")


def _route_stream_params(stream_params, caller):
    """Split ``{"<modality>_<parameter>": value}`` into ``{modality: {parameter: value}}``."""
    known = registered_modalities()
    routed = {}
    for key, value in stream_params.items():
        owners = [m for m in known if key.startswith(m + "_")]
        if not owners:
            raise TypeError(
                f"{caller}: unexpected parameter `{key}`; stream parameters are spelled <modality>_<parameter> "
                f"with a registered modality {known}."
            )
        modality = owners[0]
        parameter = key[len(modality) + 1:]
        allowed = set(get_modality(modality).stream_defaults) | set(_SHAPE_KEYS)
        if parameter not in allowed:
            raise TypeError(f"{caller}: unexpected parameter `{key}`; the {modality} stream takes "
                            f"{sorted(modality + '_' + p for p in allowed)}.")
        routed.setdefault(modality, {})[parameter] = value
    return routed


class MultiStreamModule(nn.Module):
    """One stream per active modality, fused late; returns fused class log-scores.

    Each active modality's stream comes from its registry entry
    (:func:`mmemotion.modalities.get_modality`), so a registered modality is a network input
    with no change here. :class:`ThreeStreamModule` is this network with the built-in
    modalities' stream parameters spelled out (and documented) in its signature.

    Parameters
    ----------
    shapes : dict of str -> tuple of int, default=None
        Per-sample input shape of each active modality;
        :class:`~mmemotion.models.FusionClassifier` fills it from the training data. Overrides
        ``<modality>_shape`` / ``<modality>_dim``.
    n_classes : int, default=6
        Number of output logits.
    modalities : tuple of str, default=None
        Active streams, a non-empty subset of the registered modalities; None: the built-in
        ones (:data:`mmemotion.MODALITIES`). Inputs of inactive modalities are accepted by
        :meth:`forward` and ignored.
    fusion_width, dropout, stream_norm, modality_dropout, fusion, linear_experts
        As in :class:`ThreeStreamModule`; ``linear_experts`` takes any modality whose stream
        has fixed clip statistics (``expert_features``).
    **stream_params
        ``<modality>_<parameter>``: a parameter of that modality's stream (its entry's
        ``stream_defaults``), or ``<modality>_shape`` / ``<modality>_dim``.

    Attributes
    ----------
    streams : torch.nn.ModuleDict
        One sub-network per active modality, keyed by modality name.
    shapes : dict of str -> tuple of int
        Per-sample input shape of each stream.
    head : torch.nn.Sequential
        Fusion layers mapping the concatenated embeddings to logits (``fusion="concat"``).
    heads : torch.nn.ModuleDict
        Per-stream layers mapping each embedding to logits (``fusion="product"`` or ``"sum"``).

    Examples
    --------
    >>> import torch
    >>> from mmemotion.models import MultiStreamModule
    >>> net = MultiStreamModule(shapes={"text": (8,)}, modalities=("text",), text_widths=(4,), fusion_width=8)
    >>> tuple(net(text=torch.randn(2, 8)).shape)
    (2, 6)
    """

    def __init__(self, *, shapes=None, n_classes=6, modalities=None, fusion_width=64, dropout=0.3, stream_norm=True,
                 modality_dropout=0.2, fusion="product", linear_experts=(), **stream_params):
        super().__init__()
        caller = type(self).__name__
        # One check for every layer (registry order, no repeats, registered names only).
        modalities = check_modalities(MODALITIES if modalities is None else modalities, caller)
        if not (isinstance(dropout, numbers.Real) and 0 <= dropout < 1):
            raise ValueError(f"{caller}: `dropout` must be in [0, 1), got {dropout!r}.")
        if not (isinstance(modality_dropout, numbers.Real) and 0 <= modality_dropout < 1):
            raise ValueError(f"{caller}: `modality_dropout` must be in [0, 1), got {modality_dropout!r}.")
        self.modality_dropout = float(modality_dropout)
        if fusion not in ("concat", "sum", "product"):
            raise ValueError(f"{caller}: `fusion` must be 'concat', 'sum' or 'product', got {fusion!r}.")
        self.fusion = fusion
        # The canonical order (check_modalities'), so that the fusion layer's input layout does not
        # depend on how the user spelled `modalities`.
        self.modalities = modalities
        self.n_classes = int(n_classes)

        routed = _route_stream_params(stream_params, caller)
        shapes = dict(shapes or {})
        self.shapes, streams = {}, {}
        for m in self.modalities:
            entry = get_modality(m)
            params = {**entry.stream_defaults, **routed.get(m, {})}
            shape, dim = params.pop("shape", None), params.pop("dim", None)
            shape = shapes.get(m, shape if shape is not None or dim is None else (dim,))
            if shape is None:
                raise ValueError(f"{caller}: `{m}_shape` {entry.shape_doc} is required when '{m}' is active.")
            streams[m] = entry.make_stream(m, shape, dropout=dropout, norm=stream_norm, **params)
            self.shapes[m] = tuple(int(d) for d in shape)
        self.streams = nn.ModuleDict(streams)
        # Integer inputs (uint8 frames) are scaled here, as their entry says.
        self._divisors = {m: get_modality(m).integer_divisor for m in self.modalities}

        def make_head(n_in):
            if not fusion_width:
                # A linear read-out of the stream features: with a few hundred clips this is what
                # the classical systems (functionals + linear model) do best.
                return nn.Sequential(nn.Linear(n_in, self.n_classes))
            return nn.Sequential(
                nn.Linear(n_in, int(fusion_width)),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(int(fusion_width), self.n_classes),
            )

        if isinstance(linear_experts, str):
            linear_experts = (linear_experts,)
        linear_experts = tuple(linear_experts)
        self.linear_experts = tuple(m for m in self.modalities if m in linear_experts)
        unusable = [m for m in linear_experts if m not in registered_modalities()]
        if unusable or (self.linear_experts and self.fusion != "product"):
            raise ValueError(
                f"{caller}: `linear_experts` takes registered modalities whose stream has fixed clip statistics and "
                f"needs fusion='product'; got {linear_experts!r} with fusion={fusion!r}."
            )
        for m in self.linear_experts:
            if not hasattr(self.streams[m], "expert_features"):
                reason = getattr(self.streams[m], "no_expert_reason", "its stream has no fixed clip statistics")
                raise ValueError(f"{caller}: `linear_experts` lists {m!r}, but {reason}.")
        for m in self.linear_experts:
            # Filled by FusionClassifier.fit (a logistic regression fitted to convergence, its
            # standardisation folded in); buffers, not parameters: the optimiser never moves them,
            # and they are saved with the weights.
            n_in = self.linear_expert_features(m, None)
            self.register_buffer(f"linear_{m}_weight", torch.zeros(self.n_classes, n_in))
            self.register_buffer(f"linear_{m}_bias", torch.zeros(self.n_classes))

        if self.fusion == "concat":
            self.head = make_head(sum(stream.out_features for stream in self.streams.values()))
        else:
            self.heads = nn.ModuleDict({m: make_head(s.out_features) for m, s in self.streams.items()})

    @classmethod
    def parameter_defaults(cls):
        """Every constructor parameter with its default, stream parameters of every registered
        modality included (``<modality>_<parameter>``, from the registry entries).

        Returns
        -------
        defaults : dict of str -> object
        """
        signature = inspect.signature(cls)
        defaults = {name: p.default for name, p in signature.parameters.items() if p.kind is p.KEYWORD_ONLY}
        for m in registered_modalities():
            defaults.update({f"{m}_{key}": value for key, value in get_modality(m).stream_defaults.items()})
        return defaults

    def reset_parameters(self):
        """Draw the linear experts' weights afresh, as ``nn.Linear`` initialises its own.

        The streams' layers reset themselves; this covers the experts, which are buffers, so
        that a model-randomisation test (``mmemotion.explain.randomised_copy``) randomises them too.
        """
        for m in self.linear_experts:
            weight, bias = getattr(self, f"linear_{m}_weight"), getattr(self, f"linear_{m}_bias")
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
            bound = 1 / math.sqrt(weight.shape[1])
            nn.init.uniform_(bias, -bound, bound)

    def linear_expert_features(self, modality, x):
        """The fixed clip statistics a linear expert reads (its width when ``x`` is None).

        The stream's ``expert_features`` (audio: mean and spread over time of every input row,
        padding skipped; video: the HOG stream's :meth:`describe`, a 2-D input taken as
        already described).
        """
        stream = self.streams[modality]
        return stream.expert_width if x is None else stream.expert_features(x)

    def forward(self, **streams):
        """Return class logits.

        Parameters
        ----------
        **streams : Tensor of shape (n, *shape)
            One batch per modality, keyed by modality name, e.g. ``audio`` (n, C, n_mfcc,
            n_frames), ``video`` (n, C, T, H, W; uint8 in [0, 255], scaled here by its entry's
            ``integer_divisor``, or float in [0, 1]) and ``text`` (n, dim). Batches of inactive
            modalities (or None) are ignored.

        Returns
        -------
        logits : Tensor of shape (n, n_classes)
        """
        embeddings, linear = [], []
        for name in self.modalities:
            x = streams.get(name)
            if x is None:
                raise ValueError(
                    f"{type(self).__name__}: the '{name}' stream is active (modalities={self.modalities}) but "
                    f"`{name}` was not passed to forward; pass it or drop it from `modalities`."
                )
            divisor = self._divisors[name]
            if divisor and not torch.is_floating_point(x):
                # uint8 clips are 4x smaller in memory than float32; scaling here keeps the
                # feature cache and the DataLoader batches small.
                x = x.float().div_(divisor)
            # float64 numpy arrays and integer embeddings meet float32 weights here.
            x = x.to(self._dtype())
            if name in self.linear_experts:
                stream = self.streams[name]
                x = stream.expert_input(x)  # described once, for the stream and its linear expert
                linear.append(torch.log_softmax(
                    F.linear(stream.expert_features(x), getattr(self, f"linear_{name}_weight"),
                             getattr(self, f"linear_{name}_bias")), dim=1))
            embeddings.append(self.streams[name](x))
        if self.fusion == "product":
            # Product of experts: each stream is a classifier of its own; the fused class
            # probabilities are the normalised product of theirs, i.e. softmax of the summed
            # log-probabilities returned here. Training uses each stream's own loss
            # (stream_log_probs_, read by FusionClassifier.get_loss), so a stream that fits the
            # training actors fast cannot make the others lazy. Kept in training mode only, and
            # taken away by get_loss, so no autograd graph outlives its step.
            log_probs = [torch.log_softmax(self.heads[m](e), dim=1) for m, e in zip(self.modalities, embeddings)]
            if self.training:
                self.stream_log_probs_ = dict(zip(self.modalities, log_probs))
            # The linear experts are fixed in training (fitted before it); they join the product.
            return torch.stack(log_probs + linear).sum(dim=0)
        if self.fusion == "sum":
            # Late fusion: every stream votes with its own logits; a dropped stream abstains.
            embeddings = [self.heads[m](e) for m, e in zip(self.modalities, embeddings)]
        if self.training and self.modality_dropout > 0 and len(embeddings) > 1:
            embeddings = self._drop_modalities(embeddings)
        if self.fusion == "sum":
            return torch.stack(embeddings).sum(dim=0)
        return self.head(torch.cat(embeddings, dim=1))

    def _dtype(self):
        return next(self.parameters()).dtype

    def _drop_modalities(self, embeddings):
        """Zero whole stream embeddings per sample, keeping at least one stream per sample."""
        n, k = embeddings[0].shape[0], len(embeddings)
        device = embeddings[0].device
        keep = torch.rand(n, k, device=device) >= self.modality_dropout
        # A sample that lost every stream gets one back at random: all-zero input teaches nothing.
        none_kept = ~keep.any(dim=1)
        if none_kept.any():
            rescue = torch.randint(0, k, (n,), device=device)
            keep[none_kept, rescue[none_kept]] = True
        # With per-stream LayerNorm a zeroed embedding equals the stream's mean embedding
        # (before the affine shift), i.e. "no evidence from this modality". The fused head
        # then cannot lean on one easy stream (the one that fits the training actors fastest)
        # and must learn each stream's evidence on its own, which is what generalises to new
        # actors (same idea as ModDrop, Neverova et al. 2016).
        return [e * keep[:, i : i + 1].to(e.dtype) for i, e in enumerate(embeddings)]
