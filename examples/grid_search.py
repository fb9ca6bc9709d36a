"""Tune the fusion network with actor-grouped cross-validation, and see why the split matters.

1. Build (or reuse) a synthetic CREMA-D folder and load its manifest frame.
2. Grid-search ``clf__lr`` x ``clf__module__dropout`` with ``GroupKFold`` over actors: no actor's
   clips are in both the training and the test folds. Decoded MFCCs and frames are cached on
   disk (``memory=``), so they are computed once, not once per fold and grid point.
3. Compare a random (stratified) K-fold with the actor-grouped K-fold on the same pipeline:
   the random split lets the network meet every test speaker in training, which flatters it.

Run::

    python examples/grid_search.py                 # ~10-20 min on 2 cores
    python examples/grid_search.py --fast          # tiny settings, ~1-2 min (used by the tests)
    python examples/grid_search.py --root /data/CREMA-D --cache ~/.cache/mmemotion

``MMEMOTION_FAST=1`` in the environment is the same as ``--fast``.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, GroupKFold

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.models import compare_split_protocols, make_default_pipeline

#: Tiny features and network: exercises every step quickly, accuracy is beside the point.
FAST = dict(
    n_mfcc=13, n_audio_frames=20, n_video_frames=4, frame_size=(16, 16), text_dim=8, max_epochs=3,
    module__audio_widths=(4,), module__video_widths=(4,), module__text_widths=(4,), module__fusion_width=8,
)
FULL = dict(max_epochs=30, lr=3e-3, module__dropout=0.2, module__video_widths=(8, 16, 32), batch_size=16)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="CREMA-D folder (default: make a synthetic one)")
    parser.add_argument("--work", type=Path, help="where the synthetic set and the cache go (default: a temp dir)")
    parser.add_argument("--cache", type=Path, help="feature cache directory (default: <work>/cache)")
    parser.add_argument("--folds", type=int, default=None, help="actor-grouped folds (default 4; 2 with --fast)")
    parser.add_argument("--fast", action="store_true", default=bool(os.environ.get("MMEMOTION_FAST")))
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="mmemotion_grid_"))
    folds = args.folds or (2 if args.fast else 4)
    if args.root is None:
        size = dict(n_actors=4, clips_per_actor=6) if args.fast else dict(n_actors=8, clips_per_actor=24)
        root = work / "synthetic"
        if not (root / "synthetic_truth.csv").exists():
            make_synthetic_crema_d(root, duration=(0.8, 1.2), verbose=not args.fast, random_state=0, overwrite=True, **size)
    else:
        root = args.root
    X, y = load_crema_d(root, return_X_y=True)
    groups = X["actor_id"]
    print(f"{len(X)} clips, {groups.nunique()} actors, classes {sorted(y.unique())}")

    settings = FAST if args.fast else FULL
    pipe = make_default_pipeline(memory=args.cache or work / "cache", **settings)
    grid = {"clf__lr": [1e-3, 3e-3], "clf__module__dropout": [0.0, 0.2]}
    if args.fast:
        grid = {"clf__lr": [1e-3, 1e-2], "clf__module__dropout": [0.0, 0.2]}

    start = time.perf_counter()
    search = GridSearchCV(pipe, grid, cv=GroupKFold(n_splits=folds), error_score="raise")
    search.fit(X, y, groups=groups)
    print(f"grid search: {len(search.cv_results_['params'])} candidates x {folds} actor-grouped folds "
          f"in {time.perf_counter() - start:.0f} s")
    table = pd.DataFrame(search.cv_results_)[["param_clf__lr", "param_clf__module__dropout", "mean_test_score", "std_test_score"]]
    print(table.sort_values("mean_test_score", ascending=False).to_string(index=False))
    print(f"best: {search.best_params_}  accuracy {search.best_score_:.3f}  (chance {1 / y.nunique():.3f})")

    best = search.best_estimator_
    result = compare_split_protocols(best, X, y, groups=groups, n_splits=folds)
    print(f"random split accuracy {result['random']:.3f}  {np.round(result['random_scores'], 3)}")
    print(f"actor split accuracy  {result['actor']:.3f}  {np.round(result['actor_scores'], 3)}")
    print(f"optimism of the random split: {result['optimism']:+.3f}")
    return search, result


if __name__ == "__main__":
    main()
