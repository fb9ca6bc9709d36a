"""The ``mmemotion`` command line: demo, synth, fit, predict, explain, report.

Every file is written through :func:`mmemotion.utils.atomic_path` (temporary file + rename), so
an error or Ctrl-C never leaves a half-written output, and nothing that exists is replaced
without ``--force``. Errors a user can fix print one line and exit with status 1; set
``MMEMOTION_DEBUG=1`` to see the traceback instead.

Heavy imports (torch, librosa, OpenCV) happen inside the commands, so ``mmemotion --help``
answers at once.
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from . import MODALITIES, __version__
from ._cli_params import SYNTAX, parse_assignments
from .utils import atomic_path, check_can_write

__all__ = ["main", "build_parser", "UserError"]

VOTE_COLUMNS = ("voice_vote", "face_vote", "multimodal_vote")

#: Demo sizes. The default took 138 s on 2 CPU cores (see README); "quick" is for tests.
DEMO_SIZES = {
    "default": {"n_actors": 12, "clips_per_actor": 24, "duration": None, "max_epochs": 30, "n_explain": 24,
                "n_steps": 16, "shap_nsamples": 16, "n_jobs": -1},
    "quick": {"n_actors": 6, "clips_per_actor": 12, "duration": (0.8, 1.2), "max_epochs": 4, "n_explain": 6,
              "n_steps": 4, "shap_nsamples": 4, "n_jobs": None},
}


class UserError(Exception):
    """A problem the user can fix (bad path, existing output, ...): printed without traceback."""


class Interrupted(BaseException):
    """Ctrl-C. Not a KeyboardInterrupt, because skorch's fit loop swallows KeyboardInterrupt
    (it stops training early and carries on); the CLI must abort instead."""


def _raise_interrupted(signum, frame):
    raise Interrupted()


# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------
class _Stages:
    """Prints numbered stages with their duration, and keeps the timings for the model card."""

    def __init__(self, total, *, quiet=False):
        self.total, self.quiet, self.done, self.timings = total, quiet, 0, {}

    @contextlib.contextmanager
    def __call__(self, name):
        self.done += 1
        self._print(f"[{self.done}/{self.total}] {name} ...")
        tic = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - tic, 2)
        self._print(f"      {name}: done in {self.timings[name]:.1f} s")

    def _print(self, message):
        if not self.quiet:
            print(message, flush=True)


def _existing_dir(path, what):
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{what} {str(path)!r} is not a folder; pass the CREMA-D folder (the one holding AudioWAV/ "
                        "and VideoFlash/), e.g. one written by `mmemotion synth --out DIR`.")
    return path


def _existing_file(path, what):
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} {str(path)!r} does not exist; check the path (models are written by `mmemotion fit`).")
    return path


def _load_data(args, modalities=None):
    """Load --data for ``modalities`` (None: whatever media the folder holds)."""
    from .datasets import load_crema_d

    root = _existing_dir(args.data, "--data")
    bunch = load_crema_d(root, modalities=modalities, sample=args.sample, random_state=args.seed,
                         verbose=not args.quiet)
    return bunch


def _actor_split(frame, test_size, seed):
    """Indices of train and test rows, holding out whole actors (GroupShuffleSplit)."""
    from sklearn.model_selection import GroupShuffleSplit

    actors = frame["actor_id"].to_numpy()
    n_actors = len(np.unique(actors))
    if n_actors < 3:
        raise UserError(f"the data has {n_actors} actor(s); an actor-independent split needs at least 3 "
                        "(2 to train with early stopping, 1 to test). Use more actors.")
    n_test = min(max(1, int(round(test_size * n_actors))), n_actors - 2)
    splitter = GroupShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
    train, test = next(splitter.split(frame, groups=actors))
    return np.sort(train), np.sort(test)


def _split_record(frame, train, test):
    return {
        "protocol": "actor-independent hold-out (GroupShuffleSplit by actor_id): no test actor is seen in training",
        "train_actors": sorted(int(a) for a in frame["actor_id"].iloc[train].unique()),
        "test_actors": sorted(int(a) for a in frame["actor_id"].iloc[test].unique()),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
    }


def _make_pipeline(modalities, *, max_epochs, seed, memory, verbose, early_stopping=True, n_jobs=None,
                   **clf_params):
    from .models import make_default_pipeline

    return make_default_pipeline(
        modalities=tuple(modalities), memory=memory, random_state=seed, verbose=verbose, n_jobs=n_jobs,
        max_epochs=max_epochs, early_stopping=early_stopping, **clf_params,
    )


def _fit(pipeline, X, y):
    return pipeline.fit(X, y, clf__groups=X["actor_id"].to_numpy())


def _history(pipeline):
    clf = pipeline[-1]
    history = getattr(clf, "history_", None) or getattr(clf, "history", None)
    return None if history is None else [{k: v for k, v in row.items() if k != "batches"} for row in history]


def _evaluate(pipeline, X, y):
    from .evaluation import evaluate

    votes = X[[c for c in VOTE_COLUMNS if c in X.columns]]
    return evaluate(y, pipeline.predict(X), list(pipeline[-1].classes_), votes=votes if votes.shape[1] else None)


#: Parameters that say how a step runs rather than what it computes; left out of the model card.
_PLUMBING = {"callbacks", "compile", "dataset", "iterator_train", "iterator_valid", "predict_nonlinearity",
             "torch_load_kwargs", "train_split", "use_caching", "verbose", "warm_start", "memory", "n_jobs",
             "on_error", "column", "classes"}


def _plain_params(estimator):
    """JSON-friendly top-level parameters of a pipeline step (no nested estimators)."""
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in _PLUMBING or value is None:
            continue
        if isinstance(value, (str, int, float, bool, type(None))):
            params[key] = value
        elif isinstance(value, (tuple, list)) and all(isinstance(v, (str, int, float)) for v in value):
            params[key] = list(value)
        elif isinstance(value, type):
            params[key] = value.__name__
    return params


def _speaker_norm_text(pipeline):
    describe = getattr(pipeline[0], "describe_speaker_norm", None)
    return describe() if describe is not None else "none"


def _pipeline_card(pipeline):
    card = {"classifier": _plain_params(pipeline[-1]), "speaker normalisation": _speaker_norm_text(pipeline)}
    features = pipeline[0]
    for name, transformer in getattr(features, "transformer_list", []):
        card[f"features.{name} ({type(transformer).__name__})"] = _plain_params(transformer)
    return card


def _meta_path(model_path):
    return Path(model_path).with_name(Path(model_path).name + ".meta.json")


def _write_json(path, obj, *, overwrite):
    from .report._serialize import to_jsonable

    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(to_jsonable(obj), indent=1, allow_nan=False), encoding="utf-8")


def _read_meta(model_path):
    meta = _meta_path(model_path)
    return json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}


def _held_out(frame, meta, all_clips):
    """Rows of ``frame`` whose actors the model did not train on (all rows if unknown)."""
    train_actors = set((meta.get("split") or {}).get("train_actors") or ())
    if all_clips or not train_actors:
        return np.arange(len(frame))
    rows = np.flatnonzero(~frame["actor_id"].isin(train_actors).to_numpy())
    if not len(rows):
        raise UserError("every actor of --data was used to train this model, so there is nothing held out to "
                        "evaluate; pass other actors' data, or --all-clips to score the training actors anyway "
                        "(the report then raises its leakage alarm).")
    return rows


# ------------------------------------------------------------------------------------------
# Explanation <-> .npz (no pickle)
# ------------------------------------------------------------------------------------------
def save_explanation(explanation, path, *, overwrite=False):
    """:func:`mmemotion.explain.save_explanation` (kept here for scripts written against the CLI module)."""
    from .explain import save_explanation as save

    return save(explanation, path, overwrite=overwrite)


def load_explanation(path):
    """:func:`mmemotion.explain.load_explanation`, with the CLI's error for a missing ``--explanation``."""
    from .explain import load_explanation as load

    try:
        return load(_existing_file(path, "--explanation"))
    except ValueError as error:
        raise UserError(str(error)) from None


