"""Quickstart: fit the default audio + video + text pipeline and predict on unseen actors.

Generates a small synthetic CREMA-D (the real dataset has the same layout: point
``load_crema_d`` at your copy instead), holds out whole actors, fits, and predicts.

    python examples/quickstart.py            # about a minute or two on 2 CPU cores
    MMEMOTION_FAST=1 python examples/quickstart.py   # tiny settings (used by the tests)
"""

import argparse
import os
import tempfile

from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupShuffleSplit

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.models import make_default_pipeline


def main(fast=False, out=None):
    root = make_synthetic_crema_d(
        out or tempfile.mkdtemp(prefix="mmemotion-quickstart-"),
        n_actors=4 if fast else 8,
        clips_per_actor=6 if fast else 24,
        duration=(0.8, 1.2) if fast else None,
        verbose=not fast,
    )
    X, y = load_crema_d(root, return_X_y=True)

    # Hold out whole actors: a random clip split would let the model recognise the speaker.
    train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=0).split(X, y, X["actor_id"]))
    pipe = make_default_pipeline(max_epochs=2 if fast else 15, random_state=0)
    pipe.fit(X.iloc[train], y.iloc[train])

    pred = pipe.predict(X.iloc[test])
    print("held-out actors:", sorted(X["actor_id"].iloc[test].unique()))
    print("first predictions:", list(pred[:6]))
    print(f"UAR on unseen actors: {balanced_accuracy_score(y.iloc[test], pred):.3f} (chance 0.167)")
    return pipe


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", default=bool(os.environ.get("MMEMOTION_FAST")))
    parser.add_argument("--out", default=None, help="where to write the synthetic data (default: a temp folder)")
    args = parser.parse_args()
    main(fast=args.fast, out=args.out)
