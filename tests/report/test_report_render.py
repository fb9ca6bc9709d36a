import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mmemotion.datasets._codes import EMOTIONS
from mmemotion.evaluation import evaluate
from mmemotion.report import SECTIONS, render_report

from ._report_fakes import HOSTILE, make_evaluation, make_explanation, make_frame, make_quality

SECTION_IDS = [sid for sid, _ in SECTIONS]


def section_html(html, sid):
    """The HTML of one ``<section id=...>``."""
    match = re.search(rf'<section class="card" id="{re.escape(sid)}">(.*?)</section>', html, re.S)
    assert match, f"section {sid} missing"
    return match.group(1)


def strict_json(path):
    def reject(constant):
        raise ValueError(f"non-JSON constant {constant} in {path}")

    return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=reject)


def test_sections_in_order_with_real_figures(full_report):
    html = full_report.read_text(encoding="utf-8")
    found = re.findall(r'<section class="card" id="([^"]+)">', html)
    assert found == SECTION_IDS == ["overview", "eda", "quality", "evaluation", "calibration", "audit",
                                    "modality-importance", "gallery", "trust", "model-card"]
    # Each modality name is a section id too (the EDA sub-sections), per the shared naming rule.
    for modality in ("audio", "video", "text"):
        assert html.count(f'id="{modality}"') == 1
    for sid in SECTION_IDS:
        assert "not available because" not in section_html(html, sid), sid
    # Figures are inlined; nothing would be fetched.
    assert html.count('src="data:image/png;base64,') >= 17
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html
    assert 'http-equiv="Content-Security-Policy"' in html
    assert "actor-independent" in section_html(html, "overview")


def test_json_sidecar_holds_the_numbers(full_report, full_inputs):
    numbers = strict_json(full_report.with_suffix(".json"))
    sections = numbers["sections"]
    assert list(sections) == SECTION_IDS
    fusion = full_inputs["evaluation"]["fusion"]
    assert sections["evaluation"]["models"]["fusion"]["accuracy"] == pytest.approx(fusion["accuracy"])
    assert sections["overview"]["headline"]["macro-F1"] == pytest.approx(fusion["macro_f1"])
    assert sections["evaluation"]["models"]["fusion"]["confusion_matrix"] == fusion["confusion_matrix"]
    assert [row["epoch"] for row in sections["evaluation"]["history"]] == list(range(1, 9))
    assert sections["quality"]["n_excluded"] == 2
    explanation = full_inputs["explanation"]
    assert np.allclose(numbers["explanation"]["shapley_values"], explanation.shapley_values)
    assert sections["modality-importance"]["mean_abs_shapley"].keys() == {"audio", "video", "text"}
    assert sections["modality-importance"]["ablation_alone"] == explanation.ablation_alone
    rows = sections["trust"]["human_vs_model"]
    assert {(r["model"], r["presentation"]) for r in rows if r["matched"]} == {
        ("fusion", "multimodal"), ("audio", "voice"), ("video", "face"), ("baseline", "multimodal")}
    assert sections["model-card"]["versions"]["numpy"] == np.__version__
    # The page shows the same headline number as the sidecar.
    assert f"{100 * fusion['accuracy']:.1f}%" in section_html(full_report.read_text(encoding="utf-8"), "overview")


def test_held_out_analysis_is_rendered(full_report, full_inputs):
    html = full_report.read_text(encoding="utf-8")
    analysis = full_inputs["held_out"]
    sections = strict_json(full_report.with_suffix(".json"))["sections"]
    # Per-fold spread beside the pooled figures.
    evaluation = section_html(html, "evaluation")
    assert "per-fold spread" in evaluation and evaluation.count("1005, 1006") == 1
    assert [r["fold"] for r in sections["evaluation"]["folds"]["rows"]] == [0, 1, 2]
    # Calibration before and after, conformal coverage and per-emotion set sizes.
    calibration = section_html(html, "calibration")
    assert f"{analysis['calibration']['before']['ece']:.3f}" in calibration
    assert f"{analysis['calibration']['after']['ece']:.3f}" in calibration
    assert f"{100 * analysis['conformal']['coverage']:.1f}%" in calibration
    assert sections["calibration"]["conformal"]["per_class"].keys() == set(EMOTIONS)
    # The audit lists every attribute with intervals; the largest gap is named in trust too.
    audit = section_html(html, "audit")
    for heading in ("sex", "age band", "race", "ethnicity"):
        assert f"<h3>{heading}</h3>" in audit
    gap = analysis["audit"]["largest_gap"]
    assert "Largest demographic gap" in section_html(html, "trust")
    assert f"{gap['gap']:+.3f}" in section_html(html, "trust")
    # The gallery shows each explained clip's prediction set.
    gallery = section_html(html, "gallery")
    shown = sections["gallery"]["clips"]
    assert gallery.count("90.0% prediction set") == len(shown)
    assert all(item["set"] == analysis["sets"][item["clip_id"]] for item in shown)


