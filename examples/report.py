"""The explainability report from Python: fit, evaluate on unseen actors, explain, render.

This is what ``mmemotion demo`` does, written with the public API.

    python examples/report.py --out my-report.html
    MMEMOTION_FAST=1 python examples/report.py   # tiny settings (used by the tests)
"""

import argparse
import os
import tempfile
from pathlib import Path

from sklearn.model_selection import GroupShuffleSplit

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.evaluation import evaluate
from mmemotion.explain import explain
from mmemotion.models import make_default_pipeline
from mmemotion.report import render_report

VOTES = ["voice_vote", "face_vote", "multimodal_vote"]


def main(fast=False, out="report.html", data=None, force=False):
    root = make_synthetic_crema_d(
        data or tempfile.mkdtemp(prefix="mmemotion-report-"),
        n_actors=4 if fast else 8,
        clips_per_actor=6 if fast else 24,
        duration=(0.8, 1.2) if fast else None,
        verbose=not fast,
    )
    bunch = load_crema_d(root)
    X, y = bunch.frame, bunch.target
    train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=0).split(X, y, X["actor_id"]))
    X_train, X_test, y_train, y_test = X.iloc[train], X.iloc[test], y.iloc[train], y.iloc[test]

    pipe = make_default_pipeline(max_epochs=2 if fast else 15, early_stopping=True, random_state=0)
    pipe.fit(X_train, y_train, clf__groups=X_train["actor_id"])  # validation split by actor too

    evaluation = evaluate(y_test, pipe.predict(X_test), pipe[-1].classes_, votes=X_test[VOTES])
    explanation = explain(pipe, X_test, y_test, n_samples=4 if fast else 16,
                          n_steps=4 if fast else 16, shap_nsamples=4 if fast else 16, verbose=not fast)
    path = render_report(
        out,
        dataset=bunch,
        evaluation=evaluation,
        explanation=explanation,
        model=pipe,
        history=pipe[-1].history_,
        split={"protocol": "actor-independent hold-out",
               "train_actors": sorted(X_train["actor_id"].unique()), "test_actors": sorted(X_test["actor_id"].unique())},
        overwrite=force,
    )
    print(f"accuracy {evaluation['accuracy']:.3f}, macro-F1 {evaluation['macro_f1']:.3f} on unseen actors")
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
