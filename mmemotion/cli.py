"""The ``mmemotion`` command line: demo, synth, fit, predict, explain, report.

A thin layer over :mod:`mmemotion.experiment` (``run_experiment``, ``fit_experiment``,
``score_fitted``) and :func:`mmemotion.explain.explain`; the options are in
:mod:`mmemotion._cli_parser`. Every file is written through :func:`mmemotion.utils.atomic_path`
(temporary file + rename), so an error or Ctrl-C never leaves a half-written output, and nothing
that exists is replaced without ``--force``. Errors a user can fix print one line and exit with
status 1; set ``MMEMOTION_DEBUG=1`` to see the traceback instead. Heavy imports (torch, librosa,
OpenCV) happen inside the commands, so ``mmemotion --help`` answers at once.
"""

import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from . import MODALITIES
from ._cli_params import default_pipeline, forget_cache, parse_assignments
from ._cli_parser import DEMO_SIZES, SIGNALS, build_parser
from .modalities import get_modality
from .utils import atomic_path, check_can_write

__all__ = ["main", "build_parser", "UserError"]


class UserError(Exception):
    """A problem the user can fix (bad path, existing output, ...): printed without traceback."""


class Interrupted(BaseException):
    """Ctrl-C. Not a KeyboardInterrupt, because skorch's fit loop swallows KeyboardInterrupt
    (it stops training early and carries on); the CLI must abort instead."""


def _raise_interrupted(signum, frame):
    raise Interrupted()


def _existing_file(path, what):
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} {str(path)!r} does not exist; check the path (models are written by `mmemotion fit`).")
    return path


def _load_data(args, modalities=None):
    """Load --data for ``modalities`` (None: whatever media the folder holds)."""
    from .datasets import load_crema_d

    root = Path(args.data)
    if not root.is_dir():
        raise UserError(f"--data {str(root)!r} is not a folder; pass the CREMA-D folder (the one holding AudioWAV/ "
                        "and VideoFlash/), e.g. one written by `mmemotion synth --out DIR`.")
    return load_crema_d(root, modalities=modalities, sample=args.sample, random_state=args.seed, verbose=not args.quiet)


def _held_out(frame, meta, all_clips):
    """Rows of ``frame`` whose actors the model did not train on (all rows if unknown)."""
    from .evaluation import held_out_rows

    trained_on = (meta.get("split") or {}).get("train_actors") or ()
    rows = np.arange(len(frame)) if all_clips else held_out_rows(frame, trained_on)
    if not len(rows):
        raise UserError("every actor of --data was used to train this model, so there is nothing held out to "
                        "evaluate; pass other actors' data, or --all-clips to score the training actors anyway "
                        "(the report then raises its leakage alarm).")
    return rows


def _synthesize(out, *, force, **params):
    from .datasets import write_synthetic_crema_d

    out = Path(out)
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to replace it or choose another --out.")
    return write_synthetic_crema_d(out, overwrite=force, **params)


def cmd_synth(args):
    duration = None if args.duration is None else (args.duration[0] if len(args.duration) == 1 else tuple(args.duration))
    out = _synthesize(args.out, n_actors=args.n_actors, clips_per_actor=args.clips_per_actor, duration=duration,
                      signal=tuple(args.signal), votes=not args.no_votes, random_state=args.seed, force=args.force,
                      verbose=not args.quiet)
    print(f"synthetic CREMA-D written to {out}")


