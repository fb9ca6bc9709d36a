"""examples/grid_search.py runs end to end with its fast settings."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "grid_search.py"


@pytest.mark.slow
def test_grid_search_example_fast(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--fast", "--work", str(tmp_path)])
    namespace = runpy.run_path(str(EXAMPLE), run_name="grid_search_example")
    search, result = namespace["main"]()
    out = capsys.readouterr().out
    assert "actor-grouped folds" in out and "optimism of the random split" in out
    assert len(search.cv_results_["params"]) == 4
    assert set(result) >= {"random", "actor", "optimism"}
