"""Run one transformer per modality and return their outputs as a SliceDict, unstacked.

A little over 400 lines because it is one class whose numpydoc takes about 90 of them; the
speaker statistics it applies live in :mod:`._speaker_norm`.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import TransformerMixin, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted

from ..utils import progress
from ._cache import scratch_array
from ._speaker_norm import (
    SPEAKER_NORMS,
    SpeakerStatistics,
    append_reference,
    apply_statistics,
    pooled_axes_of,
    reference_observations,
    speaker_statistics,
)

__all__ = ["ModalityUnion"]


def _fit_transform_one(transformer, X, y):
    Xt = transformer.fit_transform(X, y)
    return transformer, Xt


class ModalityUnion(TransformerMixin, _BaseComposition):
    """Like :class:`~sklearn.pipeline.FeatureUnion`, but keeps modalities apart and in shape.

    Each transformer sees the same X (typically the :func:`~mmemotion.datasets.load_crema_d`
    frame); its 2-D output is reshaped to ``(n_samples, *output_shape_)`` (a view: no copy, and
    no ``hstack`` of ~200,000 video columns) and stored in a :class:`skorch.helper.SliceDict`
    under the step's name. The step names should be the modality names (``"audio"``,
    ``"video"``, ``"text"``), which are also the ``forward`` arguments of the fusion network.
    A ``SliceDict`` can be indexed like an array (``Xt[train_idx]``), so the union works inside
    :class:`~sklearn.model_selection.GridSearchCV` and ``cross_val_score`` (with
    :class:`~sklearn.model_selection.GroupKFold` over actors, for instance).

    Parameters
    ----------
    transformer_list : list of (str, transformer)
        Steps; a transformer may be ``"drop"``. Transformers without ``output_shape_`` keep
        their 2-D output. Nested parameters use the step name: ``audio__n_mfcc``.
    speaker_norm : {"mean", "zscore", "functionals"}, dict or None, default=None
        Per-speaker normalisation of every modality's output: subtract each speaker's mean
        ("mean"), also divide by the speaker's standard deviation ("zscore"), or standardise
        each feature's clip means and clip spreads over the speaker's clips ("functionals": a
        clip's mean becomes its z-score among the speaker's clip means, and its deviations from
        that mean are rescaled so that its spread is ``1 + 0.25 z``, z its z-score among the
        speaker's clip spreads; see :mod:`mmemotion.features._speaker_norm`), or append
        ``reference_size`` of the speaker's own observations to every clip along its time axis
        ("reference": values unchanged; for a network that compares the clip with them, such as
        ``ThreeStreamModule(video_reference_frames=reference_size)``). A dict maps step
        names to one of these or None (steps not named are left as they are). The statistics
        are computed from the clips being transformed, grouped by ``X[speaker_column]``, with no
        labels (transductive: at predict time an unseen speaker is normalised with their own
        clips, never with other speakers'). The axes pooled into one statistic come from each
        transformer's ``speaker_norm_pooled_axes`` (time for MFCC maps, so each coefficient
        gets the speaker's cepstral mean; time for frame stacks, so the speaker's mean face is
        removed pixel by pixel); all-zero observations (padding) are skipped and stay zero.
        The output is float32. None: no normalisation (the output is the transformers' own).
    speaker_column : str, default="actor_id"
        Column of the DataFrame X naming the speaker of each clip.
    min_speaker_clips : int, default=5
        A speaker with fewer clips in the data being transformed is normalised with the
        statistics of all training clips instead (learnt in ``fit``): a mean over one or two
        clips would remove the emotion along with the speaker. A single clip can always be
        predicted this way.
    reference_size : int, default=16
        Observations appended per clip by ``speaker_norm="reference"``: the k-th is taken from
        the speaker's clip at position k / reference_size (in order) and from its frame at
        position (k + 0.5) / reference_size, so they cover the speaker's clips and every phase
        of a clip.
    n_jobs : int, default=None
        Transformers fitted in parallel (:class:`joblib.Parallel`). Each transformer also has
        its own ``n_jobs`` for its files; use one level of parallelism, not both.
    verbose : bool, default=False
        Show a progress bar over the steps.

    Attributes
    ----------
    transformers_ : dict of str to transformer
        The fitted transformers, by step name (``"drop"`` steps left out).
    output_shapes_ : dict of str to tuple of int
        The per-sample shape of each modality, e.g. ``{"audio": (1, 40, 100)}``.
    speaker_norms_ : dict of str to str
        The normalisation applied to each normalised step (empty when ``speaker_norm`` is None).
    global_statistics_ : dict of str to dict
        Per normalised step, ``{"mean": ndarray, "scale": ndarray}`` over all training clips
        (with "functionals": of the clip means, plus ``"spread_mean"`` and ``"spread_scale"`` of
        the clip spreads): the fallback for speakers with fewer than ``min_speaker_clips`` clips.

    Notes
    -----
    The output is a dict, not a matrix, so there is no ``get_feature_names_out`` on the union
    and ``set_output`` does not apply to it; ask a step for its names:
    ``union.transformers_["audio"].get_feature_names_out()`` (C order of ``output_shapes_``).

    Examples
    --------
    >>> from mmemotion.features import FilenameEmbedder, ModalityUnion
    >>> union = ModalityUnion([("text", FilenameEmbedder(dim=4))])
    >>> Xt = union.fit_transform(["1001_DFA_ANG_XX", "1002_IEO_SAD_HI"])
    >>> Xt["text"].shape, union.output_shapes_
    ((2, 4), {'text': (4,)})
    """

    _parameter_constraints = {
        "transformer_list": [list],
        "speaker_norm": [StrOptions(set(SPEAKER_NORMS)), dict, None],
        "speaker_column": [str],
        "min_speaker_clips": [Interval(Integral, 1, None, closed="left")],
        "reference_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }
    # _BaseComposition handles get_params/set_params of the steps and of their parameters.
    _required_parameters = ["transformer_list"]

    def __init__(self, transformer_list, *, speaker_norm=None, speaker_column="actor_id", min_speaker_clips=5,
                 reference_size=16, n_jobs=None, verbose=False):
        self.transformer_list = transformer_list
        self.speaker_norm = speaker_norm
        self.speaker_column = speaker_column
        self.min_speaker_clips = min_speaker_clips
        self.reference_size = reference_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def get_params(self, deep=True):
        """Parameters of the union and, with ``deep=True``, of its steps (``audio__n_mfcc``).

        Parameters
        ----------
        deep : bool, default=True

        Returns
        -------
        params : dict
        """
        return self._get_params("transformer_list", deep=deep)

    def set_params(self, **params):
        """Set parameters of the union, replace steps (``audio=...``) or set theirs (``audio__sr=...``).

        Parameters
        ----------
        **params : dict

        Returns
        -------
        self : ModalityUnion
        """
        self._set_params("transformer_list", **params)
        return self

    def _steps(self):
        self._validate_params()
        names = [name for name, _ in self.transformer_list]
        self._validate_names(names)
        for name, t in self.transformer_list:
            if t != "drop" and not (hasattr(t, "fit_transform") and hasattr(t, "transform")):
                raise TypeError(f"ModalityUnion step {name!r} must be a transformer or 'drop', got {t!r}.")
        return [(name, t) for name, t in self.transformer_list if not (isinstance(t, str) and t == "drop")]

    def fit(self, X, y=None):
        """Fit every step on X (decodes the media once per step, like ``fit_transform``).

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)
        y : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : ModalityUnion
        """
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit every step and return their outputs as a SliceDict.

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)
        y : array-like of shape (n_samples,), default=None

        Returns
        -------
        Xt : skorch.helper.SliceDict
            ``{name: ndarray of shape (n_samples, *output_shapes_[name])}``.
        """
        steps = self._steps()
        if not steps:
            raise ValueError("ModalityUnion has no step left (all are 'drop'); keep at least one modality.")
        jobs = (delayed(_fit_transform_one)(clone(t), X, y) for _, t in steps)
        results = Parallel(n_jobs=self.n_jobs)(progress(jobs, verbose=self.verbose, desc="ModalityUnion", total=len(steps)))
        self.transformers_ = {name: fitted for (name, _), (fitted, _) in zip(steps, results)}
        self.output_shapes_ = {name: self._shape_of(name, Xt) for (name, _), (_, Xt) in zip(steps, results)}
        self.speaker_norms_ = self._resolve_norms()
        speakers = self._speakers(X)
        raw = self._assemble([Xt for _, Xt in results])
        self.global_statistics_ = {}
        for name, mode in self.speaker_norms_.items():
            pooled = pooled_axes_of(self.transformers_[name])
            if mode == "reference":
                ref = reference_observations(raw[name], pooled, self.reference_size)
                statistics = None if ref is None else {"reference": ref}
            else:
                stats = speaker_statistics(raw[name], pooled, mode)
                statistics = None if stats is None else stats.as_dict()
            if statistics is None:
                raise ValueError(
                    f"ModalityUnion: every training clip of step {name!r} is all zeros, so speaker_norm has "
                    "nothing to normalise with; check the input files or set speaker_norm=None."
                )
            self.global_statistics_[name] = statistics
        return self._normalize(raw, speakers)

    def transform(self, X):
        """Transform X with every fitted step.

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)

        Returns
        -------
        Xt : skorch.helper.SliceDict
            ``{name: ndarray of shape (n_samples, *output_shapes_[name])}``.
        """
        return self.normalize_speakers(self.extract(X), X)

    def extract(self, X):
        """Features of X *before* speaker normalisation (what the transformers return).

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)

        Returns
        -------
        Xt : skorch.helper.SliceDict
            ``{name: ndarray of shape (n_samples, *output_shapes_[name])}``.
        """
        check_is_fitted(self)
        fitted = list(self.transformers_.values())
        jobs = (delayed(t.transform)(X) for t in fitted)
        outputs = Parallel(n_jobs=self.n_jobs)(progress(jobs, verbose=self.verbose, desc="ModalityUnion", total=len(fitted)))
        return self._assemble(outputs)

    def normalize_speakers(self, Xt, X):
        """Apply the speaker normalisation to features ``Xt`` extracted from the clips of X.

        ``transform(X)`` is ``normalize_speakers(extract(X), X)``. The statistics of each speaker
        come from the rows of ``Xt`` of that speaker only.

        Parameters
        ----------
        Xt : skorch.helper.SliceDict
            From :meth:`extract` on the same X.
        X : DataFrame of shape (n_samples, n_columns)
            Holds ``speaker_column`` (any X when ``speaker_norm`` is None).

        Returns
        -------
        Xt : skorch.helper.SliceDict
            The same keys; normalised steps as float32.
        """
        check_is_fitted(self)
        return self._normalize(Xt, self._speakers(X))

    def describe_speaker_norm(self):
        """One sentence saying how the features are normalised per speaker (for reports and model cards).

        Returns
        -------
        text : str
        """
        check_is_fitted(self)
        # FrameSampler(crop="speaker_face") is a per-speaker choice too: one face box per speaker.
        boxed = [name for name, t in self.transformers_.items()
                 if any(v == "speaker_face" for k, v in t.get_params().items() if k.endswith("crop"))]
        crops = "; ".join(f"{name}: all of a speaker's clips cropped with one face box" for name in boxed)
        if not self.speaker_norms_:
            none = "none: features are used as extracted (speaker differences are left in)"
            return f"{none}; {crops}" if crops else none
        kinds = {"zscore": "z-scored (mean and standard deviation)", "mean": "mean-subtracted",
                 "functionals": "clip means and clip spreads of each feature standardised",
                 "reference": f"compared with {self.reference_size} of the speaker's own frames (appended to each clip)"}
        parts = "; ".join(f"{name} {kinds[mode]}" for name, mode in self.speaker_norms_.items())
        return (
            f"per speaker ({self.speaker_column!r}): {parts}, with statistics of each speaker's own clips in the "
            "data being scored (no labels, no other speaker); a speaker with fewer than "
            f"{self.min_speaker_clips} clips there gets the training clips' statistics"
            + (f"; {crops}" if crops else "")
        )

    def _resolve_norms(self):
        norm = self.speaker_norm
        if norm is None:
            return {}
        if isinstance(norm, str):
            return {name: norm for name in self.transformers_}
        unknown = sorted(set(norm) - set(self.transformers_))
        bad = {k: v for k, v in norm.items() if v is not None and v not in SPEAKER_NORMS}
        if unknown or bad:
            raise ValueError(
                f"ModalityUnion: speaker_norm={norm!r} must map step names {list(self.transformers_)} to one of "
                f"{SPEAKER_NORMS} or None (unknown steps: {unknown}, unknown values: {bad})."
            )
        return {name: norm[name] for name in self.transformers_ if norm.get(name) is not None}

    def _speakers(self, X):
        if not getattr(self, "speaker_norms_", None):
            return None
        if not isinstance(X, pd.DataFrame) or self.speaker_column not in X.columns:
            found = list(X.columns) if isinstance(X, pd.DataFrame) else type(X).__name__
            raise ValueError(
                f"ModalityUnion: speaker_norm={self.speaker_norm!r} reads the speaker of each clip from column "
                f"{self.speaker_column!r} of a DataFrame X, but X has {found}. Pass the manifest frame of "
                "load_crema_d, set speaker_column=, or set speaker_norm=None."
            )
        return X[self.speaker_column].astype(str).to_numpy()

    def _normalize(self, Xt, speakers):
        if not self.speaker_norms_:
            Xt.appended_observations = {}
            return Xt
        data = dict(Xt.items())
        for name, mode in self.speaker_norms_.items():
            A, pooled = data[name], pooled_axes_of(self.transformers_[name])
            g = self.global_statistics_[name]
            if mode == "reference":
                memory = getattr(self.transformers_[name], "memory", None)
                data[name] = self._append_references(A, pooled, speakers, g["reference"], memory)
                continue
            fallback = SpeakerStatistics(**g)
            out = np.empty(A.shape, dtype=np.float32)
            for speaker in pd.unique(speakers):
                rows = np.flatnonzero(speakers == speaker)
                stats = None
                if len(rows) >= self.min_speaker_clips:
                    stats = speaker_statistics(A[rows], pooled, mode)
                out[rows] = apply_statistics(A[rows], pooled, stats or fallback, mode)
            data[name] = out
        from skorch.helper import SliceDict  # skorch imports torch; the report reads features without it

        out = SliceDict(**data)
        # Lets FusionClassifier check that the network knows how many frames are the speaker's.
        out.appended_observations = self.appended_observations_
        return out

    def _append_references(self, A, pooled, speakers, fallback, memory=None):
        # Filled speaker by speaker into one array: gathering the parts and reordering them took
        # three output-sized copies at once (full CREMA-D's video: ~9 GB for a 2.9 GB result).
        # Memory-mapped in the step's cache directory, when it has one, as its own output is.
        out = None
        for speaker in pd.unique(speakers):
            rows = np.flatnonzero(speakers == speaker)
            clips = A[rows]
            ref = None
            if len(rows) >= self.min_speaker_clips:
                ref = reference_observations(clips, pooled, self.reference_size)
            part = append_reference(clips, pooled, fallback if ref is None else ref)
            if out is None:
                out = scratch_array((len(A),) + part.shape[1:], part.dtype, memory)
            out[rows] = part
        return out

    @property
    def appended_observations_(self):
        """Observations appended to each clip per step, along its pooled axis ("reference" steps only).

        Returns
        -------
        sizes : dict of str to int
        """
        check_is_fitted(self)
        return {name: self.reference_size for name, mode in self.speaker_norms_.items() if mode == "reference"}

    def _shape_of(self, name, Xt):
        shape = getattr(self.transformers_[name], "output_shape_", None)
        return tuple(shape) if shape is not None else tuple(np.shape(Xt)[1:])

    def _assemble(self, outputs):
        data = {}
        for name, Xt in zip(self.transformers_, outputs):
            # np.asarray is free for ndarrays; a step set to pandas output gets converted.
            Xt = np.asarray(Xt)
            # reshape of a C-contiguous array is a view: the big video block is never copied.
            data[name] = Xt.reshape(len(Xt), *self.output_shapes_[name])
        from skorch.helper import SliceDict

        return SliceDict(**data)

    def _sk_visual_block_(self):
        # One branch per modality in sklearn's HTML repr (as FeatureUnion draws its steps), instead
        # of one closed box. _VisualBlock is private; it moved in scikit-learn 1.7.
        try:
            from sklearn.utils._repr_html.estimator import _VisualBlock
        except ImportError:  # scikit-learn < 1.7
            from sklearn.utils._estimator_html_repr import _VisualBlock
        names, transformers = zip(*self.transformer_list)
        return _VisualBlock("parallel", transformers, names=names)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags
