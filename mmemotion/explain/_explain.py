"""``explain``: attributions, modality Shapley values, ablation and sanity checks of a fitted pipeline."""

import contextlib
import copy
import time

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, f1_score

from ..utils import progress
from ._attribution import GRADIENT_METHODS, PositionalForward, integrated_gradients, shap_gradient
from ._explanation import Explanation
from ._fingerprint import model_fingerprint
from ._modalities import as_float_input, make_baseline, reduce_map, spec_for
from ._shapley import coalition_masks, exact_shapley_values

__all__ = ["ALL_METHODS", "DEFAULT_METHODS", "METHOD_PRESETS", "SANITY_CLIPS", "explain", "map_rank_correlation",
           "randomised_copy"]

# Captum's GradientShap is not in the default set: it and shap's GradientExplainer estimate the same
# quantity (expected gradients: gradients at random points between the clip and random background
# clips, times the difference; Erion et al. 2021), so the default paid twice for two noisy estimates
# of one thing (GradientShap was 40% of a default explanation, benchmarks/README.md).
DEFAULT_METHODS = ("integrated_gradients", "shap", "shapley", "ablation", "sanity")
ALL_METHODS = DEFAULT_METHODS + ("gradient_shap", "saliency")
#: The parameter-randomisation test compares the maps of at most this many of the explained clips
#: (spread evenly over them): a rank correlation of maps needs no more, and its extra Integrated
#: Gradients pass on a re-initialised network was a fifth of a default explanation.
SANITY_CLIPS = 16
#: Named method sets for ``explain(methods=...)``. "fast" needs one forward pass per coalition of
#: modalities and no gradients: exact modality Shapley values, plus the ablation scores when
#: labels are given; "full" is :data:`DEFAULT_METHODS`.
METHOD_PRESETS = {"full": DEFAULT_METHODS, "fast": ("shapley", "ablation")}

#: Leakage alarm thresholds: accuracy of one modality alone, share of one modality in every clip.
ALONE_ACCURACY_ALARM = 0.95
DOMINANT_SHARE_ALARM = 0.9
#: Below this many labelled clips an accuracy of 1.0 is too likely by chance to raise an alarm.
MIN_CLIPS_FOR_ACCURACY_ALARM = 12
#: IG completeness gaps above this fraction of |f(x) - f(baseline)| deserve a larger n_steps.
COMPLETENESS_WARNING = 0.05
#: The chance alarm: the explained clips' accuracy is "not clearly above chance" when a model that
#: guessed the most frequent label would reach it with at least this probability (one-sided
#: binomial test).
CHANCE_ALARM_P = 0.05

_LEAK_HINT = (
    "On CREMA-D the classic cause is the emotion code in the file name (e.g. '1001_DFA_ANG_XX'): "
    "check that no feature sees the full clip id (FilenameEmbedder(include_label_codes=True), a "
    "path column, a per-file cache key) before trusting the model."
)


