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

Three modes:

- ``"mean"`` subtracts the speaker's mean of every feature (over all their observations);
- ``"zscore"`` also divides by the speaker's standard deviation over all their observations;
- ``"functionals"`` standardises, per speaker, the two clip-level statistics a classifier reads
  from a time series: each clip's mean of a feature becomes its z-score among the speaker's clip
  means, and the clip's deviations from that mean are rescaled so that the clip's spread becomes
  ``1 + 0.25 * z``, with z the z-score of the clip's spread among the speaker's clip spreads.
  "zscore" leaves the spread of every clip in the speaker's units: a speaker who varies the
  voice a lot has large spreads in every emotion. On unseen actors of the realistic synthetic
  corpus (10 actors, 5 folds by actor), a logistic regression on the clip means and spreads of
  "zscore"-normalised MFCC + prosody maps scored 0.613, on "functionals"-normalised maps 0.687,
  the same as on clip statistics z-scored per speaker directly (0.687);
- ``"reference"`` changes no value: it appends to every clip a fixed set of the speaker's own
  observations (e.g. frames sampled across the speaker's clips), so that a network can compare
  the clip with the speaker's usual face inside its own feature space (see
  ``ThreeStreamModule(video_reference_frames=...)``). A per-pixel normalisation cannot centre
  non-linear features such as HOG; on unseen actors of the realistic corpus, a logistic
  regression on clip HOG statistics scored 0.393 as they are, 0.457 with the mean HOG of 16
  reference frames subtracted, 0.460 with the speaker's exact mean subtracted, and 0.427 with
  the HOG of the speaker's mean face subtracted.
