"""Every script in examples/ runs to completion with its fast settings (MMEMOTION_FAST=1)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))


def test_the_documented_examples_exist():
    assert {"quickstart.py", "report.py", "single_modality_svm.py"} <= set(SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script, tmp_path):
    env = dict(os.environ, MMEMOTION_FAST="1", MPLBACKEND="Agg")
    # cwd is a scratch folder, so anything an example writes by default lands there.
    done = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    if script == "report.py":
        assert (tmp_path / "report.html").stat().st_size > 50_000
        assert (tmp_path / "report.json").is_file()
        assert "report: " in done.stdout
    if script == "grid_search.py":
        assert "actor-grouped folds" in done.stdout and "optimism of the random split" in done.stdout
    if script == "trust.py":
        # The female actors' cues were removed: the audit must name them.
        assert "largest gap: sex = Female" in done.stdout and "flagged: True" in done.stdout
        assert (tmp_path / "trust-report.html").is_file()
    if script in ("quickstart.py", "single_modality_svm.py"):
        assert "UAR" in done.stdout
