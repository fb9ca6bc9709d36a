"""Every mmemotion benchmark in one run, printed as tables (numbers, not pass/fail).

1. machine: cores, CPU model, RAM, library versions;
2. feature extraction: clips/s of each transformer against the raw decode rate of the same
   clips (soundfile read; OpenCV decoding every frame), serial and with ``n_jobs=2``;
3. feature cache: a cold pass with ``memory=`` against the cached rerun;
4. training and inference: samples/s of ``FusionClassifier`` (skorch) against a bare PyTorch
   loop on the same network and data;
5. explanation: seconds per clip of :func:`mmemotion.explain.explain` with its default methods;
6. peak resident memory of each section (process tree: this process and its joblib workers);
7. scaling: generation, loading and extraction time and memory at growing numbers of clips
   (real-like durations), with the full CREMA-D size (7,442 clips) measured or, when not,
   extrapolated and labelled so.

It reuses the measuring functions of ``bench_features.py``, ``bench_training.py`` and
``bench_scaling.py`` (run them alone for more detail).

Usage::

    python benchmarks/run_all.py                            # ~30 min on 2 busy cores
    python benchmarks/run_all.py --sizes 100 1000 7442      # the full scaling run (hours on 2 cores)
    python benchmarks/run_all.py --only scaling --sizes 100 300     # a quicker scaling table
"""

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_features  # noqa: E402
import bench_scaling  # noqa: E402
import bench_training  # noqa: E402

SECTIONS = ("machine", "extraction", "cache", "training", "explain", "scaling")
PEAKS = {}


def table(title, header, rows):
    """Print a plain-text table; floats get 1-3 significant decimals."""

    def cell(v):
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
        return str(v)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    print(f"\n## {title}")
    print("  ".join(str(h).rjust(w) if i else str(h).ljust(w) for i, (h, w) in enumerate(zip(header, widths))))
    print("  ".join("-" * w for w in widths))
    for r in body:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    sys.stdout.flush()


def machine():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import cv2
    import librosa
    import skorch
    import sklearn
    import torch

    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = [("cores (os.cpu_count)", os.cpu_count()), ("usable cores (affinity)", len(os.sched_getaffinity(0))),
            ("CPU model", model), ("RAM GiB", round(ram, 1)), ("load average (1 min) at start", round(load, 1)),
            ("python", platform.python_version()), ("torch / threads", f"{torch.__version__} / {torch.get_num_threads()}"),
            ("CUDA available", torch.cuda.is_available()), ("skorch", skorch.__version__),
            ("scikit-learn", sklearn.__version__), ("librosa", librosa.__version__), ("opencv", cv2.__version__),
            ("numpy", np.__version__)]
    table("machine", ["what", "value"], rows)


def make_set(work, n_clips):
    from mmemotion.datasets import load_crema_d, make_synthetic_crema_d

    n_actors, per_actor = bench_scaling.actors_and_clips(n_clips)
    root = make_synthetic_crema_d(Path(work) / "data", n_actors=n_actors, clips_per_actor=per_actor,
                                  duration=None, verbose=False, n_jobs=-1, random_state=0)
    return load_crema_d(root).frame


def extraction(frame, repeat):
    from mmemotion.features import FrameSampler, MFCCTransformer

    audio, video, n = frame["audio_path"].tolist(), frame["video_path"].tolist(), len(frame)
    steps = {
        "mfcc1": MFCCTransformer().fit(audio[:1]),
        "mfcc2": MFCCTransformer(n_jobs=2).fit(audio[:1]),
        "center1": FrameSampler().fit(video[:1]),
        "face1": FrameSampler(crop="face").fit(video[:1]),
        "face2": FrameSampler(crop="face", n_jobs=2).fit(video[:1]),
    }
    steps["mfcc1"].transform(audio[:2])  # librosa's first-call costs are not per clip
    # One untimed pass per parallel step: starts the worker processes and pays librosa's and
    # numba's first-call costs in each worker, which are per process, not per clip.
    steps["mfcc2"].transform(audio)
    steps["face2"].transform(video[:4])
    rows_spec = [
        ("audio", "soundfile.read whole file (reference)", lambda: bench_features.read_audio(audio), "audio"),
        ("audio", "MFCCTransformer(), n_jobs=1", lambda: steps["mfcc1"].transform(audio), "audio"),
        ("audio", "MFCCTransformer(n_jobs=2)", lambda: steps["mfcc2"].transform(audio), "audio"),
        ("video", "cv2 read() every frame (reference)", lambda: bench_features.decode_video(video), "video"),
        ("video", "FrameSampler() centre crop, n_jobs=1", lambda: steps["center1"].transform(video), "video"),
        ("video", "FrameSampler(crop='face'), n_jobs=1", lambda: steps["face1"].transform(video), "video"),
        ("video", "FrameSampler(crop='face', n_jobs=2)", lambda: steps["face2"].transform(video), "video"),
    ]
    rows, reference = [], {}
    with bench_scaling.PeakRSS() as rss:
        for modality, name, fn, ref in rows_spec:
            rate, traced = bench_features.best_rate(fn, n, repeat)
            reference.setdefault(ref, rate)
            rows.append((modality, name, rate, rate / reference[ref], traced))
    PEAKS["extraction"] = rss.peak
    table(f"feature extraction ({n} clips, median {np.median(frame['duration']):.2f} s; best of {repeat})",
          ["modality", "step", "clips/s", "x reference", "traced peak MiB"], rows)


