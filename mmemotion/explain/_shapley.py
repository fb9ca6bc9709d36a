"""Exact Shapley values over a handful of players (the modalities), from all coalitions."""

from math import factorial

import numpy as np

__all__ = ["coalition_masks", "exact_shapley_values", "to_shap_explanation"]


def coalition_masks(m):
    """All ``2**m`` coalitions of ``m`` players as boolean masks.

    Coalition ``c`` contains player ``j`` when bit ``j`` of ``c`` is set, so row 0 is the empty
    coalition and the last row the grand coalition.

    Returns
    -------
    masks : ndarray of shape (2**m, m), bool
    """
    codes = np.arange(2**m)
    return ((codes[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)


def exact_shapley_values(coalition_values):
    """Exact Shapley values from the value of every coalition.

    Parameters
    ----------
    coalition_values : ndarray of shape (2**m, ...)
        ``coalition_values[c]`` is the game's value for coalition ``c`` (bit ``j`` of ``c`` set =
        player ``j`` present; see :func:`coalition_masks`). Trailing axes (clips, classes) are
        carried through.

    Returns
    -------
    phi : ndarray of shape (..., m), float64
        Shapley values; ``phi.sum(-1) == coalition_values[-1] - coalition_values[0]`` up to
        floating-point rounding (efficiency).

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([0.0, 1.0, 2.0, 4.0])  # players a (bit 0) and b (bit 1) with interaction 1
    >>> exact_shapley_values(v)
    array([1.5, 2.5])
    """
    values = np.asarray(coalition_values, dtype=np.float64)
    n_coalitions = values.shape[0]
    m = int(np.log2(n_coalitions))
    if 2**m != n_coalitions:
        raise ValueError(
            f"exact_shapley_values: coalition_values has {n_coalitions} rows; expected 2**m rows, one "
            "per coalition of m players. Pass the value of every coalition, ordered by bit mask."
        )
    weights = [factorial(s) * factorial(m - s - 1) / factorial(m) for s in range(m)]
    phi = np.zeros(values.shape[1:] + (m,), dtype=np.float64)
    for j in range(m):
        bit = 1 << j
        for c in range(n_coalitions):
            if c & bit:
                continue
            size = bin(c).count("1")
            phi[..., j] += weights[size] * (values[c | bit] - values[c])
    return phi


def to_shap_explanation(explanation):
    """Wrap the modality Shapley values of the explained class as a :class:`shap.Explanation`.

    Lets shap's plots (``shap.plots.bar``, ``shap.plots.waterfall``...) show modality
    importance, one "feature" per modality.

    Parameters
    ----------
    explanation : Explanation
        Result of :func:`~mmemotion.explain.explain` computed with the ``"shapley"`` method.

    Returns
    -------
    shap_explanation : shap.Explanation
        ``values`` of shape (n, m) for each clip's predicted class, ``base_values`` of shape (n,)
        (the probability with every modality at its baseline), ``feature_names`` = modalities.
    """
    if explanation.shapley_values is None:
        raise ValueError(
            "to_shap_explanation: explanation.shapley_values is None; call explain(..., "
            "methods=(..., 'shapley')) to compute modality Shapley values first."
        )
    import shap

    rows = np.arange(len(explanation.clip_ids))
    target = np.asarray(explanation.target_class)
    return shap.Explanation(
        values=explanation.shapley_values[rows, target],
        base_values=explanation.shapley_base[rows, target],
        data=np.ones((len(rows), len(explanation.modalities))),
        feature_names=list(explanation.modalities),
        output_names=[explanation.classes[t] for t in target],
    )
