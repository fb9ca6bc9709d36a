"""FusionClassifier: sklearn contract, labels, reproducibility, validation split, bad input."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from skorch.callbacks import Callback
from skorch.helper import SliceDict

from mmemotion.models import FusionClassifier, ThreeStreamModule

from ._helpers import CLASSES, TINY, planted


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _ = data
    return FusionClassifier(**TINY).fit(X, y)


class _RecordSplit(Callback):
    """Stores the indices skorch trains and validates on."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.splits = []

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if dataset_valid is None:
            self.splits.append((np.arange(len(dataset_train)), None))
        else:
            self.splits.append((np.asarray(dataset_train.indices), np.asarray(dataset_valid.indices)))


def test_string_labels_in_and_out(fitted, data):
    X, y, _ = data
    assert fitted.classes_.tolist() == CLASSES.tolist()
    pred = fitted.predict(X)
    assert pred.dtype == y.dtype and set(pred) <= set(CLASSES)
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(pred, CLASSES[proba.argmax(axis=1)])
    assert fitted.score(X, y) == pytest.approx(accuracy_score(y, pred))


def test_score_is_the_accuracy_of_predict(fitted, data):
    # Labels that agree with predict on a known share of the clips make the expected accuracy
    # exact whatever the two-epoch model learnt.
    X, _, _ = data
    pred = fitted.predict(X)
    wrong = np.arange(len(pred)) % 4 == 0  # 12 of 48 clips
    y = pred.copy()
    y[wrong] = np.where(pred[wrong] == "ANG", "SAD", "ANG")
    assert fitted.score(X, y) == pytest.approx(0.75)
    assert fitted.score(X, pred) == 1.0
    # sample_weight reaches the metric: all weight on the wrong clips gives 0, 3:1 gives 108 / 120.
    assert fitted.score(X, y, sample_weight=wrong.astype(float)) == 0.0
    assert fitted.score(X, y, sample_weight=np.where(wrong, 1.0, 3.0)) == pytest.approx(108 / 120)
    assert fitted.score(X, y) == pytest.approx(accuracy_score(y, pred))


def test_learns_planted_cue_and_reports_encoded_valid_acc(data):
    X, y, groups = data
    clf = FusionClassifier(
        **{**TINY, "max_epochs": 30, "module__modalities": ("audio",)}, early_stopping=True, patience=50
    ).fit(X, y, groups=groups)
    assert clf.score(X, y) > 0.8
    # skorch's stock valid_acc scorer compares string predictions with integer targets (always 0).
    assert max(clf.history[:, "valid_acc"]) > 0.6


def test_module_is_in_eval_mode_after_fit(fitted):
    assert isinstance(fitted.module_, ThreeStreamModule)
    assert not fitted.module_.training


def test_input_sizes_come_from_the_data(data):
    X, y, _ = data
    clf = FusionClassifier(**TINY, module__modalities=("audio", "text")).fit(X, y)
    assert clf.input_shapes_ == {"audio": (1, 6, 8), "text": (5,)}
    assert clf.modalities_ == ("audio", "text")
    assert clf.module_.shapes["audio"] == (1, 6, 8) and clf.module_.shapes["text"] == (5,)
    assert clf.module_.n_classes == 3


def test_inactive_modalities_may_be_missing_or_present(data):
    X, y, _ = data
    clf = FusionClassifier(**TINY, module__modalities=("audio",)).fit(SliceDict(audio=X["audio"]), y)
    np.testing.assert_array_equal(clf.predict(SliceDict(audio=X["audio"])), clf.predict(X))