def explain(
    pipeline,
    X,
    y=None,
    *,
    methods=DEFAULT_METHODS,
    n_samples=50,
    random_state=0,
    batch_size=16,
    n_steps=16,
    shap_nsamples=16,
    n_background=16,
    X_background=None,
    verbose=True,
):
    """Explain a fitted mmemotion pipeline on a reproducible subsample of clips.

    The network is put in eval mode and every explanation targets the predicted class of each
    clip. Inputs are the modality tensors of ``pipeline[:-1].transform(X)`` as one tuple, so each
    method returns one attribution per modality. An "absent" modality is replaced by its
    baseline, chosen per modality (see ``Explanation.baselines``): the per-coefficient mean MFCC,
    the mean frame, and the zero text vector (no words).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted pipeline whose last step is a skorch classifier with ``module_`` (a network with
        ``forward(audio=None, video=None, text=None) -> logits``) and ``classes_``, and whose
        earlier steps turn ``X`` into a :class:`skorch.helper.SliceDict` keyed by modality.
    X : pandas.DataFrame of shape (n_clips, n_columns)
        Clips to explain (the ``load_crema_d`` frame); ``clip_id`` names them.
    y : array-like of shape (n_clips,), default=None
        True labels. Stratifies the subsample and enables ablation scores and the
        accuracy-based leakage alarm.
    methods : "full", "fast" or sequence of str, default=("integrated_gradients", "shap", "shapley", \
"ablation", "sanity")
        A preset of :data:`METHOD_PRESETS` ("fast": exact modality Shapley values and, when ``y``
        is given, the ablation scores: forward passes only, no maps; "full": the default set) or
        any of ``"integrated_gradients"``, ``"gradient_shap"``, ``"saliency"`` (Captum),
        ``"shap"`` (``shap.GradientExplainer``), ``"shapley"`` (exact modality Shapley values),
        ``"ablation"`` (scores with modalities replaced by baselines; needs ``y``) and
        ``"sanity"`` (IG completeness, and the parameter-randomisation test on at most
        :data:`SANITY_CLIPS` of the clips; it computes the Integrated-Gradients maps it needs,
        which are then kept as well).
    n_samples : int or None, default=50
        Number of clips explained, drawn reproducibly (stratified by ``y`` when given). None or
        a number at least ``len(X)`` explains every clip.
    random_state : int, default=0
        Seed for the subsample, GradientShap / SHAP draws and the randomised network.
    batch_size : int, default=16
        Clips per batch, and the largest number of interpolated inputs Integrated Gradients
        sends through the network at once (its ``internal_batch_size``): this bounds memory.
    n_steps : int, default=16
        Gauss-Legendre steps of Integrated Gradients; raise it if the completeness error warns.
        (Default network, 16 held-out clips: maps at 16 steps have rank correlation 0.995-1.0
        with those at 64 steps, completeness error 1.0% of ``|f(x) - f(baseline)|``;
        ``benchmarks/bench_explain.py --precision``.)
    shap_nsamples : int, default=16
        Draws per clip for ``shap.GradientExplainer`` (and GradientShap when asked for). SHAP's
        per-clip maps are noisier than Integrated Gradients' (rank correlation with 128 draws:
        0.76-0.86 at 16 draws, 0.86-0.93 at 32); raise it for sharper SHAP maps of single clips.
    n_background : int, default=16
        Background clips (drawn from ``X_background``) for GradientShap and SHAP. Where the
        union appends the speaker's reference frames to every clip, a background clip is read
        with the explained clip's own reference frames (only its own frames are exchanged).
    X_background : pandas.DataFrame, default=None
        Clips defining the baselines and the SHAP background, e.g. a sample of the training
        frame. Defaults to the explained clips themselves.
    verbose : bool, default=True
        Show progress bars.

    Returns
    -------
    explanation : Explanation
        Numpy-only results; see :class:`Explanation`.

    Examples
    --------
    >>> from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
    >>> from mmemotion.models import make_default_pipeline
    >>> root = make_synthetic_crema_d("synth", n_actors=4, clips_per_actor=6, duration=1.0,
    ...                               verbose=False)  # doctest: +SKIP
    >>> X, y = load_crema_d(root, return_X_y=True)  # doctest: +SKIP
    >>> pipe = make_default_pipeline().fit(X, y)  # doctest: +SKIP
    >>> exp = explain(pipe, X, y, n_samples=12, verbose=False)  # doctest: +SKIP
    >>> exp.mean_modality_shares()["integrated_gradients"]  # doctest: +SKIP
    {'audio': ..., 'video': ..., 'text': ...}
    """
    t_start = time.perf_counter()
    timings = {}
    if isinstance(methods, str) and methods in METHOD_PRESETS:
        methods = tuple(m for m in METHOD_PRESETS[methods] if not (methods == "fast" and m == "ablation" and y is None))
    methods = _check_methods(methods)
    batch_size = _check_positive_int(batch_size, "batch_size")
    n_steps = _check_positive_int(n_steps, "n_steps")
    shap_nsamples = _check_positive_int(shap_nsamples, "shap_nsamples")
    n_background = _check_positive_int(n_background, "n_background")
    clf, transformers = _pipeline_parts(pipeline)
    if "ablation" in methods and y is None:
        raise ValueError(
            "explain: methods contains 'ablation', which scores predictions against labels, but y "
            "is None. Pass y (the true emotion codes of X) or drop 'ablation' from methods."
        )

    index = _subsample(len(X), y, n_samples, random_state)
    X_sub = _take(X, index)
    y_sub = None if y is None else np.asarray(y, dtype=object)[index]
    clip_ids = _clip_ids(X_sub)

    tic = time.perf_counter()
    features, display_features = _features(pipeline, X, index)
    background_features = features if X_background is None else pipeline[:-1].transform(X_background)
    timings["transform"] = time.perf_counter() - tic

    net = clf.module_
    net.eval()
    modalities = _modalities(net, features)
    specs = [spec_for(m) for m in modalities]
    device = _device(net)
    arrays = [as_float_input(s, features[m]) for s, m in zip(specs, modalities)]
    bg_arrays = [as_float_input(s, background_features[m]) for s, m in zip(specs, modalities)]
    inputs = tuple(torch.as_tensor(a, device=device) for a in arrays)
    baselines = tuple(
        torch.as_tensor(make_baseline(s, b), device=device) for s, b in zip(specs, bg_arrays)
    )
    rng = np.random.default_rng(random_state)
    bg_index = np.sort(rng.choice(len(bg_arrays[0]), min(n_background, len(bg_arrays[0])), replace=False))
    background = tuple(torch.as_tensor(b[bg_index], device=device) for b in bg_arrays)

    appended = _appended_observations(pipeline)
    baselines = _speaker_baselines(baselines, inputs, modalities, appended)
    n = len(clip_ids)
    batches = [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    forward = PositionalForward(net, modalities)
    # The gradient methods attribute each clip's own observations only; appended reference
    # observations ride along as context (see PositionalForward), which also halves the work
    # through the video stream.
    own = _OwnPart(modalities, appended)
    own_inputs, context = own.own(inputs), own.context(inputs)
    own_baselines, own_background = own.own(baselines), own.own(background)
    attr_forward = PositionalForward(net, modalities, context_dims=own.context_dims)

    tic = time.perf_counter()
    logits = _predict(forward, inputs, batches)
    proba = _softmax(logits)
    target = proba.argmax(axis=1)
    classes = list(np.asarray(clf.classes_).tolist())
    y_pred = np.asarray(classes, dtype=object)[target]
    timings["predict"] = time.perf_counter() - tic

    exp = Explanation(
        classes=classes,
        modalities=list(modalities),
        clip_ids=clip_ids,
        y_true=y_sub,
        y_pred=y_pred,
        proba=proba,
        target_class=target,
    )
    exp.model = model_fingerprint(pipeline)
    exp.baselines = {m: s.description for m, s in zip(modalities, specs)}
    for m in appended:
        exp.baselines[m] = ("the speaker's own reference frames in place of the clip's (the clip measured against "
                            "the speaker's usual face)")
    exp.params = dict(
        methods=list(methods), n_samples=n_samples, random_state=random_state, batch_size=batch_size,
        n_steps=n_steps, shap_nsamples=shap_nsamples, n_background=len(bg_index),
        background="X_background" if X_background is not None else "explained clips",
        index=index.tolist(), output="logit of the predicted class (gradient methods); "
        "softmax probabilities (Shapley values, ablation)",
    )
    for m, s in zip(modalities, specs):
        if s.display is not None and s.display_field is not None:
            # The media as decoded (before speaker normalisation), which is what a reader recognises.
            setattr(exp, s.display_field, s.display(as_float_input(s, display_features[m])))

    common = dict(
        n_steps=n_steps, internal_batch_size=batch_size, background=own_background,
        n_draws=shap_nsamples, seed=random_state,
    )
    passes = [name for name, wanted in (
        ("integrated_gradients", {"integrated_gradients", "sanity"}), ("gradient_shap", {"gradient_shap"}),
        ("saliency", {"saliency"}), ("shap", {"shap"}), ("coalitions", {"shapley", "ablation"}),
        ("sanity", {"sanity"})) if wanted & set(methods)]
    tracker = _ClipProgress(n * len(passes), verbose)
    ig_grads = None
    with _reference_as_context(net):
        if "integrated_gradients" in methods or "sanity" in methods:
            tic = time.perf_counter()
            ig_attr, ig_grads = _run_integrated_gradients(
                attr_forward, own_inputs, own_baselines, target, tracker.batches(batches, "integrated_gradients"),
                common, context,
            )
            exp.modality_shares["integrated_gradients"] = _shares(ig_attr)
            for m, s, a in zip(modalities, specs, ig_attr):
                if s.map_field is not None:
                    setattr(exp, s.map_field, reduce_map(s, a))
            gap, scale = _completeness(attr_forward, own_inputs, own_baselines, target, ig_attr, logits, batches,
                                       context)
            exp.sanity["ig_completeness_error"] = float(np.mean(np.abs(gap)))
            exp.sanity["ig_completeness_relative_error"] = float(np.mean(np.abs(gap)) / max(np.mean(scale), 1e-12))
            if exp.sanity["ig_completeness_relative_error"] > COMPLETENESS_WARNING:
                exp.warnings.append(
                    "Integrated Gradients completeness error is "
                    f"{100 * exp.sanity['ig_completeness_relative_error']:.1f}% of |f(x) - f(baseline)|; "
                    f"the maps are approximate. Increase n_steps (now {n_steps})."
                )
            _word_attributions(exp, transformers, X_sub, modalities, arrays, own_baselines, ig_grads)
            timings["integrated_gradients"] = time.perf_counter() - tic

        for name in ("gradient_shap", "saliency"):
            if name in methods:
                tic = time.perf_counter()
                attr = _batched_attribution(GRADIENT_METHODS[name], attr_forward, own_inputs, own_baselines,
                                            target, tracker.batches(batches, name), common, context)
                exp.modality_shares[name] = _shares(attr)
                timings[name] = time.perf_counter() - tic

        if "shap" in methods:
            tic = time.perf_counter()
            values = _concat(
                [
                    shap_gradient(attr_forward, tuple(x[b] for x in own_inputs), target[b],
                                  background=own_background, n_draws=shap_nsamples, seed=random_state,
                                  batch_size=batch_size, context=tuple(c[b] for c in context))
                    for b in tracker.batches(batches, "shap")
                ]
            )
            exp.modality_shares["shap"] = _shares(values)
            exp.shap_maps = {m: reduce_map(s, v) for m, s, v in zip(modalities, specs, values)}
            timings["shap"] = time.perf_counter() - tic

        if "shapley" in methods or "ablation" in methods:
            tic = time.perf_counter()
            masks = coalition_masks(len(modalities))
            coalition_proba = _coalition_proba(forward, inputs, baselines, masks, batches, tracker)
            if "shapley" in methods:
                phi = exact_shapley_values(coalition_proba)  # (n, k, m)
                exp.shapley_values = phi
                exp.shapley_base = coalition_proba[0]
                exp.shapley_full = coalition_proba[-1]
                picked = np.abs(phi[np.arange(n), target])
                exp.modality_shares["shapley"] = _normalise_rows(picked)
            if "ablation" in methods:
                exp.ablation, exp.ablation_alone = _ablation(coalition_proba, masks, modalities, classes, y_sub)
            timings["shapley_ablation"] = time.perf_counter() - tic

        if "sanity" in methods:
            tic = time.perf_counter()
            exp.sanity.update(
                _randomisation_check(net, own, modalities, specs, own_inputs, own_baselines, context, target,
                                     batch_size, common, ig_attr, random_state, tracker)
            )
            timings["sanity"] = time.perf_counter() - tic

    tracker.close()
    chance_alarm = _chance_alarm(exp)
    if chance_alarm:
        exp.warnings.insert(0, chance_alarm)
    exp.warnings.extend(_leakage_alarms(exp))
    # Gradient passes must not leave the network in another mode than the one explained.
    net.eval()
    timings["total"] = time.perf_counter() - t_start
    exp.timings = timings
    return exp


# --------------------------------------------------------------------------- validation / access


def _check_methods(methods):
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(
            f"explain: unknown methods {unknown}. Choose among {list(ALL_METHODS)} "
            f"(default {list(DEFAULT_METHODS)})."
        )
    return methods


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"explain: {name} must be a positive integer, got {value!r}.")
    return int(value)


