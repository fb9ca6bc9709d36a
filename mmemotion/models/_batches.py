"""FusionClassifier's batches: shuffled training batches, plain prediction batches, its own RNG."""

import contextlib

import torch
from skorch.dataset import Dataset
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler


class Batches:
    """Mixin of :class:`~mmemotion.models.FusionClassifier`: how batches are drawn."""

    @contextlib.contextmanager
    def _seeded(self):
        """Seed torch from ``random_state`` inside the block, restoring the caller's RNG after it."""
        if self.random_state is None:
            yield
            return
        with self._own_rng():
            torch.manual_seed(int(self.random_state))
            yield

    def _own_rng(self):
        # fork_rng restores the global torch RNG afterwards, so fitting with a seed does not
        # change the random numbers the caller's own code draws next.
        devices = list(range(torch.cuda.device_count())) if str(self.device).startswith("cuda") else []
        return torch.random.fork_rng(devices=devices)

    def get_iterator(self, dataset, training=False):
        """Training batches are reshuffled every epoch; evaluation batches are cut in one indexing step.

        Training: see :meth:`_train_iterator`. Evaluation: skorch's default DataLoader fetches every sample on its own and collates them, which
        made ``predict_proba`` run at 0.80x a bare PyTorch loop (``benchmarks/bench_training.py``;
        a 3x16x64x64 clip is copied twice). For evaluation the order is fixed anyway, so a
        sequential :class:`~torch.utils.data.BatchSampler` hands the dataset whole index lists
        (a SliceDict slices every modality at once) and the DataLoader does no collation
        (``batch_size=None``). Custom datasets and any ``iterator_valid__*`` setting keep
        skorch's loader.
        """
        if training:
            return self._train_iterator(dataset)
        if type(dataset) is not Dataset or self.get_params_for("iterator_valid"):
            return super().get_iterator(dataset, training=training)
        batch_size = len(dataset) if self.batch_size == -1 else self.batch_size  # -1: one batch, as in skorch
        sampler = BatchSampler(SequentialSampler(range(len(dataset))), batch_size=max(batch_size, 1), drop_last=False)
        return DataLoader(dataset, sampler=sampler, batch_size=None)

    def _train_iterator(self, dataset):
        """Training batches, reshuffled every epoch.

        skorch hands ``iterator_train__*`` to a plain DataLoader, whose ``shuffle`` defaults to
        False, so without this every epoch would see the rows in manifest order: batches of one
        actor (and mostly one emotion) at a time, with batch-norm statistics of that actor. The
        permutation is drawn from the torch random state that ``random_state`` seeds. An explicit
        ``iterator_train__shuffle``, ``__sampler`` or ``__batch_sampler`` is respected.
        """
        kwargs = self.get_params_for("iterator_train")
        if self.iterator_train is not DataLoader or {"shuffle", "sampler", "batch_sampler"} & kwargs.keys():
            return super().get_iterator(dataset, training=True)
        batch_size = kwargs.pop("batch_size", self.batch_size)
        batch_size = len(dataset) if batch_size == -1 else batch_size
        return DataLoader(dataset, batch_size=batch_size, shuffle=True, **kwargs)
