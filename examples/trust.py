"""Trust beyond accuracy: every actor held out once, calibration, prediction sets, a demographic audit.

The generated set weakens the emotion cues of the female actors (``weak_group``), so the audit
has a known answer to find. Then, with the public API:

1. ``cross_val_predict_actors``: one model per actor-grouped fold; every clip is predicted by a
   model that never saw its actor.
2. ``analyse_held_out``: pooled and per-fold scores, ECE before/after temperature scaling,
   90% conformal prediction sets and the demographic audit, each fitted on other actors.
3. ``ConformalPredictor``: prediction sets for new speakers from one fitted model,
   calibrated on actors it did not train on.
4. ``render_report(held_out=...)``: all of it in the HTML report.

    python examples/trust.py --out trust-report.html
    MMEMOTION_FAST=1 python examples/trust.py   # the linear baseline on a small set (used by the tests)
"""

import argparse
import os
import tempfile
from pathlib import Path

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.evaluation import ConformalPredictor, analyse_held_out, cross_val_predict_actors
from mmemotion.models import make_baseline_pipeline, make_default_pipeline
from mmemotion.report import render_report


def main(fast=False, out="trust-report.html", force=False):
    root = make_synthetic_crema_d(tempfile.mkdtemp(prefix="mmemotion-trust-"), n_actors=12,
                                  clips_per_actor=12 if fast else 24, duration=(0.8, 1.2) if fast else None,
                                  weak_group={"Sex": "Female"}, weak_group_gain=0.0, n_jobs=2, verbose=not fast)
    bunch = load_crema_d(root, verbose=not fast)
    X, y = bunch.frame, bunch.target
    cache = tempfile.mkdtemp(prefix="mmemotion-cache-")  # features are decoded once for all folds
    model = (make_baseline_pipeline(memory=cache) if fast
             else make_default_pipeline(memory=cache, max_epochs=20, random_state=0))

    held_out = cross_val_predict_actors(model, X, y, cv=4, verbose=not fast)
    analysis = analyse_held_out(held_out, confidence_level=0.9)
    print(f"out-of-fold accuracy {analysis['evaluation']['accuracy']:.3f} over {analysis['n_actors']} actors; "
          f"per fold {[round(f['accuracy'], 3) for f in analysis['folds']]}")
    cal = analysis["calibration"]
    print(f"ECE {cal['before']['ece']:.3f}, after temperature scaling {cal['after']['ece']:.3f}")
    conformal = analysis["conformal"]
    print(f"90% prediction sets: coverage {conformal['coverage']:.3f} on unseen actors, "
          f"mean size {conformal['mean_size']:.2f}")
    gap = analysis["audit"]["largest_gap"]
    print(f"largest gap: {gap['attribute']} = {gap['group']}, accuracy {gap['accuracy']:.3f} vs "
          f"{gap['others_accuracy']:.3f} (permutation p {gap['p_value']:.3f}, flagged: {gap['flagged']})")

    # One model for new speakers: train on 8 actors, calibrate the sets on 2 others, predict 2 more.
    actors = sorted(X["actor_id"].unique())
    train, calibrate, new = (X["actor_id"].isin(actors[:8]), X["actor_id"].isin(actors[8:10]),
                             X["actor_id"].isin(actors[10:]))
    fitted = make_baseline_pipeline(memory=cache).fit(X[train], y[train])
    sets = ConformalPredictor(fitted, confidence_level=0.9).fit(X[calibrate], y[calibrate],
                                                               groups=X["actor_id"][calibrate]).predict_sets(X[new])
    first = X[new].iloc[0]
    print(f"clip {first['clip_id']} (true {first['emotion']}): set {list(fitted.classes_[sets[0]])}")

    path = render_report(out, dataset=bunch, held_out=analysis, overwrite=force,
                         title="Out-of-fold trust report (female actors' cues weakened)")
    print(f"report: {Path(path).resolve()}")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", default=bool(os.environ.get("MMEMOTION_FAST")))
    parser.add_argument("--out", default="trust-report.html", help="HTML file to write (a .json sidecar goes beside it)")
    parser.add_argument("--force", action="store_true", help="replace an existing report")
    args = parser.parse_args()
    main(fast=args.fast, out=args.out, force=args.force)