def _pipeline_parts(pipeline):
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) < 2:
        raise TypeError(
            "explain: pipeline must be a fitted sklearn Pipeline of feature steps followed by a "
            "FusionClassifier (e.g. mmemotion.models.make_default_pipeline().fit(X, y)); got "
            f"{type(pipeline).__name__}."
        )
    clf = pipeline[-1]
    if getattr(clf, "module_", None) is None or not hasattr(clf, "classes_"):
        raise ValueError(
            f"explain: the last pipeline step ({type(clf).__name__}) is not fitted (no module_ / "
            "classes_). Call pipeline.fit(X, y) before explain."
        )
    transformers = {}
    for _, step in steps[:-1]:
        # ModalityUnion keeps its fitted steps in ``transformers_`` (``transformer_list`` holds the
        # unfitted originals); FeatureUnion-like steps expose ``named_transformers``.
        named = getattr(step, "transformers_", None)
        if not isinstance(named, dict):
            named = getattr(step, "named_transformers", None)
        if named is None and hasattr(step, "transformer_list"):
            named = dict((name, t) for name, t, *_ in step.transformer_list)
        if named is not None:
            transformers.update(dict(named))
    return clf, transformers


def _modalities(net, features):
    keys = list(features.keys())
    declared = getattr(net, "modalities", None)
    if declared is None:
        return tuple(keys)
    missing = [m for m in declared if m not in keys]
    if missing:
        raise ValueError(
            f"explain: the network uses modalities {list(declared)} but the pipeline's features "
            f"only hold {keys}; {missing} are missing. Explain with the pipeline the network was "
            "fitted in."
        )
    return tuple(declared)


