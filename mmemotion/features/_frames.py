"""Evenly spaced, resized video frames decoded with OpenCV."""

import collections
import itertools
import os
import threading
import warnings
from numbers import Integral

import cv2
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.utils._param_validation import Interval, Options, StrOptions

from ..utils import progress
from ._base import BaseFileTransformer, _extract_safely
from ._errors import MediaError
from ._face_detect import detected_face_box, require_detector, square_box
from ._speaker_face import BOX_FIELDS, BoxedPath, BoxKeyedCache, speaker_boxes, speaker_groups

__all__ = ["FaceFallbackWarning", "FrameSampler", "face_box"]


class FaceFallbackWarning(UserWarning):
    """``FrameSampler(crop="face")`` found no face with the detector in some clips and cropped
    them with the colour/motion heuristic of :func:`face_box` instead."""


def _open_video(path):
    """Open ``path`` with OpenCV's FFmpeg backend (a seam the tests use to fake bad containers)."""
    return cv2.VideoCapture(path, cv2.CAP_FFMPEG)


def _nearest(available, wanted):
    """For each wanted frame index, the closest available one (ties go to the earlier frame)."""
    available = np.asarray(sorted(available))
    pos = np.clip(np.searchsorted(available, wanted), 1, max(len(available) - 1, 1))
    left, right = available[pos - 1], available[np.minimum(pos, len(available) - 1)]
    return np.where(np.abs(wanted - left) <= np.abs(right - wanted), left, right)


def _centre_box(h, w):
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return y0, x0, y0 + side, x0 + side


def _largest_region(mask):
    """(y, x, height, width) of the largest 8-connected region of a boolean mask, or None."""
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


# FFmpeg reports an FLV's frame count as the container's duration times the frame rate, and that
# duration includes the audio's tail: CREMA-D-like clips (flv1 + mp3 at 44.1 kHz, made with
# FFmpeg) report one frame more than they hold. The frames wanted under each count down to this
# many fewer are retrieved (24 instead of 16 at the defaults, ~0.25 ms each at 480x360), so such
# clips need no second decoding pass; each further frame of slack costs about 8 more retrievals.
_COUNT_SLACK = 1

# Retrieved frames go into buffers reused from clip to clip (one set per thread): a fresh 480x360
# frame costs its page faults on every retrieve, 0.45 instead of 0.24 ms per frame (measured).
_pool = threading.local()


def _frame_buffers(n, shape):
    """``n`` BGR frame buffers of ``shape`` for this thread; they are overwritten by the next
    clip decoded in it."""
    buffers = getattr(_pool, "buffers", [])
    if len(buffers) < n or buffers[0].shape != shape:
        buffers = _pool.buffers = [np.empty(shape, dtype=np.uint8) for _ in range(n)]
    return buffers


# crop="speaker_face": a clip waiting for its speaker's box keeps its sampled frames cut to its own
# box grown by this fraction of the box's side on each side (within the frame). The speaker's box,
# a median over the clips of one fixed camera, lies inside unless the clip's box is off by more.
_REGION_GROWTH = 0.25
# Waiting frames of one speaker beyond this many bytes are not kept: those clips are decoded again
# once the box is known. CREMA-D-like clips at 480x360 wait with ~4.6 MB each (16 frames cut to
# the grown box; 7.9 MB uncut), so ~400 MB for a speaker's ~80 clips.
_WAITING_BYTES = 2**30

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


