"""Histograms of oriented gradients (HOG) of sampled video frames."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ._base import path_input_tags
from ._frames import FrameSampler

__all__ = ["FrameHOG", "hog"]


def hog(images, *, cell=8, n_bins=9):
    """HOG descriptors of a batch of grey images (Dalal & Triggs 2005, 2x2-cell L2-Hys blocks).

    OpenCV 5 wheels dropped ``cv2.HOGDescriptor`` and scikit-image is not a dependency, so this is
    the textbook recipe in numpy: central-difference gradients, unsigned orientations in
    ``n_bins`` bins (votes split linearly between the two nearest bins, weighted by the
    magnitude), one histogram per ``cell`` x ``cell`` cell, every 2x2 block of cells
    L2-normalised, clipped at 0.2 and normalised again.

    Parameters
    ----------
    images : ndarray of shape (n, H, W)
    cell : int, default=8
    n_bins : int, default=9

    Returns
    -------
    descriptors : ndarray of shape (n, (H // cell - 1) * (W // cell - 1) * 4 * n_bins), float32
    """
    x = np.asarray(images, dtype=np.float32)
    n, h, w = x.shape
    cy, cx = h // cell, w // cell
    if cy < 2 or cx < 2:
        raise ValueError(f"hog: images of {h}x{w} pixels hold fewer than 2x2 cells of {cell} pixels; use larger frames.")
    x = x[:, : cy * cell, : cx * cell]
    gy, gx = np.zeros_like(x), np.zeros_like(x)
    gy[:, 1:-1] = x[:, 2:] - x[:, :-2]
    gx[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]
    magnitude = np.hypot(gx, gy)
    position = (np.arctan2(gy, gx) % np.pi) / np.pi * n_bins - 0.5
    low = np.floor(position).astype(np.int64)
    upper_share = position - low
    # One weighted bincount per neighbouring bin over (image, cell row, cell column, bin) indices.
    image = np.arange(n).reshape(n, 1, 1)
    cell_y = (np.arange(cy * cell) // cell).reshape(1, -1, 1)
    cell_x = (np.arange(cx * cell) // cell).reshape(1, 1, -1)
    base = ((image * cy + cell_y) * cx + cell_x) * n_bins
    hist = np.zeros(n * cy * cx * n_bins, dtype=np.float64)
    for b, share in ((low % n_bins, 1 - upper_share), ((low + 1) % n_bins, upper_share)):
        hist += np.bincount((base + b).ravel(), weights=(magnitude * share).ravel(), minlength=hist.size)
    hist = hist.reshape(n, cy, cx, n_bins).astype(np.float32)
    blocks = np.concatenate(
        [hist[:, :-1, :-1], hist[:, 1:, :-1], hist[:, :-1, 1:], hist[:, 1:, 1:]], axis=-1
    )
    blocks /= np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + 1e-6)
    np.minimum(blocks, 0.2, out=blocks)
    blocks /= np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + 1e-6)
    return blocks.reshape(n, -1)


class FrameHOG(TransformerMixin, BaseEstimator):
    """HOG descriptor of every frame sampled by a :class:`FrameSampler`, one row per clip.

    A face's shape (mouth opening and corners, brow tilt, eye opening) is what an expression
    changes; HOG describes it by edge orientations per cell of the face crop and ignores
    brightness and contrast (skin tone, lighting). It is the classical, data-efficient face
    representation that a linear model can use with a few hundred clips.

    Parameters
    ----------
    frame_sampler : FrameSampler, default=None
        Samples and crops the frames (None: ``FrameSampler(crop="face", dtype=np.uint8)``).
        Colour frames are turned grey (channel mean) first.
    cell : int, default=8
        Cell size in pixels.
    n_bins : int, default=9
        Orientation bins.

    Attributes
    ----------
    frame_sampler_ : FrameSampler
        The fitted sampler.
    output_shape_ : tuple of int
        ``(n_frames, n_descriptor)``.

    Examples
    --------
    >>> from mmemotion.features import FrameHOG, FrameSampler
    >>> FrameHOG(FrameSampler(n_frames=4, size=(32, 32))).get_params()["cell"]
    8
    """

    _parameter_constraints = {
        "frame_sampler": [HasMethods(["fit", "transform"]), None],
        "cell": [Interval(Integral, 2, None, closed="left")],
        "n_bins": [Interval(Integral, 2, None, closed="left")],
    }
    # ModalityUnion(speaker_norm=...): frames (time) pool into one statistic per descriptor entry.
    speaker_norm_pooled_axes = (0,)

    def __init__(self, frame_sampler=None, *, cell=8, n_bins=9):
        self.frame_sampler = frame_sampler
        self.cell = cell
        self.n_bins = n_bins

    def fit(self, X, y=None):
        """Fit the frame sampler and fix the descriptor size.

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)
            Video paths (or the manifest frame).
        y : ignored

        Returns
        -------
        self : FrameHOG
        """
        self._validate_params()
        sampler = self.frame_sampler if self.frame_sampler is not None else FrameSampler(crop="face", dtype=np.uint8)
        self.frame_sampler_ = clone(sampler).fit(X, y)
        _, t, h, w = self.frame_sampler_.output_shape_
        size = hog(np.zeros((1, h, w), np.float32), cell=self.cell, n_bins=self.n_bins).shape[1]
        self.output_shape_ = (t, size)
        return self

    def transform(self, X):
        """HOG of every sampled frame.

        Parameters
        ----------
        X : DataFrame or sequence of shape (n_samples,)

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_frames * n_descriptor), float32
        """
        check_is_fitted(self)
        frames = np.asarray(self.frame_sampler_.transform(X)).reshape(-1, *self.frame_sampler_.output_shape_)
        n, _, t, h, w = frames.shape
        grey = frames.astype(np.float32).mean(axis=1).reshape(n * t, h, w)
        out = hog(grey, cell=self.cell, n_bins=self.n_bins).reshape(n, -1)
        # A clip the sampler zero-filled (on_error="zero") stays all zeros, i.e. "missing".
        out[~frames.reshape(n, -1).any(axis=1)] = 0
        return out

    def get_feature_names_out(self, input_features=None):
        """``hog_t{frame}_{index}`` in output order.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self)
        t, size = self.output_shape_
        return np.array([f"hog_t{i:02d}_{j:04d}" for i in range(t) for j in range(size)], dtype=object)

    def __sklearn_tags__(self):
        return path_input_tags(super().__sklearn_tags__())