def test_models_are_shown_beside_the_baseline_and_chance(full_report, full_inputs):
    html = section_html(full_report.read_text(encoding="utf-8"), "evaluation")
    test = full_inputs["evaluation"]["fusion"]
    support = [m["support"] for m in test["per_class"].values()]
    chance = max(support) / sum(support)
    assert re.search(rf"chance \(most frequent class\)</td><td class=\"n\">{chance:.3f}", html), html[-2000:]
    assert "make_baseline_pipeline" in html and "probabilities multiplied" in html
    numbers = strict_json(full_report.with_suffix(".json"))["sections"]["evaluation"]
    assert numbers["chance_accuracy"] == pytest.approx(chance)
    assert set(numbers["models"]) == {"fusion", "audio", "video", "baseline"}


def test_refuses_to_overwrite(tmp_path, full_inputs):
    path = tmp_path / "r.html"
    path.write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        render_report(path, evaluation=full_inputs["evaluation"])
    assert path.read_text() == "mine"
    assert not (tmp_path / "r.json").exists()
    # An existing sidecar alone also blocks, so a report never pairs with someone else's JSON.
    path.unlink()
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(FileExistsError):
        render_report(path, evaluation=full_inputs["evaluation"])
    assert not path.exists()
    render_report(path, evaluation=full_inputs["evaluation"], overwrite=True)
    assert "accuracy" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]  # no temporaries left


def test_rejects_non_html_path(tmp_path):
    with pytest.raises(ValueError, match=r"\.html"):
        render_report(tmp_path / "report.pdf")


def test_nothing_given_every_section_says_why(tmp_path):
    html = render_report(tmp_path / "empty.html").read_text(encoding="utf-8")
    for sid in SECTION_IDS[:-1]:
        assert "not available because" in section_html(html, sid), sid
    # The model card still lists the package versions.
    assert "scikit-learn" in section_html(html, "model-card")
    numbers = strict_json(tmp_path / "empty.json")
    assert numbers["sections"]["gallery"]["available"] is False
    assert "explanation" in numbers["sections"]["gallery"]["reason"]


def test_hostile_clip_names_are_escaped(tmp_path, explanation_cls):
    frame = make_frame(hostile=True)
    explanation = make_explanation(explanation_cls, n=4, clip_ids=[HOSTILE] * 4)
    explanation.warnings = [HOSTILE]
    html = render_report(
        tmp_path / "r.html",
        title=HOSTILE,
        dataset={"frame": frame, "quality": make_quality(hostile=True)},
        evaluation=make_evaluation(evaluate, frame),
        explanation=explanation,
        model_card={HOSTILE: {HOSTILE: HOSTILE}},
    ).read_text(encoding="utf-8")
    assert "<script" not in html
    assert "alert(1)</script>" not in html
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;é漢字🙂"
    # title (x2), quality table, gallery headings (x4), alarm, model card (x3)
    assert html.count(escaped) >= 10
    numbers = strict_json(tmp_path / "r.json")
    assert numbers["title"] == HOSTILE and HOSTILE in numbers["explanation"]["clip_ids"]


def test_missing_votes(tmp_path, explanation_cls):
    frame = make_frame(votes=False)
    evaluation = make_evaluation(evaluate, frame)
    assert all(ev["human"] == {} for ev in evaluation.values())
    html = render_report(tmp_path / "r.html", dataset={"frame": frame, "quality": make_quality()},
                         evaluation=evaluation,
                         explanation=make_explanation(explanation_cls, n=3)).read_text(encoding="utf-8")
    trust = section_html(html, "trust")
    assert "not available because the evaluated clips have no CREMA-D rater votes" in trust
    assert "Sanity checks" in trust and "randomisation_spearman" in trust
    assert "human raters" not in section_html(html, "overview")
    assert strict_json(tmp_path / "r.json")["sections"]["trust"]["human_vs_model"] == []


