"""Drawn faces with large identity and recording differences (realistic synthetic mode).

Each actor gets a head shape and size, camera distance and framing, skin tone, hair style and
colour, optional beard and glasses, clothing, a background texture, a lighting direction, a
white balance, camera noise and blur, and a habitual head motion. Those differ between actors
far more than the expressions do. The expressions use the same cues as the toy faces
(:data:`~._synthetic_cues.FACE_CUES`), scaled per actor and emotion.

The static part of the person is rendered once per clip on an oversized plate (lit and colour
cast there), so every frame only pastes the plate at the head's offset and draws the eyes,
brows and mouth: that keeps the realistic mode about as fast as the toy one.
"""

import cv2
import numpy as np

from ._codes import EMOTIONS
from ._synthetic_cues import FACE_CUES
from ._synthetic_face import _FOURCC, FPS, HEIGHT, WIDTH, _pt

__all__ = ["REALISTIC_FACE_CUES", "draw_face_identity", "realistic_face_bbox", "write_realistic_face_video"]

# The drawn expressions are small next to the identity, framing, lighting and motion
# differences, so the realistic faces act the toy emotion effects this much stronger (tuned so
# that simple per-actor normalised statistics stay in a real-like 0.5-0.75 accuracy range).
_EXPRESSION_BOOST = 2.2
_NEU = EMOTIONS.index("NEU")

#: :data:`~._synthetic_cues.FACE_CUES` with the emotion effects (deviations from neutral)
#: scaled by the expression boost; same cue names, clip and actor spreads.
REALISTIC_FACE_CUES = {
    name: (tuple(means[_NEU] + _EXPRESSION_BOOST * (m - means[_NEU]) for m in means), clip_sd, actor_sd)
    for name, (means, clip_sd, actor_sd) in FACE_CUES.items()
}

# Plate margin in pixels: the largest head offset the plate can be pasted at.
_MARGIN = 24
_HAIR_COLOURS = np.array([(20, 20, 25), (25, 40, 70), (40, 70, 120), (80, 140, 190), (150, 150, 155),
                          (30, 30, 110), (60, 60, 60)], float)


def draw_face_identity(rng, sex):
    """Draw the fixed look, recording set-up and expression habits of one actor.

    Parameters
    ----------
    rng : numpy.random.Generator
        Generator seeded for this actor only.
    sex : {"Male", "Female"}

    Returns
    -------
    identity : dict
        Geometry in pixels of the 480x360 frame (``cx``, ``cy``, ``a``, ``b``, ``motion``),
        colours (BGR), style choices, lighting, white balance, noise and blur,
        ``habit_<cue>`` offsets for every :data:`FACE_CUES` entry and ``gain`` of shape (6,),
        how strongly the actor shows each emotion in the face.
    """
    scale = float(rng.uniform(0.72, 1.28))  # camera distance
    a = scale * float(rng.uniform(58, 74))
    b = a * float(rng.uniform(1.22, 1.45))
    motion = scale * float(rng.uniform(1.5, 7.0))
    # Framing: anywhere that keeps the moving head inside the picture.
    room_x = max(WIDTH / 2 - 1.2 * a - motion - 8, 0)
    room_y = max(HEIGHT / 2 - b - motion - 8, 0)
    dark, light = np.array([40, 60, 95]), np.array([185, 205, 240])
    hair = _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))] + rng.normal(0, 8, 3)
    identity = {
        "cx": WIDTH / 2 + float(rng.uniform(-1, 1)) * min(room_x, 100),
        "cy": HEIGHT / 2 + float(rng.uniform(-1, 1)) * min(room_y, 30),
        "a": a, "b": b, "motion": motion,
        "skin": tuple(float(c) for c in dark + rng.uniform(0, 1) * (light - dark) + rng.normal(0, 8, 3)),
        "hair": tuple(float(c) for c in np.clip(hair, 0, 255)),
        "hair_style": int(rng.integers(4)),
        "beard": bool(sex == "Male" and rng.random() < 0.3),
        "glasses": bool(rng.random() < 0.25),
        "shirt": tuple(float(c) for c in rng.uniform(20, 220, 3)),
        "eye_gap": float(rng.uniform(0.32, 0.44)),
        "eye_y": float(rng.uniform(0.13, 0.24)),
        "eye_size": float(rng.uniform(0.85, 1.2)),
        "brow_gap": float(rng.uniform(0.13, 0.2)),
        "brow_thick": max(int(round(scale * rng.uniform(3, 7))), 2),
        "mouth_y": float(rng.uniform(0.45, 0.6)),
        "mouth_w": float(rng.uniform(0.85, 1.15)),
        "nose_len": float(rng.uniform(0.3, 0.45)),
        # Mostly grey walls with a tint, not saturated colours.
        "background": rng.uniform(50, 200) + rng.normal(0, 18, 3),
        "texture": int(rng.integers(3)),
        "texture_seed": int(rng.integers(2**31)),
        "light_angle": float(rng.uniform(0, 2 * np.pi)),
        "light_strength": float(rng.uniform(0.1, 0.5)),
        "exposure": float(rng.uniform(0.75, 1.15)),
        "white_balance": np.exp(rng.normal(0, 0.09, 3)),
        "noise_sd": float(rng.uniform(1.5, 7.0)),
        "blur": float(rng.uniform(0.0, 1.4)),
        "blink_gap": float(rng.uniform(1.2, 4.0)),
    }
    for name, (_, _, actor_sd) in REALISTIC_FACE_CUES.items():
        identity[f"habit_{name}"] = float(rng.normal(0, 1.5 * actor_sd))
    # Expressive actors show everything more; most actors barely show one emotion or another.
    gain = rng.uniform(0.6, 1.15) * rng.uniform(0.6, 1.2, len(EMOTIONS))
    gain[rng.random(len(EMOTIONS)) < 0.15] *= 0.25
    identity["gain"] = gain
    return identity


