"""Accuracy on unseen actors: the default network, each modality alone, and the linear baseline.

On the realistic synthetic corpus (espeak-ng speech, varied faces, one voice and face per actor;
``make_synthetic_crema_d(realism="realistic")``) or on any CREMA-D-like folder (``--data``),
every system is scored with the same actor-grouped K-fold (``GroupKFold`` on ``actor_id``), as a
user gets it from :func:`make_default_pipeline` / :func:`make_baseline_pipeline`, with and
without per-speaker normalisation. Then each training choice of the network is switched off (or
on) alone, to show what it is worth. Prints accuracy (mean and per fold) and seconds. Numbers only.

Usage::

    python benchmarks/bench_generalisation.py [--data DIR] [--actors 10] [--clips 30] [--folds 5]
                                              [--seed 0] [--threads 2] [--only-defaults | --only-choices]
                                              [--choices N [N ...]]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GroupKFold

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.models import make_baseline_pipeline, make_default_pipeline

#: name -> (builder, keyword arguments). Each builder returns a fresh pipeline.
SYSTEMS = {
    "fusion": (make_default_pipeline, {}),
    "audio": (make_default_pipeline, {"modalities": ("audio",)}),
    "video": (make_default_pipeline, {"modalities": ("video",)}),
    "text": (make_default_pipeline, {"modalities": ("text",)}),
    "baseline (functionals + LR)": (make_baseline_pipeline, {}),
}

#: Choices of the network, each changed alone from the default fusion model.
CHOICES = {
    "audio: no linear expert": {"clf__module__linear_experts": ()},
    "audio: frames z-scored per speaker, not functionals": {
        "features__speaker_norm": {"audio": "zscore", "video": "reference"}},
    "learning rate 1e-3 instead of 3e-4": {"clf__lr": 1e-3},
    "video: one face box per clip (crop='face')": {"features__video__crop": "face"},
    "video: no reference frames": {"features__speaker_norm": {"audio": "functionals"},
                                   "clf__module__video_reference_frames": 0},
    "fusion: concatenation instead of product": {"clf__module__fusion": "concat", "clf__module__linear_experts": ()},
    "audio: no clip-statistics branch": {"clf__module__audio_statistics": False},
    "audio: no prosody rows": {"features__audio__prosody": False},
    "video: Conv3D instead of the HOG layer": {"clf__module__video_representation": "conv3d"},
    "audio: statistics branch only (no Conv2D)": {"clf__module__audio_conv": False},
    "weight decay 0.01": {"clf__optimizer__weight_decay": 0.01},
    "label smoothing 0.1": {"clf__criterion__label_smoothing": 0.1},
}


def score(pipeline, X, y, folds):
    accuracies = []
    for train, test in GroupKFold(n_splits=folds).split(X, y, X["actor_id"]):
        pipeline.fit(X.iloc[train], y.iloc[train])
        accuracies.append(float(np.mean(pipeline.predict(X.iloc[test]) == y.iloc[test].to_numpy())))
    return np.array(accuracies)


def report(name, accuracies, seconds):
    folds = " ".join(f"{a:.2f}" for a in accuracies)
    print(f"{name:<48} {accuracies.mean():.3f}  [{folds}]  {seconds:5.0f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a CREMA-D-like folder; default: generate the realistic corpus")
    parser.add_argument("--actors", type=int, default=10)
    parser.add_argument("--clips", type=int, default=30)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", default=None, help="keeps the corpus and the feature cache between runs")
    parser.add_argument("--only-defaults", action="store_true", help="skip the training-choice ablations")
    parser.add_argument("--only-choices", action="store_true", help="only the training-choice ablations")
    parser.add_argument("--choices", type=int, nargs="+", default=None,
                        help="run only these training choices (1-based positions in CHOICES); default: all")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="mmemotion-generalisation-"))
    root = Path(args.data) if args.data else work / f"realistic-{args.actors}x{args.clips}-seed{args.seed}"
    if not args.data and not (root / "AudioWAV").is_dir():
        tic = time.perf_counter()
        make_synthetic_crema_d(root, n_actors=args.actors, clips_per_actor=args.clips, realism="realistic",
                               random_state=args.seed, n_jobs=args.threads, verbose=False)
        print(f"generated {root} in {time.perf_counter() - tic:.0f} s")
    bunch = load_crema_d(root)
    X, y = bunch.frame, bunch.target
    memory = str(work / "feature-cache")
    print(f"{len(X)} clips, {X['actor_id'].nunique()} actors, {args.folds}-fold by actor, chance {1 / y.nunique():.3f}")

    reference = None
    for norm in () if args.only_choices else (None, "off"):
        print(f"\nspeaker_norm={norm!r} (None: each builder's default)")
        for name, (build, kwargs) in SYSTEMS.items():
            pipeline = build(memory=memory, random_state=args.seed, speaker_norm=norm, **kwargs)
            tic = time.perf_counter()
            accuracies = score(pipeline, X, y, args.folds)
            report(name, accuracies, time.perf_counter() - tic)
            if norm is None and name == "fusion":
                reference = accuracies
    if args.only_defaults:
        return
    print("\ntraining choices (default fusion model, one change each; gain = default - changed)")
    if reference is None:
        tic = time.perf_counter()
        reference = score(make_default_pipeline(memory=memory, random_state=args.seed), X, y, args.folds)
        report("default fusion (reference)", reference, time.perf_counter() - tic)
    chosen = [list(CHOICES)[i - 1] for i in args.choices] if args.choices else list(CHOICES)
    for name in chosen:
        params = CHOICES[name]
        pipeline = make_default_pipeline(memory=memory, random_state=args.seed).set_params(**params)
        tic = time.perf_counter()
        accuracies = score(pipeline, X, y, args.folds)
        report(name, accuracies, time.perf_counter() - tic)
        print(f"{'':<48} gain of the default choice: {reference.mean() - accuracies.mean():+.3f}", flush=True)

if __name__ == "__main__":
    main()