"""

import math

import numpy as np

__all__ = ["SPEAKER_NORMS", "SpeakerStatistics", "append_reference", "as_observations", "pooled_axes_of",
           "reference_observations", "speaker_statistics", "apply_statistics"]

#: Values of ``ModalityUnion(speaker_norm=...)`` per modality: subtract the speaker's mean, or
#: also divide by the speaker's standard deviation.
SPEAKER_NORMS = ("mean", "zscore", "functionals", "reference")

# A feature whose spread is tiny (a static background pixel, a near-constant coefficient) would
# blow noise up by orders of magnitude when divided by its own standard deviation; its scale is
# floored at this fraction of the median scale over the features.
_SCALE_FLOOR = 0.1

# "functionals": a clip's spread is mapped to 1 + _SPREAD_SLOPE * z (z: its z-score among the
# speaker's clip spreads), floored at _SPREAD_FLOOR so that it stays positive. The slope keeps
# the spread well above the network's smoothing epsilon (masked_time_statistics adds 1e-2 to the
# variance) for all but the most extreme clips (z < -3.8).
_SPREAD_SLOPE = 0.25
_SPREAD_FLOOR = 0.05


class SpeakerStatistics:
    """Mean and scale of each feature, over the valid observations of some clips.

    For mode "functionals", ``mean`` and ``scale`` describe the clips' means of each feature and
    ``spread_mean`` and ``spread_scale`` the clips' standard deviations over time.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
    scale : ndarray of shape (n_features,)
    spread_mean, spread_scale : ndarray of shape (n_features,) or None
    """

    __slots__ = ("mean", "scale", "spread_mean", "spread_scale")

    def __init__(self, mean, scale, spread_mean=None, spread_scale=None):
        self.mean = mean
        self.scale = scale
        self.spread_mean = spread_mean
        self.spread_scale = spread_scale

    def as_dict(self):
        """The arrays by name (those that are set)."""
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


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


def _floored(sd):
    return np.maximum(sd, _SCALE_FLOOR * float(np.median(sd)) + 1e-8)


def _clip_functionals(obs):
    """Mean and standard deviation over the valid observations of each clip (float64), and validity.

    Parameters
    ----------
    obs : ndarray of shape (n_clips, n_observations, n_features)

    Returns
    -------
    mean, sd : ndarray of shape (n_clips, n_features)
    valid : ndarray of shape (n_clips, n_observations, 1), bool
    """
    valid = np.any(obs != 0, axis=2, keepdims=True)
    count = np.maximum(valid.sum(axis=1), 1)
    x = obs.astype(np.float64)
    mean = (x * valid).sum(axis=1) / count
    sd = np.sqrt((((x - mean[:, None, :]) * valid) ** 2).sum(axis=1) / count)
    return mean, sd, valid


def speaker_statistics(A, pooled, mode="zscore"):
    """Statistics of the clips in ``A`` for ``mode``, or None when no observation is valid.

    Parameters
    ----------
    A : ndarray of shape (n_clips, *shape)
    pooled : tuple of int
        Per-sample axes pooled into observations.
    mode : {"mean", "zscore", "functionals"}, default="zscore"
        "functionals" describes the clip means and clip spreads; the others all observations.

    Returns
    -------
    stats : SpeakerStatistics or None
    """
    if mode == "functionals":
        obs, _ = as_observations(A, pooled)
        mean, sd, valid = _clip_functionals(obs)
        clips = valid.any(axis=(1, 2))
        if not clips.any():
            return None
        mean, sd = mean[clips], sd[clips]
        return SpeakerStatistics(mean.mean(axis=0), _floored(mean.std(axis=0)),
                                 sd.mean(axis=0), _floored(sd.std(axis=0)))
    obs, _ = as_observations(A, pooled)
    obs = obs.reshape(-1, obs.shape[-1])
    valid = np.any(obs != 0, axis=1)
    if not valid.any():
        return None
    # float64 accumulation: a speaker's mean is subtracted from values up to ~300 (MFCC c0).
    x = obs[valid].astype(np.float64)
    return SpeakerStatistics(x.mean(axis=0), _floored(x.std(axis=0)))


def apply_statistics(A, pooled, stats, mode):
    """Normalise the clips of ``A`` with ``stats``; padding observations stay zero.

    Parameters
    ----------
    A : ndarray of shape (n_clips, *shape)
    pooled : tuple of int
    stats : SpeakerStatistics
    mode : {"mean", "zscore", "functionals"}

    Returns
    -------
    out : ndarray of shape (n_clips, *shape), float32
    """
    obs, order = as_observations(A, pooled)
    if mode == "functionals":
        mean, sd, valid = _clip_functionals(obs)
        z_mean = (mean - stats.mean) / stats.scale
        z_spread = (sd - stats.spread_mean) / stats.spread_scale
        # A feature that is (nearly) constant within a clip keeps (nearly) no deviations: its
        # tiny spread is floored before dividing by it, so float noise is not blown up.
        gain = np.maximum(1.0 + _SPREAD_SLOPE * z_spread, _SPREAD_FLOOR) / np.maximum(sd, 1e-3 * stats.spread_mean + 1e-8)
        out = z_mean[:, None, :] + (obs.astype(np.float64) - mean[:, None, :]) * gain[:, None, :]
        out = (out * valid).astype(np.float32)
    else:
        valid = np.any(obs != 0, axis=2, keepdims=True)
        out = obs.astype(np.float32) - stats.mean.astype(np.float32)
        if mode == "zscore":
            out /= stats.scale.astype(np.float32)
        out *= valid
    # Undo the transpose: reshape to the permuted shape, then apply the inverse permutation.
    permuted = tuple(A.shape[i] for i in order)
    return np.ascontiguousarray(np.transpose(out.reshape(permuted), np.argsort(order)))


def _single_pooled_axis(pooled):
    if len(pooled) != 1:
        raise ValueError(
            "speaker_norm='reference' appends observations along one pooled axis (time); this step "
            f"pools axes {pooled}."
        )
    return pooled[0]


#: Clips per chunk when a whole feature array is scanned (see reference_observations).
_CHUNK_CLIPS = 64


def reference_observations(A, pooled, size):
    """``size`` observations spread over the clips in ``A`` and over time within them, or None.

    The k-th observation comes from the clip at position ``k / size`` of the clips (in order) and
    from the valid observation at position ``(k + 0.5) / size`` of that clip, so the set covers
    the clips and every phase of a clip (onset, middle, end) deterministically.

    Parameters
    ----------
    A : ndarray of shape (n_clips, *shape)
    pooled : tuple of int
        One per-sample axis (time).
    size : int

    Returns
    -------
    reference : ndarray of shape (size, n_features), dtype of A, or None
    """
    _single_pooled_axis(pooled)
    valid = _valid_observations(A, pooled)
    clips = np.flatnonzero(valid.any(axis=1))
    if not len(clips):
        return None
    out = []
    for k in range(size):
        clip = clips[(k * len(clips)) // size]
        steps = np.flatnonzero(valid[clip])
        observations, _ = as_observations(A[clip:clip + 1], pooled)
        out.append(observations[0, steps[int((k + 0.5) / size * len(steps))]])
    return np.stack(out)


def _valid_observations(A, pooled):
    """(n_clips, n_observations) bool: the observations holding any non-zero value.

    Computed ``_CHUNK_CLIPS`` clips at a time: the observation view of A is a transposed copy,
    and with its mask it took twice A's size at once (full CREMA-D's frames: 2.9 GB more).
    """
    chunks = (as_observations(A[start:start + _CHUNK_CLIPS], pooled)[0] for start in range(0, len(A), _CHUNK_CLIPS))
    return np.concatenate([np.any(obs != 0, axis=2) for obs in chunks])


def append_reference(A, pooled, reference):
    """Append ``reference`` observations to every clip of ``A`` along the pooled axis.

    Parameters
    ----------
    A : ndarray of shape (n_clips, *shape)
    pooled : tuple of int
    reference : ndarray of shape (size, n_features)

    Returns
    -------
    out : ndarray of shape (n_clips, *shape) with the pooled axis longer by ``size``, dtype of A
    """
    axis = _single_pooled_axis(pooled)
    obs, order = as_observations(A, pooled)
    ref = np.broadcast_to(reference.astype(A.dtype, copy=False), (len(A),) + reference.shape)
    out = np.concatenate([obs, ref], axis=1)
    shape = list(A.shape)
    shape[axis + 1] += len(reference)
    permuted = tuple(shape[i] for i in order)
    return np.ascontiguousarray(np.transpose(out.reshape(permuted), np.argsort(order)))