def test_single_modality_explanation(tmp_path, explanation_cls, frame):
    explanation = make_explanation(explanation_cls, n=5, modalities=("audio",))
    html = render_report(tmp_path / "r.html", explanation=explanation,
                         evaluation={"audio": evaluate(explanation.y_true, explanation.y_pred)},
                         ).read_text(encoding="utf-8")
    importance = section_html(html, "modality-importance")
    assert "single modality (audio)" in importance
    gallery = section_html(html, "gallery")
    assert "MFCC saliency" in gallery and "sampled frames" not in gallery and "words coloured" not in gallery
    # The audio-only model is the headline when no fusion model is given.
    assert "<b>audio</b>" in section_html(html, "overview")


def test_explanation_without_truth_or_optional_parts(tmp_path, explanation_cls):
    explanation = make_explanation(explanation_cls, n=4, with_truth=False)
    explanation.shapley_values = explanation.shapley_base = explanation.shapley_full = None
    explanation.ablation, explanation.sanity = {}, {}
    html = render_report(tmp_path / "r.html", explanation=explanation).read_text(encoding="utf-8")
    gallery = section_html(html, "gallery")
    assert "no true labels were given" in gallery and "badge" not in gallery
    assert "modality Shapley" not in gallery
    assert "without the \"sanity\" method" in section_html(html, "trust").replace("&#34;", '"')


def test_split_overlap_raises_the_leakage_alarm(tmp_path):
    html = render_report(tmp_path / "r.html",
                         split={"protocol": "random", "train_actors": [1, 2, 3], "test_actors": [3, 4]},
                         ).read_text(encoding="utf-8")
    assert 'class="alarm"' in section_html(html, "trust")
    assert "Actors [3] appear in both" in section_html(html, "trust")


def test_report_never_imports_torch_captum_or_shap(tmp_path, media):
    """Render in a fresh interpreter and look at sys.modules afterwards."""
    here = Path(__file__).parent
    script = textwrap.dedent(f"""
        import importlib.util, sys
        sys.path.insert(0, {str(here)!r})
        # Load the Explanation dataclass by file: importing mmemotion.explain would pull in torch.
        spec = importlib.util.spec_from_file_location(
            "_explanation", {str(Path(__import__('mmemotion').__file__).parent / 'explain' / '_explanation.py')!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        from _report_fakes import make_explanation, make_frame, make_quality, make_evaluation
        from mmemotion.evaluation import evaluate
        from mmemotion.report import render_report
        frame = make_frame(media={tuple(media)!r})
        render_report({str(tmp_path / "r.html")!r}, dataset={{"frame": frame, "quality": make_quality()}},
                      evaluation=make_evaluation(evaluate, frame),
                      explanation=make_explanation(module.Explanation, n=3))
        heavy = sorted(set(m.split(".")[0] for m in sys.modules) & set(("torch", "captum", "shap", "skorch")))
        print("HEAVY", heavy)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "HEAVY []" in done.stdout, done.stdout
    assert (tmp_path / "r.html").stat().st_size > 100_000


def test_eda_from_a_loaded_synthetic_dataset(tmp_path, synthetic_bunch):
    """The real loader's Bunch (FLV video, WAV audio, demographics, votes) feeds the EDA."""
    html = render_report(tmp_path / "r.html", dataset=synthetic_bunch).read_text(encoding="utf-8")
    eda = section_html(html, "eda")
    assert "not available because" not in eda
    assert eda.count("data:image/png;base64,") == 4  # distributions, demographics, waveform+MFCC, frames
    numbers = strict_json(tmp_path / "r.json")["sections"]
    assert sum(numbers["eda"]["emotion_counts"].values()) == len(synthetic_bunch.frame)
    assert numbers["overview"]["n_actors"] == synthetic_bunch.frame["actor_id"].nunique()
    assert numbers["quality"]["n_excluded"] == len(synthetic_bunch.quality)
