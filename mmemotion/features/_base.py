"""Base class of the transformers that turn one media file into one fixed-size feature row."""

import contextlib
import os
import threading
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ..utils import progress
from ._cache import FeatureCache, resolve_cache_dir, scratch_array
from ._errors import MediaError, MediaWarning

__all__ = ["BaseFileTransformer", "path_input_tags"]

# How many failing files a single error/warning message lists before summarising.
_MAX_LISTED = 10


def _is_missing(item):
    return item is None or (isinstance(item, float) and np.isnan(item)) or item is pd.NA


def _describe(item, index):
    if isinstance(item, np.ndarray):
        return f"waveform at row {index}"
    return os.fspath(item) if isinstance(item, (str, os.PathLike)) else f"row {index}"


def _extract_safely(transformer, item, index, cache, key):
    """Run ``transformer._extract_one`` on one item; return ``(array, None)`` or ``(None, reason)``.

    Module-level (not a method) so that joblib ships a small task to worker processes. Errors
    come back as strings instead of propagating, so every backend (loky, threads, Dask) reports
    them the same way and the parent can raise one clean error naming the file.
    """
    if _is_missing(item):
        return None, "no path given (missing value); drop the row or use on_error='zero'"
    if not isinstance(item, np.ndarray) and not os.path.isfile(os.fspath(item)):
        return None, "file not found (or not a regular file); check the path and the dataset root"
    try:
        arr = transformer._extract_one(item)
    except MediaError as exc:
        return None, exc.reason
    except Exception as exc:  # noqa: BLE001 - any decoder failure is reported with the file name
        return None, f"{type(exc).__name__}: {exc}"
    if cache is not None:
        cache.save(key, arr)
    return arr, None


def path_input_tags(tags):
    """Set the sklearn tags of a transformer whose X is a 1-D sequence of paths or names.

    X is not a numeric matrix (precedent: CountVectorizer with ``input="filename"``), so the
    estimator checks that feed random 2-D floats do not apply.
    """
    tags.input_tags.two_d_array = False
    tags.input_tags.string = True
    tags.input_tags.one_d_array = True
    tags.requires_fit = True
    tags.target_tags.required = False
    return tags