# ------------------------------------------------------------------------------------------
# commands
# ------------------------------------------------------------------------------------------
def _synthesize(out, *, n_actors, clips_per_actor, duration, signal, votes, seed, force, quiet, n_jobs=None):
    """Write the synthetic set to a temporary sibling folder and rename it into place at the end."""
    from .datasets import make_synthetic_crema_d

    out = Path(out)
    if out.exists():
        if not force:
            raise UserError(f"{out} already exists; pass --force to replace it or choose another --out.")
        if out.is_dir() and any(out.iterdir()) and not (out / "synthetic_truth.csv").is_file():
            raise UserError(f"{out} exists and does not look like a synthetic CREMA-D folder (no synthetic_truth.csv); "
                            "refusing to delete it even with --force. Choose another --out.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        make_synthetic_crema_d(tmp, n_actors=n_actors, clips_per_actor=clips_per_actor, duration=duration,
                               signal=tuple(signal), votes=votes, verbose=not quiet, random_state=seed,
                               overwrite=True, n_jobs=n_jobs)
        # mkdtemp creates the folder private (0700); give it the permissions of a normal mkdir.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def cmd_synth(args):
    duration = None if args.duration is None else (args.duration[0] if len(args.duration) == 1 else tuple(args.duration))
    out = _synthesize(args.out, n_actors=args.n_actors, clips_per_actor=args.clips_per_actor, duration=duration,
                      signal=args.signal, votes=not args.no_votes, seed=args.seed, force=args.force, quiet=args.quiet)
    print(f"synthetic CREMA-D written to {out}")


