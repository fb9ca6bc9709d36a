"""Explanation.save / Explanation.load (and the module functions): a safe round trip."""

import dataclasses
import json

import numpy as np
import pytest
from report._report_fakes import make_explanation  # tests/ is on sys.path (pytest rootdir insertion)

from mmemotion.explain import Explanation, load_explanation, save_explanation
from mmemotion.modalities import get_modality
from mmemotion.report._serialize import to_jsonable


def test_round_trip_keeps_arrays_dicts_lists_and_warnings(tmp_path):
    original = make_explanation(Explanation, n=3)
    original.warnings = ["Chance alarm: example"]
    path = original.save(tmp_path / "e.npz")
    loaded = Explanation.load(path)
    for name in ("proba", "shapley_values", "target_class"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    for field in ("maps", "display"):
        for m in ("audio", "video"):
            np.testing.assert_array_equal(getattr(loaded, field)[m], getattr(original, field)[m])
    assert loaded.display["text"] == original.display["text"]  # per clip, a list of words
    for a, b in zip(loaded.maps["text"], original.maps["text"], strict=True):  # per clip, one value a word
        np.testing.assert_array_equal(a, b)
    assert loaded.clip_ids == original.clip_ids and loaded.warnings == original.warnings
    assert set(loaded.modality_shares) == set(original.modality_shares)
    assert repr(loaded) == repr(original)
    with pytest.raises(FileExistsError):
        save_explanation(original, path)
    save_explanation(original, path, overwrite=True)
    assert load_explanation(path).clip_ids == original.clip_ids


#: The fields in which files saved before the modality registry kept each modality's data.
LEGACY_FIELDS = {"audio": ("audio_maps", "mfcc"), "video": ("video_maps", "frames"),
                 "text": ("text_word_attributions", "words")}


def _save_in_the_old_layout(exp, path):
    """save_explanation as it was: per-modality fields, arrays under a:field, d:field:key, l:field:index."""
    fields = {f.name: getattr(exp, f.name) for f in dataclasses.fields(exp) if f.name not in ("maps", "display")}
    for m, (map_field, display_field) in LEGACY_FIELDS.items():
        fields[map_field], fields[display_field] = exp.maps.get(m), exp.display.get(m)
    arrays, header = {}, {}
    for name, value in fields.items():
        if isinstance(value, np.ndarray):
            arrays[f"a:{name}"] = value.astype(str) if value.dtype == object else value
        elif isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
            arrays.update({f"d:{name}:{key}": array for key, array in value.items()})
        elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
            arrays.update({f"l:{name}:{i:06d}": array for i, array in enumerate(value)})
        else:
            header[name] = to_jsonable(value)
    np.savez_compressed(path, header=np.array(json.dumps(header)), **arrays)


def test_files_of_the_previous_layout_load_into_maps_and_display(tmp_path):
    original = make_explanation(Explanation, n=3)
    assert {m: get_modality(m).explanation.legacy_fields for m in LEGACY_FIELDS} == LEGACY_FIELDS
    _save_in_the_old_layout(original, tmp_path / "old.npz")
    loaded = load_explanation(tmp_path / "old.npz")
    assert list(loaded.maps) == list(loaded.display) == list(original.modalities)
    for m in ("audio", "video"):
        np.testing.assert_array_equal(loaded.maps[m], original.maps[m])
        np.testing.assert_array_equal(loaded.display[m], original.display[m])
    assert loaded.display["text"] == original.display["text"]
    for a, b in zip(loaded.maps["text"], original.maps["text"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert repr(loaded) == repr(original)
    # A model without one of the modalities saved None in its fields: nothing is made up for it.
    audio_only = make_explanation(Explanation, n=3, modalities=("audio",))
    _save_in_the_old_layout(audio_only, tmp_path / "audio.npz")
    loaded = load_explanation(tmp_path / "audio.npz")
    assert list(loaded.maps) == list(loaded.display) == ["audio"]


def test_load_refuses_missing_and_foreign_files_without_running_code(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_explanation(tmp_path / "missing.npz")
    # A pickled object array: np.load(allow_pickle=False) refuses it, and so do we, clearly.
    bad = tmp_path / "bad.npz"
    np.savez(bad, header=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="not an explanation file"):
        load_explanation(bad)
    with pytest.raises(TypeError, match="expected an Explanation"):
        save_explanation({"proba": 1}, tmp_path / "x.npz")


def test_html_repr_is_a_small_escaped_table_with_the_warnings():
    exp = make_explanation(Explanation, n=3)
    exp.warnings = ["Chance alarm: <b>not</b> learnt"]
    html = exp._repr_html_()
    assert html.startswith("<div>") and "<table>" in html and len(html) < 3000
    assert "&lt;b&gt;not&lt;/b&gt;" in html and "<b>not" not in html
    for method in exp.modality_shares:
        assert method in html
    assert "3 clips" in repr(exp) and "warnings=1" in repr(exp)
