"""What ``explain`` reads from a fitted pipeline and the clip frame: steps, clips and features."""

import numpy as np
import pandas as pd
import torch

__all__ = [
    "appended_observations",
    "clip_ids",
    "explained_features",
    "network_device",
    "network_modalities",
    "pipeline_parts",
    "subsample",
    "take",
]


def pipeline_parts(pipeline):
    """The fitted classifier and ``{modality: fitted feature transformer}`` of ``pipeline``."""
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


def network_modalities(net, features):
    """The modalities the network reads (its ``modalities``), checked against the features' keys."""
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


def network_device(net):
    """The device of the network's parameters (CPU for a network without any)."""
    for p in net.parameters():
        return p.device
    return torch.device("cpu")


def subsample(n_total, y, n_samples, random_state):
    """Indices of a reproducible (stratified, when ``y`` is given) subsample, in original order."""
    if n_total == 0:
        raise ValueError("explain: X holds no clips; pass at least one row.")
    if n_samples is None or n_samples >= n_total:
        return np.arange(n_total)
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


def explained_features(pipeline, X, index):
    """Network inputs of the clips ``X[index]``, and the same features before speaker normalisation.

    With per-speaker normalisation (``ModalityUnion(speaker_norm=...)``) each speaker's statistics
    come from all of that speaker's clips in X, exactly as when ``pipeline.predict(X)`` scored
    them; normalising the explained subsample alone would explain slightly different inputs.
    """
    union = pipeline[0]
    if len(pipeline) == 2 and getattr(union, "speaker_norms_", None):
        raw = union.extract(X)
        return union.normalize_speakers(raw, X)[index], raw[index]
    features = pipeline[:-1].transform(take(X, index))
    return features, features


def appended_observations(pipeline):
    """Per modality, ``(axis, size)`` of the speaker's reference observations that the union appends.

    ``ModalityUnion(speaker_norm="reference")`` appends the speaker's own frames to every clip.
    The network reads them as context; the baseline keeps them
    (:func:`~mmemotion.explain._context.speaker_baselines`), so path methods give them no
    attribution, and the maps show the clip's own frames only, matching the displayed frames.
    """
    union = pipeline[0]
    sizes = getattr(union, "appended_observations_", None) if hasattr(union, "speaker_norms_") else None
    if not sizes:
        return {}
    from ..features._speaker_norm import pooled_axes_of

    return {m: (pooled_axes_of(union.transformers_[m])[0], size) for m, size in sizes.items()}


def take(X, index):
    """Rows ``index`` of a frame or of a 1-D sequence."""
    if hasattr(X, "iloc"):
        return X.iloc[index]
    return np.asarray(X, dtype=object)[index]


def clip_ids(X_sub):
    """Clip identifiers of the rows: the ``clip_id`` column, else the index (frames) or the values."""
    if isinstance(X_sub, pd.DataFrame) and "clip_id" in X_sub.columns:
        return [str(c) for c in X_sub["clip_id"]]
    if isinstance(X_sub, pd.DataFrame):
        return [str(i) for i in X_sub.index]
    return [str(v) for v in X_sub]