def _device(net):
    for p in net.parameters():
        return p.device
    return torch.device("cpu")


def _subsample(n_total, y, n_samples, random_state):
    """Indices of a reproducible (stratified, when ``y`` is given) subsample, in original order."""
    if n_total == 0:
        raise ValueError("explain: X holds no clips; pass at least one row.")
    if n_samples is None or n_samples >= n_total:
        return np.arange(n_total)
    n_samples = _check_positive_int(n_samples, "n_samples")
    rng = np.random.default_rng(random_state)
    if y is None:
        return np.sort(rng.choice(n_total, n_samples, replace=False))
    y = np.asarray(y, dtype=object)
    if len(y) != n_total:
        raise ValueError(f"explain: X has {n_total} rows but y has {len(y)}; pass one label per row of X.")
    # Proportional allocation: within each class, clips get evenly spaced random keys in [0, 1),
    # so the n smallest keys take each class in proportion to its size.
    key = np.empty(n_total)
    for label in pd.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        key[members] = (np.arange(len(members)) + rng.uniform(size=len(members))) / len(members)
    return np.sort(np.argsort(key, kind="stable")[:n_samples])


def _features(pipeline, X, index):
    """Network inputs of the clips ``X[index]``, and the same features before speaker normalisation.

    With per-speaker normalisation (``ModalityUnion(speaker_norm=...)``) each speaker's statistics
    come from all of that speaker's clips in X, exactly as when ``pipeline.predict(X)`` scored
    them; normalising the explained subsample alone would explain slightly different inputs.
    """
    union = pipeline[0]
    if len(pipeline) == 2 and getattr(union, "speaker_norms_", None):
        raw = union.extract(X)
        return union.normalize_speakers(raw, X)[index], raw[index]
    features = pipeline[:-1].transform(_take(X, index))
    return features, features


