"""Face boxes from dlib's HOG frontal face detector, one box per clip.

The detector (Dalal & Triggs HOG features + a linear SVM, trained by Davis King on the iBUG 300-W
faces; see ``dlib.get_frontal_face_detector``) is compiled into the ``dlib`` binary wheel
(``pip install dlib-bin``, Boost Software License), so nothing is downloaded at run time.

Why this detector (measured on a 480x360 frame with the ``skimage.data.astronaut`` portrait on
plain and busy backgrounds, 2 loaded cores; ``benchmarks/bench_face_crop.py``):

- dlib HOG: ~13 ms per frame, IoU 0.71-0.77 with the hand-marked face, no false detection on
  three face-free photos (coffee, cat, rocket);
- scikit-image's LBP cascade (``skimage.feature.Cascade``, OpenCV's lbpcascade_frontalface):
  similar boxes but ~87 ms per frame;
- facenet-pytorch's MTCNN: its torchvision on PyPI is linked against CUDA torch
  (``libc10_cuda.so``), so its ``nms`` operator is missing with the CPU torch wheel;
- OpenCV 5 wheels ship no Haar cascade and ``FaceDetectorYN`` needs a model file; mediapipe
  0.10.21 (the last wheel with a face model) requires numpy < 2.
"""

import threading

import cv2
import numpy as np

__all__ = ["detect_faces", "detected_face_box", "require_detector", "square_box"]

# Frames per clip that the detector looks at: at ~13 ms each, three keep a clip under 50 ms and
# the median box ignores one odd frame (a blink, a hand, a turned head).
_N_DETECT = 3

# dlib's square box spans about eyebrows to chin; the whole face (forehead to chin) is taller.
# Measured on skimage.data.astronaut: hand-marked face 108 px high (forehead to chin, 83 wide),
# dlib box 87 px. 1.15 (not the full 1.24) keeps the crop tight enough that the face still fills
# most of it: IoU ~0.6 with the hand-marked face at margin=0.1, and the brows stay inside.
_FACE_PER_BOX = 1.15

# One detector per thread: the Python binding gives no guarantee that one object may be called
# from several threads at once, and building one takes about a millisecond.
_local = threading.local()


def _detector():
    detector = getattr(_local, "detector", None)
    if detector is None:
        try:
            import dlib
        except ImportError as exc:
            raise ImportError(
                "FrameSampler(crop='face') needs dlib's face detector, which is not installed; "
                "run `pip install dlib-bin` (prebuilt wheel) or `pip install dlib` (builds from "
                "source), or use crop='center'."
            ) from exc
        detector = _local.detector = dlib.get_frontal_face_detector()
    return detector


def require_detector():
    """Raise an ImportError that says how to install dlib when it is missing."""
    _detector()


def detect_faces(image, *, upsample=0):
    """All frontal faces that dlib's HOG detector finds in one image.

    Parameters
    ----------
    image : ndarray of shape (height, width, 3), uint8 BGR
        One frame as OpenCV decodes it.
    upsample : int, default=0
        Times the image is doubled before scanning. The detector's window is 80x80 pixels, so
        faces smaller than that are only found with ``upsample >= 1`` (about 4x slower).

    Returns
    -------
    boxes : ndarray of shape (n_faces, 4), int
        ``(y0, x0, y1, x1)`` of each face, clipped to the image.
    scores : ndarray of shape (n_faces,)
        Detector confidence (SVM margin; larger is surer).

    Examples
    --------
    >>> import numpy as np
    >>> from mmemotion.features._face_detect import detect_faces
    >>> boxes, scores = detect_faces(np.zeros((120, 160, 3), np.uint8))
    >>> boxes.shape, scores.shape
    ((0, 4), (0,))
    """
    rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    # run() instead of __call__ to get the scores; threshold 0 is the detector's own default.
    rects, scores, _ = _detector().run(rgb, upsample, 0.0)
    h, w = image.shape[:2]
    boxes = np.array(
        [(max(r.top(), 0), max(r.left(), 0), min(r.bottom(), h), min(r.right(), w)) for r in rects], dtype=int
    ).reshape(-1, 4)
    return boxes, np.asarray(scores, dtype=float)


def detected_face_box(frames, *, margin=0.1):
    """Square box around the face of a clip, from the detector on a few of its frames, or None.

    The detector runs on ``3`` evenly spaced frames; in each, the largest detection is taken
    (the actor, not a face in the background). The clip's box is the per-coordinate median of
    those boxes, so one box serves every frame and the crop does not jitter.

    dlib's box runs from about the eyebrows to the chin; the face is taken as 1.15 times its
    side (forehead included). The square is centred on the box with side
    ``face * (1 + 2 * margin)`` (clipped to the shorter frame side) and shifted to lie inside
    the frame.

    Parameters
    ----------
    frames : list of ndarray of shape (height, width, 3), uint8 BGR
    margin : float, default=0.1
        Fraction of the detected box's side added on each side.

    Returns
    -------
    box : tuple of int or None
        ``(y0, x0, y1, x1)`` in pixel coordinates of the frames, or None when no frame has a
        detected face (the caller then falls back to :func:`~mmemotion.features.face_box`).
    """
    n = len(frames)
    picks = sorted({int(round(p)) for p in np.linspace(0, n - 1, _N_DETECT + 2)[1:-1]}) if n > 1 else [0]
    found = []
    for i in picks:
        boxes, _ = detect_faces(frames[i])
        if len(boxes):
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            found.append(boxes[np.argmax(areas)])
    if not found:
        return None
    y0, x0, y1, x1 = np.median(np.stack(found), axis=0)
    h, w = frames[0].shape[:2]
    face = max(y1 - y0, x1 - x0) * _FACE_PER_BOX
    return square_box((y0 + y1) / 2, (x0 + x1) / 2, face * (1 + 2 * margin), h, w)


def square_box(cy, cx, side, h, w):
    """Square ``(y0, x0, y1, x1)`` of ``side`` (clipped to the shorter frame side) centred on
    ``(cy, cx)`` as nearly as the ``h`` x ``w`` frame allows."""
    side = int(round(min(side, h, w)))
    y0 = int(np.clip(round(cy - side / 2), 0, h - side))
    x0 = int(np.clip(round(cx - side / 2), 0, w - side))
    return y0, x0, y0 + side, x0 + side
