"""Drawn talking faces for the synthetic CREMA-D generator (OpenCV only, no model files)."""

import cv2
import numpy as np

__all__ = ["WIDTH", "HEIGHT", "FPS", "face_bbox", "write_face_video"]

WIDTH, HEIGHT, FPS = 480, 360, 30.0
# Head motion amplitude in pixels; the bounding box is widened by it.
_MOTION = 6.0
# FFmpeg's codec tag for Sorenson/FLV1 inside an FLV container is 2. OpenCV's FFmpeg backend
# rejects the fourcc "FLV1" for the flv muxer and falls back to tag 2 with a console warning
# (observed with opencv-python-headless 5.0), so we pass 2 directly.
_FOURCC = {".flv": 2, ".mp4": cv2.VideoWriter_fourcc(*"mp4v"), ".avi": cv2.VideoWriter_fourcc(*"MJPG")}


def face_bbox(actor):
    """Face bounding box ``(x0, y0, x1, y1)`` in pixels, covering the head in every frame."""
    a, b = actor["head_a"] + _MOTION, actor["head_b"] + _MOTION
    cx, cy = actor["head_cx"], actor["head_cy"]
    return (int(np.floor(cx - a)), int(np.floor(cy - b)), int(np.ceil(cx + a)), int(np.ceil(cy + b)))


def _background(actor, rng):
    # Actor-specific texture (same for all of the actor's clips) plus a per-clip lighting shift.
    tex_rng = np.random.default_rng(actor["texture_seed"])
    # Mostly luminance texture with a faint tint, like a painted wall rather than confetti.
    coarse = tex_rng.normal(0, 16, size=(9, 12, 1)) + tex_rng.normal(0, 4, size=(9, 12, 3))
    texture = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    base = np.array(actor["background"]) + rng.normal(0, 8, size=3)
    return np.clip(base + texture, 0, 255).astype(np.uint8)


def _pt(x, y):
    return (int(round(x)), int(round(y)))


def _draw_frame(img, actor, cues, dx, dy, mouth_env, blink):
    a, b = actor["head_a"], actor["head_b"]
    cx, cy = actor["head_cx"] + dx, actor["head_cy"] + dy
    skin = actor["skin"]
    aa = cv2.LINE_AA
    # Neck, hair, ears and head.
    cv2.rectangle(img, _pt(cx - 0.45 * a, cy + 0.7 * b), _pt(cx + 0.45 * a, HEIGHT), skin, -1)
    cv2.ellipse(img, _pt(cx, cy - 0.12 * b), _pt(1.08 * a, 0.98 * b), 0, 180, 360, actor["hair"], -1, aa)
    for side in (-1, 1):
        cv2.ellipse(img, _pt(cx + side * a, cy), _pt(0.14 * a, 0.2 * b), 0, 0, 360, skin, -1, aa)
    cv2.ellipse(img, _pt(cx, cy), _pt(a, b), 0, 0, 360, skin, -1, aa)

    # Eyes and brows.
    ey = cy - 0.18 * b
    eye_w, eye_h = 0.17 * a, max(0.075 * b * cues["eye_open"] * (1 - blink), 1.0)
    brow_y = ey - 0.16 * b - cues["brow_raise"] * b
    half = 0.2 * a
    tilt = np.tan(np.radians(cues["brow_tilt"])) * half
    dark = tuple(0.35 * c for c in skin)
    # Brows darker than the skin whatever the hair colour, so they stay visible on dark skin.
    brow = tuple(min(0.3 * c, h) for c, h in zip(skin, actor["hair"]))
    for side in (-1, 1):
        ex = cx + side * actor["eye_gap"] * a
        cv2.ellipse(img, _pt(ex, ey), _pt(eye_w, eye_h), 0, 0, 360, (235, 235, 235), -1, aa)
        if eye_h > 3:
            r = min(0.45 * eye_w, eye_h)
            cv2.circle(img, _pt(ex, ey), int(round(r)), (60, 40, 30), -1, aa)
            cv2.circle(img, _pt(ex, ey), max(int(round(0.45 * r)), 1), (10, 10, 10), -1, aa)
        cv2.ellipse(img, _pt(ex, ey), _pt(eye_w, eye_h), 0, 0, 360, dark, 1, aa)
        # Inner brow end (towards the nose) rises by `tilt` for positive brow_tilt.
        inner = _pt(ex - side * half, brow_y - tilt)
        outer = _pt(ex + side * half, brow_y + tilt)
        cv2.line(img, inner, outer, brow, 5, aa)

    # Nose.
    nose = np.array([_pt(cx, ey + 0.05 * b), _pt(cx - 0.1 * a, cy + 0.22 * b), _pt(cx + 0.06 * a, cy + 0.24 * b)])
    cv2.polylines(img, [nose], False, dark, 2, aa)

    # Mouth: centre line bends up at the corners for a smile (curve > 0), one corner lifts for
    # the sneer (asym), the opening follows the speech envelope.
    my = cy + actor["mouth_y"] * b
    mw = 0.38 * a * cues["mouth_width"]
    u = np.linspace(-1, 1, 21)
    centre = my - cues["mouth_curve"] * mw * u**2 - cues["mouth_asym"] * mw * 0.5 * (u + 1) ** 2 / 2
    opening = b * (0.015 + 0.11 * cues["mouth_open"] * mouth_env) * (1 - u**2)
    upper = np.stack([cx + mw * u, centre - 0.35 * opening], 1)
    lower = np.stack([cx + mw * u, centre + 0.65 * opening], 1)[::-1]
    poly = np.round(np.concatenate([upper, lower])).astype(np.int32)
    cv2.fillPoly(img, [poly], (25, 15, 60), aa)
    lips = tuple(0.6 * c + 0.4 * v for c, v in zip(skin, (80, 60, 170)))
    cv2.polylines(img, [poly], True, lips, 3, aa)