def _appended_observations(pipeline):
    """Per modality, ``(axis, size)`` of the speaker's reference observations that the union appends.

    ``ModalityUnion(speaker_norm="reference")`` appends the speaker's own frames to every clip.
    The network reads them as context; the baseline keeps them (:func:`_speaker_baselines`), so
    path methods give them no attribution, and the maps show the clip's own frames only,
    matching the displayed frames.
    """
    union = pipeline[0]
    sizes = getattr(union, "appended_observations_", None) if hasattr(union, "speaker_norms_") else None
    if not sizes:
        return {}
    from ..features._speaker_norm import pooled_axes_of

    return {m: (pooled_axes_of(union.transformers_[m])[0], size) for m, size in sizes.items()}


def _speaker_baselines(baselines, inputs, modalities, appended):
    """Per-clip baselines for the modalities with appended reference observations.

    The clip's own part of the baseline is the speaker's reference observations (evenly picked
    from them), and the appended part is the clip's own reference, unchanged: attributions then
    say how the clip differs from the speaker's usual face, and the reference frames, context
    held fixed along the path, get none. With a population-mean baseline instead, moving the
    reference frames from the mean face to the speaker's face took credit of its own: on the
    audio-planted faithfulness set, Integrated Gradients gave the decoy face 0.56 of the credit
    where its ablation cost 0.77 nats of log-loss against the voice's 4.11.

    Other modalities keep their shared ``(1, *shape)`` baseline.
    """
    if not appended:
        return baselines
    out = []
    for m, base, x in zip(modalities, baselines, inputs):
        if m not in appended:
            out.append(base)
            continue
        axis, size = appended[m]
        dim, own = axis + 1, x.shape[axis + 1] - size
        pick = torch.as_tensor(own + np.linspace(0, size - 1, own).round().astype(np.int64), device=x.device)
        out.append(torch.cat([x.index_select(dim, pick), x.narrow(dim, own, size)], dim=dim))
    return tuple(out)


def _rows(baselines, rows):
    """The baselines of a batch of clips: per-clip baselines are sliced, shared ones kept."""
    return tuple(b if b.shape[0] == 1 else b[rows] for b in baselines)


class _OwnPart:
    """Split modality tensors into the clip's own observations and appended reference context.

    ``appended`` is :func:`_appended_observations`'s ``{modality: (axis, size)}``; tensors are
    ``(n, *shape)``, so a modality's observations lie on tensor axis ``axis + 1``.
    """

    def __init__(self, modalities, appended):
        self.split = {i: (appended[m][0] + 1, appended[m][1]) for i, m in enumerate(modalities) if m in appended}
        self.context_dims = {i: dim for i, (dim, _) in self.split.items()}

    def own(self, tensors):
        """Each tensor without its appended observations."""
        return tuple(
            x.narrow(self.split[i][0], 0, x.shape[self.split[i][0]] - self.split[i][1]) if i in self.split else x
            for i, x in enumerate(tensors)
        )

    def context(self, tensors):
        """The appended observations, one tensor per split modality (in modality order)."""
        return tuple(
            tensors[i].narrow(dim, tensors[i].shape[dim] - size, size) for i, (dim, size) in sorted(self.split.items())
        )


@contextlib.contextmanager
def _reference_as_context(net):
    """Compute the video stream's reference frames without gradients while explaining (no method
    attributes to them, see :class:`_OwnPart`); restores the stream's setting afterwards."""
    streams = [m for m in net.modules() if hasattr(m, "reference_gradients")]
    before = [m.reference_gradients for m in streams]
    for m in streams:
        m.reference_gradients = False
    try:
        yield
    finally:
        for m, value in zip(streams, before):
            m.reference_gradients = value


def _take(X, index):
    if hasattr(X, "iloc"):
        return X.iloc[index]
    return np.asarray(X, dtype=object)[index]


