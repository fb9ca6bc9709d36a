"""How well the video stream alone learns planted face cues, by crop and temporal kernel design.

A video-signal synthetic set (emotion in the face only) is cut into actor-independent folds
(GroupKFold by actor); a video-only FusionClassifier is fitted on each training part and scored
on the held-out actors. Compared: FrameSampler ``crop="face"`` against ``"center"``, and
``module__video_motion_blocks`` (how many of the last Conv3D blocks span 3 frames; the others
see one frame at a time). Prints accuracy per fold, the mean, and the fit time. Numbers only.

Usage::

    python benchmarks/bench_video_stream.py [--actors 8] [--clips 24] [--epochs 30] [--threads 2]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.features import FrameSampler, ModalityUnion
from mmemotion.models import FusionClassifier


def video_features(X, crop, n_frames, size):
    union = ModalityUnion([("video", FrameSampler(n_frames=n_frames, size=(size, size), crop=crop))])
    return union.fit_transform(X)


def score_folds(F, y, groups, *, motion_blocks, epochs, n_splits, seed):
    accuracies, fit_s = [], 0.0
    for train, test in GroupKFold(n_splits=n_splits).split(np.zeros(len(y)), y, groups):
        clf = FusionClassifier(module__modalities=("video",), module__video_motion_blocks=motion_blocks,
                               max_epochs=epochs, lr=3e-3, batch_size=16, random_state=seed)
        start = time.perf_counter()
        clf.fit(F[train], y[train])
        fit_s += time.perf_counter() - start
        accuracies.append(float((clf.predict(F[test]) == y[test]).mean()))
    return accuracies, fit_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, default=8)
    parser.add_argument("--clips", type=int, default=24, help="clips per actor (6 emotions)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic_crema_d(Path(tmp) / "crema", n_actors=args.actors, clips_per_actor=args.clips,
                                      duration=(0.8, 1.2), signal=("video",), verbose=False, random_state=args.seed)
        X, y = load_crema_d(root, return_X_y=True)
        y, groups = y.to_numpy(), X["actor_id"].to_numpy()
        features = {crop: video_features(X, crop, args.frames, args.size) for crop in ("face", "center")}

    print(f"video-only accuracy on held-out actors: {args.actors} actors x {args.clips} clips (6 emotions, "
          f"chance 0.167), {args.folds} folds by actor, {args.frames} frames of {args.size}x{args.size}, "
          f"{args.epochs} epochs, {args.threads} torch thread(s)")
    print(f"{'crop':<7} {'motion_blocks':>13} {'mean':>6}  {'per fold':<28} {'fit s':>6}")
    for crop in ("face", "center"):
        for motion_blocks in (0, 1, 3):
            accuracies, fit_s = score_folds(features[crop], y, groups, motion_blocks=motion_blocks,
                                            epochs=args.epochs, n_splits=args.folds, seed=args.seed)
            folds = " ".join(f"{a:.2f}" for a in accuracies)
            print(f"{crop:<7} {motion_blocks:>13} {np.mean(accuracies):>6.3f}  {folds:<28} {fit_s:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