def _fit_final(args, stages, modalities, fixed, grid, memory, cache, frame, y, train):
    """The saved model: fitted on the training actors (grid-searched with --grid)."""
    cv_results = None
    with stages("fitting"):
        pipeline = _make_pipeline(modalities, max_epochs=args.epochs, seed=args.seed, memory=memory,
                                  verbose=not args.quiet, early_stopping=not grid)
        try:
            pipeline.set_params(**fixed)
        except ValueError as error:
            raise UserError(f"--set: {error}") from error
        X_train, y_train = frame.iloc[train], y.iloc[train]
        if grid:
            from sklearn.model_selection import GridSearchCV, GroupKFold

            groups = X_train["actor_id"].to_numpy()
            n_splits = min(args.cv or 3, len(np.unique(groups)))
            search = GridSearchCV(pipeline, grid, cv=GroupKFold(n_splits=n_splits), scoring="balanced_accuracy",
                                  refit=True, error_score="raise")
            try:
                search.fit(X_train, y_train, groups=groups, clf__groups=groups)
            except ValueError as error:
                raise UserError(f"--grid: {error}") from error
            pipeline, cv_results = search.best_estimator_, search.cv_results_
            print(f"best parameters {search.best_params_} (mean UAR over {n_splits} actor folds "
                  f"{search.best_score_:.3f})")
        else:
            _fit(pipeline, X_train, y_train)
        if memory == cache:
            # The temporary cache disappears below; the saved model must not point at it.
            pipeline.set_params(**{f"features__{name}__memory": None for name, t in pipeline[0].transformer_list
                                   if "memory" in t.get_params()})
    return cv_results, pipeline


def _fit_out_of_fold(args, stages, modalities, fixed, memory, frame, y):
    """fit --cv K: every clip scored by a model that never saw its actor; returns analyse_held_out's dict."""
    from .evaluation import cross_val_predict_actors

    n_actors = frame["actor_id"].nunique()
    if not 2 <= args.cv <= n_actors:
        raise UserError(f"--cv {args.cv}: needs between 2 and the number of actors ({n_actors}) folds.")
    with stages(f"scoring every actor out of fold ({args.cv} fits)"):
        pipeline = _make_pipeline(modalities, max_epochs=args.epochs, seed=args.seed, memory=memory,
                                  verbose=False)
        try:
            pipeline.set_params(**fixed)
        except ValueError as error:
            raise UserError(f"--set: {error}") from error
        held_out = cross_val_predict_actors(pipeline, frame, y, cv=args.cv, verbose=not args.quiet)
        analysis = _analyse(held_out, args.seed, args.quiet)
        print(f"out of fold ({args.cv} folds, all {n_actors} actors): accuracy "
              f"{analysis['evaluation']['accuracy']:.3f}, UAR {analysis['evaluation']['uar']:.3f}")
    return analysis


