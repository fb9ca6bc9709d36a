"""Face crop quality and cost: the colour/motion heuristic alone vs the detector-first path.

Prints, per set, the mean IoU of the clip's crop box (``face_box`` on the frames FrameSampler
samples) with the true face box, how many clips fell back to the heuristic, and the time per
clip of the box alone (decoding excluded), as a ratio against the heuristic in the same run.

Sets (issue 13):

- ``toy`` / ``realistic``: ``make_synthetic_crema_d`` clips; truth = ``synthetic_truth.csv``
  (the drawn face ellipse's bounding box, while the crop is a square with margin, so even a
  perfect crop scores below 1).
- ``photo-plain`` / ``photo-busy``: ``skimage.data.astronaut`` (a real portrait) scaled so the
  face is 100-140 px, pasted on a 480x360 frame (plain grey, or a busy photograph) and moved by a
  few pixels per frame; truth = the face box marked by hand on the 512x512 photo.

Usage: ``python benchmarks/bench_face_crop.py [--clips-per-actor 6]`` (needs scikit-image,
the ``test`` extra; espeak-ng for the realistic set). About a minute on 2 cores.
"""

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from mmemotion.datasets import make_synthetic_crema_d
from mmemotion.features._frames import _clip_face_box

# Hand-marked on skimage.data.astronaut() (512x512): forehead (hairline) to chin, cheek to
# cheek, as (y0, x0, y1, x1).
ASTRONAUT_FACE = (70, 180, 190, 272)


def iou(a, b):
    """Intersection over union of two ``(y0, x0, y1, x1)`` boxes."""
    iy = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ix = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iy * ix
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def photo_clip(background, scale, n_frames=16, seed=0):
    """Frames (BGR, 480x360) of the astronaut on ``background`` and the true face box."""
    import skimage.data

    portrait = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    if background == "plain":
        base, crop = np.full((360, 480, 3), (150, 160, 170), np.uint8), (0, 110, 330, 350)
    else:  # head and shoulders only, on a cluttered photograph
        base = cv2.resize(cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR), (480, 360), interpolation=cv2.INTER_AREA)
        crop = (20, 140, 320, 310)
    y0, x0, y1, x1 = crop
    part = cv2.resize(portrait[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    frames, boxes = [], []
    for t in range(n_frames):
        # Small head motion: a slow sway plus jitter, a few pixels either way.
        dy, dx = int(round(3 * np.sin(t / 3) + rng.normal(0, 1))), int(round(4 * np.cos(t / 4) + rng.normal(0, 1)))
        py, px = 10 + 5 + dy, 130 + 5 + dx
        frame = base.copy()
        h, w = min(part.shape[0], 360 - py), min(part.shape[1], 480 - px)
        frame[py:py + h, px:px + w] = part[:h, :w]
        frames.append(frame)
        fy0, fx0, fy1, fx1 = ASTRONAUT_FACE
        boxes.append((py + (fy0 - y0) * scale, px + (fx0 - x0) * scale, py + (fy1 - y0) * scale, px + (fx1 - x0) * scale))
    return frames, tuple(np.mean(boxes, axis=0))


def sampled_frames(path, n_frames=16):
    """The frames FrameSampler(n_frames=16) would sample, BGR at full size."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    idx = np.unique(np.linspace(0, len(frames) - 1, n_frames).round().astype(int))
    return [frames[i] for i in idx]


def synthetic_set(root, realism, clips_per_actor):
    make_synthetic_crema_d(root, n_actors=4, clips_per_actor=clips_per_actor, duration=(0.8, 1.2),
                           random_state=0, realism=realism, verbose=False)
    truth = pd.read_csv(Path(root) / "synthetic_truth.csv")
    return [(sampled_frames(Path(root) / "VideoFlash" / f"{r.clip_id}.flv"), (r.face_y0, r.face_x0, r.face_y1, r.face_x1))
            for r in truth.itertuples()]


def measure(clips, detect):
    ious, fallbacks, seconds = [], 0, 0.0
    for frames, truth in clips:
        start = time.perf_counter()
        box, detected = _clip_face_box(frames, detect=detect)
        seconds += time.perf_counter() - start
        ious.append(iou(box, truth))
        fallbacks += detect and not detected
    return np.array(ious), fallbacks, seconds / len(clips)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips-per-actor", type=int, default=6)
    args = parser.parse_args()
    sets = {}
    with tempfile.TemporaryDirectory() as tmp:
        for realism in ("toy", "realistic"):
            sets[realism] = synthetic_set(Path(tmp) / realism, realism, args.clips_per_actor)
    for background in ("plain", "busy"):
        sets[f"photo-{background}"] = [photo_clip(background, s, seed=i) for i, s in enumerate((0.85, 0.95, 1.05, 1.15))]
    print(f"{'set':<16}{'clips':>6}  {'IoU heuristic':>22}  {'IoU detector+fallback':>24}  {'fallbacks':>9}  {'ms/clip heur.':>13}  {'ms/clip new':>11}  {'ratio':>5}")
    for name, clips in sets.items():
        old, _, t_old = measure(clips, detect=False)
        new, n_back, t_new = measure(clips, detect=True)
        print(f"{name:<16}{len(clips):>6}  {old.mean():>6.2f} (min {old.min():.2f}, <0.25: {np.sum(old < 0.25):>2})  "
              f"{new.mean():>8.2f} (min {new.min():.2f}, <0.25: {np.sum(new < 0.25):>2})  {n_back:>9}  "
              f"{1000 * t_old:>13.1f}  {1000 * t_new:>11.1f}  {t_new / t_old:>5.1f}")


if __name__ == "__main__":
    main()
