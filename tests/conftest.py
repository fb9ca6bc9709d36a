"""Shared fixtures: small synthetic CREMA-D sets generated once per test session.

``synthetic_root``   8 actors x 12 clips, emotion in voice and face, 0.8-1.2 s clips.
``synthetic_bunch``  ``load_crema_d(synthetic_root)``.
``make_synthetic``   factory: ``make_synthetic(**kwargs) -> Path`` (or
                     ``make_synthetic(tmp_path_factory, **kwargs)``) calls
                     ``make_synthetic_crema_d`` with small defaults (4 actors x 6 clips, 0.8-1.2 s,
                     both cues, seed 0) overridden by ``kwargs``; the same kwargs return the same
                     cached folder within a session (per xdist worker). Treat it as read-only.
"""

import os

import pytest

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d

#: Defaults of the factory: small and short so every test stays fast on 2 cores.
SMALL = {"n_actors": 4, "clips_per_actor": 6, "duration": (0.8, 1.2), "signal": ("audio", "video"),
         "verbose": False, "random_state": 0}


@pytest.fixture(scope="session")
def make_synthetic(tmp_path_factory):
    """Factory of synthetic CREMA-D folders, cached per keyword arguments."""
    cache = {}

    def make(factory=None, /, **kwargs):
        params = {**SMALL, **kwargs}
        key = repr(sorted(params.items()))
        if key not in cache:
            folder = (factory or tmp_path_factory).mktemp("synthetic_crema_d")
            cache[key] = make_synthetic_crema_d(folder, **params)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def synthetic_root(make_synthetic):
    """A small synthetic CREMA-D folder: 8 actors x 12 clips (2 per emotion), both cues."""
    return make_synthetic(n_actors=8, clips_per_actor=12, signal=("audio", "video"))


@pytest.fixture(scope="session")
def synthetic_bunch(synthetic_root):
    """``load_crema_d(synthetic_root)``: Bunch with 96 clips."""
    return load_crema_d(synthetic_root)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_xdist_worker():
    """Under ``pytest -n N`` give each worker one intra-op torch thread.

    Two workers each running torch's default of one thread per core oversubscribe a 2-core
    machine; the models helper measured one audio-only CV going from over 9 minutes to 22 s
    with one thread. Only the test processes are affected, never library code.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