def _clip_ids(X_sub):
    if isinstance(X_sub, pd.DataFrame) and "clip_id" in X_sub.columns:
        return [str(c) for c in X_sub["clip_id"]]
    if isinstance(X_sub, pd.DataFrame):
        return [str(i) for i in X_sub.index]
    return [str(v) for v in X_sub]


# --------------------------------------------------------------------------- computations


def _softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class _ClipProgress:
    """One progress bar for a whole explanation, counting clips: every method passes over every
    explained clip once, so the total is clips x passes and the bar moves with each batch."""

    def __init__(self, total, verbose):
        self.bar = progress(total=total, verbose=verbose, desc="explain", unit="clip")

    def batches(self, batches, name, weight=1.0):
        """Yield ``batches`` (slices of clips), advancing the bar by ``weight`` per clip of each."""
        self.bar.set_description(f"explain: {name}", refresh=False)
        for b in batches:
            yield b
            self.bar.update(weight * (b.stop - b.start))

    def close(self):
        self.bar.close()


@torch.no_grad()
def _predict(forward, inputs, batches):
    out = [forward(*(x[b] for x in inputs)).detach().cpu().numpy() for b in batches]
    return np.concatenate(out).astype(np.float64)


def _concat(parts):
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(len(parts[0])))


def _batched_attribution(method, forward, inputs, baselines, target, batches, common, context=()):
    parts = []
    for b in batches:
        parts.append(method(forward, tuple(x[b] for x in inputs), _rows(baselines, b),
                            torch.as_tensor(target[b]), context=tuple(c[b] for c in context), **common))
    return _concat(parts)


def _run_integrated_gradients(forward, inputs, baselines, target, batches, common, context=()):
    attr, grads = [], []
    for b in batches:
        a, g = integrated_gradients(forward, tuple(x[b] for x in inputs), _rows(baselines, b),
                                    torch.as_tensor(target[b]), context=tuple(c[b] for c in context), **common)
        attr.append(a)
        grads.append(g)
    return _concat(attr), _concat(grads)


def _normalise_rows(totals):
    totals = np.asarray(totals, dtype=np.float64)
    sums = totals.sum(axis=1, keepdims=True)
    # A clip with no attribution at all (constant model) gets equal shares, not NaN.
    uniform = np.full_like(totals, 1.0 / totals.shape[1])
    return np.where(sums > 0, totals / np.where(sums > 0, sums, 1.0), uniform)


def _shares(attributions):
    """Each modality's share of a clip's total attribution; shape (n, m), rows sum to 1.

    A modality's attribution is the absolute value of the *sum* of its signed attributions (for
    Integrated Gradients this is exactly how much of f(x) - f(baseline) it accounts for, by
    completeness), not the sum of absolute values: summing |attribution| over inputs grows with
    the number of inputs, so the 24,576 pixels of a 3x2x64x64 clip outweighed 640 MFCC values
    even for a re-initialised network (video share 0.90 measured in the sanity check), and the
    share then measured input size rather than what the model used.
    """
    totals = np.stack([np.abs(a.reshape(len(a), -1).astype(np.float64).sum(axis=1)) for a in attributions], axis=1)
    return _normalise_rows(totals)


@torch.no_grad()
def _completeness(forward, inputs, baselines, target, attributions, logits, batches, context=()):
    """Gap between the summed IG attributions and ``f(x) - f(baseline)`` for each clip."""
    base = np.concatenate([
        forward(*(r.expand_as(x[b]) for r, x in zip(_rows(baselines, b), inputs)),
                *(c[b] for c in context)).detach().cpu().numpy()
        for b in batches
    ]).astype(np.float64)
    rows = np.arange(len(target))
    diff = logits[rows, target] - base[rows, target]
    total = sum(a.reshape(len(a), -1).astype(np.float64).sum(axis=1) for a in attributions)
    return total - diff, np.abs(diff)


