"""A tiny deterministic stand-in pipeline (features + classifier) for the explain tests.

Shaped like the real one: ``pipeline[:-1].transform(X)`` gives a SliceDict keyed by modality,
``pipeline[-1]`` has ``module_`` (``forward(**streams) -> logits``, one keyword per modality,
attribute ``modalities``) and ``classes_``, and the union's "text" transformer exposes
``word_vectors(name)`` with the text vector equal to the mean of the word vectors. Extra
modalities (e.g. a toy one registered by a test) are arrays of ``SHAPES``-like shapes passed as
``extra``.
"""

import zlib

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.pipeline import Pipeline
from skorch.helper import SliceDict
from torch import nn

from mmemotion import MODALITIES
from mmemotion.datasets._codes import SENTENCES

CLASSES = ["ANG", "HAP", "SAD"]
SHAPES = {"audio": (1, 4, 6), "video": (3, 2, 4, 4), "text": (5,)}
SENTENCE_CODES = sorted(SENTENCES)


class TinyNet(nn.Module):
    """Per-modality linear encoders, summed, tanh, dropout, linear head."""

    def __init__(self, *, modalities=MODALITIES, n_classes=3, hidden=4, only=None, seed=0, shapes=None):
        super().__init__()
        torch.manual_seed(seed)
        self.modalities = tuple(modalities)
        shapes = {**SHAPES, **(shapes or {})}
        self.encoders = nn.ModuleDict(
            {m: nn.Linear(int(np.prod(shapes[m])), hidden) for m in self.modalities}
        )
        self.dropout = nn.Dropout(0.5)
        self.head = nn.Linear(hidden, n_classes)
        if only is not None:
            # Plant the signal: every other modality's encoder is exactly zero.
            with torch.no_grad():
                for m, enc in self.encoders.items():
                    if m != only:
                        enc.weight.zero_()
                        enc.bias.zero_()

    def forward(self, **streams):
        h = 0
        for m in self.modalities:
            x = streams[m]
            if x.dtype == torch.uint8:
                x = x.float() / 255.0
            h = h + self.encoders[m](x.flatten(1))
        return self.head(self.dropout(torch.tanh(h)))


class WordStub(TransformerMixin, BaseEstimator):
    """Mean of fixed pseudo-random word vectors of the clip's sentence."""

    def __init__(self, *, column="clip_id", dim=5):
        self.column = column
        self.dim = dim

    def fit(self, X, y=None):
        return self

    def word_vectors(self, name):
        words = SENTENCES[name.split("_")[1]].lower().replace(".", "").split()
        vectors = np.stack(
            [np.random.default_rng(zlib.crc32(w.encode())).normal(size=self.dim) for w in words]
        ).astype(np.float32)
        return words, vectors

    def transform(self, X):
        return np.stack([self.word_vectors(n)[1].mean(axis=0) for n in X[self.column]])


class ArrayUnion(TransformerMixin, BaseEstimator):
    """Looks up precomputed arrays (audio, video, extra modalities) by clip id; text comes from the word stub."""

    def __init__(self, *, arrays=None, transformer_list=None):
        self.arrays = arrays
        self.transformer_list = transformer_list

    def fit(self, X, y=None):
        self.output_shapes_ = {m: SHAPES[m] for m in MODALITIES}
        return self

    def transform(self, X):
        rows = [int(np.flatnonzero(self.arrays["clip_id"] == c)[0]) for c in X["clip_id"]]
        text = dict(self.transformer_list)["text"].transform(X)
        stored = {m: a[rows] for m, a in self.arrays.items() if m != "clip_id"}
        return SliceDict(**stored, text=text)


class FakeClassifier(ClassifierMixin, BaseEstimator):
    """Holds a given network as ``module_``; string labels like FusionClassifier."""

    def __init__(self, *, module=None):
        self.module = module

    def fit(self, X, y=None):
        self.module_ = self.module
        self.classes_ = np.array(CLASSES, dtype=object)
        return self


def make_frame(n=24, seed=0):
    """A manifest-like frame of ``n`` clips and its audio/video arrays."""
    rng = np.random.default_rng(seed)
    emotions = [CLASSES[i % 3] for i in range(n)]
    clip_ids = [
        f"{1001 + i // 6}_{SENTENCE_CODES[i % len(SENTENCE_CODES)]}_{e}_XX" for i, e in enumerate(emotions)
    ]
    X = pd.DataFrame({"clip_id": clip_ids, "actor_id": [1001 + i // 6 for i in range(n)]})
    arrays = {
        "clip_id": np.array(clip_ids, dtype=object),
        "audio": rng.normal(size=(n,) + SHAPES["audio"]).astype(np.float32) * 3 - 5,
        "video": rng.integers(0, 256, size=(n,) + SHAPES["video"], dtype=np.uint8),
    }
    return X, np.array(emotions, dtype=object), arrays


def make_pipeline(net=None, *, n=24, seed=0, extra=None):
    """The stand-in pipeline fitted on ``make_frame(n, seed)``; ``extra`` adds ``{modality: shape}`` arrays."""
    X, y, arrays = make_frame(n, seed)
    rng = np.random.default_rng(seed + 1)
    for m, shape in (extra or {}).items():
        arrays[m] = rng.normal(size=(n,) + tuple(shape)).astype(np.float32)
    union = ArrayUnion(arrays=arrays, transformer_list=[("text", WordStub())])
    pipe = Pipeline([("features", union), ("clf", FakeClassifier(module=net or TinyNet()))])
    pipe.fit(X, y)
    return pipe, X, y