class BaseFileTransformer(TransformerMixin, BaseEstimator):
    """Shared machinery: input validation, parallel extraction, cache, error policy, casting.

    A subclass implements

    - ``_extract_one(item) -> ndarray of shape output_shape_``, the per-file work;
    - ``_output_shape() -> tuple``, the per-sample shape given the parameters;
    - ``_feature_names() -> ndarray of str`` in the C order of ``output_shape_``;

    and may override ``_check_params()`` (extra validation in ``fit``), ``_fit_features(F)``
    (learn state from the extracted features when ``_needs_data_in_fit()`` is true) and
    ``_postprocess(F)`` (apply learned state). ``_extract_params`` lists the parameters that change
    the per-file output and therefore enter the cache key.

    X is a 1-D sequence of paths (as :class:`~sklearn.feature_extraction.text.CountVectorizer`
    with ``input="filename"``) or a DataFrame holding them in ``column``. Missing values in X
    are treated as unreadable files (see ``on_error``).
    """

    _parameter_constraints = {
        "column": [str],
        "n_jobs": [Integral, None],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "on_error": [StrOptions({"raise", "zero"})],
        "verbose": ["verbose"],
    }
    _extract_params = ()
    # The per-file cache; FrameSampler's also keys files by the crop box they travel with.
    _cache_class = FeatureCache
    _accepts_waveforms = False

    # ----------------------------------------------------------------------------- public API
    def fit(self, X, y=None):
        """Validate the parameters and X; learn state if the transformer has any.

        Parameters
        ----------
        X : sequence of str or path-like of shape (n_samples,), or DataFrame
            Paths, or a DataFrame holding them in ``column``.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        self._fit(X, transform=False)
        return self

    def fit_transform(self, X, y=None):
        """Fit and transform in one pass over the files (each file is decoded once).

        Parameters
        ----------
        X : sequence of str or path-like of shape (n_samples,), or DataFrame
        y : None
            Ignored.

        Returns
        -------
        Xt : ndarray of shape (n_samples, prod(output_shape_))
        """
        return self._fit(X, transform=True)

    def transform(self, X):
        """Extract the features of every file in X.

        Parameters
        ----------
        X : sequence of str or path-like of shape (n_samples,), or DataFrame
            Paths, or a DataFrame holding them in ``column``.

        Returns
        -------
        Xt : ndarray of shape (n_samples, prod(output_shape_))
            One row per file; ``Xt.reshape(-1, *output_shape_)`` is a view in the natural shape.
        """
        check_is_fitted(self)
        items = self._validate_items(X)
        return self._postprocess(self._extract_all(items))

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns, in the C order of ``output_shape_``.

        Parameters
        ----------
        input_features : None
            Ignored (the input is one column of paths).

        Returns
        -------
        feature_names_out : ndarray of str of shape (prod(output_shape_),)
        """
        check_is_fitted(self)
        return self._feature_names()

    def __sklearn_tags__(self):
        return path_input_tags(super().__sklearn_tags__())

    # ------------------------------------------------------------------------- subclass hooks
    def _check_params(self):
        """Extra validation of parameters; called by ``fit``."""

    def _needs_data_in_fit(self):
        return False

    def _fit_features(self, F):
        """Learn state from extracted features ``F`` of shape (n_samples, *output_shape_)."""

    def _postprocess(self, F):
        """Apply learned state; ``F`` has shape (n_samples, *output_shape_). Returns 2-D."""
        return F.reshape(len(F), -1)

    # ------------------------------------------------------------------------------ machinery
    def _fit(self, X, *, transform):
        self._validate_params()
        self._check_params()
        items = self._validate_items(X)
        self.output_shape_ = tuple(int(s) for s in self._output_shape())
        if not (transform or self._needs_data_in_fit()):
            return None
        F = self._extract_all(items)
        self._fit_features(F)
        return self._postprocess(F) if transform else None

    def _work_dtype(self):
        return np.dtype(self.dtype)

    def _validate_items(self, X):
        """Return X as a list of items (paths, missing values or, if supported, waveforms)."""
        name = type(self).__name__
        if isinstance(X, pd.DataFrame):
            if self.column not in X.columns:
                raise KeyError(
                    f"{name}: X is a DataFrame without a {self.column!r} column (columns: "
                    f"{list(X.columns)[:8]}...); pass column=<name of the column holding the paths>."
                )
            items = X[self.column].tolist()
        elif isinstance(X, (str, bytes, os.PathLike)):
            raise TypeError(
                f"{name}: X must be a 1-D sequence of paths, got a single {type(X).__name__}; wrap it in a list."
            )
        elif isinstance(X, np.ndarray) and X.dtype.kind in "fiu" and X.ndim == 2 and self._accepts_waveforms:
            items = list(X)
        elif isinstance(X, np.ndarray) and X.ndim != 1:
            raise ValueError(
                f"{name}: X must be 1-D (one path per sample), got an array of shape {X.shape}; "
                f"pass a list of paths or a DataFrame with a {self.column!r} column."
            )
        else:
            try:
                items = list(X)
            except TypeError:
                raise TypeError(
                    f"{name}: X must be a 1-D sequence of paths or a DataFrame, got {type(X).__name__}."
                ) from None
        if len(items) == 0:
            raise ValueError(f"{name}: X is empty (0 samples); at least one file is required.")
        allowed = (str, os.PathLike, np.ndarray) if self._accepts_waveforms else (str, os.PathLike)
        for i, item in enumerate(items):
            if not (isinstance(item, allowed) or _is_missing(item)):
                what = "paths or 1-D waveforms" if self._accepts_waveforms else "paths"
                raise TypeError(
                    f"{name}: X[{i}] is a {type(item).__name__} ({item!r:.60}); X must hold {what}. "
                    "Numeric feature matrices are not accepted: this transformer reads media files."
                )
        return items

    def _cache(self):
        root = resolve_cache_dir(self.memory)
        if root is None:
            return None
        params = {p: getattr(self, p) for p in self._extract_params}
        return self._cache_class(root, type(self).__name__, params)

    def _extract_all(self, items):
        """Return an array of shape (n_samples, *output_shape_), filled from cache or extraction."""
        shape, dtype = self.output_shape_, self._work_dtype()
        out = scratch_array((len(items), *shape), dtype, self.memory)
        cache = self._cache()
        keys = [None] * len(items)
        todo = []
        # In-memory waveforms are cheap and have no file identity: never cached.
        if cache is not None:
            keys = [cache.key(item) if isinstance(item, (str, os.PathLike)) else None for item in items]
        # Whole-batch entry first (see FeatureCache): a grid search re-transforming the same fold
        # reads one file instead of one per clip. Only when every file exists (key not None).
        batch_key = cache.batch_key(keys) if cache is not None and len(items) > 1 else None
        batch = cache.load(batch_key, out.shape, dtype) if batch_key is not None else None
        if batch is not None:
            return batch
        for i, item in enumerate(items):
            hit = cache.load(keys[i], shape, dtype) if cache is not None else None
            if hit is not None:
                out[i] = hit
            else:
                todo.append(i)
        if not todo:
            if batch_key is not None:
                cache.save(batch_key, out)
            return out

        # joblib.Parallel (not a hard-coded backend) so that `with joblib.parallel_backend("dask")`
        # or `joblib.parallel_config(...)` around fit/transform redirects the work without code
        # changes. "generator" streams results in order: rows are written into `out` as they
        # arrive (no list of n arrays + stack copy) and the progress bar moves per file.
        tasks = (delayed(_extract_safely)(self, items[i], i, cache, keys[i]) for i in todo)
        failed = []
        # Per-file matrices are small (a 64x257 mel projection); OpenBLAS still splits them over
        # its threads, which on a busy machine spin against each other: MFCC ran 5-10x slower
        # than with one BLAS thread (measured with threadpoolctl on 2 loaded cores). Files are
        # parallelised by n_jobs instead. (loky workers get their own limit from joblib.) The
        # limit is process-wide, so it is only set from the main thread: nested contexts entered
        # from several threads could restore in the wrong order and leave BLAS at one thread.
        in_main = threading.current_thread() is threading.main_thread()
        with threadpool_limits(limits=1, user_api="blas") if in_main else contextlib.nullcontext():
            results = Parallel(n_jobs=self.n_jobs, return_as="generator")(tasks)
            bar = progress(results, verbose=self.verbose, desc=type(self).__name__, total=len(todo), unit="file")
            for i, (arr, reason) in zip(todo, bar):
                if reason is None:
                    out[i] = arr
                    continue
                failed.append(self._failure(items[i], i, reason))
                out[i] = 0

        if batch_key is not None and not failed:
            cache.save(batch_key, out)
        if failed:
            self._warn_unreadable(failed, len(items), stacklevel=4)
        return out

    def _failure(self, item, index, reason):
        """Raise the error of an unreadable file (``on_error="raise"``) or describe it."""
        source = _describe(item, index)
        if self.on_error == "raise":
            raise MediaError(
                source,
                f"{reason} [{type(self).__name__}; fix or remove this file, or pass on_error='zero' "
                "to get a zero row and a warning instead]",
            )
        return f"{source} ({reason})"

    def _warn_unreadable(self, failed, n_items, stacklevel):
        """One warning listing the files replaced by zero rows (``on_error="zero"``)."""
        listed = "; ".join(failed[:_MAX_LISTED])
        more = f"; and {len(failed) - _MAX_LISTED} more" if len(failed) > _MAX_LISTED else ""
        warnings.warn(
            f"{type(self).__name__}: {len(failed)} of {n_items} files could not be read and were "
            f"replaced by zero rows (on_error='zero'): {listed}{more}",
            MediaWarning,
            stacklevel=stacklevel,
        )