def cmd_fit(args):
    out = Path(args.out)
    check_can_write(out, overwrite=args.force)
    check_can_write(_meta_path(out), overwrite=args.force)
    # --set/--grid are checked against the real pipeline's parameters before any data is read.
    probe = _make_pipeline(args.modalities or MODALITIES, max_epochs=args.epochs, seed=args.seed, memory=None,
                           verbose=False)
    fixed = parse_assignments(args.set, "--set", probe, grid=False)
    grid = parse_assignments(args.grid, "--grid", probe, grid=True)
    if args.cv is not None and args.cv < 2:
        raise UserError(f"--cv {args.cv}: actor-grouped cross-validation needs at least 2 folds.")
    out_of_fold = bool(args.cv) and not grid
    stages = _Stages(4 if out_of_fold else 3, quiet=args.quiet)
    with stages("loading data"):
        bunch = _load_data(args, args.modalities)
        # Without --modalities: every modality the folder's media allow (audio + text for the
        # common WAV-only copy of CREMA-D).
        modalities = list(bunch.modalities)
        frame, y = bunch.frame, bunch.frame["emotion"]
        if args.test_size > 0:
            train, test = _actor_split(frame, args.test_size, args.seed)
        else:
            train, test = np.arange(len(frame)), np.array([], dtype=int)
    cv_results = analysis = None
    with tempfile.TemporaryDirectory(prefix="mmemotion-cache-") as cache:
        memory = args.cache or (cache if grid or out_of_fold else None)
        if out_of_fold:
            analysis = _fit_out_of_fold(args, stages, modalities, fixed, memory, frame, y)
        cv_results, pipeline = _fit_final(args, stages, modalities, fixed, grid, memory, cache, frame, y, train)
    with stages("saving"):
        from .models import save_model

        meta = {"split": _split_record(frame, train, test) if len(test) else
                {"protocol": "trained on every clip (no held-out actors)",
                 "train_actors": sorted(int(a) for a in frame["actor_id"].unique()), "test_actors": [],
                 "n_train": len(frame), "n_test": 0},
                "data": str(Path(args.data).resolve()), "sample": args.sample, "seed": args.seed,
                "modalities": modalities, "cv_results": cv_results, "grid": grid,
                "params": _pipeline_card(pipeline), "timings (s)": stages.timings, "out_of_fold": analysis}
        meta["split"]["speaker_norm"] = _speaker_norm_text(pipeline)
        if len(test):
            meta["evaluation"] = _evaluate(pipeline, frame.iloc[test], y.iloc[test])
        with atomic_path(out, overwrite=args.force) as tmp:
            save_model(pipeline, tmp, overwrite=True)
            _write_json(_meta_path(out), meta, overwrite=args.force)
    if "evaluation" in meta:
        ev = meta["evaluation"]
        print(f"held-out actors {meta['split']['test_actors']}: accuracy {ev['accuracy']:.3f}, "
              f"macro-F1 {ev['macro_f1']:.3f}, UAR {ev['uar']:.3f}")
    print(f"model written to {out}")


def _load_model_and_data(args):
    from .models import load_model

    model_path = _existing_file(args.model, "--model")
    model = load_model(model_path)
    meta = _read_meta(model_path)
    bunch = _load_data(args, meta.get("modalities", MODALITIES))
    return model, meta, bunch


def cmd_predict(args):
    import pandas as pd

    check_can_write(args.out, overwrite=args.force)
    model, _, bunch = _load_model_and_data(args)
    X = bunch.frame
    proba = model.predict_proba(X)
    classes = list(model[-1].classes_)
    table = pd.DataFrame({"clip_id": X["clip_id"], "actor_id": X["actor_id"], "emotion": X["emotion"],
                          "predicted": np.asarray(classes, dtype=object)[proba.argmax(1)]})
    for k, label in enumerate(classes):
        table[f"proba_{label}"] = proba[:, k].round(6)
    with atomic_path(args.out, overwrite=args.force) as tmp:
        table.to_csv(tmp, index=False)
    print(f"accuracy on these {len(X)} clips: {np.mean(table['predicted'] == table['emotion']):.3f} "
          "(includes training actors unless --data holds only new ones)")
    print(f"predictions written to {args.out}")


def cmd_explain(args):
    from .explain import explain

    check_can_write(args.out, overwrite=args.force)
    model, meta, bunch = _load_model_and_data(args)
    rows = _held_out(bunch.frame, meta, args.all_clips)
    X = bunch.frame.iloc[rows]
    explanation = explain(model, X, X["emotion"].to_numpy(), methods=args.methods, n_samples=args.n_clips,
                          random_state=args.seed, n_steps=args.n_steps, shap_nsamples=args.shap_nsamples,
                          n_background=min(16, args.n_clips), verbose=not args.quiet)
    save_explanation(explanation, args.out, overwrite=args.force)
    print(f"explanation of {len(explanation.clip_ids)} clips written to {args.out}")
    for warning in explanation.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def cmd_report(args):
    out = Path(args.out)
    check_can_write(out, overwrite=args.force)
    check_can_write(out.with_suffix(".json"), overwrite=args.force)
    from .report import render_report

    model, meta, bunch = _load_model_and_data(args)
    explanation = load_explanation(args.explanation) if args.explanation else None
    if explanation is not None:
        from .explain import check_explains

        # Before scoring: a report pairing one model's scores with another's explanation misleads.
        check_explains(explanation, model, explanation_name=f"--explanation {args.explanation}",
                       model_name=f"--model {args.model}")
    rows = _held_out(bunch.frame, meta, args.all_clips)
    X = bunch.frame.iloc[rows]
    name = "fusion" if len(meta.get("modalities", MODALITIES)) > 1 else meta["modalities"][0]
    split = dict(meta.get("split") or {}, test_actors=sorted(int(a) for a in X["actor_id"].unique()),
                 n_test=len(X))
    out_of_fold = meta.get("out_of_fold")
    if out_of_fold and meta.get("data") == str(Path(args.data).resolve()) and meta.get("sample") == args.sample:
        # `fit --cv K` scored every actor of this very data out of fold: the report uses those.
        held_out, evaluation = out_of_fold, {name: out_of_fold["evaluation"]}
        split["protocol"] = (f"{out_of_fold['protocol']} (scores, calibration, sets and audit); the saved model "
                             f"was trained on actors {split.get('train_actors')}")
    else:
        evaluation = {name: _evaluate(model, X, X["emotion"])}
        held_out = None
        if not args.all_clips:
            from .evaluation import held_out_predictions

            held_out = _analyse(held_out_predictions(model, X, X["emotion"]), args.seed, args.quiet)
    if args.all_clips:
        split["protocol"] = "scored on every clip of --data (--all-clips), training actors included"
    render_report(out, dataset=bunch, evaluation=evaluation, explanation=explanation, history=_history(model),
                  held_out=held_out,
                  cv_results=meta.get("cv_results"), split=split, overwrite=args.force,
                  model_card={"model": str(Path(args.model).resolve()), "params": meta.get("params", {}),
                              "seed": meta.get("seed"), "training timings (s)": meta.get("timings (s)", {})},
                  title=args.title)
    print(f"report written to {out.resolve()}")


