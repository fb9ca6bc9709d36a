"""The report draws each modality through its registry entry: a new one needs no report code."""

import ast
import re
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from markupsafe import Markup, escape

import mmemotion.report
from mmemotion.modalities import Modality, register_modality, unregister_modality
from mmemotion.report import render_report
from mmemotion.report._figures import modality_color

from ._report_fakes import HOSTILE, make_explanation, make_frame
from .test_report_render import section_html, strict_json


def _toy_gallery(display, attribution):
    """One clip of the toy modality: its values, each titled with its attribution."""
    cells = Markup(" ").join(Markup('<b title="{:.3f}">{}</b>').format(a, escape(str(v)))
                             for v, a in zip(display, attribution))
    return {"html": Markup('<p class="toy">') + cells + Markup("</p>"), "caption": "toy values",
            "numbers": [float(a) for a in attribution]}


def _toy_eda(frame):
    if "toy_value" not in frame:
        return None
    return {"title": "its values", "table": {"header": ["value", "clips"],
                                             "rows": sorted(frame["toy_value"].value_counts().items())}}


@pytest.fixture
def toy():
    """A fourth modality registered by this test file alone (nothing to fit: views only)."""
    entry = register_modality(Modality(name="toy", sample_ndim=1, make_transformer=None, make_stream=None,
                                       colour="#123456", gallery=_toy_gallery, eda=_toy_eda))
    yield entry
    unregister_modality("toy")


@pytest.fixture
def plain():
    """A registered modality without any report view."""
    yield register_modality(Modality(name="plain", sample_ndim=1, make_transformer=None, make_stream=None))
    unregister_modality("plain")


def _with_modality(explanation_cls, name, n):
    """An explanation of audio and ``name``: its per-clip display values and maps are made up."""
    rng = np.random.default_rng(1)
    explanation = make_explanation(explanation_cls, n=n, modalities=("audio", name))
    explanation.display[name] = [[f"v{i}", HOSTILE] for i in range(n)]
    explanation.maps[name] = [rng.normal(size=2) for _ in range(n)]
    return explanation


def test_a_toy_modality_is_drawn_by_its_own_views(tmp_path, explanation_cls, toy):
    n = 4
    explanation = _with_modality(explanation_cls, "toy", n)
    frame = make_frame().assign(toy_value=lambda f: np.arange(len(f)) % 3)
    html = render_report(tmp_path / "r.html", dataset=frame, explanation=explanation).read_text(encoding="utf-8")
    eda = section_html(html, "eda")
    assert 'id="toy"' in eda and "Toy: its values" in eda
    gallery = section_html(html, "gallery")
    assert gallery.count("toy: toy values") == n and gallery.count('<p class="toy">') == n
    # The view's markup is kept, the data it quotes stays escaped.
    assert "<script" not in gallery and escape(HOSTILE) in gallery
    assert "MFCC saliency" in gallery
    numbers = strict_json(tmp_path / "r.json")["sections"]
    assert all(len(clip["toy"]) == 2 for clip in numbers["gallery"]["clips"])
    assert set(numbers["modality-importance"]["mean_abs_shapley"]) == {"audio", "toy"}
    assert modality_color("toy") == "#123456"


def test_a_modality_without_views_is_left_out(tmp_path, explanation_cls, plain):
    n = 3
    explanation = _with_modality(explanation_cls, "plain", n)
    html = render_report(tmp_path / "r.html", dataset=make_frame(), explanation=explanation).read_text(encoding="utf-8")
    assert 'id="plain"' not in html
    gallery = section_html(html, "gallery")
    assert "plain:" not in gallery and "not available" not in gallery
    # It still counts in every importance measure.
    assert "<td>plain</td>" in section_html(html, "modality-importance")


def _strings_outside_docstrings(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}


def test_report_code_names_no_modality():
    """Per-modality behaviour lives in the registry entries, not in branches of the report."""
    package = Path(mmemotion.report.__file__).parent
    named = {path.name: _strings_outside_docstrings(path) & {"audio", "video", "text"}
             for path in sorted(package.glob("*.py"))}
    assert not any(named.values()), named
    # The template loops over modalities: no block of its own for any of them ("audio-visual" is
    # the raters' presentation, not a modality).
    template = (files("mmemotion.report.templates") / "report.html.j2").read_text(encoding="utf-8")
    assert not re.findall(r"\b(?:audio|video|text)\b(?!-visual)", template, re.I)


def test_eda_says_which_media_are_missing(tmp_path):
    # make_frame() points every clip at files that do not exist: a folder copied without its media.
    html = render_report(tmp_path / "r.html", dataset=make_frame()).read_text(encoding="utf-8")
    eda = section_html(html, "eda")
    for media in ("audio", "video"):
        assert f"not available because the {media} of every clip is missing" in eda
    # The text view reads clip names only; its table is there.
    assert "words the text stream reads" in eda and "don&#39;t forget a jacket" in eda
