"""Pickle, joblib and the safe (JSON + safetensors) format of fitted pipelines."""

import json
import pickle
import zipfile

import joblib
import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from mmemotion.models import FusionClassifier, load_model, save_model
from mmemotion.models import make_default_pipeline

from ._helpers import TINY, TINY_PIPELINE, planted


@pytest.fixture(scope="module")
def fitted_pipeline(synthetic_bunch):
    X, y = synthetic_bunch.frame, synthetic_bunch.target
    pipe = make_default_pipeline(**TINY_PIPELINE, class_weight="balanced")
    # Standardised MFCCs give the audio step fitted arrays (mean_, scale_) to carry over.
    pipe.set_params(features__audio__standardize=True)
    return pipe.fit(X, y)


def test_safe_format_round_trip_gives_identical_predictions(fitted_pipeline, synthetic_bunch, tmp_path):
    X = synthetic_bunch.frame.iloc[:12]
    path = save_model(fitted_pipeline, tmp_path / "model.mmemotion")
    restored = load_model(path)
    np.testing.assert_array_equal(restored.predict_proba(X), fitted_pipeline.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), fitted_pipeline.predict(X))
    audio = restored.named_steps["features"].transformers_["audio"]
    np.testing.assert_array_equal(audio.mean_, fitted_pipeline.named_steps["features"].transformers_["audio"].mean_)
    clf = restored.named_steps["clf"]
    assert clf.get_params()["device"] == "auto" and clf.class_weight == "balanced"
    assert not clf.module_.training
    assert len(clf.history) == TINY_PIPELINE["max_epochs"]


def test_safe_format_contents_hold_no_pickle(fitted_pipeline, tmp_path):
    path = save_model(fitted_pipeline, tmp_path / "model.mmemotion")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["model.json", "model.safetensors"]
        doc = json.loads(zf.read("model.json"))
    assert doc["format"] == "mmemotion-model"
    text = json.dumps(doc)
    assert "mmemotion.models.FusionClassifier" in text and '"ANG"' in text


def test_refuses_to_overwrite(fitted_pipeline, tmp_path):
    path = save_model(fitted_pipeline, tmp_path / "model.mmemotion")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(fitted_pipeline, path)
    save_model(fitted_pipeline, path, overwrite=True)


def test_load_rejects_classes_outside_the_allow_list(tmp_path):
    X, y, _ = planted()
    path = save_model(FusionClassifier(**TINY).fit(X, y), tmp_path / "clf.mmemotion")
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("model.json"))
        tensors = zf.read("model.safetensors")
    doc["model"]["__net__"]["params"]["module"] = {"__class__": "os.system"}
    evil = tmp_path / "evil.mmemotion"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("model.json", json.dumps(doc))
        zf.writestr("model.safetensors", tensors)
    with pytest.raises(ValueError, match="not on the allow-list"):
        load_model(evil)


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "model.mmemotion"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an mmemotion model file"):
        load_model(bad)


def test_bare_classifier_and_unfitted_models(tmp_path):
    X, y, _ = planted()
    clf = FusionClassifier(**TINY).fit(X, y)
    restored = load_model(save_model(clf, tmp_path / "clf.mmemotion"))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert restored.classes_.tolist() == clf.classes_.tolist()
    unfitted = load_model(save_model(FusionClassifier(**TINY), tmp_path / "unfitted.mmemotion"))
    assert unfitted.get_params()["module__audio_widths"] == (4,) and not hasattr(unfitted, "module_")


def test_unsupported_parts_are_named(tmp_path):
    X, y, _ = planted()
    from skorch.callbacks import Checkpoint

    clf = FusionClassifier(**TINY, callbacks=[("cp", Checkpoint(dirname=str(tmp_path)))])
    with pytest.raises(ValueError, match=r"model\.callbacks.*joblib\.dump"):
        save_model(clf, tmp_path / "clf.mmemotion")
    with pytest.raises(ValueError, match="does not know"):
        from sklearn.decomposition import PCA

        save_model(Pipeline([("pca", PCA())]), tmp_path / "pca.mmemotion")


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_and_joblib_of_the_whole_pipeline(fitted_pipeline, synthetic_bunch, tmp_path, how):
    X = synthetic_bunch.frame.iloc[:12]
    if how == "pickle":
        restored = pickle.loads(pickle.dumps(fitted_pipeline))
    else:
        joblib.dump(fitted_pipeline, tmp_path / "pipe.joblib")
        restored = joblib.load(tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(restored.predict_proba(X), fitted_pipeline.predict_proba(X))


def _rewrite(path, out, edit):
    """Copy a model file with model.json replaced by ``edit(doc)`` (any JSON value)."""
    with zipfile.ZipFile(path) as zf:
        doc = json.loads(zf.read("model.json"))
        tensors = zf.read("model.safetensors")
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("model.json", json.dumps(edit(doc)))
        zf.writestr("model.safetensors", tensors)
    return out


def _set(doc, keys, value):
    target = doc
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return doc


@pytest.mark.parametrize(
    "edit, match",
    [
        # A JSON list raised AttributeError from doc.get before (issue 13).
        (lambda doc: [doc], "not a JSON object"),
        (lambda doc: 42, "not a JSON object"),
        (lambda doc: _set(doc, ["format_version"], "1"), "format_version='1' is not an integer"),
        (lambda doc: _set(doc, ["model", "__net__", "params"], [1, 2]), "does not have the structure"),
        (lambda doc: _set(doc, ["model", "__net__", "class"], 7), "does not have the structure|allow-list"),
        (lambda doc: _set(doc, ["model"], {"__net__": {}}), "does not have the structure"),
        (lambda doc: _set(doc, ["model", "__net__", "fitted", "module_state"], {"__dict__": []}),
         "does not have the structure"),
    ],
)
def test_damaged_model_json_gives_a_clear_error(tmp_path, edit, match):
    X, y, _ = planted()
    path = save_model(FusionClassifier(**TINY).fit(X, y), tmp_path / "clf.mmemotion")
    with pytest.raises(ValueError, match=match):
        load_model(_rewrite(path, tmp_path / "damaged.mmemotion", edit))


def test_truncated_and_member_renamed_files_give_a_clear_error(tmp_path):
    X, y, _ = planted()
    path = save_model(FusionClassifier(**TINY).fit(X, y), tmp_path / "clf.mmemotion")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.mmemotion"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not an mmemotion model file"):
        load_model(truncated)
    # Members under other names (e.g. a path-traversal name) are never read: model.json is missing.
    traversal = tmp_path / "traversal.mmemotion"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(traversal, "w") as zf:
        zf.writestr("../../model.json", src.read("model.json"))
        zf.writestr("model.safetensors", src.read("model.safetensors"))
    with pytest.raises(ValueError, match="not an mmemotion model file"):
        load_model(traversal)
    assert not (tmp_path.parent / "model.json").exists()