def _print_scores(name, ev, quiet):
    if not quiet:
        print(f"      {name:>8}: accuracy {ev['accuracy']:.3f}  macro-F1 {ev['macro_f1']:.3f}  UAR {ev['uar']:.3f}",
              flush=True)


def _analyse(held_out, seed, quiet):
    """Calibration, conformal sets and the demographic audit of the headline model's held-out clips."""
    from .evaluation import analyse_held_out

    analysis = analyse_held_out(held_out, random_state=seed)
    if not quiet:
        cal, conformal = analysis["calibration"], analysis["conformal"]
        if conformal is None:
            print(f"      calibration: ECE {cal['before']['ece']:.3f}; {analysis['not_fitted']}", flush=True)
        else:
            print(f"      calibration: ECE {cal['before']['ece']:.3f}, temperature-scaled {cal['after']['ece']:.3f}; "
                  f"{conformal['confidence_level']:.0%} prediction sets cover {conformal['coverage']:.1%} "
                  f"(mean size {conformal['mean_size']:.2f})", flush=True)
        gap = analysis["audit"]["largest_gap"]
        if gap is not None:
            print(f"      largest demographic gap: {gap['attribute']} = {gap['group']} {gap['gap']:+.3f} "
                  f"(permutation p {gap['p_value']:.3f}{', beyond chance' if gap['flagged'] else ''})", flush=True)
    return analysis


def _demo_out_of_fold(args, stages, specs, pipeline_for, baseline, frame, y, split, evaluations, models, quiet):
    """--cv K: every model fitted on K actor folds; every clip scored by a model that never saw its actor.

    The fusion model of the first fold is the one explained and saved; ``split`` is rewritten to say so.
    Returns the analysis of the fusion model's out-of-fold predictions and the first fold's test clips.
    """
    from sklearn.model_selection import GroupKFold

    from .evaluation import cross_val_predict_actors

    folds = GroupKFold(n_splits=args.cv)
    held = {}
    with stages(f"fitting {len(specs) + 1} model(s) on {args.cv} actor folds ({args.cv} fits each)"):
        for name, modalities in specs + [("baseline", None)]:
            if not quiet:
                print(f"      -- {name}", flush=True)
            estimator = baseline if modalities is None else pipeline_for(modalities)
            held[name] = cross_val_predict_actors(estimator, frame, y, cv=folds, return_models=name == "fusion",
                                                  verbose=not quiet)
    with stages("scoring every actor out of fold"):
        for name, predictions in held.items():
            evaluations[name] = predictions.evaluate()
            _print_scores(name, evaluations[name], quiet)
        analysis = _analyse(held["fusion"], args.seed, quiet)
    fusion = held["fusion"]
    models["fusion"] = fusion.models[0]
    test = np.flatnonzero(fusion.fold == 0)
    split.update({
        "protocol": (f"{args.cv}-fold actor-grouped cross-validation (GroupKFold by actor_id): every actor is held out "
                     "once and every score is out-of-fold; the explained and saved model is fold 1's"),
        "train_actors": fusion.fit_actors[0],
        "test_actors": sorted(int(a) for a in np.unique(fusion.actor_id[test])),
        "n_train": int(len(frame) - len(test)), "n_test": int(len(test)), "n_scored": int(len(frame)),
        "speaker_norm": _speaker_norm_text(models["fusion"]),
    })
    return analysis, (frame.iloc[np.flatnonzero(fusion.fold != 0)], frame.iloc[test], y.iloc[test])