class FrameSampler(BaseFileTransformer):
    """``n_frames`` evenly spaced, cropped and resized frames per video, one flattened row per clip.

    Each video is decoded in one sequential pass, whatever the crop (one exception below): every
    frame is ``grab()``-ed (demuxed and decoded) but only the wanted frames are ``retrieve()``-d
    (converted to BGR), cropped and resized. Seeking to each wanted frame instead is 3-5x slower
    on FLV/H.264, because every seek decodes again from the previous key frame.

    Frame ``t`` of ``n_frames`` is frame ``round(t * (N - 1) / (n_frames - 1))`` of a clip with
    ``N`` frames (first and last included). Edge cases:

    - **fewer than** ``n_frames`` **frames**: indices repeat, so frames are duplicated
      (nearest neighbour in time); a 5-frame clip gives each frame about 3 times.
    - **container over-states the frame count**: FFmpeg estimates the count of an FLV from the
      container's duration, which includes the audio's tail, so CREMA-D-like clips (flv1 + mp3)
      report a frame more than they hold. The frames wanted under both counts (the reported one
      and one fewer) are retrieved, so such a clip is still sampled exactly in one pass.
      When the stream ends earlier (truncated files), it is decoded a second time, knowing the
      true count ``M``, and sampled exactly.
    - **no frame count** (0 or negative ``CAP_PROP_FRAME_COUNT``): frames are counted by
      grabbing while every ``s``-th frame is retrieved into a buffer of at most
      ``2 * n_frames`` frames; when the buffer fills, every other frame is dropped and ``s``
      doubles. At the end, the frames nearest the evenly spaced positions are used.
    - **container under-states the count**: frames after the reported count are not read.
    - **cannot be opened / no decodable frame**: :class:`~mmemotion.features.MediaError` (or a
      zero row with ``on_error="zero"``).

    Parameters
    ----------
    column : str, default="video_path"
        Column of a DataFrame X that holds the paths.
    n_frames : int, default=16
        Frames per clip.
    size : tuple of (int, int), default=(64, 64)
        Output ``(height, width)`` of each frame (:data:`cv2.INTER_AREA` resizing).
    color : bool, default=True
        RGB output (3 channels) or grey (1 channel).
    crop : {"center", "face", "speaker_face"} or None, default="center"
        Before resizing: the centred square (``"center"``), a square around the face found by
        :func:`face_box` once per clip from the sampled frames, so the crop does not jitter
        (``"face"``), one box per speaker for all of that speaker's clips (``"speaker_face"``),
        or the whole frame, aspect ratio not kept (None). ``"speaker_face"`` needs a DataFrame
        X with ``speaker_column``; it finds each clip's box as ``"face"`` does, then crops every
        clip of a speaker with the per-coordinate median centre and side of the speaker's
        detected boxes (of all its boxes if the detector found none), computed from the clips
        being transformed, as ``ModalityUnion``'s speaker statistics
        are: a speaker filmed by a fixed camera (CREMA-D's studio) is then cropped identically
        in every clip, so per-speaker comparisons see expression, not crop jitter (module
        ``mmemotion.features._speaker_face`` has the measurements). Each clip is still decoded
        once: clips are taken speaker by speaker, and a clip's sampled frames wait, cut to its own
        box grown by a quarter of its side, until the speaker's box is known (a clip whose
        speaker box reaches outside that region, or whose speaker's waiting frames would pass
        1 GiB, is decoded again with the box). ``"face"`` runs dlib's
        HOG face detector on 3 of the sampled frames (~13 ms each at 480x360); clips where it
        finds no face are cropped by :func:`face_box`'s colour/motion heuristic instead, and
        each ``fit_transform``/``transform`` that had such clips emits one
        :class:`FaceFallbackWarning` with their number and names (clips read back from the
        ``memory`` cache are not examined again and not counted).
    speaker_column : str, default="actor_id"
        Column of the DataFrame X naming each clip's speaker (``crop="speaker_face"`` only).
    dtype : {np.float32, np.uint8}, default=np.float32
        float32 output is scaled to [0, 1]; uint8 keeps [0, 255] and takes a quarter of the
        memory (CREMA-D at the defaults: 1.5 GB instead of 5.9 GB).
    n_jobs : int, default=None
        Parallel jobs (:class:`joblib.Parallel`; the backend can be changed with
        :func:`joblib.parallel_config`, e.g. to Dask).
    memory : None, str, path-like or joblib.Memory, default=None
        Cache directory for per-file frames, keyed by resolved path, size, modification time
        and the parameters above.
    on_error : {"raise", "zero"}, default="raise"
        Unreadable video: raise :class:`~mmemotion.features.MediaError` naming it, or use a row
        of zeros and emit one :class:`~mmemotion.features.MediaWarning` listing all such files.
    verbose : bool or int, default=False
        Show a progress bar.

    Attributes
    ----------
    output_shape_ : tuple of int
        ``(channels, n_frames, height, width)`` with channels 3 (RGB) or 1 (grey).

    See Also
    --------
    MFCCTransformer : The audio counterpart.

    Examples
    --------
    >>> import cv2, numpy as np, tempfile, os
    >>> from mmemotion.features import FrameSampler
    >>> path = os.path.join(tempfile.mkdtemp(), "clip.flv")
    >>> writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"FLV1"), 30, (160, 120))
    >>> for i in range(20):
    ...     _ = writer.write(np.full((120, 160, 3), 10 * i, np.uint8))
    >>> writer.release()
    >>> sampler = FrameSampler(n_frames=4, size=(8, 8)).fit([path])
    >>> sampler.transform([path]).shape, sampler.output_shape_
    ((1, 768), (3, 4, 8, 8))
    """

    # ModalityUnion(speaker_norm=...) pools time into one statistic per channel and pixel:
    # the speaker's mean face.
    speaker_norm_pooled_axes = (1,)

    _parameter_constraints = {
        **BaseFileTransformer._parameter_constraints,
        "n_frames": [Interval(Integral, 1, None, closed="left")],
        "size": [tuple, list],
        "color": ["boolean"],
        "crop": [StrOptions({"center", "face", "speaker_face"}), None],
        "speaker_column": [str],
        "dtype": [Options(type, {np.float32, np.uint8}), Options(np.dtype, {np.dtype("float32"), np.dtype("uint8")})],
    }
    # Per-file work (and the cache) is uint8 whatever ``dtype`` is: cache entries are 4x smaller,
    # read back faster, and shared by the float32 and uint8 settings.
    _extract_params = ("n_frames", "size", "color", "crop")
    _cache_class = BoxKeyedCache

    def __init__(
        self,
        *,
        column="video_path",
        n_frames=16,
        size=(64, 64),
        color=True,
        crop="center",
        speaker_column="actor_id",
        dtype=np.float32,
        n_jobs=None,
        memory=None,
        on_error="raise",
        verbose=False,
    ):
        self.column = column
        self.n_frames = n_frames
        self.size = size
        self.color = color
        self.crop = crop
        self.speaker_column = speaker_column
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error
        self.verbose = verbose

    def _check_params(self):
        if len(self.size) != 2 or not all(isinstance(s, Integral) and s >= 1 for s in self.size):
            raise ValueError(f"size must be (height, width) with positive integers, got size={self.size!r}.")
        if self.crop in ("face", "speaker_face"):
            # Here, not per file: a missing detector would otherwise fail every file, and with
            # on_error="zero" silently zero every row.
            require_detector()

    def _output_shape(self):
        return (3 if self.color else 1, self.n_frames, int(self.size[0]), int(self.size[1]))

    def _feature_names(self):
        channels = ("r", "g", "b") if self.color else ("grey",)
        _, t, h, w = self.output_shape_
        return np.asarray(
            [f"{c}_t{i}_y{y}_x{x}" for c in channels for i in range(t) for y in range(h) for x in range(w)],
            dtype=object,
        )

    # ----------------------------------------------------------------------------- per file
    def _finish(self, frame, box):
        """Crop, resize and colour-convert one BGR frame to (height, width, channels) uint8."""
        if box is not None:
            y0, x0, y1, x1 = box
            frame = frame[y0:y1, x0:x1]
        h, w = int(self.size[0]), int(self.size[1])
        # INTER_AREA (the anti-aliased choice for shrinking) is ~3x slower at a fractional
        # scale (360 -> 64) than at an integer one (measured, OpenCV 5.0): shrink by the
        # largest integer factor first, then finish the small fractional step.
        k = min(frame.shape[0] // h, frame.shape[1] // w)
        if k >= 2:
            frame = cv2.resize(frame, (frame.shape[1] // k, frame.shape[0] // k), interpolation=cv2.INTER_AREA)
        # Resize before colour conversion: converting 64x64 instead of 480x360 pixels.
        small = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        if self.color:
            return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)[:, :, None]

    def _positions(self, count):
        """Indices of the sampled frames of a clip of ``count`` frames."""
        return np.linspace(0, count - 1, self.n_frames).round().astype(int)

    def _decode(self, cap, reported):
        """Single pass over the stream.

        Returns ``({frame index: BGR frame}, frame count, complete)``; the count is the reported
        one unless the stream ended before it, and ``complete`` is False when it ended more than
        ``_COUNT_SLACK`` frames before it.
        """
        if reported > 0:
            plans = {m: self._positions(m) for m in range(max(reported - _COUNT_SLACK, 1), reported + 1)}
            wanted = set(np.concatenate(list(plans.values())).tolist())
            last = max(wanted)
            shape = (int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), 3)
            buffers = _frame_buffers(len(wanted), shape)
            raw, seen = {}, 0
            while seen <= last and cap.grab():
                if seen in wanted:
                    ok, frame = cap.retrieve(buffers[len(raw)])
                    if ok and frame is not None:
                        raw[seen] = frame
                seen += 1
            count = reported if seen > last else seen
            if count not in plans:
                return raw, count, False
            keep = set(plans[count].tolist())
            return {i: f for i, f in raw.items() if i in keep}, count, True
        kept, stride, seen = {}, 1, 0
        while cap.grab():
            if seen % stride == 0:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    kept[seen] = frame
                if len(kept) > 2 * self.n_frames:
                    stride *= 2
                    kept = {i: f for i, f in kept.items() if i % stride == 0}
            seen += 1
        return kept, seen, True

    def _read(self, path, count=None):
        cap = _open_video(path)
        try:
            if not cap.isOpened():
                raise MediaError(path, "OpenCV/FFmpeg cannot open it as a video (not a video, corrupt or unsupported codec)")
            reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if count is None else count
            return *self._decode(cap, reported), reported
        finally:
            cap.release()

    def _sample(self, path):
        """``({frame index: BGR frame}, order)``: the decoded frames of one video and the index of
        the frame shown at each of the ``n_frames`` positions. The frames may live in this thread's
        reused buffers (:func:`_frame_buffers`): copy what must outlive the next decoding."""
        kept, seen, complete, reported = self._read(path)
        if not complete and seen > 0:
            # The stream ended well before the reported count (a truncated file), so the wanted
            # frames near the end were never reached. Now that the true count is known, decode
            # once more and pick exactly.
            kept, seen, _, _ = self._read(path, count=seen)
        if not kept:
            raise MediaError(path, f"no decodable video frame (container reports {reported} frames)")
        # `seen` equals the reported count when the container told the truth (the wanted
        # positions are then exactly the retrieved frames) and the real count otherwise.
        return kept, _nearest(list(kept), self._positions(seen)).tolist()

    def _stack(self, frames, order, box):
        """``(channels, n_frames, height, width)`` uint8 from the BGR frames shown at ``order``."""
        done = {i: self._finish(frames[i], box) for i in set(order)}
        return np.ascontiguousarray(np.stack([done[i] for i in order]).transpose(3, 0, 1, 2))

    def _extract_one(self, item):
        path = os.fspath(item)
        box = getattr(item, "box", None)  # a speaker's box (crop="speaker_face")
        frames, order = self._sample(path)
        detected = True
        if box is None and self.crop in ("face", "speaker_face"):
            box, detected = _clip_face_box([frames[i] for i in sorted(frames)])
        elif box is None and self.crop == "center":
            box = _centre_box(*frames[order[0]].shape[:2])
        out = self._stack(frames, order, box)
        token = getattr(self, "_face_token", None)
        if detected or token is None:
            return out
        _note_fallback(token, path)  # no-op in a worker process, whose ledger lacks the token
        out = out.view(_FaceCrop)
        out.token, out.path = token, path
        return out

    def _validate_items(self, X):
        items = super()._validate_items(X)
        if self.crop != "speaker_face":
            return items
        if not isinstance(X, pd.DataFrame) or self.speaker_column not in X.columns:
            found = f"columns {list(X.columns)[:8]}" if isinstance(X, pd.DataFrame) else f"a {type(X).__name__}"
            raise ValueError(
                f"FrameSampler(crop='speaker_face') crops all clips of a speaker alike and reads the speaker "
                f"from column {self.speaker_column!r} of a DataFrame X, but X has {found}. Pass the manifest "
                "frame of load_crema_d, set speaker_column, or use crop='face' (one box per clip)."
            )
        return _SpeakerItems(items, X[self.speaker_column].tolist())

    def _extract_by_speaker(self, items):
        """``crop="speaker_face"``: one decoding pass per clip (see ``crop``)."""
        finder = FaceBoxes(n_frames=self.n_frames, memory=self.memory)
        records, known = finder._cached_records(items)
        out = np.empty((len(items), *self.output_shape_), dtype=np.uint8)
        done = self._scan_speakers(items, records, known, out, finder)
        boxes, undetected = speaker_boxes(records, items.speakers)
        if undetected:
            self._warn_undetected(undetected, items.speakers)
        boxed = [BoxedPath(item, box) if records[i, 2] > records[i, 0] else item
                 for i, (item, box) in enumerate(zip(items, boxes))]
        rest = np.flatnonzero(~done)
        if len(rest) == len(items):
            # Every box was cached: the per-file (and whole-batch) cache of the crops applies.
            return super()._extract_all(boxed)
        if len(rest):
            out[rest] = super()._extract_all([boxed[i] for i in rest])
        return out

    def _scan_speakers(self, items, records, known, out, finder):
        """Decode the clips whose box is not cached, speaker by speaker, and crop a speaker's clips
        into ``out`` as soon as its last clip is in; fills ``records`` and returns which rows of
        ``out`` are done."""
        groups = list(speaker_groups(items.speakers).values())
        todo = [i for group in groups for i in group if not known[i]]
        done = np.zeros(len(items), dtype=bool)
        if not todo:
            return done
        group_of = {i: g for g, group in enumerate(groups) for i in group}
        left = collections.Counter(group_of[i] for i in todo)
        box_cache, crop_cache = finder._cache(), self._cache()
        waiting, failed = {}, []
        # Items in speaker order, so that only one speaker's frames wait at a time; the generator
        # hands results back in that order.
        tasks = (delayed(_extract_safely)(_ClipScan(n_frames=self.n_frames), items[i], i, None, None) for i in todo)
        results = Parallel(n_jobs=self.n_jobs, return_as="generator")(tasks)
        bar = progress(results, verbose=self.verbose, desc=type(self).__name__, total=len(todo), unit="file")
        for i, (scan, reason) in zip(todo, bar):
            if reason is not None:
                failed.append(self._failure(items[i], i, reason))
                out[i], done[i] = 0, True
            else:
                records[i], region, frames, order = scan
                if box_cache is not None:
                    box_cache.save(box_cache.key(items[i]), records[i])
                if sum(_nbytes(w[1]) for w in waiting.values()) + _nbytes(frames) <= _WAITING_BYTES:
                    waiting[i] = region, frames, order
            left[group_of[i]] -= 1
            if left[group_of[i]] == 0:
                group = groups[group_of[i]]
                boxes, _ = speaker_boxes(records[group], [items.speakers[j] for j in group])
                for j, box in zip(group, boxes):
                    if j in waiting:
                        done[j] = self._crop_waiting(out, j, box, waiting.pop(j), crop_cache, items[j])
        if failed:
            self._warn_unreadable(failed, len(items), stacklevel=6)
        return done

    def _crop_waiting(self, out, index, box, waiting, cache, item):
        """Crop a waiting clip with its speaker's box into ``out[index]``; False when the box
        reaches outside the frames kept (the clip is then decoded again)."""
        (ry0, rx0, ry1, rx1), frames, order = waiting
        y0, x0, y1, x1 = box
        if not (ry0 <= y0 and rx0 <= x0 and y1 <= ry1 and x1 <= rx1):
            return False
        out[index] = self._stack(frames, order, (y0 - ry0, x0 - rx0, y1 - ry0, x1 - rx0))
        if cache is not None:
            cache.save(cache.key(BoxedPath(item, box)), out[index])
        return True

    def _warn_undetected(self, undetected, speakers):
        listed = ", ".join(map(str, undetected[:10])) + (", ..." if len(undetected) > 10 else "")
        warnings.warn(
            f"FrameSampler(crop='speaker_face'): the face detector found no face in any clip of "
            f"{len(undetected)} of {len(set(map(str, speakers)))} speakers ({listed}); their box comes "
            "from face_box's colour/motion heuristic. Expected for drawn (synthetic) faces, faces under ~80 "
            "pixels or turned away; check these speakers' clips, or use crop='center'.",
            FaceFallbackWarning,
            stacklevel=5,
        )

    def _extract_all(self, items):
        if self.crop == "speaker_face":
            return self._extract_by_speaker(items)
        if self.crop != "face":
            return super()._extract_all(items)
        # A fresh token per call keeps concurrent calls (threads) apart in the ledger; it rides
        # to the workers on the pickled estimator and is removed again, so transform leaves the
        # estimator's state as fit left it.
        token = f"{os.getpid()}-{id(self)}-{threading.get_ident()}-{next(_tokens)}"
        with _ledger_lock:
            _ledger[token] = set()
        self._face_token = token
        try:
            out = super()._extract_all(items)
        finally:
            del self._face_token
            with _ledger_lock:
                fell_back = _ledger.pop(token)
        if fell_back:
            listed = "; ".join(sorted(fell_back)[:10]) + ("; ..." if len(fell_back) > 10 else "")
            warnings.warn(
                f"FrameSampler(crop='face'): the face detector found no face in {len(fell_back)} of "
                f"{len(set(map(str, items)))} clips; they are cropped by face_box's colour/motion "
                f"heuristic instead: {listed}. Expected for drawn (synthetic) faces, faces under ~80 "
                "pixels or turned away; check these clips, or use crop='center'.",
                FaceFallbackWarning,
                stacklevel=3,
            )
        return out

    def _work_dtype(self):
        return np.dtype(np.uint8)

    def _postprocess(self, F):
        F = F.reshape(len(F), -1)
        if np.dtype(self.dtype) == np.uint8:
            return F
        # One float32 allocation, no float64 temporary (7,442 clips: 5.9 GB).
        return np.divide(F, np.float32(255), dtype=np.float32)


class _SpeakerItems(list):
    """The items of one call with each clip's speaker alongside (``crop="speaker_face"``)."""

    def __init__(self, items, speakers):
        super().__init__(items)
        self.speakers = speakers


class FaceBoxes(FrameSampler):
    """Each clip's box record (:data:`~mmemotion.features._speaker_face.BOX_FIELDS`: the box
    ``crop="face"`` finds, whether the detector found it, the frame size), as
    ``FrameSampler(crop="speaker_face")`` finds it; cached like frames under its own name."""

    _extract_params = ("n_frames",)

    def __init__(self, *, n_frames=16, n_jobs=None, memory=None, on_error="raise", verbose=False):
        super().__init__(n_frames=n_frames, crop="face", n_jobs=n_jobs, memory=memory, on_error=on_error,
                         verbose=verbose)

    def _scan(self, item):
        """``(record, region, {frame index: frame cut to region}, order)`` of one clip; the
        region is the clip's box grown by ``_REGION_GROWTH`` of its side, inside the frame."""
        frames, order = self._sample(os.fspath(item))
        box, detected = _clip_face_box([frames[i] for i in sorted(frames)])
        h, w = frames[order[0]].shape[:2]
        y0, x0, y1, x1 = box
        grow = int(np.ceil(_REGION_GROWTH * max(y1 - y0, x1 - x0)))
        region = (max(y0 - grow, 0), max(x0 - grow, 0), min(y1 + grow, h), min(x1 + grow, w))
        cut = {i: frames[i][region[0]:region[2], region[1]:region[3]].copy() for i in set(order)}
        return np.asarray([*box, int(detected), h, w], dtype=np.int32), region, cut, order

    def _extract_one(self, item):
        return self._scan(item)[0]

    def _cached_records(self, items):
        """``(records, known)``: the cached record of each item (zeros where none) and which are."""
        records = np.zeros((len(items), len(BOX_FIELDS)), dtype=np.int32)
        known = np.zeros(len(items), dtype=bool)
        cache = self._cache()
        for i, item in enumerate(items):
            if cache is not None and isinstance(item, (str, os.PathLike)):
                hit = cache.load(cache.key(item), records.shape[1:], records.dtype)
                if hit is not None:
                    records[i], known[i] = hit, True
        return records, known

    def _extract_all(self, items):
        return BaseFileTransformer._extract_all(self, items)

    def _work_dtype(self):
        return np.dtype(np.int32)


class _ClipScan(FaceBoxes):
    """A clip's :meth:`FaceBoxes._scan` as the per-file work (the pass of ``crop="speaker_face"``)."""

    def _extract_one(self, item):
        return self._scan(item)


def _nbytes(frames):
    return sum(f.nbytes for f in frames.values())
