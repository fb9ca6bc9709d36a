import pickle

import joblib

import numpy as np
import pandas as pd
import pytest
from skorch.helper import SliceDict
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from mmemotion import MODALITIES
from mmemotion.features import FilenameEmbedder, FrameSampler, MFCCTransformer, ModalityUnion


def _union(**kw):
    return ModalityUnion(
        [
            ("audio", MFCCTransformer(n_mfcc=6, n_mels=12, n_frames=8)),
            ("video", FrameSampler(n_frames=2, size=(6, 4))),
            ("text", FilenameEmbedder(dim=5)),
        ],
        **kw,
    )


def flatten_slicedict(d):
    """Module-level (picklable) stand-in for a model that takes the SliceDict."""
    return np.hstack([np.asarray(d[k]).reshape(len(d), -1) for k in sorted(d.keys())])


@pytest.fixture
def frame(wavs, flvs):
    n = 3
    return pd.DataFrame(
        {"clip_id": ["1001_DFA_ANG_XX", "1002_IEO_SAD_HI", "1003_TSI_NEU_XX"], "audio_path": wavs[:n], "video_path": flvs[:n]}
    )


def test_slicedict_in_natural_shapes_as_views(frame, monkeypatch):
    union = _union()
    Xt = union.fit_transform(frame)
    assert isinstance(Xt, SliceDict) and list(Xt.keys()) == list(MODALITIES)
    assert union.output_shapes_ == {"audio": (1, 6, 8), "video": (3, 2, 6, 4), "text": (5,)}
    assert Xt["audio"].shape == (3, 1, 6, 8) and Xt["video"].shape == (3, 3, 2, 6, 4) and Xt["text"].shape == (3, 5)
    # Each block is a reshaped view of the transformer's 2-D output: no copy.
    flat = {}
    for name, t in union.transformers_.items():
        original = type(t).transform

        def spy(self, X, _original=original, _name=name):
            flat[_name] = _original(self, X)
            return flat[_name]

        monkeypatch.setattr(type(t), "transform", spy)
    Xt = union.transform(frame)
    for name in MODALITIES:
        assert np.shares_memory(Xt[name], flat[name]) and Xt[name].base is not None
        np.testing.assert_array_equal(Xt[name].reshape(3, -1), flat[name])
    sliced = Xt[[0, 2]]
    assert sliced["video"].shape == (2, 3, 2, 6, 4)


def test_matches_the_transformers_alone(frame):
    Xt = _union().fit_transform(frame)
    alone = MFCCTransformer(n_mfcc=6, n_mels=12, n_frames=8).fit_transform(frame)
    np.testing.assert_array_equal(Xt["audio"].reshape(3, -1), alone)


def test_nested_params_clone_pickle(frame):
    union = _union()
    assert union.get_params()["audio__n_mfcc"] == 6
    union.set_params(audio__n_mfcc=4, text__dim=3)
    assert union.transformer_list[0][1].n_mfcc == 4
    cloned = clone(union)
    assert cloned.get_params()["text__dim"] == 3 and cloned.transformer_list[0][1] is not union.transformer_list[0][1]
    with pytest.raises(NotFittedError):
        union.transform(frame)
    union.fit(frame)
    assert union.output_shapes_["audio"] == (1, 4, 8)
    restored = pickle.loads(pickle.dumps(union))
    for name in MODALITIES:
        np.testing.assert_array_equal(restored.transform(frame)[name], union.transform(frame)[name])
    # Replacing a step and dropping one.
    union.set_params(video="drop")
    assert list(union.fit_transform(frame).keys()) == ["audio", "text"]


def test_parallel_union(frame):
    serial = _union().fit_transform(frame)
    # Threads: process workers would spend seconds importing librosa (loky is tested in test_base).
    with joblib.parallel_config(backend="threading"):
        parallel = _union(n_jobs=2).fit_transform(frame)
    for name in MODALITIES:
        np.testing.assert_array_equal(serial[name], parallel[name])


def test_bad_steps():
    with pytest.raises(TypeError, match="'audio' must be a transformer"):
        ModalityUnion([("audio", LogisticRegression())]).fit(["a"])
    with pytest.raises(ValueError, match="no step left"):
        ModalityUnion([("text", "drop")]).fit(["a"])


def test_grid_search_and_grouped_cv_with_slicing():
    # Text-only union on names: cheap, and the "model" reads the SliceDict.
    sentences = ["DFA", "IEO", "TSI"]
    names = [f"{1001 + a}_{s}_{e}_XX" for a in range(4) for s in sentences for e in ("ANG", "SAD")]
    y = np.array([s for a in range(4) for s in sentences for _ in range(2)])  # predict the sentence
    groups = np.array([n[:4] for n in names])
    frame = pd.DataFrame({"clip_id": names})
    pipe = Pipeline(
        [
            ("features", ModalityUnion([("text", FilenameEmbedder(dim=4))])),
            ("flat", FunctionTransformer(flatten_slicedict)),
            ("clf", LogisticRegression()),
        ]
    )
    scores = cross_val_score(pipe, frame, y, groups=groups, cv=GroupKFold(n_splits=4))
    assert scores.mean() == 1.0
    search = GridSearchCV(pipe, {"features__text__dim": [2, 8]}, cv=GroupKFold(n_splits=2))
    search.fit(frame, y, groups=groups)
    assert search.best_params_["features__text__dim"] in (2, 8)
    assert search.best_estimator_.named_steps["features"].output_shapes_["text"][0] in (2, 8)


def test_html_repr_draws_one_branch_per_modality():
    import re

    from sklearn.utils import estimator_html_repr

    from mmemotion.models import make_default_pipeline

    html = estimator_html_repr(make_default_pipeline())
    html = re.sub(r"<style>.*?</style>|<script>.*?</script>", "", html, flags=re.S)
    branches = [" ".join(re.sub(r"<[^>]+>", " ", html[m.end():m.end() + 3000]).split()[:2])
                for m in re.finditer(r'class="sk-parallel-item">', html)]
    assert branches == ["audio MFCCTransformer", "video FrameSampler", "text FilenameEmbedder"]