def cmd_demo(args):
    import torch

    from .datasets import load_crema_d
    from .evaluation import held_out_predictions
    from .explain import explain
    from .models import make_baseline_pipeline, save_model
    from .report import render_report

    size = dict(DEMO_SIZES["quick" if args.quick else "default"])
    for key in ("n_actors", "clips_per_actor", "max_epochs", "n_explain"):
        if getattr(args, key) is not None:
            size[key] = getattr(args, key)
    if args.cv is not None and not 2 <= args.cv <= size["n_actors"]:
        raise UserError(f"--cv {args.cv}: needs between 2 and the number of actors ({size['n_actors']}) folds.")
    out = Path(args.out)
    outputs = [out / "data", out / "model.mmemotion", out / "report.html", out / "report.json"]
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not args.force:
        raise UserError(f"{', '.join(existing)} already exist(s); pass --force to replace the demo's outputs "
                        "or choose another --out.")
    quiet = args.quiet
    variants = () if args.no_variants else ("audio", "video")
    stages = _Stages(6, quiet=quiet)
    t_start = time.perf_counter()
    with stages("generating synthetic CREMA-D"):
        root = _synthesize(out / "data", n_actors=size["n_actors"], clips_per_actor=size["clips_per_actor"],
                           duration=size["duration"], signal=("audio", "video"), votes=True, seed=args.seed,
                           force=args.force, quiet=quiet, n_jobs=size["n_jobs"])
    with stages("loading it like the real CREMA-D"):
        bunch = load_crema_d(root, verbose=not quiet)
        bunch["sample"] = "all clips"
        bunch["synthetic"] = (f"{size['n_actors']} actors x {size['clips_per_actor']} clips, "
                              "emotion planted in voice and face (make_synthetic_crema_d)")
        frame, y = bunch.frame, bunch.frame["emotion"]
        train, test = _actor_split(frame, args.test_size, args.seed)
        split = _split_record(frame, train, test)
        X_train, y_train, X_test, y_test = frame.iloc[train], y.iloc[train], frame.iloc[test], y.iloc[test]
    evaluations, models = {}, {}
    specs = [("fusion", MODALITIES)] + [(m, (m,)) for m in variants]
    with tempfile.TemporaryDirectory(prefix="mmemotion-cache-") as cache:
        # One feature cache for all models (and folds): the variants reuse the decoded media.
        def pipeline_for(modalities):
            return _make_pipeline(modalities, max_epochs=size["max_epochs"], seed=args.seed, memory=cache,
                                  verbose=not quiet, n_jobs=size["n_jobs"])

        baseline = make_baseline_pipeline(memory=cache, random_state=args.seed)
        if args.cv:
            held_out, (X_train, X_test, y_test) = _demo_out_of_fold(args, stages, specs, pipeline_for, baseline, frame, y,
                                                           split, evaluations, models, quiet)
        else:
            with stages(f"fitting {len(specs)} model(s) on actors {split['train_actors']}"):
                for name, modalities in specs:
                    if not quiet:
                        print(f"      -- {name} ({', '.join(modalities)})", flush=True)
                    models[name] = _fit(pipeline_for(modalities), X_train, y_train)
                split["speaker_norm"] = _speaker_norm_text(models["fusion"])
                # The first question of a reviewer: does the network beat a linear model on the same inputs?
                models["baseline"] = baseline.fit(X_train, y_train)
            with stages(f"evaluating on held-out actors {split['test_actors']}"):
                for name, pipeline in models.items():
                    evaluations[name] = _evaluate(pipeline, X_test, y_test)
                    _print_scores(name, evaluations[name], quiet)
                held_out = _analyse(held_out_predictions(models["fusion"], X_test, y_test,
                                                         fit_actors=split["train_actors"]), args.seed, quiet)
        with stages(f"explaining the fusion model on {size['n_explain']} held-out clips"):
            explanation = explain(models["fusion"], X_test, y_test.to_numpy(), n_samples=size["n_explain"],
                                  n_steps=size["n_steps"], shap_nsamples=size["shap_nsamples"],
                                  n_background=min(16, size["n_explain"]), random_state=args.seed, X_background=X_train.sample(
                                      min(32, len(X_train)), random_state=args.seed),
                                  verbose=not quiet)
        fusion = models["fusion"]
        fusion.set_params(**{f"features__{name}__memory": None for name, t in fusion[0].transformer_list
                             if "memory" in t.get_params()})
    with stages("writing the model and the report"):
        save_model(fusion, out / "model.mmemotion", overwrite=args.force)
        total = time.perf_counter() - t_start
        card = {
            "params": _pipeline_card(fusion),
            "seeds": {"data (make_synthetic_crema_d)": args.seed,
                      **({"folds": f"GroupKFold({args.cv}), deterministic"} if args.cv else
                         {"split (GroupShuffleSplit)": args.seed}),
                      "network (random_state)": args.seed, "explain": args.seed},
            "demo sizes": size,
            "timings (s)": {**stages.timings, "total before report": round(total, 1)},
            "machine": {"cpu cores": os.cpu_count(), "torch threads": torch.get_num_threads(),
                        "device": str(getattr(fusion[-1], "device", "cpu"))},
            "command": " ".join(["mmemotion"] + sys.argv[1:]) if sys.argv else "mmemotion demo",
        }
        report = render_report(out / "report.html", dataset=bunch, evaluation=evaluations, explanation=explanation,
                               model=fusion, history=_history(fusion), split=split, model_card=card, overwrite=args.force,
                               held_out=held_out,
                               title="mmemotion demo: synthetic CREMA-D, actor-independent evaluation")
    ev = evaluations["fusion"]
    print(f"\nfusion model on {ev['n_samples']} clips of unseen actors: accuracy {ev['accuracy']:.3f}, "
          f"macro-F1 {ev['macro_f1']:.3f}, UAR {ev['uar']:.3f}  ({time.perf_counter() - t_start:.0f} s in all)")
    print(f"report: {report.resolve()}")


