"""``explain``: attributions, modality Shapley values, ablation and sanity checks of a fitted pipeline.

The function validates, builds the shared :class:`~mmemotion.explain._problem.Problem`, then runs
the passes of :data:`PASSES` that the requested methods need; each pass lives in its own module.
"""

import time
from functools import partial
from numbers import Integral

import numpy as np
from scipy.special import softmax
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._alarms import raise_alarms
from ._coalitions import coalition_pass
from ._context import reference_as_context
from ._explanation import Explanation
from ._fingerprint import model_fingerprint
from ._gradient_passes import captum_pass, integrated_gradients_pass, shap_pass
from ._modalities import as_float_input
from ._passes import ClipProgress, predict_logits
from ._pipeline import appended_observations, clip_ids, explained_features, pipeline_parts, subsample, take
from ._problem import make_problem
from ._sanity import SANITY_CLIPS, randomisation_pass

__all__ = ["ALL_METHODS", "DEFAULT_METHODS", "METHOD_PRESETS", "PASSES", "SANITY_CLIPS", "explain"]

# Captum's GradientShap is not in the default set: it and shap's GradientExplainer estimate the same
# quantity (expected gradients: gradients at random points between the clip and random background
# clips, times the difference; Erion et al. 2021), so the default paid twice for two noisy estimates
# of one thing (GradientShap was 40% of a default explanation, benchmarks/README.md).
DEFAULT_METHODS = ("integrated_gradients", "shap", "shapley", "ablation", "sanity")
ALL_METHODS = DEFAULT_METHODS + ("gradient_shap", "saliency")
#: Named method sets for ``explain(methods=...)``. "fast" needs one forward pass per coalition of
#: modalities and no gradients: exact modality Shapley values, plus the ablation scores when
#: labels are given; "full" is :data:`DEFAULT_METHODS`.
METHOD_PRESETS = {"full": DEFAULT_METHODS, "fast": ("shapley", "ablation")}

#: The passes over the explained clips, in the order they run: ``(name, methods that need it,
#: pass)``. A pass fills its part of the Explanation from the Problem; its seconds are timed
#: under ``name``. The sanity check reads the Integrated-Gradients attributions, so it needs them.
PASSES = (
    ("integrated_gradients", {"integrated_gradients", "sanity"}, integrated_gradients_pass),
    ("gradient_shap", {"gradient_shap"}, partial(captum_pass, "gradient_shap")),
    ("saliency", {"saliency"}, partial(captum_pass, "saliency")),
    ("shap", {"shap"}, shap_pass),
    ("shapley_ablation", {"shapley", "ablation"}, coalition_pass),
    ("sanity", {"sanity"}, randomisation_pass),
)

_POSITIVE = [Interval(Integral, 1, None, closed="left")]


@validate_params(
    {
        "pipeline": "no_validation",
        "X": "no_validation",
        "y": ["array-like", None],
        "methods": [StrOptions(set(METHOD_PRESETS) | set(ALL_METHODS)), "array-like"],
        "n_samples": _POSITIVE + [None],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "batch_size": _POSITIVE,
        "n_steps": _POSITIVE,
        "shap_nsamples": _POSITIVE,
        "n_background": _POSITIVE,
        "X_background": ["array-like", None],
        "verbose": ["boolean"],
    },
    prefer_skip_nested_validation=True,
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
    baseline, chosen per modality by its registry entry (see ``Explanation.baselines``): e.g. the
    per-coefficient mean MFCC, the mean frame, and the zero text vector (no words).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted pipeline whose last step is a skorch classifier with ``module_`` (a network with
        one keyword argument per modality, ``forward(**streams) -> logits``) and ``classes_``,
        and whose earlier steps turn ``X`` into a :class:`skorch.helper.SliceDict` keyed by
        modality.
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
    clf, transformers = pipeline_parts(pipeline)
    methods = _check_methods(methods, y)
    index = subsample(len(X), y, n_samples, random_state)
    X_sub, y_sub = take(X, index), None if y is None else np.asarray(y, dtype=object)[index]

    tic = time.perf_counter()
    features, display_features = explained_features(pipeline, X, index)
    background_features = features if X_background is None else pipeline[:-1].transform(X_background)
    timings = {"transform": time.perf_counter() - tic}
    settings = dict(batch_size=int(batch_size), n_steps=int(n_steps), shap_nsamples=int(shap_nsamples),
                    n_background=int(n_background), random_state=random_state)
    appended = appended_observations(pipeline)
    problem, bg_index = make_problem(clf, transformers, features, background_features, appended, X_sub, y_sub,
                                     methods, settings)

    tic = time.perf_counter()
    problem.logits = predict_logits(problem.forward, problem.inputs, problem.batches)
    exp = _new_explanation(problem, X_sub, display_features, appended)
    timings["predict"] = time.perf_counter() - tic
    exp.model = model_fingerprint(pipeline)
    exp.params = dict(
        methods=list(methods), n_samples=n_samples, random_state=random_state, batch_size=settings["batch_size"],
        n_steps=settings["n_steps"], shap_nsamples=settings["shap_nsamples"], n_background=len(bg_index),
        background="X_background" if X_background is not None else "explained clips", index=index.tolist(),
        output="logit of the predicted class (gradient methods); softmax probabilities (Shapley values, ablation)",
    )

    passes = [(name, run) for name, wanted, run in PASSES if wanted & set(methods)]
    problem.tracker = ClipProgress(len(exp.clip_ids) * len(passes), verbose)
    with reference_as_context(problem.net):
        for name, run in passes:
            tic = time.perf_counter()
            run(problem, exp)
            timings[name] = time.perf_counter() - tic
    problem.tracker.close()
    raise_alarms(exp)
    # Gradient passes must not leave the network in another mode than the one explained.
    problem.net.eval()
    timings["total"] = time.perf_counter() - t_start
    exp.timings = timings
    return exp


def _check_methods(methods, y):
    """``methods`` as a tuple of method names (a preset expanded), checked against the labels ``y``."""
    if isinstance(methods, str) and methods in METHOD_PRESETS:
        # Without labels "fast" keeps what it can: the Shapley values.
        methods = tuple(m for m in METHOD_PRESETS[methods] if not (methods == "fast" and m == "ablation" and y is None))
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(
            f"explain: unknown methods {unknown}. Choose among {list(ALL_METHODS)} "
            f"(default {list(DEFAULT_METHODS)})."
        )
    if "ablation" in methods and y is None:
        raise ValueError(
            "explain: methods contains 'ablation', which scores predictions against labels, but y "
            "is None. Pass y (the true emotion codes of X) or drop 'ablation' from methods."
        )
    return methods


def _new_explanation(problem, X_sub, display_features, appended):
    """The Explanation of the predictions (``problem.target`` set): classes, baselines, display data."""
    proba = softmax(problem.logits, axis=1)
    problem.target = proba.argmax(axis=1)
    exp = Explanation(classes=problem.classes, modalities=list(problem.modalities), clip_ids=clip_ids(X_sub),
                      y_true=problem.y, y_pred=np.asarray(problem.classes, dtype=object)[problem.target],
                      proba=proba, target_class=problem.target)
    exp.baselines = {m: s.description for m, s in zip(problem.modalities, problem.specs)}
    for m in appended:
        exp.baselines[m] = ("the speaker's own reference frames in place of the clip's (the clip measured against "
                            "the speaker's usual face)")
    for m, s in zip(problem.modalities, problem.specs):
        # The input as decoded (before speaker normalisation), which is what a reader recognises.
        shown = as_float_input(s, display_features[m])
        exp.display[m] = shown if s.display is None else s.display(shown)
    return exp
