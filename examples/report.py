"""The explainability report from Python: fit, evaluate on unseen actors, explain, render.

This is what ``mmemotion demo`` does (the same :func:`mmemotion.experiment.run_experiment`),
without the audio-only, video-only and baseline models beside the fusion one.

    python examples/report.py --out my-report.html
    MMEMOTION_FAST=1 python examples/report.py   # tiny settings (used by the tests)
"""

import argparse
import os
import tempfile
from pathlib import Path

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.experiment import run_experiment
from mmemotion.models import make_default_pipeline


def main(fast=False, out="report.html", data=None, force=False):
    root = make_synthetic_crema_d(
        data or tempfile.mkdtemp(prefix="mmemotion-report-"),
        n_actors=4 if fast else 8,
        clips_per_actor=6 if fast else 24,
        duration=(0.8, 1.2) if fast else None,
        verbose=not fast,
    )
    bunch = load_crema_d(root)
    pipe = make_default_pipeline(max_epochs=2 if fast else 15, early_stopping=True, random_state=0)

    # Fit on 3/4 of the actors (the early-stopping split holds out actors too), score the others,
    # calibrate and audit those predictions, then explain held-out clips.
    result = run_experiment({"fusion": pipe}, bunch.frame, bunch.target, test_size=0.25,
                            n_explain=4 if fast else 16, random_state=0, verbose=not fast,
                            explain_params={"n_steps": 4 if fast else 16, "shap_nsamples": 4 if fast else 16})
    path = result.render(out, dataset=bunch, overwrite=force)
    evaluation = result.evaluation["fusion"]
    print(f"accuracy {evaluation['accuracy']:.3f}, macro-F1 {evaluation['macro_f1']:.3f} on unseen actors "
          f"{result.split['test_actors']}")
    print(f"report: {Path(path).resolve()}")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", default=bool(os.environ.get("MMEMOTION_FAST")))
    parser.add_argument("--out", default="report.html", help="HTML file to write (a .json sidecar goes beside it)")
    parser.add_argument("--data", default=None, help="where to write the synthetic data (default: a temp folder)")
    parser.add_argument("--force", action="store_true", help="replace an existing report")
    args = parser.parse_args()
    main(fast=args.fast, out=args.out, data=args.data, force=args.force)