def realistic_face_bbox(identity):
    """Face bounding box ``(x0, y0, x1, y1)`` in pixels, covering the head in every frame."""
    a, b = identity["a"] + identity["motion"], identity["b"] + identity["motion"]
    cx, cy = identity["cx"], identity["cy"]
    return (max(int(np.floor(cx - a)), 0), max(int(np.floor(cy - b)), 0),
            min(int(np.ceil(cx + a)), WIDTH), min(int(np.ceil(cy + b)), HEIGHT))


def _background(identity, rng):
    tex_rng = np.random.default_rng(identity["texture_seed"])
    coarse = tex_rng.normal(0, 18, size=(6, 8, 1)) + tex_rng.normal(0, 5, size=(6, 8, 3))
    texture = cv2.resize(coarse.astype(np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    if identity["texture"] == 1:  # panelled wall
        period = tex_rng.uniform(25, 70)
        texture += 14 * (np.sin(2 * np.pi * np.arange(WIDTH) / period) > 0.6)[None, :, None]
    elif identity["texture"] == 2:  # grainy plaster with a vertical gradient
        texture += tex_rng.standard_normal((HEIGHT, WIDTH, 1), dtype=np.float32) * 7
        texture += np.linspace(-25, 25, HEIGHT, dtype=np.float32)[:, None, None]
    return texture + (identity["background"] + rng.normal(0, 5, size=3)).astype(np.float32)


def _plate(identity):
    """The static person on a canvas larger than the frame by _MARGIN, and its mask."""
    m = _MARGIN
    img = np.zeros((HEIGHT + 2 * m, WIDTH + 2 * m, 3), np.uint8)
    mask = np.zeros(img.shape[:2], np.uint8)
    a, b = identity["a"], identity["b"]
    cx, cy = identity["cx"] + m, identity["cy"] + m
    skin, hair, aa = identity["skin"], identity["hair"], cv2.LINE_8
    style = identity["hair_style"]
    bottom = HEIGHT + 2 * m

    def ellipse(x, y, ax, ay, colour, start=0, end=360):
        # Person outline parts: drawn on the plate and on its mask.
        for target, value in ((img, colour), (mask, 255)):
            cv2.ellipse(target, _pt(x, y), _pt(ax, ay), 0, start, end, value, -1, aa)

    if style == 1:  # long hair, behind the shoulders
        ellipse(cx, cy + 0.2 * b, 1.3 * a, 1.2 * b, hair)
    ellipse(cx, cy + 1.75 * b, 2.1 * a, 0.85 * b, identity["shirt"])
    for target, value in ((img, tuple(0.85 * v for v in skin)), (mask, 255)):
        cv2.rectangle(target, _pt(cx - 0.42 * a, cy + 0.6 * b), _pt(cx + 0.42 * a, bottom), value, -1)
    if style in (0, 1, 3):
        ellipse(cx, cy - 0.12 * b, 1.08 * a, 0.98 * b, hair, 180, 360)
    for side in (-1, 1):
        ellipse(cx + side * a, cy, 0.14 * a, 0.2 * b, skin)
    ellipse(cx, cy, a, b, skin)
    if style == 2:  # closely cropped
        buzz = tuple(0.5 * h + 0.5 * s for h, s in zip(hair, skin))
        cv2.ellipse(img, _pt(cx, cy - 0.02 * b), _pt(1.0 * a, 0.98 * b), 0, 200, 340, buzz, -1, aa)
    elif style == 3:  # fringe, above the brows
        cv2.ellipse(img, _pt(cx, cy - 0.74 * b), _pt(0.9 * a, 0.14 * b), 0, 0, 360, hair, -1, aa)
    if identity["beard"]:
        beard = tuple(0.6 * h + 0.4 * s for h, s in zip(hair, skin))
        cv2.ellipse(img, _pt(cx, cy + 0.3 * b), _pt(0.92 * a, 0.7 * b), 0, 0, 180, beard, -1, aa)
    dark = tuple(0.45 * c for c in skin)
    ey = cy - identity["eye_y"] * b
    nose = np.array([_pt(cx, ey + 0.05 * b), _pt(cx - 0.1 * a, ey + identity["nose_len"] * b),
                     _pt(cx + 0.06 * a, ey + (identity["nose_len"] + 0.02) * b)])
    cv2.polylines(img, [nose], False, dark, 2, cv2.LINE_AA)
    return img, mask


def _lighting(identity):
    """Per-pixel gain of the lighting gradient (and exposure), shape (H+2m, W+2m, 1)."""
    m = _MARGIN
    y, x = np.mgrid[0:HEIGHT + 2 * m, 0:WIDTH + 2 * m].astype(np.float32)
    u = ((x - identity["cx"] - m) * np.cos(identity["light_angle"]) / identity["a"]
         + (y - identity["cy"] - m) * np.sin(identity["light_angle"]) / identity["b"])
    gain = identity["exposure"] * (1 + identity["light_strength"] * np.clip(u, -1.5, 1.5) / 1.5)
    return gain[..., None].astype(np.float32)


def _draw_expression(img, identity, cues, cx, cy, env, blink, colours):
    a, b = identity["a"], identity["b"]
    aa = cv2.LINE_AA
    ey = cy - identity["eye_y"] * b
    eye_w = 0.17 * a * identity["eye_size"]
    eye_h = max(0.075 * b * identity["eye_size"] * cues["eye_open"] * (1 - blink), 1.0)
    brow_y = ey - identity["brow_gap"] * b - cues["brow_raise"] * b
    half = 0.2 * a
    tilt = np.tan(np.radians(cues["brow_tilt"])) * half
    for side, (sclera, lid, brow) in zip((-1, 1), colours["eyes"]):
        ex = cx + side * identity["eye_gap"] * a
        cv2.ellipse(img, _pt(ex, ey), _pt(eye_w, eye_h), 0, 0, 360, sclera, -1, aa)
        if eye_h > 3:
            r = min(0.45 * eye_w, eye_h)
            cv2.circle(img, _pt(ex, ey), int(round(r)), colours["iris"], -1, aa)
            cv2.circle(img, _pt(ex, ey), max(int(round(0.45 * r)), 1), (10, 10, 10), -1, aa)
        cv2.ellipse(img, _pt(ex, ey), _pt(eye_w, eye_h), 0, 0, 360, lid, 1, aa)
        cv2.line(img, _pt(ex - side * half, brow_y - tilt), _pt(ex + side * half, brow_y + tilt), brow,
                 identity["brow_thick"], aa)
        if identity["glasses"]:
            cv2.ellipse(img, _pt(ex, ey), _pt(1.5 * eye_w, 0.11 * b), 0, 0, 360, colours["glasses"], 2, aa)
    if identity["glasses"]:
        gap = identity["eye_gap"] * a - 1.5 * eye_w
        cv2.line(img, _pt(cx - gap, ey), _pt(cx + gap, ey), colours["glasses"], 2, aa)

    my = cy + identity["mouth_y"] * b
    mw = 0.38 * a * identity["mouth_w"] * cues["mouth_width"]
    u = np.linspace(-1, 1, 15)
    centre = my - cues["mouth_curve"] * mw * u**2 - cues["mouth_asym"] * mw * 0.5 * (u + 1) ** 2 / 2
    opening = b * (0.015 + 0.11 * cues["mouth_open"] * env) * (1 - u**2)
    upper = np.stack([cx + mw * u, centre - 0.35 * opening], 1)
    lower = np.stack([cx + mw * u, centre + 0.65 * opening], 1)[::-1]
    poly = np.round(np.concatenate([upper, lower])).astype(np.int32)
    cv2.fillPoly(img, [poly], colours["mouth"], aa)
    cv2.polylines(img, [poly], True, colours["lips"], max(int(round(a / 25)), 2), aa)


def _colours(identity, light):
    # Colours of the per-frame features, lit and colour cast as the plate is at their place.
    m, wb = _MARGIN, identity["white_balance"]

    def lit(colour, x, y):
        g = float(light[int(np.clip(y + m, 0, light.shape[0] - 1)), int(np.clip(x + m, 0, light.shape[1] - 1)), 0])
        return tuple(float(v) for v in np.clip(np.asarray(colour) * wb * g, 0, 255))

    a, b, cx, cy, skin = identity["a"], identity["b"], identity["cx"], identity["cy"], identity["skin"]
    ey = cy - identity["eye_y"] * b
    brow = tuple(min(0.3 * c, h) for c, h in zip(skin, identity["hair"]))
    eyes = []
    for side in (-1, 1):
        ex = cx + side * identity["eye_gap"] * a
        eyes.append((lit((225, 230, 232), ex, ey), lit(tuple(0.35 * c for c in skin), ex, ey), lit(brow, ex, ey)))
    my = cy + identity["mouth_y"] * b
    lips = tuple(0.6 * c + 0.4 * v for c, v in zip(skin, (80, 60, 170)))
    return {"eyes": eyes, "iris": lit((60, 40, 30), cx, ey), "glasses": lit((30, 30, 30), cx, ey),
            "mouth": lit((25, 15, 60), cx, my), "lips": lit(lips, cx, my)}


def write_realistic_face_video(path, rng, identity, cues, mouth_envelope, n_frames):
    """Render and write one clip's video.

    Parameters
    ----------
    path : pathlib.Path
        Destination; the container follows the suffix (``.flv``, ``.mp4`` or ``.avi``).
    rng : numpy.random.Generator
    identity : dict
        From :func:`draw_face_identity`.
    cues : dict
        Face cues of the clip (:data:`FACE_CUES` names).
    mouth_envelope : ndarray of shape (n_frames,)
        Speech envelope at the frame times, in [0, 1].
    n_frames : int
    """
    fourcc = _FOURCC.get(path.suffix.lower())
    if fourcc is None:
        raise ValueError(f"Cannot write video {path}: use a .flv, .mp4 or .avi suffix.")
    m, wb = _MARGIN, identity["white_balance"]
    light = _lighting(identity)
    plate, mask = _plate(identity)
    # Lighting and white balance are applied once per clip to the plate and the background.
    wb32 = wb.astype(np.float32)
    plate = np.clip(plate * light * wb32, 0, 255).astype(np.uint8)
    background = np.clip(_background(identity, rng) * (0.5 + 0.5 * light[m:-m, m:-m]) * wb32, 0, 255)
    background = background.astype(np.uint8)
    colours = _colours(identity, light)

    pad = 16
    noise = np.rint(rng.standard_normal((HEIGHT + pad, WIDTH + pad, 3), dtype=np.float32) * identity["noise_sd"])
    noise_up = np.minimum(np.maximum(noise, 0), 255).astype(np.uint8)
    noise_down = np.minimum(np.maximum(-noise, 0), 255).astype(np.uint8)
    shifts = rng.integers(0, pad + 1, size=(n_frames, 2))

    # Head motion: slow sway, a drift, and a nod with the speech; within +-motion pixels.
    t = np.arange(n_frames) / FPS
    amp = identity["motion"]
    f1, f2 = rng.uniform(0.15, 0.6, 2)
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    drift = np.cumsum(rng.normal(0, 0.15, n_frames))
    dx = np.clip(amp * 0.7 * np.sin(2 * np.pi * f1 * t + p1) + 0.3 * amp * np.tanh(drift / 3), -amp, amp)
    dy = np.clip(amp * 0.4 * np.sin(2 * np.pi * f2 * t + p2) + 0.4 * amp * mouth_envelope, -amp, amp)
    dx, dy = np.rint(np.clip(dx, -m, m)).astype(int), np.rint(np.clip(dy, -m, m)).astype(int)
    blink = np.zeros(n_frames)
    for start in np.cumsum(rng.uniform(0.5, 1.5, size=6) * identity["blink_gap"] * FPS).astype(int):
        blink[start:start + 4] = (1.0, 0.9, 0.6, 0.2)[: len(blink[start:start + 4])]
    flicker = np.round(rng.normal(0, 1.5, n_frames))
    x0, y0, x1, y1 = realistic_face_bbox(identity)
    sigma = identity["blur"]

    writer = cv2.VideoWriter(str(path), fourcc, FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV could not open a video writer for {path}.")
    try:
        for i in range(n_frames):
            img = background.copy()
            # The plate pixel (r + m - dy, c + m - dx) lands on frame pixel (r, c).
            src = (slice(m - dy[i], m - dy[i] + HEIGHT), slice(m - dx[i], m - dx[i] + WIDTH))
            cv2.copyTo(plate[src], mask[src], img)
            _draw_expression(img, identity, cues, identity["cx"] + dx[i], identity["cy"] + dy[i],
                             mouth_envelope[i], blink[i], colours)
            if sigma > 0.3:
                img[y0:y1, x0:x1] = cv2.GaussianBlur(img[y0:y1, x0:x1], (0, 0), sigma)
            sy, sx = shifts[i]
            window = (slice(sy, sy + HEIGHT), slice(sx, sx + WIDTH))
            cv2.add(img, noise_up[window], dst=img)
            cv2.subtract(img, noise_down[window], dst=img)
            cv2.add(img, (flicker[i],) * 3, dst=img)
            writer.write(img)
    finally:
        writer.release()
