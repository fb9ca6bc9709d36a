"""The face box of a clip: dlib's detector first, a colour/motion heuristic when it finds nothing.

Also the bookkeeping that tells ``FrameSampler(crop="face")`` which clips fell back to the
heuristic, even when they were cropped in worker processes.
"""

import contextlib
import itertools
import os
import threading

import cv2
import numpy as np

from ._face_detect import detected_face_box, square_box

__all__ = ["FaceFallbackWarning", "count_fallbacks", "face_box", "mark_fallback"]


class FaceFallbackWarning(UserWarning):
    """``FrameSampler(crop="face")`` found no face with the detector in some clips and cropped
    them with the colour/motion heuristic of :func:`face_box` instead."""


def _centre_box(h, w):
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return y0, x0, y0 + side, x0 + side


def _largest_region(mask):
    """Mask of the largest 8-connected region of a boolean mask (after an opening), or None."""
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return None
    return labels == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])


def _skin_region(median, min_fraction):
    """Box of the face from colour: foreground skin, cut at the neck (see :func:`face_box`)."""
    # Foreground: far (in Lab) from the typical colour of the frame border, which is background
    # in a head-and-shoulders shot; Otsu picks the threshold per clip.
    lab = cv2.cvtColor(median, cv2.COLOR_BGR2Lab).astype(np.float32)
    ring = np.concatenate([lab[:2].reshape(-1, 3), lab[-2:].reshape(-1, 3), lab[:, :2].reshape(-1, 3), lab[:, -2:].reshape(-1, 3)])
    dist = cv2.normalize(np.linalg.norm(lab - np.median(ring, axis=0), axis=2), None, 0, 255, cv2.NORM_MINMAX)
    _, fg = cv2.threshold(dist.astype(np.uint8), 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    skin = cv2.inRange(cv2.cvtColor(median, cv2.COLOR_BGR2YCrCb), (0, 133, 77), (255, 173, 127)) > 0
    mask = fg.astype(bool) & skin
    if mask.mean() < min_fraction:
        return None
    region = _largest_region(mask)
    if region is None:
        return None
    return _cut_at_neck(region, region.sum(axis=1))


def _cut_at_neck(mask, widths):
    """Box (y, x, height, width) of ``mask`` from its top row down to where ``widths`` (one value
    per row) falls below 60% of its maximum: the face is the wide part above the neck."""
    rows = np.flatnonzero(widths)
    widest = int(np.argmax(widths))
    narrow = np.flatnonzero(widths[widest:] < 0.6 * widths[widest])
    bottom = widest + (int(narrow[0]) if len(narrow) else len(widths) - widest)
    cols = np.flatnonzero(mask[rows[0]:bottom].any(axis=0))
    return rows[0], cols[0], bottom - rows[0], cols[-1] + 1 - cols[0]


def _motion_box(small, min_fraction):
    """Box around what moves across the frames (a talking head in front of a still background)."""
    if len(small) < 3:
        return None
    grey = np.stack([cv2.cvtColor(s, cv2.COLOR_BGR2GRAY) for s in small]).astype(np.float32)
    motion = grey.std(axis=0)
    # Without a clear contrast between moving and still pixels there is no motion cue.
    if np.percentile(motion, 99) < 3 * max(np.median(motion), 0.5):
        return None
    # A low threshold (3x the typical pixel's variation, i.e. well above sensor noise) keeps the
    # faint outline of a slowly moving head, not only blinking eyes and the mouth.
    mask = (motion >= 3 * max(np.median(motion), 0.5)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    if mask.mean() < min_fraction / 4:
        return None
    # Edges of the head, eyes and mouth move, so the box spans all moving pixels rather than
    # the largest blob; the width of a row is the span between its outermost moving pixels
    # (the neck's two edges are closer together than the head's).
    spans = np.zeros(mask.shape[0])
    for r in np.flatnonzero(mask.any(axis=1)):
        cols = np.flatnonzero(mask[r])
        spans[r] = cols[-1] + 1 - cols[0]
    return _cut_at_neck(mask, spans)


def _agrees(region, other):
    """Whether the colour box is a plausible face given the motion box."""
    y, x, bh, bw = region
    oy, ox, obh, obw = other
    # Centre within the motion box grown by half its size on each side.
    inside = oy - obh / 2 <= y + bh / 2 <= oy + 1.5 * obh and ox - obw / 2 <= x + bw / 2 <= ox + 1.5 * obw
    # Colour spilling onto a skin-toned wall makes the box much wider than the moving head.
    return inside and bh * bw >= 0.25 * obh * obw and bw <= 1.5 * obw


# The colour region runs from the hairline to the chin, the detector's box (after
# _face_detect's enlargement) from the brows to below the chin: on the realistic synthetic corpus
# the detector's box centre lay 0.08 face heights below the true face centre and the heuristic's
# on it (medians over 100 clips; detector boxes 1.01, heuristic boxes 1.05 face heights tall).
# The heuristic box is moved down by this fraction of its side so that a speaker the detector
# misses is framed like the others, and a model's learnt face regions (brows up, mouth down)
# line up across speakers.
_HEURISTIC_DROP = 0.075


def _heuristic_box(frames, margin, min_fraction):
    """The colour + motion box of :func:`face_box` (steps 1-3 of its heuristic)."""
    h, w = frames[0].shape[:2]
    small = np.stack([cv2.resize(f, (max(w // 4, 1), max(h // 4, 1)), interpolation=cv2.INTER_AREA) for f in frames])
    region = _skin_region(np.median(small, axis=0).astype(np.uint8), min_fraction)
    moving = _motion_box(small, min_fraction)
    if moving is not None and (region is None or not _agrees(region, moving)):
        region = moving
    if region is None:
        return _centre_box(h, w)
    y, x, bh, bw = region
    scale_y, scale_x = h / small.shape[1], w / small.shape[2]
    side = max(bh * scale_y, bw * scale_x) * (1 + 2 * margin)
    cy, cx = (y + bh / 2) * scale_y + _HEURISTIC_DROP * side, (x + bw / 2) * scale_x
    return square_box(cy, cx, side, h, w)


def _clip_face_box(frames, *, margin=0.1, min_fraction=0.002, detect=True):
    """``(box, detected)``: the box of :func:`face_box` and whether the detector found it."""
    box = detected_face_box(frames, margin=margin) if detect else None
    if box is not None:
        return box, True
    return _heuristic_box(frames, margin, min_fraction), False


def face_box(frames, *, margin=0.1, min_fraction=0.002, detect=True):
    """Find a square box around the face in a list of frames (one box for the whole clip).

    1. **Detector** (``detect=True``): dlib's HOG frontal face detector (the model is built into
       the ``dlib-bin`` wheel, nothing is downloaded) runs on 3 evenly spaced frames; the
       per-coordinate median of the largest detection in each is the face. It finds real faces
       at least ~80 pixels wide, frontal or slightly turned; see
       :func:`mmemotion.features._face_detect.detected_face_box`.
    2. **Heuristic**, when the detector finds nothing (no face, a face that is too small or
       turned away, a drawn face) or ``detect=False``; no learned model, computed at quarter
       resolution:

       a. Colour: on the per-pixel median of the frames (no blinks, noise or passing hands),
          pixels that are skin-coloured (the classic YCrCb rule 133 <= Cr <= 173,
          77 <= Cb <= 127; Chai & Ngan 1999) *and* foreground (Lab colour far from the median
          colour of the frame border, Otsu threshold). The largest such region is cut where it
          narrows below 60% of its widest row (the neck under the face).
       b. Motion: the box around pixels whose grey level varies over the frames by more than 3x
          the median pixel (a talking, slightly moving head in front of a still background).
       c. The colour box is used when it agrees with the motion box (centre near it, at least a
          quarter of its area, at most 1.5x its width) or when there is no motion cue;
          otherwise the motion box (skin-toned walls fool the colour rule). When neither cue
          finds a region the centre square is returned.

       The heuristic fails on real photographs with busy backgrounds (issue 13: the centre
       square or the whole frame), hence the detector first.

    The box is grown by ``margin`` on each side, made square (side clipped to the shorter frame
    side) and kept inside the frame.

    Parameters
    ----------
    frames : list of ndarray of shape (height, width, 3), uint8 BGR
    margin : float, default=0.1
        Fraction of the face's size added on each side.
    min_fraction : float, default=0.002
        Smallest share of the frame that a colour or motion region may cover (heuristic only).
    detect : bool, default=True
        Try the face detector first; False uses the heuristic alone.

    Returns
    -------
    box : tuple of int
        ``(y0, x0, y1, x1)`` in pixel coordinates of the frames.

    Examples
    --------
    >>> import numpy as np
    >>> from mmemotion.features import face_box
    >>> face_box([np.full((90, 120, 3), 128, np.uint8)] * 3)  # no face: the centre square
    (0, 15, 90, 105)
    """
    return _clip_face_box(frames, margin=margin, min_fraction=min_fraction, detect=detect)[0]


# ------------------------------------------------------------------ counting heuristic fallbacks
# Which clips of one FrameSampler call fell back to the heuristic. _extract_one may run in a
# worker process (loky, Dask), whose memory the caller never sees, and BaseFileTransformer only
# hands the frames back. So the frames travel home as a _FaceCrop, an ndarray that registers its
# clip in this ledger when it is unpickled in the calling process; in the calling process itself
# (sequential or thread backends) _extract_one registers directly. Keyed by path, so a clip
# registered twice counts once.
_ledger = {}
_ledger_lock = threading.Lock()
_tokens = itertools.count()


def _note_fallback(token, path):
    with _ledger_lock:
        if token in _ledger:
            _ledger[token].add(path)


def _arrive(frames, token, path):
    """Unpickling hook of :class:`_FaceCrop`: record the fallback where the result lands."""
    _note_fallback(token, path)
    return frames


class _FaceCrop(np.ndarray):
    """Frames of a clip whose face box came from the heuristic (see the ledger above)."""

    def __reduce__(self):
        return _arrive, (np.asarray(self), self.token, self.path)


@contextlib.contextmanager
def count_fallbacks(owner):
    """Count the heuristic fallbacks of one call of ``owner`` (a FrameSampler).

    Yields ``(token, fell_back)``: the paths that :func:`mark_fallback` notes under ``token``
    while the context is open, in this process or (on unpickling here) in a worker, are added
    to the set ``fell_back``. A fresh token per call keeps concurrent calls (threads) apart.
    """
    token = f"{os.getpid()}-{id(owner)}-{threading.get_ident()}-{next(_tokens)}"
    fell_back = set()
    with _ledger_lock:
        _ledger[token] = fell_back
    try:
        yield token, fell_back
    finally:
        with _ledger_lock:
            del _ledger[token]


def mark_fallback(frames, token, path):
    """``frames`` (an ndarray) of the clip ``path``, cropped by the heuristic: noted under
    ``token`` here and again wherever the returned array is unpickled."""
    _note_fallback(token, path)  # no-op in a worker process, whose ledger lacks the token
    frames = frames.view(_FaceCrop)
    frames.token, frames.path = token, path
    return frames