# ------------------------------------------------------------------------------------------
# parser
# ------------------------------------------------------------------------------------------
def _fraction_or_count(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: give a fraction in (0, 1] or a number of clips")
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a fraction in (0, 1] or a number of clips")
    if value > 1 and not value.is_integer():
        # 2.5 clips is neither a fraction nor a count; truncating it to 2 would hide the mistake.
        raise argparse.ArgumentTypeError(f"{text} is more than 1 but not a whole number of clips: give a fraction "
                                         "in (0, 1] (0.05 = 5%) or a count (e.g. 300)")
    return int(value) if value > 1 else value


def _add_data_args(parser):
    parser.add_argument("--data", required=True, metavar="DIR", help="CREMA-D folder (AudioWAV/, VideoFlash/, ...)")
    parser.add_argument("--sample", type=_fraction_or_count, default=None, metavar="F",
                        help="use a stratified random subset: a fraction (0.05 = 5%%) or a number of clips")


def _add_common(parser):
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _demo_help(text, key):
    return f"{text} (default {DEMO_SIZES['default'][key]}; quick {DEMO_SIZES['quick'][key]})"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mmemotion",
        description="Explainable multimodal (speech, face, text) emotion recognition on CREMA-D.",
        epilog="Start with `mmemotion demo`: synthetic data -> fit -> evaluate on held-out actors -> explain -> report.",
    )
    parser.add_argument("--version", action="version", version=f"mmemotion {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="the whole job on synthetic data, ending with an HTML report",
                       description="Generate a synthetic CREMA-D, fit the fusion model (and audio-only and "
                                   "video-only variants) on some actors, evaluate on the others, explain, "
                                   "and write one self-contained HTML report.")
    p.add_argument("--out", default="demo-output", metavar="DIR", help="output folder (default: demo-output)")
    p.add_argument("--quick", action="store_true", help="tiny settings for tests (about a minute)")
    p.add_argument("--n-actors", type=int, default=None, help=_demo_help("synthetic actors", "n_actors"))
    p.add_argument("--clips-per-actor", type=int, default=None, help=_demo_help("clips per actor", "clips_per_actor"))
    p.add_argument("--max-epochs", type=int, default=None, help=_demo_help("training epochs", "max_epochs"))
    p.add_argument("--n-explain", type=int, default=None, help=_demo_help("held-out clips to explain", "n_explain"))
    p.add_argument("--test-size", type=float, default=0.25, help="fraction of actors held out (default 0.25)")
    p.add_argument("--no-variants", action="store_true",
                   help="skip the audio-only and video-only models (no per-modality human comparison)")
    p.add_argument("--cv", type=int, default=None, metavar="K",
                   help="evaluate every actor: fit each model on K actor-grouped folds and score all clips out of "
                        "fold (K times the fitting time; default: one split holding out --test-size of the actors)")
    _add_common(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("synth", help="write a synthetic CREMA-D folder")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--n-actors", type=int, default=8)
    p.add_argument("--clips-per-actor", type=int, default=24)
    p.add_argument("--duration", type=float, nargs="+", default=None, metavar="S",
                   help="clip length in seconds, or LO HI (default: real-like lengths)")
    p.add_argument("--signal", nargs="+", choices=("audio", "video"), default=["audio", "video"],
                   help="modalities that carry the emotion")
    p.add_argument("--no-votes", action="store_true", help="do not simulate human-rater votes")
    _add_common(p)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("fit", help="fit a model on a CREMA-D folder and save it (safe format)")
    _add_data_args(p)
    p.add_argument("--out", required=True, metavar="MODEL", help="model file, e.g. emotion.mmemotion")
    p.add_argument("--modalities", nargs="+", choices=MODALITIES, default=None,
                   help="modalities to fit (default: all the folder's media allow: audio, video and text, "
                        "or audio and text for a folder with only AudioWAV/)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--test-size", type=float, default=0.25,
                   help="fraction of actors held out for evaluation (0: train on all)")
    p.add_argument("--grid", action="append", metavar="PARAM=V1,V2",
                   help="grid-search a parameter with actor-grouped CV (repeatable), e.g. lr=0.001,0.003. "
                        + SYNTAX.replace("%", "%%"))
    p.add_argument("--set", action="append", metavar="PARAM=VALUE",
                   help="set a parameter (repeatable), e.g. --set lr=0.003 --set module__dropout=0.2; checked "
                        "before any data is read")
    p.add_argument("--cv", type=int, default=None, metavar="K",
                   help="actor-grouped folds (GroupKFold). Without --grid: also score every clip out of fold (K extra "
                        "fits; the report then shows calibration, prediction sets and the audit for every actor). "
                        "With --grid: the folds of the search (default 3)")
    p.add_argument("--cache", metavar="DIR", default=None, help="feature cache folder (joblib.Memory)")
    _add_common(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("predict", help="predict the emotion of every clip to a CSV file")
    p.add_argument("--model", required=True, metavar="MODEL")
    _add_data_args(p)
    p.add_argument("--out", required=True, metavar="CSV")
    _add_common(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("explain", help="explain a model on held-out clips (.npz, read by `report`)")
    p.add_argument("--model", required=True, metavar="MODEL")
    _add_data_args(p)
    p.add_argument("--out", required=True, metavar="NPZ")
    p.add_argument("--n-clips", type=int, default=24, help="held-out clips to explain (default 24)")
    p.add_argument("--n-steps", type=int, default=16, help="Integrated-Gradients steps (default 16)")
    p.add_argument("--shap-nsamples", type=int, default=16, help="SHAP draws per clip (default 16)")
    p.add_argument("--all-clips", action="store_true", help="also use clips of the training actors")
    p.add_argument("--methods", choices=("full", "fast"), default="full",
                   help="full: every default method (maps, Shapley values, ablations, sanity checks); fast: exact "
                        "modality Shapley values and ablations only, no maps (forward passes, no gradients)")
    _add_common(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("report", help="evaluate a model on held-out actors and write the HTML report")
    p.add_argument("--model", required=True, metavar="MODEL")
    _add_data_args(p)
    p.add_argument("--explanation", metavar="NPZ", default=None, help="output of `mmemotion explain`")
    p.add_argument("--out", required=True, metavar="HTML")
    p.add_argument("--title", default="mmemotion report")
    p.add_argument("--all-clips", action="store_true", help="also score clips of the training actors")
    _add_common(p)
    p.set_defaults(func=cmd_report)
    return parser


def main(argv=None):
    """Entry point of the ``mmemotion`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        with warnings.catch_warnings():
            # joblib's loky pool starts a fresh worker when an idle one exits (its idle timeout,
            # or its restart after the worker's memory grew by 300 MB) while jobs are queued,
            # and warns although no job is lost (joblib/externals/loky/process_executor.py).
            # Nothing a user can act on, so the command line does not show it.
            warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given to the executor")
            args.func(args)
    except (KeyboardInterrupt, Interrupted):
        print("\nmmemotion: interrupted; no partial output was left behind.", file=sys.stderr)
        return 130
    except (UserError, FileExistsError, FileNotFoundError, NotADirectoryError, PermissionError, ValueError) as error:
        if os.environ.get("MMEMOTION_DEBUG"):
            raise
        message = str(error)
        if isinstance(error, FileExistsError) and "--force" not in message:
            message += " (pass --force to replace it)"
        print(f"mmemotion {args.command}: error: {message}", file=sys.stderr)
        return 1
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
