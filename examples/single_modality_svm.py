"""One mmemotion transformer alone, in a plain scikit-learn pipeline with an SVM.

Each feature transformer is an ordinary sklearn transformer (paths in, 2-D floats out), so it
composes with anything in sklearn: here MFCCs -> StandardScaler -> SVC, scored with
GroupKFold so that no actor is in both the training and the test folds.

    python examples/single_modality_svm.py
    MMEMOTION_FAST=1 python examples/single_modality_svm.py
"""

import argparse
import os
import tempfile

from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.features import MFCCTransformer


def main(fast=False, out=None):
    root = make_synthetic_crema_d(
        out or tempfile.mkdtemp(prefix="mmemotion-svm-"),
        n_actors=4 if fast else 8,
        clips_per_actor=12 if fast else 24,
        duration=(0.8, 1.2) if fast else None,
        signal=("audio",),  # the emotion is only in the voice here
        verbose=not fast,
    )
    X, y = load_crema_d(root, return_X_y=True)

    # The transformer reads the "audio_path" column of the manifest frame by itself.
    model = make_pipeline(MFCCTransformer(n_mfcc=20, n_frames=50), StandardScaler(), SVC(C=1.0))
    scores = cross_val_score(model, X, y, groups=X["actor_id"], cv=GroupKFold(n_splits=4),
                             scoring="balanced_accuracy")
    print("UAR per held-out actor fold:", scores.round(3).tolist())
    print(f"mean UAR {scores.mean():.3f} (chance 0.167)")
    return scores


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", default=bool(os.environ.get("MMEMOTION_FAST")))
    parser.add_argument("--out", default=None, help="where to write the synthetic data (default: a temp folder)")
    args = parser.parse_args()
    main(fast=args.fast, out=args.out)
