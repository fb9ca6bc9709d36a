"""Seconds to explain 50 clips of unseen actors with ``explain``'s default methods.

The demo's corpus (``make_synthetic_crema_d``: 12 actors x 24 clips, seed 0) is generated into
``--workdir`` unless ``--data`` names one; the default pipeline is fitted on 8 actors (or loaded
from ``--model``, which is written after a fit so later runs and other versions of the package
explain the same network). The held-out clips' features are computed once before timing, as
after an evaluation. The timed call is the first ``explain`` of a fresh process, so importing
Captum and SHAP is included, as a CLI user pays it. Prints the total and each method's seconds.

``--hog`` first times the HOG layer's forward and backward pass over 512 frames of 64x64 (one
batch of 16 clips of 32 frames), the fused CPU kernel against the same maths in torch operations.
``--precision`` instead explains 16 clips with Integrated-Gradients steps / SHAP draws of 64/128
(the reference), 32/32, 16/16 and 8/8 and prints how far each is from the reference: rank
correlation of the maps, mean absolute difference of the modality shares, completeness error.

Usage::

    python benchmarks/bench_explain.py [--workdir DIR] [--data DIR] [--model FILE] [--clips 50]
                                       [--methods full|fast|name,name] [--threads 2]
                                       [--n-steps N] [--shap-nsamples N] [--hog] [--precision]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.models import load_model, make_default_pipeline, save_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="bench-explain", help="where the corpus, cache and model go")
    parser.add_argument("--data", default=None, help="CREMA-D-like folder (default: generate the demo corpus)")
    parser.add_argument("--model", default=None, help="fitted model file to explain (written after a fit if absent)")
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--methods", default=None, help="'full', 'fast' or names separated by commas")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-steps", type=int, default=None)
    parser.add_argument("--shap-nsamples", type=int, default=None)
    parser.add_argument("--hog", action="store_true", help="time the HOG layer's kernels first")
    parser.add_argument("--precision", action="store_true", help="compare IG steps / SHAP draws instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.hog:
        hog_timing()
    work = Path(args.workdir)
    data = Path(args.data) if args.data else work / "data"
    if not (data / "AudioWAV").is_dir():
        tic = time.perf_counter()
        make_synthetic_crema_d(data, n_actors=12, clips_per_actor=24, random_state=0, verbose=True)
        print(f"generated {data} in {time.perf_counter() - tic:.0f} s")
    frame = load_crema_d(data, verbose=False).frame
    actors = np.sort(frame["actor_id"].unique())
    held_out = frame[frame["actor_id"].isin(actors[8:])]
    y = held_out["emotion"].to_numpy()
    model_path = Path(args.model) if args.model else work / "model.mmemotion"
    if model_path.exists():
        model = load_model(model_path)
    else:
        train = frame[frame["actor_id"].isin(actors[:8])]
        tic = time.perf_counter()
        model = make_default_pipeline(memory=str(work / "cache"), random_state=0).fit(train, train["emotion"])
        print(f"fitted the default pipeline on {len(train)} clips of 8 actors in {time.perf_counter() - tic:.0f} s")
        save_model(model, model_path)
    model.predict(held_out)  # features of the held-out clips, computed before timing

    from mmemotion.explain import DEFAULT_METHODS, explain

    if args.precision:
        precision(model, held_out, y)
        return
    kwargs = {}
    if args.methods:
        kwargs["methods"] = args.methods if args.methods in ("full", "fast") else tuple(args.methods.split(","))
    if args.n_steps:
        kwargs["n_steps"] = args.n_steps
    if args.shap_nsamples:
        kwargs["shap_nsamples"] = args.shap_nsamples
    tic = time.perf_counter()
    exp = explain(model, held_out, y, n_samples=args.clips, random_state=0, verbose=False, **kwargs)
    total = time.perf_counter() - tic
    params = {k: exp.params[k] for k in ("methods", "n_steps", "shap_nsamples")}
    print(f"explain: {len(exp.clip_ids)} clips of {len(actors) - 8} unseen actors, {args.threads} threads, "
          f"{params} (library default methods {list(DEFAULT_METHODS)})")
    print(f"total {total:.1f} s (first call in this process: Captum and SHAP imports included)")
    for name, seconds in exp.timings.items():
        if name != "total":
            print(f"  {name:<24} {seconds:6.1f} s")
    print("mean modality shares:", {m: np.round(v.mean(axis=0), 3).tolist() for m, v in exp.modality_shares.items()})
    print("IG completeness error (relative):", round(exp.sanity.get("ig_completeness_relative_error", float("nan")), 4))


def _best_of(run, repeat=3):
    run()
    times = []
    for _ in range(repeat):
        tic = time.perf_counter()
        run()
        times.append(time.perf_counter() - tic)
    return min(times)


def hog_timing():
    """Forward + backward of the HOG cells over 512 grey 64x64 frames: fused kernel vs torch."""
    from mmemotion.models._functional_layers import HOGLayer
    from mmemotion.models._hog_kernel import hog_cells

    layer = HOGLayer(cell=8)
    grey = torch.rand(512, 64, 64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    for name, cells in (("torch operations", layer._cells),
                        ("fused kernel", lambda x: hog_cells(x, layer.cos2phi, layer.sin2phi, 8))):
        forward = _best_of(lambda: cells(grey.detach()))
        both = _best_of(lambda: torch.autograd.grad(cells(grey).sum(), grey))
        print(f"HOG cells, 512 frames 64x64, {torch.get_num_threads()} threads, {name:<17}: forward "
              f"{1000 * forward:6.1f} ms, forward + backward {1000 * both:6.1f} ms")


def precision(model, X, y, n_clips=16):
    """Maps and shares at fewer Integrated-Gradients steps / SHAP draws against 64 / 128."""
    from mmemotion.explain import explain, map_rank_correlation

    runs = {}
    for steps, draws in ((64, 128), (32, 32), (16, 16), (8, 8)):
        tic = time.perf_counter()
        runs[steps, draws] = explain(model, X, y, methods=("integrated_gradients", "shap"), n_samples=n_clips,
                                     n_steps=steps, shap_nsamples=draws, random_state=1, verbose=False)
        print(f"IG steps {steps:3d}, SHAP draws {draws:3d}: {time.perf_counter() - tic:5.1f} s", flush=True)
    ref = runs[64, 128]
    print(f"{n_clips} clips; rank correlation of maps / mean |share difference| against IG 64 steps, SHAP 128 draws")
    print("steps/draws  IG audio  IG video  SHAP audio  SHAP video  IG shares  SHAP shares  IG completeness")
    for (steps, draws), e in runs.items():
        row = [map_rank_correlation(ref.maps["audio"], e.maps["audio"]), map_rank_correlation(ref.maps["video"], e.maps["video"]),
               map_rank_correlation(ref.shap_maps["audio"], e.shap_maps["audio"]),
               map_rank_correlation(ref.shap_maps["video"], e.shap_maps["video"])]
        shares = [np.abs(ref.modality_shares[m] - e.modality_shares[m]).mean() for m in ("integrated_gradients", "shap")]
        print(f"{steps:5d}/{draws:<5d}" + "".join(f"{v:10.3f}" for v in row) + "".join(f"{v:11.4f}" for v in shares)
              + f"{e.sanity['ig_completeness_relative_error']:13.4f}")


if __name__ == "__main__":
    main()