def cmd_fit(args):
    from .evaluation import actor_split
    from .experiment import Stages, fit_experiment, meta_path, save_fitted

    out = Path(args.out)
    check_can_write(out, overwrite=args.force)
    check_can_write(meta_path(out), overwrite=args.force)
    # --set/--grid are checked against the real pipeline's parameters before any data is read.
    probe = default_pipeline(args.modalities or MODALITIES, max_epochs=args.epochs, seed=args.seed, memory=None,
                             verbose=False)
    fixed = parse_assignments(args.set, "--set", probe, grid=False)
    grid = parse_assignments(args.grid, "--grid", probe, grid=True)
    if args.cv is not None and args.cv < 2:
        raise UserError(f"--cv {args.cv}: actor-grouped cross-validation needs at least 2 folds.")
    out_of_fold = bool(args.cv) and not grid
    stages = Stages(4 if out_of_fold else 3, quiet=args.quiet)
    with stages("loading data"):
        bunch = _load_data(args, args.modalities)
        # Without --modalities: every modality the folder's media allow (audio + text for the
        # common WAV-only copy of CREMA-D).
        modalities = list(bunch.modalities)
        frame = bunch.frame
        split = (actor_split(frame, args.test_size, args.seed) if args.test_size > 0
                 else (np.arange(len(frame)), np.array([], dtype=int)))
    n_actors = frame["actor_id"].nunique()
    if out_of_fold and not 2 <= args.cv <= n_actors:
        raise UserError(f"--cv {args.cv}: needs between 2 and the number of actors ({n_actors}) folds.")
    with tempfile.TemporaryDirectory(prefix="mmemotion-cache-") as cache:
        memory = args.cache or (cache if grid or out_of_fold else None)
        params = dict(modalities=modalities, max_epochs=args.epochs, seed=args.seed, memory=memory, fixed=fixed)
        estimator = default_pipeline(**params, verbose=not args.quiet, early_stopping=not grid)
        quiet_copy = default_pipeline(**params, verbose=False) if out_of_fold else None  # K fits, no epoch tables
        try:
            fitted = fit_experiment(estimator, frame, frame["emotion"], split=split, param_grid=grid, cv=args.cv,
                                    out_of_fold=quiet_copy, random_state=args.seed, verbose=not args.quiet,
                                    stages=stages)
        except ValueError as error:
            if not grid:
                raise
            raise UserError(f"--grid: {error}") from error
        if memory == cache:
            forget_cache(fitted.model)  # the saved model must not point at the temporary cache
    with stages("saving"):
        meta = {**fitted.record(), "data": str(Path(args.data).resolve()), "sample": args.sample, "seed": args.seed,
                "modalities": modalities, "grid": grid, "timings (s)": stages.timings}
        save_fitted(fitted.model, out, meta, overwrite=args.force)
    print("\n".join(fitted.summary() + [f"model written to {out}"]))


def _load_model_and_data(args):
    from .experiment import load_fitted

    model, meta = load_fitted(_existing_file(args.model, "--model"))
    return model, meta, _load_data(args, meta.get("modalities", MODALITIES))


def cmd_predict(args):
    from .experiment import predictions_table

    check_can_write(args.out, overwrite=args.force)
    model, _, bunch = _load_model_and_data(args)
    X = bunch.frame
    table = predictions_table(model, X)
    with atomic_path(args.out, overwrite=args.force) as tmp:
        table.to_csv(tmp, index=False)
    print(f"accuracy on these {len(X)} clips: {np.mean(table['predicted'] == table['emotion']):.3f} "
          "(includes training actors unless --data holds only new ones)")
    print(f"predictions written to {args.out}")


def cmd_explain(args):
    from .explain import explain, save_explanation

    check_can_write(args.out, overwrite=args.force)
    model, meta, bunch = _load_model_and_data(args)
    X = bunch.frame.iloc[_held_out(bunch.frame, meta, args.all_clips)]
    explanation = explain(model, X, X["emotion"].to_numpy(), methods=args.methods, n_samples=args.n_clips,
                          random_state=args.seed, n_steps=args.n_steps, shap_nsamples=args.shap_nsamples,
                          n_background=min(16, args.n_clips), verbose=not args.quiet)
    save_explanation(explanation, args.out, overwrite=args.force)
    print(f"explanation of {len(explanation.clip_ids)} clips written to {args.out}")
    for warning in explanation.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def cmd_report(args):
    from .experiment import render_fitted
    from .explain import check_explains, load_explanation

    out = Path(args.out)
    check_can_write(out, overwrite=args.force)
    check_can_write(out.with_suffix(".json"), overwrite=args.force)
    model, meta, bunch = _load_model_and_data(args)
    explanation = None
    if args.explanation:
        try:
            explanation = load_explanation(_existing_file(args.explanation, "--explanation"))
        except ValueError as error:
            raise UserError(str(error)) from None
        # Before scoring: a report pairing one model's scores with another's explanation misleads.
        check_explains(explanation, model, explanation_name=f"--explanation {args.explanation}",
                       model_name=f"--model {args.model}")
    # After `fit --cv K` on this very --data, the report shows every actor scored out of fold.
    render_fitted(out, model, meta, bunch, rows=_held_out(bunch.frame, meta, args.all_clips), data=args.data,
                  sample=args.sample, model_path=args.model, explanation=explanation, analyse=not args.all_clips,
                  protocol="scored on every clip of --data (--all-clips), training actors included" if args.all_clips
                  else None, title=args.title, random_state=args.seed, verbose=not args.quiet, overwrite=args.force)
    print(f"report written to {out.resolve()}")


