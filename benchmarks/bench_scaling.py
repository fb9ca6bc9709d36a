"""How loading, feature extraction, training and explaining grow with the number of clips.

For each size N, in a fresh Python process (so that the peak memory of one size does not hide
the next): write N synthetic CREMA-D clips with real-like durations (median 2.5 s, 1.3-5 s),
load them with ``load_crema_d``, extract the default pipeline's features
(``make_default_pipeline(n_jobs=-1)["features"]``: 47x100 MFCC + prosody maps, 16 face-cropped
64x64 RGB frames plus the speaker's 16 reference frames kept as uint8, 32-d text vectors) into
one ``SliceDict`` while filling a feature cache, extract them again from that cache, train the
default ``FusionClassifier`` for one epoch on them, and ``explain`` 50 clips of the last actors
with its default methods. Prints, per size and stage: seconds, the bytes of the feature arrays,
and the peak resident memory of this process and of the process tree (this process and its
joblib workers), sampled every 50 ms with psutil.

Sizes that are not measured can be extrapolated (``--extrapolate 7442``) and are labelled as
such (see :func:`extrapolate` for how).

Usage::

    python benchmarks/bench_scaling.py --sizes 120 360                 # a few minutes on 2 cores
    python benchmarks/bench_scaling.py --sizes 7442 --keep DIR         # full CREMA-D size (~45 min on 2 cores)
    python benchmarks/bench_scaling.py --sizes 120 1020 --extrapolate 7442 --save rows.json
    python benchmarks/bench_scaling.py --from-json rows.json          # re-print / re-extrapolate

``--keep DIR`` leaves the generated clips in ``DIR/synthetic_<N>`` (with their generation time)
and measures them again on later runs instead of generating them anew. Numbers only; no pass/fail.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: Size of the real CREMA-D.
CREMA_D_CLIPS = 7442


def actors_and_clips(n):
    """``(n_actors, clips_per_actor)`` with product exactly ``n`` (clips per actor <= 72, CREMA-D's max)."""
    for per_actor in range(min(72, n), 0, -1):
        if n % per_actor == 0 and per_actor >= 6:
            return n // per_actor, per_actor
    raise ValueError(f"cannot split {n} clips into actors of 6-72 clips; pick another size (e.g. a multiple of 6)")


class PeakRSS:
    """Peak resident memory of this process plus its children, sampled in a background thread.

    ``peak`` / ``peak_self``: resident set size (RSS) of the process tree / of this process.
    ``peak_private_self``: this process's RSS less its file-backed and shared pages (psutil's
    ``shared``: Linux's RssFile + RssShmem), i.e. the memory only RAM or swap can hold.
    Memory-mapped feature arrays are file-backed: they count in RSS while their pages are
    resident, but the kernel can write them out and drop them under memory pressure.
    """

    def __init__(self, interval=0.05):
        import psutil

        self._proc, self._interval = psutil.Process(), interval
        self.peak = self.peak_self = self.peak_private_self = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        info = self._proc.memory_info()
        total = info.rss
        self.peak_self = max(self.peak_self, info.rss)
        self.peak_private_self = max(self.peak_private_self, info.rss - getattr(info, "shared", 0))
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # noqa: BLE001 - a worker may exit between listing and reading
                pass
        self.peak = max(self.peak, total)

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


def _stage(result, name, work):
    """Run ``work()`` under :class:`PeakRSS`; store its seconds and peaks in ``result`` under ``name``."""
    with PeakRSS() as rss:
        start = time.perf_counter()
        out = work()
        result[f"{name}_s"] = time.perf_counter() - start
    result[f"{name}_tree_mib"] = rss.peak / 2**20
    result[f"{name}_main_mib"] = rss.peak_self / 2**20
    result[f"{name}_private_mib"] = rss.peak_private_self / 2**20
    return out


def _folder_mib(root):
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20


def _generate(n, root, *, n_jobs, random_state):
    """Write ``n`` clips under ``root`` unless a previous run left them there (with their timing)."""
    from mmemotion.datasets import make_synthetic_crema_d

    record = root / "generation.json"
    if record.is_file():
        return json.loads(record.read_text())
    if root.is_dir() and any(root.iterdir()):  # a folder made elsewhere (e.g. CREMA-D): measured as it is
        return {"generate_s": float("nan"), "dataset_mib": _folder_mib(root)}
    n_actors, per_actor = actors_and_clips(n)
    start = time.perf_counter()
    make_synthetic_crema_d(root, n_actors=n_actors, clips_per_actor=per_actor, duration=None, verbose=False,
                           n_jobs=n_jobs, random_state=random_state, overwrite=True)
    done = {"generate_s": time.perf_counter() - start, "dataset_mib": _folder_mib(root)}
    record.write_text(json.dumps(done))
    return done


def measure_size(n, work, *, n_jobs=-1, random_state=0, data=None, explain_clips=50):
    """Generate (or reuse ``data``), load, extract cold and cached, train one epoch and explain
    ``explain_clips`` clips of ``n`` clips under ``work``; return a dict of measurements.

    Stages run in this order in one process, each under its own :class:`PeakRSS`: ``load``
    (``load_crema_d``), ``extract`` (the default pipeline's union, ``n_jobs`` workers, filling a
    feature cache), ``cached`` (a clone of the union reading that cache), ``epoch`` (the default
    ``FusionClassifier`` fitted for one epoch on the cached features, its validation split
    included), ``explain`` (``explain``'s defaults on ``explain_clips`` clips of the last actors, whose
    features come from the cache). The joblib workers started by ``extract`` stay alive, as in a
    user's session, so later stages' tree peaks include them.
    """
    import gc

    import numpy as np
    from sklearn.base import clone

    from mmemotion.datasets import load_crema_d
    from mmemotion.explain import explain
    from mmemotion.models import EmotionPipeline, make_default_pipeline

    root = Path(data) if data else Path(work) / f"synthetic_{n}"
    result = {"clips": n, "n_jobs": n_jobs, **_generate(n, root, n_jobs=n_jobs, random_state=random_state)}
    frame = _stage(result, "load", lambda: load_crema_d(root, verbose=False).frame)
    if len(frame) != n:
        raise ValueError(f"{root} holds {len(frame)} usable clips, not {n}")
    result["median_duration_s"] = float(np.median(frame["duration"]))
    y = frame["emotion"].to_numpy()

    pipeline = make_default_pipeline(memory=str(Path(work) / "cache"), n_jobs=n_jobs, random_state=random_state,
                                     max_epochs=1)
    features = _stage(result, "extract", lambda: pipeline["features"].fit_transform(frame))
    del features
    gc.collect()
    union = clone(pipeline["features"])
    features = _stage(result, "cached", lambda: union.fit_transform(frame))
    result["feature_bytes"] = int(sum(v.nbytes for v in features.values()))
    result["feature_bytes_by_modality"] = {k: int(v.nbytes) for k, v in features.items()}
    result["feature_dtypes"] = {k: str(v.dtype) for k, v in features.items()}

    clf = _stage(result, "epoch", lambda: clone(pipeline["clf"]).fit(features, y))
    del features
    gc.collect()
    fitted = EmotionPipeline([("features", union), ("clf", clf)])
    # The last actors, as few as hold explain_clips clips (explain draws its clips from them).
    per_actor = frame["actor_id"].value_counts(sort=False).sort_index().iloc[::-1].cumsum()
    held_out = frame[frame["actor_id"].isin(per_actor.index[: int((per_actor < explain_clips).sum()) + 1])]
    explanation = _stage(result, "explain", lambda: explain(fitted, held_out, held_out["emotion"].to_numpy(),
                                                            n_samples=explain_clips, random_state=0, verbose=False))
    result["explained_clips"] = len(explanation.clip_ids)
    result["clips_per_s"] = n / result["extract_s"]
    if not data:
        shutil.rmtree(root, ignore_errors=True)
    return result


def run_sizes(sizes, *, n_jobs=-1, work=None, keep=None, explain_clips=50):
    """Measure each size in its own subprocess; returns a list of result dicts.

    With ``keep``, each size's clips are written to (or reused from) ``keep/synthetic_<n>`` and
    left there, so a later run measures the same clips without generating them again.
    """
    results = []
    for n in sizes:
        data = [] if keep is None else ["--data", str(Path(keep) / f"synthetic_{n}")]
        # The result line goes through a file, not a pipe: if the measuring process is killed, its
        # orphaned joblib workers would hold a pipe open until they time out.
        with tempfile.TemporaryDirectory(dir=work) as tmp, open(Path(tmp) / "result.json", "w+") as out:
            done = subprocess.run([sys.executable, __file__, "--one", str(n), "--n-jobs", str(n_jobs), "--work", tmp,
                                   "--explain-clips", str(explain_clips), *data], stdout=out, check=False)
            out.seek(0)
            printed = out.read()
        if done.returncode != 0:
            how = (f"was killed by signal {-done.returncode} (9, SIGKILL: e.g. the kernel's out-of-memory killer)"
                   if done.returncode < 0 else f"exited with status {done.returncode} (its error is printed above)")
            raise RuntimeError(f"bench_scaling --one {n} {how}")
        results.append(json.loads(printed.strip().splitlines()[-1]))
        print(f"  measured {n} clips: extraction {results[-1]['extract_s']:.0f} s", file=sys.stderr, flush=True)
    return results


#: Seconds per stage, in table order, and the peak-memory stages.
TIME_KEYS = ("generate", "load", "extract", "cached", "epoch", "explain")
MEMORY_STAGES = ("extract", "cached", "epoch", "explain")
#: Peaks per stage (see PeakRSS): process tree RSS, main process RSS, main process private memory.
MEMORY_PARTS = ("tree", "main", "private")


def extrapolate(results, n):
    """A labelled row for ``n`` clips from measured rows.

    Times (generation, loading, extraction, one epoch) scale in proportion to the largest
    measured size: on a shared machine the differences between small sizes are dominated by load
    changes and by fixed start-up costs (worker processes importing librosa/OpenCV, numba
    compiling), so a fitted line is unreliable; proportional scaling also scales the start-up
    cost and errs on the slow side. Explaining a fixed number of clips is taken from the largest
    size as it is. Memory peaks follow a least-squares line through the measured sizes (they are
    deterministic; with a single measured size they are left out: memory has a large fixed
    part). Dataset size and feature bytes scale with the clips (the same for every clip).
    """
    import numpy as np

    sizes = np.array([r["clips"] for r in results], dtype=float)
    largest = max(results, key=lambda r: r["clips"])

    def line(key):
        values = np.array([r[key] for r in results], dtype=float)
        if len(sizes) == 1:  # one point gives no slope: memory has a large fixed part
            return None
        slope, intercept = np.polyfit(sizes, values, 1)
        return float(intercept + slope * n)

    row = {f"{key}_s": largest[f"{key}_s"] * n / largest["clips"] for key in TIME_KEYS if key != "explain"}
    row["explain_s"] = largest["explain_s"]
    memory = [f"{stage}_{part}_mib" for stage in MEMORY_STAGES for part in MEMORY_PARTS
              if f"{stage}_{part}_mib" in largest]
    row.update({key: line(key) for key in memory})
    row["dataset_mib"] = largest["dataset_mib"] * n / largest["clips"]  # media grow with the clips
    per_clip = largest["feature_bytes"] / largest["clips"]
    row.update(clips=n, feature_bytes=int(round(per_clip * n)), clips_per_s=n / row["extract_s"],
               explained_clips=largest["explained_clips"],
               source=f"extrapolated: times x{n / largest['clips']:.2f} from {largest['clips']} clips, "
                      f"memory by a line through {', '.join(str(int(s)) for s in sizes)}")
    return row


def _mib(value):
    return "-" if value is None else f"{value:.0f}"


def format_table(rows):
    """The scaling tables (seconds per stage; memory) as text."""
    explained = max((r.get("explained_clips", 0) for r in rows), default=0)
    header = (f"{'clips':>6} {'generate s':>10} {'load s':>7} {'extract s':>9} {'clips/s':>7} {'cached s':>8} "
              f"{'1 epoch s':>9} {f'explain {explained} s':>11}  source")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['clips']:>6} {r['generate_s']:>10.1f} {r['load_s']:>7.1f} {r['extract_s']:>9.1f} "
            f"{r['clips_per_s']:>7.1f} {r['cached_s']:>8.1f} {r['epoch_s']:>9.1f} {r['explain_s']:>11.1f}  "
            f"{r.get('source', 'measured')}"
        )
    lines += ["", "peak memory in MiB during each stage: RSS of the process tree (this process and its joblib "
                  "workers; shared pages counted per process) / RSS of this process / this process's private "
                  "memory (RSS less file-backed pages such as memory-mapped features)"]
    header = (f"{'clips':>6} {'dataset MiB':>11} {'features MiB':>12} {'bytes/clip':>10}"
              + "".join(f" {stage:>17}" for stage in MEMORY_STAGES))
    lines += [header, "-" * len(header)]
    for r in rows:
        peaks = "".join(" " + f"{'/'.join(_mib(r.get(f'{stage}_{part}_mib')) for part in MEMORY_PARTS):>17}"
                        for stage in MEMORY_STAGES)
        lines.append(f"{r['clips']:>6} {r['dataset_mib']:>11.0f} {r['feature_bytes'] / 2**20:>12.1f} "
                     f"{r['feature_bytes'] / r['clips']:>10.0f}{peaks}")
    full = next((r for r in rows if r["clips"] == CREMA_D_CLIPS), None)
    if full is not None:
        def gib(key):
            values = [full.get(f"{stage}_{key}_mib") for stage in MEMORY_STAGES]
            values = [v for v in values if v is not None]
            return f"{max(values) / 1024:.2f} GiB" if values else "-"

        lines.append(f"full CREMA-D ({CREMA_D_CLIPS} clips): feature set {full['feature_bytes'] / 1e9:.3f} GB "
                     f"({full['feature_bytes'] / 2**30:.3f} GiB), peak RSS of the main process {gib('main')}, "
                     f"peak private memory {gib('private')} [{full.get('source', 'measured')}]")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--extrapolate", type=int, nargs="*", default=[],
                        help="sizes to extrapolate when not measured (labelled as such)")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--explain-clips", type=int, default=50)
    parser.add_argument("--work", default=None, help="scratch folder (default: the system temp dir)")
    parser.add_argument("--keep", default=None,
                        help="keep the generated clips in KEEP/synthetic_<n> and reuse them on later runs")
    parser.add_argument("--save", default=None, help="write the measured rows to this JSON file")
    parser.add_argument("--from-json", default=None, help="print the table from rows saved with --save (no run)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(measure_size(args.one, args.work, n_jobs=args.n_jobs, data=args.data,
                                      explain_clips=args.explain_clips)))
        return None
    if args.from_json:
        rows = json.loads(Path(args.from_json).read_text())
    else:
        rows = run_sizes(args.sizes, n_jobs=args.n_jobs, work=args.work, keep=args.keep,
                         explain_clips=args.explain_clips)
    if args.save:
        Path(args.save).write_text(json.dumps(rows, indent=1))
    measured = {r["clips"] for r in rows}
    rows += [extrapolate(rows, n) for n in args.extrapolate if n not in measured]
    print(f"n_jobs={args.n_jobs}, cpu count={os.cpu_count()}")
    print(format_table(rows))
    return rows


if __name__ == "__main__":
    main()