def cache(frame, repeat, work):
    from mmemotion.features import FrameSampler, MFCCTransformer

    n, rows = len(frame), []
    with bench_scaling.PeakRSS() as rss:
        for label, make, paths in (("MFCCTransformer", lambda m: MFCCTransformer(memory=m), frame["audio_path"]),
                                   ("FrameSampler(crop='face', dtype=uint8)",
                                    lambda m: FrameSampler(crop="face", dtype=np.uint8, memory=m), frame["video_path"])):
            folder = Path(tempfile.mkdtemp(dir=work))
            est = make(str(folder)).fit(paths[:1])
            cold = bench_features._timed(lambda: est.transform(paths))
            warm = min(bench_features._timed(lambda: est.transform(paths)) for _ in range(repeat))
            size = sum(f.stat().st_size for f in folder.rglob("*.npy")) / 2**20
            rows.append((label, n / cold, n / warm, cold / warm, size))
    PEAKS["cache"] = rss.peak
    table(f"feature cache, cold pass vs cached rerun ({n} clips, n_jobs=1)",
          ["transformer", "cold clips/s", "cached clips/s", "speed-up", "cache MiB"], rows)


def training(n_samples, epochs, repeat):
    import torch

    X, y = bench_training.make_data(n_samples)
    y_codes = np.unique(y, return_inverse=True)[1].astype(np.int64)
    with bench_scaling.PeakRSS() as rss:
        bench_training.bare_train(X, y_codes, 1)  # warm-up (allocator, oneDNN kernel choice)
        bench_training.skorch_train(X, y, 1)
        runs = {"bare PyTorch loop": [], "FusionClassifier (skorch)": []}
        for _ in range(repeat):  # alternating, so machine load hits both alike
            runs["bare PyTorch loop"].append(bench_training.bare_train(X, y_codes, epochs))
            runs["FusionClassifier (skorch)"].append(bench_training.skorch_train(X, y, epochs))
    PEAKS["training"] = rss.peak
    rates = {k: (n_samples * epochs / min(r[0] for r in v), n_samples / min(r[1] for r in v)) for k, v in runs.items()}
    bare = rates["bare PyTorch loop"]
    rows = [(k, tr, inf, tr / bare[0], inf / bare[1]) for k, (tr, inf) in rates.items()]
    table(f"training, default network ({n_samples} samples x {epochs} epochs, batch 32, CPU, "
          f"{torch.get_num_threads()} torch threads; best of {repeat})",
          ["loop", "train samples/s", "infer samples/s", "train x bare", "infer x bare"], rows)


def explanation(frame, n_clips):
    from mmemotion.explain import explain
    from mmemotion.models import make_default_pipeline

    y = frame["emotion"]
    with bench_scaling.PeakRSS() as rss:
        pipe = make_default_pipeline(max_epochs=2, lr=3e-3, n_jobs=-1).fit(frame, y)
        start = time.perf_counter()
        result = explain(pipe, frame, y.to_numpy(), n_samples=n_clips, n_steps=16, shap_nsamples=16,
                         n_background=min(16, len(frame)), verbose=False)
        total = time.perf_counter() - start
    PEAKS["explain"] = rss.peak
    n = len(result.clip_ids)
    timings = dict(result.timings or {})
    timings.setdefault("total", total)
    rows = [(name, float(sec), float(sec) / n) for name, sec in timings.items()]
    table(f"explanation of {n} clips (default pipeline, default methods, n_steps=16, shap_nsamples=16)",
          ["step", "seconds", "s/clip"], rows)


def scaling(sizes, extrapolated, work):
    rows = bench_scaling.run_sizes(sizes, n_jobs=-1, work=work)
    rows += [bench_scaling.extrapolate(rows, n) for n in extrapolated if n not in sizes]
    print(f"\n## scaling (default pipeline features, uint8 frames, n_jobs=-1; each size in a fresh process; "
          "peak RSS = this process + joblib workers, shared pages counted per process)")
    print(bench_scaling.format_table(rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=24, help="clips of the extraction/cache/explain set")
    parser.add_argument("--repeat", type=int, default=2, help="timed repeats (best is reported)")
    parser.add_argument("--train-samples", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--explain-clips", type=int, default=6)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000], help="scaling sizes to measure")
    parser.add_argument("--extrapolate", type=int, nargs="*", default=[bench_scaling.CREMA_D_CLIPS],
                        help="scaling sizes to extrapolate when not measured (labelled)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--work", default=None, help="scratch folder (default: the system temp dir)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    if "machine" in args.only:
        machine()
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        frame = None
        if {"extraction", "cache", "explain"} & set(args.only):
            frame = make_set(work, args.clips)
        if "extraction" in args.only:
            extraction(frame, args.repeat)
        if "cache" in args.only:
            cache(frame, args.repeat, work)
        if "training" in args.only:
            training(args.train_samples, args.epochs, args.repeat)
        if "explain" in args.only:
            explanation(frame, args.explain_clips)
        if PEAKS:
            rows = [(k, v / 2**20) for k, v in PEAKS.items()]
            rows.append(("max RSS of this process over the whole run",
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
            table("peak resident memory per section (process tree)", ["section", "MiB"], rows)
        if "scaling" in args.only:
            scaling(args.sizes, args.extrapolate, work)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
