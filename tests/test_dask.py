"""Feature extraction and grid search on a Dask cluster through joblib's Dask backend.

A 2-worker :class:`distributed.LocalCluster` on 127.0.0.1 (no dashboard) runs
``examples/dask_cluster.py`` with its fast settings: the features computed on the cluster must
be identical to those of the local run, and both the per-file extraction tasks and the grid
search fits must have run in the worker processes.
"""

import importlib.util
import os
from pathlib import Path
from urllib.parse import urlparse

import joblib
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dask_cluster.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("dask_cluster_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return _load_example()


@pytest.fixture(scope="module")
def client(example):
    # The example's own helper, so the test exercises the configuration it documents.
    with example.dask_client(n_workers=2) as client:
        yield client


def test_local_cluster_listens_on_loopback_only(client):
    addresses = [client.scheduler.address, *client.nthreads()]
    assert len(client.nthreads()) == 2 and set(client.nthreads().values()) == {1}
    for address in addresses:
        assert urlparse(address).hostname == "127.0.0.1", address
    assert client.dashboard_link is None or "127.0.0.1" in client.dashboard_link
    # Separate processes from this one (processes=True).
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()


@pytest.mark.slow  # trains networks in the grid search
def test_example_features_identical_and_work_runs_on_the_workers(example, client, make_synthetic, tmp_path):
    root = make_synthetic()
    with distributed.get_task_stream(client) as stream:
        result = example.main(["--fast", "--root", str(root), "--scheduler", client.scheduler.address,
                               "--work", str(tmp_path)])
    local, remote = result["local"], result["remote"]
    assert set(local) == set(remote) == {"audio", "video", "text"}
    for name in local:
        assert remote[name].shape[0] == 24
        np.testing.assert_array_equal(remote[name], local[name])
    search = result["search"]
    assert len(search.cv_results_["params"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # Work went to both worker processes: per-file extraction batches and the grid-search fits.
    workers = {task["worker"] for task in stream.data}
    assert workers == set(client.nthreads())
    names = " ".join(str(task["key"]) for task in stream.data)
    assert "_extract_safely" in names or "batch" in names.lower()
    assert len(stream.data) >= 4  # at least the 2 folds x 2 candidates


def test_dask_backend_reports_bad_files_like_the_local_one(client, make_synthetic, tmp_path):
    from mmemotion.features import MediaError, MFCCTransformer

    wavs = sorted(str(p) for p in (make_synthetic() / "AudioWAV").glob("*.wav"))[:3]
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF" + b"\0" * 10)
    with joblib.parallel_backend("dask"):
        with pytest.raises(MediaError) as info:
            MFCCTransformer(n_jobs=-1).fit_transform([*wavs, str(bad)])
    assert info.value.source == str(bad)