def write_face_video(path, rng, actor, cues, mouth_envelope, n_frames):
    """Render and write one clip's video.

    Parameters
    ----------
    path : pathlib.Path
        Destination; the container follows the suffix (``.flv``, ``.mp4`` or ``.avi``).
    rng : numpy.random.Generator
    actor : dict
        From :func:`~._synthetic_cues.draw_actor`.
    cues : dict
        Face cues from :func:`~._synthetic_cues.draw_cues`.
    mouth_envelope : ndarray of shape (n_frames,)
        Speech envelope at the frame times, in [0, 1].
    n_frames : int
    """
    fourcc = _FOURCC.get(path.suffix.lower())
    if fourcc is None:
        raise ValueError(f"Cannot write video {path}: use a .flv, .mp4 or .avi suffix.")
    background = _background(actor, rng)
    # One sensor-noise field, shifted per frame (a view, no copy), kept as separate positive and
    # negative uint8 parts: OpenCV's saturating add/subtract on uint8 are much faster than an
    # int16 round trip in numpy, and drawing fresh noise per frame dominated the run time.
    pad = 16
    noise = np.rint(rng.standard_normal((HEIGHT + pad, WIDTH + pad, 3), dtype=np.float32) * 4.0)
    noise_up = np.minimum(np.maximum(noise, 0), 255).astype(np.uint8)
    noise_down = np.minimum(np.maximum(-noise, 0), 255).astype(np.uint8)
    shifts = rng.integers(0, pad + 1, size=(n_frames, 2))
    t = np.arange(n_frames) / FPS
    f1, f2 = rng.uniform(0.2, 0.6, 2)
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    dx = _MOTION * 0.8 * np.sin(2 * np.pi * f1 * t + p1)
    dy = _MOTION * 0.5 * np.sin(2 * np.pi * f2 * t + p2)
    blink = np.zeros(n_frames)
    for start in np.cumsum(rng.uniform(1.5, 4.0, size=4) * FPS).astype(int):
        blink[start:start + 4] = (1.0, 0.9, 0.6, 0.2)[: len(blink[start:start + 4])]
    flicker = np.round(rng.normal(0, 1.5, n_frames))

    writer = cv2.VideoWriter(str(path), fourcc, FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV could not open a video writer for {path}.")
    try:
        for i in range(n_frames):
            img = background.copy()
            _draw_frame(img, actor, cues, dx[i], dy[i], mouth_envelope[i], blink[i])
            sy, sx = shifts[i]
            window = (slice(sy, sy + HEIGHT), slice(sx, sx + WIDTH))
            cv2.add(img, noise_up[window], dst=img)
            cv2.subtract(img, noise_down[window], dst=img)
            cv2.add(img, (flicker[i],) * 3, dst=img)
            writer.write(img)
    finally:
        writer.release()