def cmd_demo(args):
    from .datasets import load_crema_d
    from .experiment import Stages, machine_info, run_experiment
    from .models import make_baseline_pipeline, save_model
    from .report import pipeline_card

    size = dict(DEMO_SIZES["quick" if args.quick else "default"])
    size.update({key: getattr(args, key) for key in ("n_actors", "clips_per_actor", "max_epochs", "n_explain")
                 if getattr(args, key) is not None})
    if args.cv is not None and not 2 <= args.cv <= size["n_actors"]:
        raise UserError(f"--cv {args.cv}: needs between 2 and the number of actors ({size['n_actors']}) folds.")
    out = Path(args.out)
    existing = [str(p) for p in (out / "data", out / "model.mmemotion", out / "report.html", out / "report.json")
                if p.exists()]
    if existing and not args.force:
        raise UserError(f"{', '.join(existing)} already exist(s); pass --force to replace the demo's outputs "
                        "or choose another --out.")
    verbose = not args.quiet
    # One model per modality that reads media (the ones the raters judged alone: voice, face).
    variants = () if args.no_variants else tuple(m for m in MODALITIES if get_modality(m).media)
    stages = Stages(6, quiet=args.quiet)
    t_start = time.perf_counter()
    with stages("generating synthetic CREMA-D"):
        root = _synthesize(out / "data", n_actors=size["n_actors"], clips_per_actor=size["clips_per_actor"],
                           duration=size["duration"], signal=SIGNALS, votes=True, random_state=args.seed,
                           force=args.force, verbose=verbose, n_jobs=size["n_jobs"])
    with stages("loading it like the real CREMA-D"):
        bunch = load_crema_d(root, verbose=verbose)
        bunch["sample"] = "all clips"
        bunch["synthetic"] = (f"{size['n_actors']} actors x {size['clips_per_actor']} clips, "
                              "emotion planted in voice and face (make_synthetic_crema_d)")
    with tempfile.TemporaryDirectory(prefix="mmemotion-cache-") as cache:
        # One feature cache for all models (and folds): the variants reuse the decoded media.
        estimators = {name: default_pipeline(modalities, max_epochs=size["max_epochs"], seed=args.seed, memory=cache,
                                             verbose=verbose, n_jobs=size["n_jobs"])
                      for name, modalities in [("fusion", MODALITIES)] + [(m, (m,)) for m in variants]}
        result = run_experiment(estimators, bunch.frame, bunch.frame["emotion"], test_size=args.test_size, cv=args.cv,
                                baseline=make_baseline_pipeline(memory=cache, random_state=args.seed),
                                n_explain=size["n_explain"], random_state=args.seed, verbose=verbose, stages=stages,
                                explain_params={"n_steps": size["n_steps"], "shap_nsamples": size["shap_nsamples"]})
        fusion = forget_cache(result.model)
    with stages("writing the model and the report"):
        save_model(fusion, out / "model.mmemotion", overwrite=args.force)
        seeds = {"data (make_synthetic_crema_d)": args.seed,
                 **({"folds": f"GroupKFold({args.cv}), deterministic"} if args.cv else
                    {"split (GroupShuffleSplit)": args.seed}),
                 "network (random_state)": args.seed, "explain": args.seed}
        card = {"params": pipeline_card(fusion), "seeds": seeds, "demo sizes": size,
                "timings (s)": {**stages.timings, "total before report": round(time.perf_counter() - t_start, 1)},
                "machine": machine_info(fusion),
                "command": " ".join(["mmemotion"] + sys.argv[1:]) if sys.argv else "mmemotion demo"}
        report = result.render(out / "report.html", dataset=bunch, model_card=card, overwrite=args.force,
                               title="mmemotion demo: synthetic CREMA-D, actor-independent evaluation")
    ev = result.evaluation["fusion"]
    print(f"\nfusion model on {ev['n_samples']} clips of unseen actors: accuracy {ev['accuracy']:.3f}, "
          f"macro-F1 {ev['macro_f1']:.3f}, UAR {ev['uar']:.3f}  ({time.perf_counter() - t_start:.0f} s in all)")
    print(f"report: {report.resolve()}")


COMMANDS = {"demo": cmd_demo, "synth": cmd_synth, "fit": cmd_fit, "predict": cmd_predict, "explain": cmd_explain,
            "report": cmd_report}


def main(argv=None):
    """Entry point of the ``mmemotion`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
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
            COMMANDS[args.command](args)
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
