"""Per-speaker normalisation of modality feature arrays (used by :class:`ModalityUnion`).

Between-speaker differences (a voice's pitch and timbre, a face's shape, skin and lighting) are
larger than the differences between one speaker's emotions. Standardising each speaker's
features with that speaker's own statistics removes most of them: on an independent CREMA-D-like
set (10 actors, 5 folds by actor) it raised an eGeMAPS + SVM peer from 0.55 to 0.81 accuracy and
MFCC statistics + logistic regression from 0.49 to 0.68 (issue 12). The statistics are computed
*transductively*: from the clips being transformed, grouped by speaker, without labels. A new
speaker is normalised with statistics of their own unlabelled clips, never of other speakers.

Each array is viewed as observations x features: the per-sample axes named by the
transformer's ``speaker_norm_pooled_axes`` (time for MFCC maps and frame stacks) are pooled
into observations, the other axes are features. Observations that are exactly zero in every
feature are padding (MFCC frames after a clip's end) and are neither counted nor changed.
"""

import math

import numpy as np

__all__ = ["SPEAKER_NORMS", "SpeakerStatistics", "as_observations", "pooled_axes_of", "speaker_statistics",
           "apply_statistics"]

#: Values of ``ModalityUnion(speaker_norm=...)`` per modality: subtract the speaker's mean, or
#: also divide by the speaker's standard deviation.
SPEAKER_NORMS = ("mean", "zscore")

# A feature whose spread is tiny (a static background pixel, a near-constant coefficient) would
# blow noise up by orders of magnitude when divided by its own standard deviation; its scale is
# floored at this fraction of the median scale over the features.
_SCALE_FLOOR = 0.1


class SpeakerStatistics:
    """Mean and scale of each feature, over the valid observations of some clips.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
    scale : ndarray of shape (n_features,)
    """

    __slots__ = ("mean", "scale")

    def __init__(self, mean, scale):
        self.mean = mean
        self.scale = scale


def pooled_axes_of(transformer):
    """Per-sample axes that a transformer's output pools into observations (default: none)."""
    return tuple(getattr(transformer, "speaker_norm_pooled_axes", ()))


def as_observations(A, pooled):
    """View ``A`` of shape (n, *shape) as (n, n_observations, n_features); also return the order."""
    n, shape = A.shape[0], A.shape[1:]
    kept = tuple(a for a in range(len(shape)) if a not in pooled)
    order = (0,) + tuple(a + 1 for a in pooled) + tuple(a + 1 for a in kept)
    n_obs = math.prod(shape[a] for a in pooled)
    n_feat = math.prod(shape[a] for a in kept)
    return np.transpose(A, order).reshape(n, n_obs, n_feat), order


def speaker_statistics(A, pooled):
    """Statistics over all valid observations of the clips in ``A``, or None when there are none.

    Parameters
    ----------
    A : ndarray of shape (n_clips, *shape)
    pooled : tuple of int
        Per-sample axes pooled into observations.

    Returns
    -------
    stats : SpeakerStatistics or None
    """
    obs, _ = as_observations(A, pooled)
    obs = obs.reshape(-1, obs.shape[-1])
    valid = np.any(obs != 0, axis=1)
    if not valid.any():
        return None
    # float64 accumulation: a speaker's mean is subtracted from values up to ~300 (MFCC c0).
    x = obs[valid].astype(np.float64)
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    floor = _SCALE_FLOOR * float(np.median(sd)) + 1e-8
    return SpeakerStatistics(mean, np.maximum(sd, floor))


def apply_statistics(A, pooled, stats, mode):
    """Normalise the clips of ``A`` with ``stats``; padding observations stay zero.

    Parameters
    ----------
    A : ndarray of shape (n_clips, *shape)
    pooled : tuple of int
    stats : SpeakerStatistics
    mode : {"mean", "zscore"}

    Returns
    -------
    out : ndarray of shape (n_clips, *shape), float32
    """
    obs, order = as_observations(A, pooled)
    valid = np.any(obs != 0, axis=2, keepdims=True)
    out = obs.astype(np.float32) - stats.mean.astype(np.float32)
    if mode == "zscore":
        out /= stats.scale.astype(np.float32)
    out *= valid
    # Undo the transpose: reshape to the permuted shape, then apply the inverse permutation.
    permuted = tuple(A.shape[i] for i in order)
    return np.ascontiguousarray(np.transpose(out.reshape(permuted), np.argsort(order)))