def _word_attributions(exp, transformers, X_sub, modalities, arrays, baselines, ig_grads):
    """Split the IG attribution of a mean-pooled embedding exactly over its words.

    With ``x = mean_i w_i`` over ``n_words`` word vectors and baseline ``b``,
    ``x - b = sum_i (w_i - b) / n_words``. IG's attribution of coordinate ``d`` is
    ``(x_d - b_d) * G_d`` with ``G_d`` the path-averaged gradient, and the straight path from
    ``b`` to ``x`` is the image of the straight path from ``(b, ..., b)`` to ``(w_1, ..., w_n)``.
    So IG run on the word vectors themselves gives word ``i`` exactly
    ``sum_d (w_i,d - b_d) / n_words * G_d``, and the words sum to the embedding's attribution.
    With the zero baseline this is ``sum_d (w_i,d / n_words) * (attribution_d / x_d)`` where
    ``x_d != 0`` -- using ``G`` directly also covers ``x_d == 0``.
    """
    for j, m in enumerate(modalities):
        transformer = transformers.get(m)
        if transformer is None or not hasattr(transformer, "word_vectors"):
            continue
        column = getattr(transformer, "column", "clip_id")
        if isinstance(X_sub, pd.DataFrame) and column in X_sub.columns:
            names = list(X_sub[column])
        else:
            names = exp.clip_ids
        b = baselines[j][0].detach().cpu().numpy().reshape(-1).astype(np.float64)
        words, per_word, worst = [], [], 0.0
        for i, name in enumerate(names):
            w, vectors = transformer.word_vectors(name)
            words.append(list(w))
            if not len(w):
                per_word.append(np.zeros(0))
                continue
            vectors = np.asarray(vectors, dtype=np.float64).reshape(len(w), -1)
            per_word.append(((vectors - b) / len(w)) @ ig_grads[j][i].reshape(-1).astype(np.float64))
            pooled = arrays[j][i].reshape(-1)
            worst = max(worst, float(np.max(np.abs(vectors.mean(axis=0) - pooled))))
        exp.words = words
        exp.text_word_attributions = per_word
        if worst > 1e-4 * max(1.0, float(np.max(np.abs(arrays[j])))):
            exp.warnings.append(
                f"The '{m}' features are not the mean of {type(transformer).__name__}.word_vectors "
                f"(largest gap {worst:.3g}), so the per-word attributions do not add up to the "
                f"'{m}' attribution; treat them as indicative only."
            )


@torch.no_grad()
def _coalition_proba(forward, inputs, baselines, masks, batches, tracker):
    """Softmax probabilities for every coalition; shape (2**m, n, k), absent = baseline."""
    out = []
    for mask in masks:
        rows = []
        # All coalitions together are one pass over the clips on the progress bar.
        for b in tracker.batches(batches, "modality coalitions", weight=1 / len(masks)):
            batch = tuple(
                x[b] if present else base.expand_as(x[b])
                for x, base, present in zip(inputs, _rows(baselines, b), mask)
            )
            rows.append(torch.softmax(forward(*batch), dim=-1).detach().cpu().numpy())
        out.append(np.concatenate(rows))
    return np.stack(out).astype(np.float64)


def _scores(y_true, proba, classes):
    y_pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    true = pd.Index(list(classes)).get_indexer(np.asarray(y_true, dtype=object))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        # Continuous companion of accuracy: on a few dozen clips, removing a modality often
        # flips no prediction while the true class still loses probability.
        # (Computed here: sklearn's log_loss warns that float32 softmax rows do not sum to 1.)
        "log_loss": float(-np.log(np.clip(proba[np.arange(len(proba)), true], 1e-15, 1.0)).mean()),
    }


def _ablation(coalition_proba, masks, modalities, classes, y_true):
    """Scores with one modality removed (``ablation``) and with one modality alone."""
    code = {tuple(mask): c for c, mask in enumerate(masks.tolist())}
    m = len(modalities)
    full = (True,) * m
    removed = {"none": _scores(y_true, coalition_proba[code[full]], classes)}
    alone = {}
    for j, name in enumerate(modalities):
        without = tuple(k != j for k in range(m))
        only = tuple(k == j for k in range(m))
        removed[name] = _scores(y_true, coalition_proba[code[without]], classes)
        alone[name] = _scores(y_true, coalition_proba[code[only]], classes)
    return removed, alone


