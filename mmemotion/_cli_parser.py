"""The ``mmemotion`` command line's options (argparse): what each command takes, with its help.

Commands are dispatched by name (``args.command``) in :mod:`mmemotion.cli`.
"""

import argparse

from . import MODALITIES, __version__
from ._cli_params import SYNTAX
from .modalities import get_modality

#: Where the synthetic generator can plant the emotion: the media the built-in modalities read
#: (make_synthetic_crema_d's ``signal``; datasets is not imported just to build the parser).
SIGNALS = tuple(get_modality(m).media for m in MODALITIES if get_modality(m).media)

__all__ = ["DEMO_SIZES", "build_parser"]

#: Demo sizes. The default took 138 s on 2 CPU cores (see README); "quick" is for tests.
DEMO_SIZES = {
    "default": {"n_actors": 12, "clips_per_actor": 24, "duration": None, "max_epochs": 30, "n_explain": 24,
                "n_steps": 16, "shap_nsamples": 16, "n_jobs": -1},
    "quick": {"n_actors": 6, "clips_per_actor": 12, "duration": (0.8, 1.2), "max_epochs": 4, "n_explain": 6,
              "n_steps": 4, "shap_nsamples": 4, "n_jobs": None},
}


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

    p = sub.add_parser("synth", help="write a synthetic CREMA-D folder")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--n-actors", type=int, default=8)
    p.add_argument("--clips-per-actor", type=int, default=24)
    p.add_argument("--duration", type=float, nargs="+", default=None, metavar="S",
                   help="clip length in seconds, or LO HI (default: real-like lengths)")
    p.add_argument("--signal", nargs="+", choices=SIGNALS, default=list(SIGNALS),
                   help="modalities that carry the emotion")
    p.add_argument("--no-votes", action="store_true", help="do not simulate human-rater votes")
    _add_common(p)

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

    p = sub.add_parser("predict", help="predict the emotion of every clip to a CSV file")
    p.add_argument("--model", required=True, metavar="MODEL")
    _add_data_args(p)
    p.add_argument("--out", required=True, metavar="CSV")
    _add_common(p)

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

    p = sub.add_parser("report", help="evaluate a model on held-out actors and write the HTML report")
    p.add_argument("--model", required=True, metavar="MODEL")
    _add_data_args(p)
    p.add_argument("--explanation", metavar="NPZ", default=None, help="output of `mmemotion explain`")
    p.add_argument("--out", required=True, metavar="HTML")
    p.add_argument("--title", default="mmemotion report")
    p.add_argument("--all-clips", action="store_true", help="also score clips of the training actors")
    _add_common(p)
    return parser
