"""save_explanation / load_explanation keep every field: arrays, dicts of arrays, lists of arrays, words.

(Moved from tests/test_cli.py when the CLI's explanation helpers went to mmemotion.explain.)
"""

import dataclasses

import numpy as np
import pytest
from report._report_fakes import make_explanation  # tests/ is on sys.path (pytest rootdir insertion)

from mmemotion.explain import Explanation, load_explanation, save_explanation


def _assert_same(loaded, original, where):
    if isinstance(loaded, np.ndarray) or isinstance(original, np.ndarray):
        np.testing.assert_array_equal(np.asarray(loaded), np.asarray(original), err_msg=where)
    elif isinstance(original, dict):
        assert list(loaded) == list(original), where
        for key in original:
            _assert_same(loaded[key], original[key], f"{where}[{key!r}]")
    elif isinstance(original, (list, tuple)):
        assert len(loaded) == len(original), where
        for k, (a, b) in enumerate(zip(loaded, original)):
            _assert_same(a, b, f"{where}[{k}]")
    else:
        assert loaded == original, where


def test_every_field_survives_the_round_trip(tmp_path):
    original = make_explanation(Explanation, n=3)
    path = save_explanation(original, tmp_path / "e.npz")
    loaded = load_explanation(path)
    for field in dataclasses.fields(Explanation):
        _assert_same(getattr(loaded, field.name), getattr(original, field.name), field.name)
    with pytest.raises(FileExistsError):
        save_explanation(original, path)