def test_same_random_state_same_predictions_and_global_rng_untouched(data):
    X, y, _ = data
    before = torch.get_rng_state()
    p1 = FusionClassifier(**{**TINY, "module__dropout": 0.3}).fit(X, y).predict_proba(X)
    assert torch.equal(torch.get_rng_state(), before)
    p2 = FusionClassifier(**{**TINY, "module__dropout": 0.3}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    p3 = FusionClassifier(**{**TINY, "module__dropout": 0.3, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.array_equal(p1, p3)


class _BatchOrder(Callback):
    """Records which rows (text[:, 0] holds the row number) each training batch holds."""

    def initialize(self):
        self.epochs = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs.append([])

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.epochs[-1].extend(batch[0]["text"][:, 0].round().long().tolist())


def _training_order(X, y, **params):
    X = SliceDict(**{k: v.copy() for k, v in X.items()})
    X["text"][:, 0] = np.arange(len(y))
    recorder = _BatchOrder()
    FusionClassifier(**{**TINY, "max_epochs": 3, **params}, callbacks=[("order", recorder)]).fit(X, y)
    return recorder.epochs


def test_training_batches_are_reshuffled_every_epoch_from_random_state(data):
    X, y, _ = data
    epochs = _training_order(X, y)
    rows = list(range(len(y)))
    # Every row once per epoch, never in manifest order (skorch's DataLoader would keep it),
    # and a new order each epoch.
    assert all(sorted(order) == rows for order in epochs)
    assert all(order != rows for order in epochs)
    assert epochs[0] != epochs[1] != epochs[2]
    assert _training_order(X, y) == epochs
    assert _training_order(X, y, random_state=1) != epochs
    # An explicit choice is respected.
    assert _training_order(X, y, iterator_train__shuffle=False) == [rows] * 3


def test_get_params_set_params_and_clone_round_trip(fitted, data):
    X, y, _ = data
    params = fitted.get_params()
    assert params["module__audio_widths"] == (4,) and params["device"] == "auto"
    assert params["lr"] == 1e-2 and params["class_weight"] is None
    clf = clone(fitted)
    assert not hasattr(clf, "module_")
    clf.set_params(module__dropout=0.25, lr=0.05, class_weight="balanced")
    assert clf.get_params()["module__dropout"] == 0.25
    clf.fit(X, y)
    assert all(head[2].p == 0.25 for head in clf.module_.heads.values())
    assert clone(clf).get_params(deep=False).keys() == clf.get_params(deep=False).keys()
    # set_params on a fitted net rebuilds the module with the data-derived sizes kept.
    clf.set_params(module__fusion_width=5)
    assert clf.module_.heads["audio"][0].out_features == 5 and clf.module_.shapes["audio"] == (1, 6, 8)


@pytest.mark.parametrize("dump, load", [(pickle.dumps, pickle.loads), ("joblib", "joblib")])
def test_pickle_round_trip(fitted, data, dump, load, tmp_path):
    X, _, _ = data
    if dump == "joblib":
        joblib.dump(fitted, tmp_path / "clf.joblib")
        restored = joblib.load(tmp_path / "clf.joblib")
    else:
        restored = load(dump(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    assert restored.get_params()["device"] == "auto"
    assert restored.classes_.tolist() == CLASSES.tolist()


def test_device_auto_resolves():
    clf = FusionClassifier()
    assert clf.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert clf.get_params()["device"] == "auto"
    assert FusionClassifier(device="cpu").device == "cpu"


@pytest.mark.parametrize(
    "class_weight, expected",
    [(None, None), ("balanced", [24 / 36, 24 / 18, 24 / 18]), ({"HAP": 3.0}, [1.0, 3.0, 1.0])],
)
def test_class_weight(data, class_weight, expected):
    X, y, _ = data
    # Unbalance the classes: drop half of HAP and SAD.
    keep = np.flatnonzero((y == "ANG") | (np.arange(len(y)) % 2 == 0))
    clf = FusionClassifier(**{**TINY, "max_epochs": 1}, class_weight=class_weight).fit(X[keep], y[keep])
    if expected is None:
        assert clf.class_weight_ is None and clf.criterion_.weight is None
    else:
        counts = {c: np.sum(y[keep] == c) for c in CLASSES}
        if class_weight == "balanced":
            expected = [len(keep) / (3 * counts[c]) for c in CLASSES]
        np.testing.assert_allclose(clf.class_weight_, expected)
        np.testing.assert_allclose(clf.criterion_.weight.numpy(), expected, rtol=1e-6)


def test_early_stopping_split_keeps_actors_apart(data):
    X, y, groups = data
    rec = _RecordSplit()
    FusionClassifier(**TINY, early_stopping=True, callbacks=[("rec", rec)]).fit(X, y, groups=groups)
    train, valid = rec.splits[0]
    assert len(valid) > 0 and len(train) + len(valid) == len(y)
    assert not set(groups[train]) & set(groups[valid])


def test_early_stopping_without_groups_warns(data):
    X, y, _ = data
    with pytest.warns(UserWarning, match="groups"):
        FusionClassifier(**TINY, early_stopping=True).fit(X, y)


def test_no_internal_split_by_default(data):
    X, y, groups = data
    rec = _RecordSplit()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = FusionClassifier(**TINY, callbacks=[("rec", rec)]).fit(X, y, groups=groups)
    train, valid = rec.splits[0]
    assert valid is None and len(train) == len(y)
    assert "valid_loss" not in clf.history[-1]


def test_early_stopping_stops(data):
    X, y, groups = data
    clf = FusionClassifier(**{**TINY, "max_epochs": 40, "lr": 0.1}, early_stopping=True, patience=1).fit(
        X, y, groups=groups
    )
    assert len(clf.history) < 40


def test_classes_parameter_declares_labels_missing_from_y(data):
    X, y, _ = data
    clf = FusionClassifier(**TINY, classes=["ANG", "HAP", "NEU", "SAD"]).fit(X, y)
    assert clf.classes_.tolist() == ["ANG", "HAP", "NEU", "SAD"]
    assert clf.predict_proba(X).shape == (len(y), 4)


def test_partial_fit_continues_training(data):
    X, y, _ = data
    clf = FusionClassifier(**TINY).fit(X, y)
    clf.partial_fit(X, y)
    assert len(clf.history) == 2 * TINY["max_epochs"]
    assert not clf.module_.training


# -- bad input ---------------------------------------------------------------------------------


def _with(X, **changes):
    out = dict(X)
    out.update(changes)
    return SliceDict(**{k: v for k, v in out.items() if v is not None})


def test_fit_rejects_non_mapping(data):
    X, y, _ = data
    with pytest.raises(TypeError, match="SliceDict"):
        FusionClassifier(**TINY).fit(X["audio"], y)


def test_missing_modality_fit_and_predict(fitted, data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"lacks \['video'\].*module__modalities"):
        FusionClassifier(**TINY).fit(_with(X, video=None), y)
    with pytest.raises(ValueError, match=r"lacks \['text'\]"):
        fitted.predict(_with(X, text=None))


def test_wrong_rank_and_wrong_shape(fitted, data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"X\['audio'\] has shape \(48, 6, 8\)"):
        FusionClassifier(**TINY).fit(_with(X, audio=X["audio"][:, 0]), y)
    with pytest.raises(ValueError, match=r"per-sample shape \(1, 6, 9\).*fitted on \(1, 6, 8\)"):
        fitted.predict(_with(X, audio=np.zeros((48, 1, 6, 9), np.float32)))
    with pytest.raises(ValueError, match="different lengths"):
        FusionClassifier(**TINY).fit(_with(X, text=X["text"][:10]), y)
    with pytest.raises(ValueError, match="one label per sample"):
        FusionClassifier(**TINY).fit(X, y[:10])


def test_nan_inputs(fitted, data):
    X, y, _ = data
    bad = X["text"].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"X\['text'\] contains NaN"):
        FusionClassifier(**TINY).fit(_with(X, text=bad), y)
    with pytest.raises(ValueError, match=r"X\['text'\] contains NaN"):
        fitted.predict_proba(_with(X, text=bad))


def test_labels_never_seen_in_fit(fitted, data):
    X, y, _ = data
    y_bad = y.copy()
    y_bad[0] = "NEU"
    with pytest.raises(ValueError, match=r"\['NEU'\] never seen in fit"):
        fitted.score(X, y_bad)
    with pytest.raises(ValueError, match=r"\['NEU'\] never seen in fit"):
        clone(fitted).fit(X, y).partial_fit(X, y_bad)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(class_weight="auto"), "class_weight"),
        (dict(class_weight={"XXX": 2.0}), r"class_weight has labels \['XXX'\]"),
        (dict(validation_fraction=1.5), "validation_fraction"),
        (dict(patience=0), "patience"),
        (dict(early_stopping="yes"), "early_stopping"),
        (dict(linear_C=-1.0), "linear_C"),
        (dict(module__modalities=("audio", "smell")), "module__modalities"),
    ],
)
def test_bad_parameters(data, params, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        FusionClassifier(**TINY, **params).fit(X, y)


def test_unfitted_predict_raises(data):
    X, _, _ = data
    with pytest.raises(Exception, match="not initialized|not fitted"):
        FusionClassifier().predict(X)
    with pytest.raises(AttributeError, match="not fitted"):
        FusionClassifier().classes_


def test_groups_shape_mismatch(data):
    X, y, groups = data
    with pytest.raises(ValueError, match="groups must have shape"):
        FusionClassifier(**TINY).fit(X, y, groups=groups[:5])


def test_batched_inference_iterator_matches_skorch_per_sample_loader(fitted, data):
    from torch.utils.data import BatchSampler

    X, _, _ = data
    iterator = fitted.get_iterator(fitted.get_dataset(fitted._validate_X(X, reset=False)))
    assert isinstance(iterator.sampler, BatchSampler)  # whole batches, no per-sample collation
    # Same numbers as one pass of the bare module over all clips, in the same order.
    with torch.no_grad():
        tensors = {m: torch.as_tensor(np.asarray(X[m])) for m in fitted.modalities_}
        expected = torch.softmax(fitted.module_(**tensors), dim=1).numpy()
    np.testing.assert_allclose(fitted.predict_proba(X), expected, rtol=1e-5, atol=1e-6)


def test_product_fusion_trains_each_stream_on_its_own_loss(data):
    X, y, _ = data
    clf = FusionClassifier(**{**TINY, "module__fusion": "product"}).fit(X, y)
    assert not hasattr(clf.module_, "stream_log_probs_")  # taken by the loss, no graph kept
    clf.module_.train()
    batch = {k: torch.as_tensor(np.asarray(v[:8]), dtype=torch.float32) for k, v in X.items()}
    y_enc = torch.as_tensor(clf.label_encoder_.transform(y[:8]))
    with torch.no_grad():
        y_pred = clf.module_(**batch)
        per_stream = dict(clf.module_.stream_log_probs_)
        loss = clf.get_loss(y_pred, y_enc, training=True)
    expected = sum(torch.nn.functional.nll_loss(lp, y_enc) for lp in per_stream.values())
    assert torch.allclose(loss, expected) and len(per_stream) == len(clf.modalities_)
    # Without the per-stream outputs (evaluation mode) it is the cross-entropy of the fused output.
    clf.module_.eval()
    with torch.no_grad():
        fused = clf.get_loss(clf.module_(**batch), y_enc)
    assert torch.allclose(fused, torch.nn.functional.cross_entropy(clf.module_(**batch), y_enc))


def test_skorch_bookkeeping_is_not_a_parameter(fitted):
    # skorch keeps the names of extra keyword arguments in `_params_to_validate`; it is no user
    # setting, so it stays out of get_params (GridSearchCV's valid names), the repr and clones.
    clf = FusionClassifier(module__dropout=0.1)
    assert "_params_to_validate" not in clf.get_params() and "_params_to_validate" not in repr(clf)
    assert clone(clf).get_params()["module__dropout"] == 0.1
    assert "_params_to_validate" not in fitted.get_params(deep=False)


def test_fixed_video_front_is_computed_once_per_fit_with_the_same_result(data, monkeypatch):
    # The HOG stream's weight-free front (describe) gives the same numbers in every epoch, so
    # fit computes it once; training on the description must equal training on the frames.
    X, y, _ = data
    params = dict(TINY, max_epochs=3, module__modalities=("audio", "video"))
    fast = FusionClassifier(**params).fit(X, y)
    stream_type = type(fast.module_.streams["video"])
    calls = []
    describe = stream_type.describe
    monkeypatch.setattr(stream_type, "describe", lambda self, x: calls.append(len(x)) or describe(self, x))
    FusionClassifier(**params).fit(X, y)
    assert sum(calls) == len(y)  # one pass over the training clips, not one per epoch
    monkeypatch.setattr(FusionClassifier, "_described", lambda self, X: X)
    slow = FusionClassifier(**params).fit(X, y)
    np.testing.assert_allclose(fast.predict_proba(X), slow.predict_proba(X), atol=1e-6)


def test_linear_experts_are_the_logistic_regressions_of_the_clip_statistics(data):
    # The fitted expert inside the network must give exactly what scikit-learn's standardised
    # logistic regression gives on the same statistics.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, _ = data
    clf = FusionClassifier(**dict(TINY, module__linear_experts=("audio", "video"), linear_C=0.5)).fit(X, y)
    net = clf.module_
    for name in ("audio", "video"):
        x = torch.as_tensor(X[name])
        x = x.float() / 255 if name == "video" else x
        with torch.no_grad():
            statistics = net.linear_expert_features(name, x)
            ours = torch.softmax(statistics @ getattr(net, f"linear_{name}_weight").T
                                 + getattr(net, f"linear_{name}_bias"), dim=1).numpy()
        reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
        reference.fit(statistics.numpy().astype(np.float64), clf.label_encoder_.transform(y))
        np.testing.assert_allclose(ours, reference.predict_proba(statistics.numpy().astype(np.float64)), atol=1e-3)
    # The audio cue is planted: the audio expert alone already separates the classes.
    assert np.mean(clf.predict(X) == y) == 1.0
    with pytest.raises(ValueError, match="linear_C"):
        FusionClassifier(**dict(TINY, linear_C=0)).fit(X, y)
