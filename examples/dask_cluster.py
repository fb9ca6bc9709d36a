"""Move feature extraction and a grid search onto a Dask cluster without changing the pipeline.

mmemotion has no engine of its own: every transformer parallelises its files with
:class:`joblib.Parallel`, and :class:`~sklearn.model_selection.GridSearchCV` parallelises its
fits the same way. joblib's Dask backend (``with joblib.parallel_backend("dask"):``, registered
when :mod:`distributed` is imported) sends both to whatever cluster the active
:class:`distributed.Client` is connected to: a :class:`~distributed.LocalCluster` on a laptop,
or a scheduler on many machines (``dask-scheduler`` + ``dask-worker``, dask-jobqueue on SLURM,
dask-kubernetes, ...).

1. Build (or reuse) a CREMA-D folder and load its manifest frame.
2. Start a 2-worker :class:`~distributed.LocalCluster` bound to 127.0.0.1 (or connect to
   ``--scheduler``).
3. Extract MFCCs, frames and text features locally and on the cluster, and check they are
   identical.
4. Grid-search the fusion network on the cluster (actor-grouped folds, features cached on disk).

On a multi-machine cluster the media and the ``--cache`` folder must be at the same path on
every worker (a shared file system). Each worker then decodes its share of the files.

GPU training: ``FusionClassifier(device="cuda")`` (or the default ``device="auto"``, which picks
CUDA when torch sees a GPU) trains on a GPU. Inside a grid search on a cluster, give each GPU
worker one thread and one GPU (``dask-worker --nthreads 1 --resources GPU=1`` with
``CUDA_VISIBLE_DEVICES`` set per worker) so fits do not share a device. See
``benchmarks/README.md`` for the multi-GPU status.

Run::

    python examples/dask_cluster.py                      # local cluster, real-like clip lengths
    python examples/dask_cluster.py --fast               # tiny settings, well under a minute of work
    python examples/dask_cluster.py --root /data/CREMA-D --scheduler tcp://scheduler:8786 \\
        --cache /shared/cache/mmemotion

``MMEMOTION_FAST=1`` or ``MMEMOTION_EXAMPLE_FAST=1`` in the environment is the same as ``--fast``.
"""

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.features import FilenameEmbedder, FrameSampler, MFCCTransformer, ModalityUnion
from mmemotion.models import make_default_pipeline

#: Tiny features and network: every step runs, accuracy is beside the point.
FAST = dict(n_mfcc=13, n_audio_frames=20, n_video_frames=4, frame_size=(16, 16), text_dim=8, max_epochs=2,
            module__audio_widths=(4,), module__video_widths=(4,), module__text_widths=(4,),
            module__fusion_width=8)
FULL = dict(max_epochs=15, lr=3e-3, module__dropout=0.2, module__video_widths=(8, 16, 32), batch_size=16)


def make_union(*, fast, n_jobs=-1):
    """The feature step of the default pipeline, with every transformer parallel over its files.

    ``n_jobs=-1`` means "as many tasks in flight as the backend has workers": the local CPU
    count with joblib's default backend, the cluster's worker threads under the Dask backend.
    """
    s = FAST if fast else {}
    return ModalityUnion([
        ("audio", MFCCTransformer(n_mfcc=s.get("n_mfcc", 40), n_frames=s.get("n_audio_frames", 100), n_jobs=n_jobs)),
        ("video", FrameSampler(n_frames=s.get("n_video_frames", 16), size=s.get("frame_size", (64, 64)),
                               crop="face", dtype=np.uint8, n_jobs=n_jobs)),
        ("text", FilenameEmbedder(dim=s.get("text_dim", 32))),
    ])


@contextlib.contextmanager
def dask_client(scheduler=None, *, n_workers=2):
    """A :class:`distributed.Client` on ``scheduler``, or on a new loopback-only LocalCluster.

    The local cluster listens on 127.0.0.1 only and has no dashboard, so nothing is reachable
    from other machines. ``processes=True`` gives each worker its own interpreter (decoders and
    torch do not share a GIL); one thread per worker keeps one file or one fit per core.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="CREMA-D folder (default: make a synthetic one)")
    parser.add_argument("--work", type=Path, help="where the synthetic set and the cache go (default: a temp dir)")
    parser.add_argument("--cache", type=Path, help="feature cache folder, shared by all workers (default: <work>/cache)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: start a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the LocalCluster (default 2)")
    parser.add_argument("--fast", action="store_true",
                        default="1" in (os.environ.get("MMEMOTION_FAST"), os.environ.get("MMEMOTION_EXAMPLE_FAST")))
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="mmemotion_dask_"))
    root = args.root
    if root is None:
        root = work / "synthetic"
        if not (root / "synthetic_truth.csv").exists():
            size = dict(n_actors=4, clips_per_actor=6, duration=(0.8, 1.2)) if args.fast else dict(n_actors=8)
            make_synthetic_crema_d(root, verbose=not args.fast, overwrite=True, random_state=0, **size)
    X, y = load_crema_d(root, return_X_y=True)
    groups = X["actor_id"].to_numpy()
    print(f"{len(X)} clips, {len(np.unique(groups))} actors")

    start = time.perf_counter()
    local = make_union(fast=args.fast, n_jobs=1).fit_transform(X)
    print(f"features, local process: {time.perf_counter() - start:.1f} s")

    with dask_client(args.scheduler, n_workers=args.workers) as client:
        n_threads = sum(client.nthreads().values())
        print(f"Dask cluster: {len(client.nthreads())} workers, {n_threads} threads, scheduler {client.scheduler.address}")

        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            remote = make_union(fast=args.fast).fit_transform(X)
        print(f"features, on the cluster: {time.perf_counter() - start:.1f} s")
        for name in local:
            if not np.array_equal(local[name], remote[name]):
                raise SystemExit(f"{name} features differ between the local run and the cluster")
        print(f"features identical: {', '.join(f'{k} {v.shape}' for k, v in remote.items())}")

        settings = FAST if args.fast else FULL
        pipe = make_default_pipeline(memory=args.cache or work / "cache", random_state=0, **settings)
        grid = {"clf__lr": [1e-3, 1e-2]} if args.fast else {"clf__lr": [1e-3, 3e-3], "clf__module__dropout": [0.0, 0.2]}
        search = GridSearchCV(pipe, grid, cv=GroupKFold(n_splits=2), scoring="balanced_accuracy",
                              n_jobs=-1, error_score="raise")
        start = time.perf_counter()
        # The fits (2 folds x each candidate) are the tasks; each fit's feature extraction reads
        # the shared cache, or decodes inside the worker that got the task.
        with joblib.parallel_backend("dask"):
            search.fit(X, y, groups=groups)
        print(f"grid search on the cluster: {len(search.cv_results_['params'])} candidates x 2 actor folds "
              f"in {time.perf_counter() - start:.1f} s")
        for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
            print(f"  {params}  UAR {score:.3f}")
        print(f"best: {search.best_params_}")
    return {"local": local, "remote": remote, "search": search}


if __name__ == "__main__":
    main()
