"""One sequential decoding pass that keeps only the frames a clip's evenly spaced samples need.

Every frame is ``grab()``-ed (demuxed and decoded) but only the wanted frames are
``retrieve()``-d (converted to BGR): seeking to each wanted frame instead is 3-5x slower on
FLV/H.264, because every seek decodes again from the previous key frame.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

__all__ = ["decode_wanted", "frame_positions", "helper_thread", "nearest_frames"]

# FFmpeg reports an FLV's frame count as the container's duration times the frame rate, and that
# duration includes the audio's tail: CREMA-D-like clips (flv1 + mp3 at 44.1 kHz, made with
# FFmpeg) report one frame more than they hold. FLV files are counted exactly from their tag
# headers (._flv); for containers whose count is only the estimate, the frames wanted under each
# count down to this many fewer are retrieved (24 instead of 16 at the defaults, ~0.1-0.2 ms each
# at 480x360), so such clips need no second decoding pass; each further frame of slack costs
# about 8 more retrievals.
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


def helper_thread():
    """This thread's single helper thread (a :class:`~concurrent.futures.ThreadPoolExecutor`),
    which crops and resizes retrieved frames while this thread decodes the next ones (OpenCV
    releases the GIL in both)."""
    pid, helper = getattr(_pool, "helper", (None, None))
    # A process forked from this thread inherits the executor but not its thread: start anew.
    if pid != os.getpid():
        helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmemotion-frames")
        _pool.helper = (os.getpid(), helper)
    return helper


def frame_positions(count, n_frames):
    """Indices of the ``n_frames`` evenly spaced frames (first and last included) of a clip of
    ``count`` frames; ndarray of shape (n_frames,), int."""
    return np.linspace(0, count - 1, n_frames).round().astype(int)


def nearest_frames(available, wanted):
    """For each wanted frame index, the closest available one (ties go to the earlier frame)."""
    available = np.asarray(sorted(available))
    pos = np.clip(np.searchsorted(available, wanted), 1, max(len(available) - 1, 1))
    left, right = available[pos - 1], available[np.minimum(pos, len(available) - 1)]
    return np.where(np.abs(wanted - left) <= np.abs(right - wanted), left, right)


def decode_wanted(cap, reported, n_frames, on_frame=None, *, exact=False):
    """Single pass over the stream of an opened ``cv2.VideoCapture``.

    Parameters
    ----------
    cap : cv2.VideoCapture
        Opened, positioned at the first frame.
    reported : int
        Frame count to plan for (the container's, or the true count on a second pass); 0 or
        less when unknown.
    n_frames : int
        Evenly spaced frames wanted (:func:`frame_positions`).
    exact : bool, default=False
        ``reported`` is the true count (read from the file, see :mod:`._flv`), not the
        container's estimate: only its frames are retrieved, without ``_COUNT_SLACK``.
    on_frame : callable or None, default=None
        With a known count, called as ``on_frame(index, frame)`` as soon as each wanted frame is
        retrieved (into its own buffer, untouched until this function is called again in this
        thread), so work on it can overlap the decoding of the next ones.

    Returns
    -------
    frames : dict of int to ndarray of shape (height, width, 3), uint8 BGR
        The retrieved frames by index. With a known count they live in this thread's reused
        buffers: copy what must outlive the next decoding.
    count : int
        The reported count unless the stream ended before it.
    complete : bool
        False when the stream ended more than ``_COUNT_SLACK`` frames (with ``exact``, any frame)
        before the reported count (decode again knowing the true count).

    Without a count, frames are counted by grabbing while every ``s``-th frame is retrieved into
    a buffer of at most ``2 * n_frames`` frames; when the buffer fills, every other frame is
    dropped and ``s`` doubles.
    """
    if reported > 0:
        slack = 0 if exact else _COUNT_SLACK
        plans = {m: frame_positions(m, n_frames) for m in range(max(reported - slack, 1), reported + 1)}
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
                    if on_frame is not None:
                        on_frame(seen, frame)
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
            if len(kept) > 2 * n_frames:
                stride *= 2
                kept = {i: f for i, f in kept.items() if i % stride == 0}
        seen += 1
    return kept, seen, True
