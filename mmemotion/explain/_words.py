"""The exact split of a mean-pooled sentence embedding's attribution over its words.

The ``split_map`` of the registry's text entry (see
:class:`~mmemotion.modalities.ModalityExplanation`).
"""

import warnings

import numpy as np
import pandas as pd

from ._pipeline import clip_ids

__all__ = ["split_over_words"]


def split_over_words(attributions, gradients, inputs, baseline, transformer, X):
    """Split the IG attribution of a mean-pooled embedding exactly over its words.

    With ``x = mean_i w_i`` over ``n_words`` word vectors and baseline ``b``,
    ``x - b = sum_i (w_i - b) / n_words``. IG's attribution of coordinate ``d`` is
    ``(x_d - b_d) * G_d`` with ``G_d`` the path-averaged gradient, and the straight path from
    ``b`` to ``x`` is the image of the straight path from ``(b, ..., b)`` to ``(w_1, ..., w_n)``.
    So IG run on the word vectors themselves gives word ``i`` exactly
    ``sum_d (w_i,d - b_d) / n_words * G_d``, and the words sum to the embedding's attribution.
    With the zero baseline this is ``sum_d (w_i,d / n_words) * (attribution_d / x_d)`` where
    ``x_d != 0`` -- using ``G`` directly also covers ``x_d == 0``.

    Parameters
    ----------
    attributions : ndarray of shape (n, dim)
        Integrated-Gradients attribution of the embeddings (unused: ``gradients`` carry it).
    gradients : ndarray of shape (n, dim)
        The path-averaged gradients ``G``.
    inputs : ndarray of shape (n, dim)
        The embeddings.
    baseline : ndarray of shape (1, dim) or (n, dim)
    transformer : object or None
        The fitted step that made the embeddings; it must have ``word_vectors(name)`` returning
        the words of a name and their vectors (``(n_words, dim)``), and names the column it reads
        in ``column`` (default ``"clip_id"``).
    X : pandas.DataFrame or sequence
        The explained rows.

    Returns
    -------
    split : tuple of (list of list of str, list of ndarray of shape (n_words,)) or None
        Per clip, its words and their attributions; None when ``transformer`` has no
        ``word_vectors``. When the embeddings are not the mean of the word vectors the per-word
        attributions do not add up, and a :class:`UserWarning` says so.
    """
    if transformer is None or not hasattr(transformer, "word_vectors"):
        return None
    column = getattr(transformer, "column", "clip_id")
    names = list(X[column]) if isinstance(X, pd.DataFrame) and column in X.columns else clip_ids(X)
    words, per_word, worst = [], [], 0.0
    for i, name in enumerate(names):
        w, vectors = transformer.word_vectors(name)
        words.append(list(w))
        if not len(w):
            per_word.append(np.zeros(0))
            continue
        b = baseline[i if len(baseline) > 1 else 0].reshape(-1).astype(np.float64)
        vectors = np.asarray(vectors, dtype=np.float64).reshape(len(w), -1)
        per_word.append(((vectors - b) / len(w)) @ gradients[i].reshape(-1).astype(np.float64))
        worst = max(worst, float(np.max(np.abs(vectors.mean(axis=0) - inputs[i].reshape(-1)))))
    if worst > 1e-4 * max(1.0, float(np.max(np.abs(inputs)))):
        warnings.warn(
            f"The features of {type(transformer).__name__} are not the mean of its word_vectors (largest gap "
            f"{worst:.3g}), so the per-word attributions do not add up to the attribution of its embedding; "
            "treat them as indicative only.",
            UserWarning,
            stacklevel=2,
        )
    return words, per_word
