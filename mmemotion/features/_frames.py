"""Evenly spaced, resized video frames decoded with OpenCV: :class:`FrameSampler`.

The face box of ``crop="face"`` comes from :mod:`._face_box`, the single decoding pass from
:mod:`._video_decode` and the per-speaker crop from :mod:`._speaker_face`.
"""

import os
import warnings
from numbers import Integral

import cv2
import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions

from ._base import BaseFileTransformer
from ._errors import MediaError
# _clip_face_box is called through this module's name, like _open_video below: tests and
# benchmarks replace _frames._clip_face_box to fix the boxes.
from ._face_box import FaceFallbackWarning, _centre_box, _clip_face_box, count_fallbacks, face_box, mark_fallback
from ._face_detect import require_detector
from ._flv import flv_frame_count
from ._speaker_face import BOX_FIELDS, BoxKeyedCache, SpeakerFaceCrop
from ._video_decode import decode_wanted, frame_positions, helper_thread, nearest_frames

__all__ = ["FaceFallbackWarning", "FrameSampler", "face_box"]


# One FFmpeg decoding thread per clip; clips run in parallel with ``n_jobs`` instead. With the
# backend's default (a thread per CPU), each ``retrieve()`` of a CREMA-D-like clip (flv1, 480x360)
# took 0.2 ms instead of 0.08 ms on 2 idle cores and 0.5-1.1 ms instead of 0.13 ms on 2 busy ones,
# and each ``grab()`` no less time (OpenCV 5.1; benchmarks/bench_decode.py): the small frames of
# these codecs gain nothing from threads and pay their hand-offs.
_DECODE_PARAMS = [cv2.CAP_PROP_N_THREADS, 1]


def _open_video(path):
    """Open ``path`` with OpenCV's FFmpeg backend (a seam the tests use to fake bad containers)."""
    return cv2.VideoCapture(path, cv2.CAP_FFMPEG, _DECODE_PARAMS)


# crop="speaker_face": a clip waiting for its speaker's box keeps its sampled frames cut to its own
# box grown by this fraction of the box's side on each side (within the frame). The speaker's box,
# a median over the clips of one fixed camera, lies inside unless the clip's box is off by more.
_REGION_GROWTH = 0.25