def randomised_copy(net, *, random_state=0):
    """Deep copy of ``net`` with every parameter re-initialised (``reset_parameters``), in eval mode.

    Parameters
    ----------
    net : torch.nn.Module
    random_state : int, default=0
        Seed of the re-initialisation; torch's global RNG state is left as it was.

    Returns
    -------
    net : torch.nn.Module
    """
    clone = copy.deepcopy(net)
    # A seed derived from random_state, not random_state itself: a network built with
    # torch.manual_seed(random_state) would otherwise be re-initialised to its own initial weights.
    seed = int(np.random.SeedSequence([random_state, 0x5A17]).generate_state(1)[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in clone.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return clone.eval()


def map_rank_correlation(maps_a, maps_b):
    """Mean over clips of the Spearman rank correlation of two batches of maps.

    Parameters
    ----------
    maps_a, maps_b : ndarray of shape (n, ...)

    Returns
    -------
    rho : float
        NaN when every clip's maps are constant.
    """
    rhos = []
    for a, b in zip(maps_a, maps_b):
        a, b = a.reshape(-1), b.reshape(-1)
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            continue
        rhos.append(spearmanr(a, b).statistic)
    return float(np.mean(rhos)) if rhos else float("nan")


def _randomisation_check(net, own, modalities, specs, inputs, baselines, context, target, batch_size, common,
                         trained_attr, random_state, tracker):
    """Parameter-randomisation test (Adebayo et al., 2018) on the Integrated-Gradients maps.

    The trained network's maps are compared with those of a re-initialised copy for the same
    clips (at most :data:`SANITY_CLIPS`) and target classes. Rank correlations near 1 would mean
    the maps reflect the input (or the architecture), not what was learned.
    """
    n = len(target)
    keep = np.unique(np.linspace(0, n - 1, min(n, SANITY_CLIPS)).round().astype(int))
    inputs = tuple(x[keep] for x in inputs)
    baselines = tuple(b if len(b) == 1 else b[keep] for b in baselines)
    context = tuple(c[keep] for c in context)
    trained_attr = tuple(a[keep] for a in trained_attr)
    batches = [slice(i, min(i + batch_size, len(keep))) for i in range(0, len(keep), batch_size)]
    random_net = randomised_copy(net, random_state=random_state)
    random_forward = PositionalForward(random_net, modalities, context_dims=own.context_dims)
    random_attr, _ = _run_integrated_gradients(
        random_forward, inputs, baselines, target[keep],
        tracker.batches(batches, "sanity (randomised model)", weight=n / len(keep)), common, context,
    )
    result = {}
    signed, absolute = [], []
    for m, s, a, r in zip(modalities, specs, trained_attr, random_attr):
        a, r = reduce_map(s, a), reduce_map(s, r)
        result[f"randomisation_spearman_{m}"] = map_rank_correlation(a, r)
        result[f"randomisation_spearman_abs_{m}"] = map_rank_correlation(np.abs(a), np.abs(r))
        signed.append(result[f"randomisation_spearman_{m}"])
        absolute.append(result[f"randomisation_spearman_abs_{m}"])
    result["randomisation_spearman"] = float(np.nanmean(signed)) if not np.all(np.isnan(signed)) else float("nan")
    result["randomisation_spearman_abs"] = (
        float(np.nanmean(absolute)) if not np.all(np.isnan(absolute)) else float("nan")
    )
    random_shares = _shares(random_attr).mean(axis=0)
    for m, share in zip(modalities, random_shares):
        result[f"randomised_share_{m}"] = float(share)
    return result


def _chance_alarm(exp):
    """A warning when the explained clips' accuracy is not clearly above chance, else None.

    Chance is the rate of the most frequent true label among the explained clips (what always
    guessing it scores). With k of n clips right, the alarm fires when P(X >= k) >= CHANCE_ALARM_P
    for X ~ Binomial(n, chance): such a model's attributions are faithful to it, but they describe
    a model that has not learnt the task, not how emotion shows in voice or face.
    """
    if exp.y_true is None or not len(exp.y_true):
        return None
    from scipy.stats import binom

    y_true = np.asarray(exp.y_true, dtype=object)
    n = len(y_true)
    correct = int(np.sum(y_true == np.asarray(exp.y_pred, dtype=object)))
    chance = float(pd.Series(y_true).value_counts(normalize=True).iloc[0])
    p_value = float(binom.sf(correct - 1, n, chance))
    exp.sanity["accuracy_vs_chance_p"] = p_value
    if p_value < CHANCE_ALARM_P:
        return None
    return (
        f"Chance alarm: the model gets {correct} of the {n} explained clips right ({correct / n:.2f}), not "
        f"clearly above chance ({chance:.2f}, always the most frequent label; one-sided binomial p = "
        f"{p_value:.2f}). These explanations describe a model that has not learnt the task, not how emotion "
        "shows in the voice or the face; fix the model (more data, other features, check the labels) before "
        "reading them."
    )


def _leakage_alarms(exp):
    """Warnings when one modality explains (almost) everything."""
    alarms = []
    n_labelled = 0 if exp.y_true is None else len(exp.y_true)
    for name, scores in getattr(exp, "ablation_alone", {}).items():
        if n_labelled >= MIN_CLIPS_FOR_ACCURACY_ALARM and scores["accuracy"] >= ALONE_ACCURACY_ALARM:
            alarms.append(
                f"Leakage alarm: the {name} stream alone (every other modality at its baseline) "
                f"reaches accuracy {scores['accuracy']:.2f} on {n_labelled} clips. Near-perfect "
                f"single-modality accuracy is implausible for acted emotion. {_LEAK_HINT}"
            )
    for j, name in enumerate(exp.modalities):
        dominated = [
            method
            for method, shares in exp.modality_shares.items()
            if len(exp.modalities) > 1 and len(shares) and np.all(np.asarray(shares)[:, j] > DOMINANT_SHARE_ALARM)
        ]
        if dominated:
            alarms.append(
                f"Leakage alarm: {name} carries more than {DOMINANT_SHARE_ALARM:.0%} of the attribution "
                f"in every one of the {len(exp.clip_ids)} clips ({', '.join(dominated)}). {_LEAK_HINT}"
            )
    return alarms
