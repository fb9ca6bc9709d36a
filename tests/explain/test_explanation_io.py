"""Explanation.save / Explanation.load (and the module functions): a safe round trip."""

import numpy as np
import pytest
from report._report_fakes import make_explanation  # tests/ is on sys.path (pytest rootdir insertion)

from mmemotion.explain import Explanation, load_explanation, save_explanation


def test_round_trip_keeps_arrays_dicts_lists_and_warnings(tmp_path):
    original = make_explanation(Explanation, n=3)
    original.warnings = ["Chance alarm: example"]
    path = original.save(tmp_path / "e.npz")
    loaded = Explanation.load(path)
    for name in ("proba", "shapley_values", "audio_maps", "frames", "target_class"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    assert loaded.clip_ids == original.clip_ids and loaded.warnings == original.warnings
    assert set(loaded.modality_shares) == set(original.modality_shares)
    assert repr(loaded) == repr(original)
    with pytest.raises(FileExistsError):
        save_explanation(original, path)
    save_explanation(original, path, overwrite=True)
    assert load_explanation(path).clip_ids == original.clip_ids


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
