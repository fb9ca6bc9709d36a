"""The report templates ship inside the wheel: build it, install it alone, render a report.

The fresh venv has no site packages of its own and gets the wheel with ``--no-deps``; the heavy
dependencies (numpy, matplotlib, jinja2, ...) come from the test venv through a ``.pth`` line.
A plain path line in a ``.pth`` file is appended to ``sys.path`` without processing the
``.pth`` files inside it (``site`` docs), so the test venv's editable-install finder is NOT
activated: ``import mmemotion`` can only find the installed wheel, which the test checks.
"""

import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{command[:4]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_wheel_ships_templates_and_renders(tmp_path):
    # Build from a copy so that setuptools' build/ and *.egg-info never touch the checkout.
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "tests", "build", "dist", "*.egg-info", "demo-output", "__pycache__", "benchmarks",
        "docs", "examples", ".mmemotion_cache", ".pytest_cache"))
    # --no-isolation builds with the setuptools already installed here: no network needed. The
    # dependency check is skipped because setuptools >= 70.1 builds wheels itself, without the
    # "wheel" distribution that pyproject still lists.
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check", "--outdir", str(tmp_path / "dist"), str(source)])
    wheel = next((tmp_path / "dist").glob("mmemotion-*.whl"))

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet",
          str(wheel)])
    new_site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    (new_site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    script = textwrap.dedent("""
        import json, sys
        import mmemotion, mmemotion.report.templates as templates
        from importlib.resources import files
        from mmemotion.evaluation import evaluate
        from mmemotion.report import render_report
        print("PACKAGE", mmemotion.__file__)
        print("TEMPLATES", sorted(p.name for p in files(templates).iterdir()))
        path = render_report("out/report.html", evaluation=evaluate(["ANG", "SAD", "HAP"], ["ANG", "SAD", "SAD"]),
                             title="from the wheel")
        print("HEAVY", sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "captum", "shap")))
    """)
    work = tmp_path / "work"  # not the checkout: the current directory is on sys.path
    work.mkdir()
    out = _run([str(python), "-c", script], cwd=work)
    package = Path(out.split("PACKAGE ")[1].splitlines()[0])
    assert package.is_relative_to(venv), f"imported {package}, not the installed wheel"
    for name in ("report.html.j2", "macros.html.j2", "style.css"):
        assert name in out.split("TEMPLATES ")[1].splitlines()[0]
    assert "HEAVY []" in out
    html = (work / "out" / "report.html").read_text(encoding="utf-8")
    assert "from the wheel" in html and 'id="evaluation"' in html and "data:image/png;base64," in html