class FrameSampler(SpeakerFaceCrop, BaseFileTransformer):
    """``n_frames`` evenly spaced, cropped and resized frames per video, one flattened row per clip.

    Each video is decoded in one sequential pass, whatever the crop (one exception below): every
    frame is ``grab()``-ed (demuxed and decoded) but only the wanted frames are ``retrieve()``-d
    (converted to BGR), cropped and resized. Seeking to each wanted frame instead is 3-5x slower
    on FLV/H.264, because every seek decodes again from the previous key frame. FFmpeg decodes
    each clip in one thread (clips are parallelised by ``n_jobs``); when the crop box is known
    before decoding (``"center"``, None, a speaker's known box), each retrieved frame is cropped
    and resized in a helper thread while the next frames decode.

    Frame ``t`` of ``n_frames`` is frame ``round(t * (N - 1) / (n_frames - 1))`` of a clip with
    ``N`` frames (first and last included). Edge cases:

    - **fewer than** ``n_frames`` **frames**: indices repeat, so frames are duplicated
      (nearest neighbour in time); a 5-frame clip gives each frame about 3 times.
    - **container over-states the frame count**: FFmpeg estimates the count of an FLV from the
      container's duration, which includes the audio's tail, so CREMA-D-like clips (flv1 + mp3)
      report a frame more than they hold. An FLV's frames are therefore counted from its tag
      headers (~0.15 ms, no decoding). For other containers the frames wanted under both counts
      (the reported one and one fewer) are retrieved, so a clip over-stated by one is still
      sampled exactly in one pass. When the stream ends earlier (truncated files), it is
      decoded a second time, knowing the true count ``M``, and sampled exactly.
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
        and the parameters above. Outputs of 64 MiB or more are then memory-mapped on unnamed
        files in it (:func:`~mmemotion.features._cache.scratch_array`) instead of held in RAM.
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

    def _read(self, path, count=None, on_frame=None):
        if count is None:
            count = flv_frame_count(path)  # exact for FLV; None for other containers
        cap = _open_video(path)
        try:
            if not cap.isOpened():
                raise MediaError(path, "OpenCV/FFmpeg cannot open it as a video (not a video, corrupt or unsupported codec)")
            exact = count is not None and count > 0
            reported = count if exact else int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            return *decode_wanted(cap, reported, self.n_frames, on_frame, exact=exact), reported
        finally:
            cap.release()

    def _sample(self, path, early=None):
        """``({frame index: BGR frame}, order)``: the decoded frames of one video and the index of
        the frame shown at each of the ``n_frames`` positions. The frames may live in this thread's
        reused buffers (see :func:`~._video_decode.decode_wanted`): copy what must outlive the
        next decoding. ``early`` (an :class:`_EarlyFinish`) is handed each frame as it is retrieved."""
        kept, seen, complete, reported = self._read(path, on_frame=early)
        if not complete and seen > 0:
            # The stream ended well before the reported count (a truncated file), so the wanted
            # frames near the end were never reached. Now that the true count is known, decode
            # once more and pick exactly.
            if early is not None:
                early.drain()  # the second pass retrieves into the same buffers
            kept, seen, _, _ = self._read(path, count=seen, on_frame=early)
        if not kept:
            raise MediaError(path, f"no decodable video frame (container reports {reported} frames)")
        # `seen` equals the reported count when the container told the truth (the wanted
        # positions are then exactly the retrieved frames) and the real count otherwise.
        return kept, nearest_frames(list(kept), frame_positions(seen, self.n_frames)).tolist()

    def _stack(self, frames, order, box, done=None):
        """``(channels, n_frames, height, width)`` uint8 from the BGR frames shown at ``order``;
        ``done`` holds frames already finished, by index."""
        done = dict(done or {})
        done.update({i: self._finish(frames[i], box) for i in set(order) - done.keys()})
        return np.ascontiguousarray(np.stack([done[i] for i in order]).transpose(3, 0, 1, 2))

    def _extract_one(self, item):
        path = os.fspath(item)
        box = getattr(item, "box", None)  # a speaker's box (crop="speaker_face")
        if box is not None or self.crop in ("center", None):
            # The box is known before decoding: each frame is cropped and resized while the next
            # ones decode.
            early = _EarlyFinish(self._finish, box, centre=box is None and self.crop == "center")
            try:
                frames, order = self._sample(path, early)
            finally:
                done = early.drain()
            # Frames retrieved without a known frame count were not handed over: finished here.
            return self._stack(frames, order, early.box_for(frames[order[0]]), done)
        frames, order = self._sample(path)
        box, detected = _clip_face_box([frames[i] for i in sorted(frames)])
        out = self._stack(frames, order, box)
        token = getattr(self, "_face_token", None)
        if detected or token is None:
            return out
        return mark_fallback(out, token, path)

    def _extract_all(self, items):
        if self.crop == "speaker_face":
            return self._extract_by_speaker(items)
        if self.crop != "face":
            return super()._extract_all(items)
        # The call's token rides to the workers on the pickled estimator and is removed again,
        # so transform leaves the estimator's state as fit left it.
        with count_fallbacks(self) as (token, fell_back):
            self._face_token = token
            try:
                out = super()._extract_all(items)
            finally:
                del self._face_token
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

    def _box_finder(self, *, scan=False):
        """``crop="speaker_face"`` (:class:`~._speaker_face.SpeakerFaceCrop`): the reader of the
        clips' box records, or (``scan=True``) the per-clip work of its decoding pass."""
        if scan:
            return _ClipScan(n_frames=self.n_frames)
        return FaceBoxes(n_frames=self.n_frames, memory=self.memory)

    def _work_dtype(self):
        return np.dtype(np.uint8)

    def _postprocess(self, F):
        F = F.reshape(len(F), -1)
        if np.dtype(self.dtype) == np.uint8:
            return F
        # One float32 allocation, no float64 temporary (7,442 clips: 5.9 GB).
        return np.divide(F, np.float32(255), dtype=np.float32)


class _EarlyFinish:
    """Crops and resizes each frame in this thread's helper thread as soon as it is retrieved.

    Decoding (``grab``) is the bulk of a clip's time; cropping and resizing its 16 frames
    (~2.7 ms at the defaults) runs beside it instead of after it (OpenCV releases the GIL).
    Measured with ``benchmarks/bench_decode.py``.

    Parameters
    ----------
    finish : callable
        ``finish(frame, box)``: :meth:`FrameSampler._finish`.
    box : tuple of int or None
        The crop box; with ``centre=True`` it is the centred square of the first frame.
    centre : bool
    """

    def __init__(self, finish, box, *, centre):
        self._finish, self.box, self._centre = finish, box, centre
        self._pending = {}

    def box_for(self, frame):
        """The crop box of the clip whose frame this is."""
        if self._centre:
            self.box, self._centre = _centre_box(*frame.shape[:2]), False
        return self.box

    def __call__(self, index, frame):
        self._pending[index] = helper_thread().submit(self._finish, frame, self.box_for(frame))

    def drain(self):
        """Wait for every frame handed over so far (their buffers are about to be reused) and
        return ``{frame index: finished frame}``."""
        pending, self._pending = self._pending, {}
        return {i: future.result() for i, future in pending.items()}


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

