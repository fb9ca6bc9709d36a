"""How generation, loading and feature extraction grow with the number of clips.

For each size N, in a fresh Python process (so that the peak memory of one size does not hide
the next): write N synthetic CREMA-D clips with real-like durations (median 2.5 s, 1.3-5 s),
load them with ``load_crema_d``, and extract the default pipeline's features
(``make_default_pipeline(n_jobs=-1)["features"]``: 40x100 MFCCs, 16 face-cropped 64x64 RGB
frames kept as uint8, 32-d text vectors) into one ``SliceDict``. Prints, per size: seconds per
stage, clips/s, the bytes of the feature arrays, and the peak resident memory of this process
and of the process tree (this process and its joblib workers), sampled every 50 ms with psutil.

Sizes that are not measured can be extrapolated (``--extrapolate 7442``) and are labelled as
such (see :func:`extrapolate` for how).

Usage::

    python benchmarks/bench_scaling.py --sizes 100 300                 # a few minutes on 2 cores
    python benchmarks/bench_scaling.py --sizes 100 1000 7442           # the full run (well over 1 h on 2 cores)
    python benchmarks/bench_scaling.py --sizes 100 1000 --extrapolate 7442 --save rows.json
    python benchmarks/bench_scaling.py --from-json rows.json          # re-print / re-extrapolate

Numbers only; no pass/fail.
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
#: The budget the full feature set must fit in (uint8 frames).
BUDGET_BYTES = 2 * 10**9


def actors_and_clips(n):
    """``(n_actors, clips_per_actor)`` with product exactly ``n`` (clips per actor <= 72, CREMA-D's max)."""
    for per_actor in range(min(72, n), 0, -1):
        if n % per_actor == 0 and per_actor >= 6:
            return n // per_actor, per_actor
    raise ValueError(f"cannot split {n} clips into actors of 6-72 clips; pick another size (e.g. a multiple of 6)")


class PeakRSS:
    """Peak resident memory of this process plus its children, sampled in a background thread."""

    def __init__(self, interval=0.05):
        import psutil

        self._proc, self._interval, self.peak, self.peak_self = psutil.Process(), interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        total = self._proc.memory_info().rss
        self.peak_self = max(self.peak_self, total)
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


def measure_size(n, work, *, n_jobs=-1, random_state=0):
    """Generate, load and extract ``n`` clips under ``work``; return a dict of measurements."""
    import numpy as np

    from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
    from mmemotion.models import make_default_pipeline

    n_actors, per_actor = actors_and_clips(n)
    root = Path(work) / f"synthetic_{n}"
    result = {"clips": n, "n_jobs": n_jobs}
    with PeakRSS() as rss:
        start = time.perf_counter()
        make_synthetic_crema_d(root, n_actors=n_actors, clips_per_actor=per_actor, duration=None, verbose=False,
                               n_jobs=n_jobs, random_state=random_state, overwrite=True)
        result["generate_s"] = time.perf_counter() - start
        result["dataset_mib"] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20

        start = time.perf_counter()
        frame = load_crema_d(root).frame
        result["load_s"] = time.perf_counter() - start
        result["median_duration_s"] = float(np.median(frame["duration"]))

        union = make_default_pipeline(n_jobs=n_jobs)["features"]
        start = time.perf_counter()
        features = union.fit_transform(frame)
        result["extract_s"] = time.perf_counter() - start
    result["peak_rss_mib"] = rss.peak / 2**20
    # Sampled, not ru_maxrss: Linux carries the parent's high-water mark over fork+exec, so a
    # child's ru_maxrss can report the (larger) RSS of the process that started it.
    result["main_rss_mib"] = rss.peak_self / 2**20
    result["feature_bytes"] = int(sum(v.nbytes for v in features.values()))
    result["feature_bytes_by_modality"] = {k: int(v.nbytes) for k, v in features.items()}
    result["feature_dtypes"] = {k: str(v.dtype) for k, v in features.items()}
    result["clips_per_s"] = n / result["extract_s"]
    shutil.rmtree(root, ignore_errors=True)
    return result


def run_sizes(sizes, *, n_jobs=-1, work=None):
    """Measure each size in its own subprocess; returns a list of result dicts."""
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            done = subprocess.run([sys.executable, __file__, "--one", str(n), "--n-jobs", str(n_jobs),
                                   "--work", tmp], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"bench_scaling --one {n} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  measured {n} clips: extraction {results[-1]['extract_s']:.0f} s", file=sys.stderr, flush=True)
    return results


def extrapolate(results, n):
    """A labelled row for ``n`` clips from measured rows.

    Times (generation, loading, extraction) scale in proportion to the largest measured size:
    on a shared machine the differences between small sizes are dominated by load changes and
    by fixed start-up costs (worker processes importing librosa/OpenCV, numba compiling), so a
    fitted line is unreliable; proportional scaling also scales the start-up cost and errs on
    the slow side. Memory and dataset size follow a least-squares line through the measured
    sizes (they are deterministic). Feature bytes are exact (the same for every clip).
    """
    import numpy as np

    sizes = np.array([r["clips"] for r in results], dtype=float)
    largest = max(results, key=lambda r: r["clips"])

    def line(key):
        values = np.array([r[key] for r in results], dtype=float)
        if len(sizes) == 1:
            return float(values[0] * n / sizes[0])
        slope, intercept = np.polyfit(sizes, values, 1)
        return float(intercept + slope * n)

    row = {key: largest[key] * n / largest["clips"] for key in ("generate_s", "load_s", "extract_s")}
    row.update({key: line(key) for key in ("peak_rss_mib", "main_rss_mib", "dataset_mib")})
    per_clip = largest["feature_bytes"] / largest["clips"]
    row.update(clips=n, feature_bytes=int(round(per_clip * n)), clips_per_s=n / row["extract_s"],
               source=f"extrapolated: times x{n / largest['clips']:.2f} from {largest['clips']} clips, "
                      f"memory by a line through {', '.join(str(int(s)) for s in sizes)}")
    return row


def format_table(rows):
    """The scaling table as text."""
    header = (f"{'clips':>6} {'generate s':>10} {'load s':>7} {'extract s':>9} {'clips/s':>7} "
              f"{'dataset MiB':>11} {'features MiB':>12} {'bytes/clip':>10} {'tree RSS MiB':>12} {'main RSS MiB':>12}  source")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['clips']:>6} {r['generate_s']:>10.1f} {r['load_s']:>7.1f} {r['extract_s']:>9.1f} "
            f"{r['clips_per_s']:>7.1f} {r['dataset_mib']:>11.0f} {r['feature_bytes'] / 2**20:>12.1f} "
            f"{r['feature_bytes'] / r['clips']:>10.0f} {r['peak_rss_mib']:>12.0f} {r['main_rss_mib']:>12.0f}  "
            f"{r.get('source', 'measured')}"
        )
    full = next((r for r in rows if r["clips"] == CREMA_D_CLIPS), None)
    if full is not None:
        verdict = "fits" if full["feature_bytes"] <= BUDGET_BYTES else "does NOT fit"
        lines.append(f"full CREMA-D ({CREMA_D_CLIPS} clips) feature set: {full['feature_bytes'] / 1e9:.3f} GB "
                     f"({full['feature_bytes'] / 2**30:.3f} GiB) -> {verdict} in 2 GB "
                     f"[{full.get('source', 'measured')}]")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--extrapolate", type=int, nargs="*", default=[CREMA_D_CLIPS],
                        help="sizes to extrapolate when not measured (default 7442)")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--work", default=None, help="scratch folder (default: the system temp dir)")
    parser.add_argument("--save", default=None, help="write the measured rows to this JSON file")
    parser.add_argument("--from-json", default=None, help="print the table from rows saved with --save (no run)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(measure_size(args.one, args.work, n_jobs=args.n_jobs)))
        return None
    if args.from_json:
        rows = json.loads(Path(args.from_json).read_text())
    else:
        rows = run_sizes(args.sizes, n_jobs=args.n_jobs, work=args.work)
    if args.save:
        Path(args.save).write_text(json.dumps(rows, indent=1))
    measured = {r["clips"] for r in rows}
    rows += [extrapolate(rows, n) for n in args.extrapolate if n not in measured]
    print(f"n_jobs={args.n_jobs}, cpu count={os.cpu_count()}")
    print(format_table(rows))
    return rows


if __name__ == "__main__":
    main()
