import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmemotion import cli, experiment
from mmemotion._cli_parser import _fraction_or_count
from mmemotion.explain import load_explanation
from mmemotion.report import SECTIONS

COMMANDS = ("demo", "synth", "fit", "predict", "explain", "report")


def run(*argv):
    return cli.main([str(a) for a in argv])


def test_help_lists_every_command():
    done = subprocess.run([sys.executable, "-m", "mmemotion.cli", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    for command in COMMANDS:
        assert command in done.stdout
    # The console script declared in pyproject is installed beside the interpreter.
    script = Path(sys.executable).parent / "mmemotion"
    done = subprocess.run([str(script), "demo", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--out" in done.stdout and "--quick" in done.stdout
    # The sizes the help announces are the ones the demo uses.
    flat = " ".join(done.stdout.split())
    for key, text in (("n_actors", "synthetic actors"), ("max_epochs", "training epochs")):
        assert f"{text} (default {cli.DEMO_SIZES['default'][key]}; quick {cli.DEMO_SIZES['quick'][key]})" in flat


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "--data", "{tmp}/missing", "--out", "{tmp}/m.mmemotion"], "is not a folder"),
        (["predict", "--model", "{tmp}/missing.mmemotion", "--data", "{tmp}", "--out", "{tmp}/p.csv"],
         "does not exist"),
        (["report", "--model", "{tmp}/missing.mmemotion", "--data", "{tmp}", "--out", "{tmp}/r.html"],
         "does not exist"),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, capsys, argv, message):
    status = run(*[a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert status == 1
    assert message in err and "Traceback" not in err
    assert err.startswith(f"mmemotion {argv[0]}: error:")


def test_nothing_overwritten_without_force(tmp_path, capsys):
    mine = tmp_path / "report.html"
    mine.write_text("my own file")
    status = run("demo", "--quick", "--out", tmp_path)
    assert status == 1
    assert "--force" in capsys.readouterr().err
    assert mine.read_text() == "my own file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_synth_then_refuse_then_force(tmp_path, capsys):
    out = tmp_path / "synth"
    assert run("synth", "--out", out, "--n-actors", 2, "--clips-per-actor", 6, "--duration", 0.4, "-q") == 0
    wavs = sorted((out / "AudioWAV").glob("*.wav"))
    assert len(wavs) == 12 and len(list((out / "VideoFlash").glob("*.flv"))) == 12
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    (out / "my_notes.txt").write_text("not part of the set")
    assert run("synth", "--out", out, "--n-actors", 3, "--clips-per-actor", 6, "-q") == 1
    err = capsys.readouterr().err
    assert err == f"mmemotion synth: error: {out} already exists; pass --force to replace it or choose another --out.\n"
    # Untouched: the same files, not rewritten.
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "my_notes.txt"} == before
    assert (out / "my_notes.txt").read_text() == "not part of the set"
    # --force replaces the folder as a whole (nothing of the old one is kept) with a valid new set.
    assert run("synth", "--out", out, "--n-actors", 3, "--clips-per-actor", 6, "--duration", 0.4, "--force",
               "-q") == 0
    assert not (out / "my_notes.txt").exists()
    replaced = sorted((out / "AudioWAV").glob("*.wav"))
    assert len(replaced) == 18 and len(list((out / "VideoFlash").glob("*.flv"))) == 18
    assert {p.name[:4] for p in replaced} == {"1001", "1002", "1003"}
    assert all(p.stat().st_mtime_ns > before[p.name] for p in replaced if p.name in before)
    from mmemotion.datasets import load_crema_d

    assert sorted(load_crema_d(out).frame["actor_id"].unique()) == [1001, 1002, 1003]
    # --force replaces a synthetic folder, but never a folder that is not one.
    other = tmp_path / "holiday"
    other.mkdir()
    (other / "photo.jpg").write_bytes(b"x")
    assert run("synth", "--out", other, "--n-actors", 2, "--clips-per-actor", 6, "--force", "-q") == 1
    assert "refusing to delete" in capsys.readouterr().err and (other / "photo.jpg").exists()
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


class _FixedModel:
    """Stands in for a fitted pipeline (``model[-1].classes_``, ``predict_proba``) with fixed outputs."""

    def __init__(self, proba):
        self.proba, self.classes_ = np.asarray(proba), np.array(["ANG", "SAD"])

    def __getitem__(self, index):
        return self

    def predict_proba(self, X):
        return self.proba


def test_predict_force_replaces_the_csv_and_its_absence_keeps_it(tmp_path, capsys, monkeypatch):
    import pandas as pd
    from sklearn.utils import Bunch

    frame = pd.DataFrame({"clip_id": ["1001_DFA_ANG_XX", "1002_DFA_SAD_XX"], "actor_id": [1001, 1002],
                          "emotion": ["ANG", "SAD"]})
    loads = []

    def load(model):
        def fake(args):
            loads.append(model)
            return model, {}, Bunch(frame=frame)
        return fake

    out = tmp_path / "p.csv"
    argv = ("predict", "--model", tmp_path / "m.mmemotion", "--data", tmp_path, "--out", out, "-q")
    monkeypatch.setattr(cli, "_load_model_and_data", load(_FixedModel([[0.9, 0.1], [0.2, 0.8]])))
    assert run(*argv) == 0
    first = out.read_bytes()
    assert pd.read_csv(out)["predicted"].tolist() == ["ANG", "SAD"]
    capsys.readouterr()

    monkeypatch.setattr(cli, "_load_model_and_data", load(_FixedModel([[0.3, 0.7], [0.6, 0.4]])))
    assert run(*argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mmemotion predict: error: {out} already exists") and "--force" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out.read_bytes() == first and len(loads) == 1  # refused before the model was even loaded

    assert run(*argv, "--force") == 0
    table = pd.read_csv(out)
    assert out.read_bytes() != first
    assert table["predicted"].tolist() == ["SAD", "ANG"] and table["proba_SAD"].tolist() == [0.7, 0.4]
    assert table["clip_id"].tolist() == frame["clip_id"].tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]  # no temporary file left beside it


def _probe():
    from mmemotion.models import make_default_pipeline

    return make_default_pipeline()


def test_grid_and_set_parsing():
    from mmemotion._cli_params import parse_assignments

    grid = parse_assignments(["lr=0.001,0.01", "module__dropout=0.1,0.3", "clf__max_epochs=2,4",
                              "class_weight=none,balanced", "module__video_widths=(8,16),(16,32)"],
                             "--grid", _probe(), grid=True)
    assert grid == {"clf__lr": [0.001, 0.01], "clf__module__dropout": [0.1, 0.3], "clf__max_epochs": [2, 4],
                    "clf__class_weight": [None, "balanced"], "clf__module__video_widths": [(8, 16), (16, 32)]}
    fixed = parse_assignments(["module__video_widths=(8,16)", "module__audio_widths=8,16", "optimizer__weight_decay=0.01",
                               "features__audio__n_mfcc=20"], "--set", _probe(), grid=False)
    assert fixed == {"clf__module__video_widths": (8, 16), "clf__module__audio_widths": (8, 16),
                     "clf__optimizer__weight_decay": 0.01, "features__audio__n_mfcc": 20}


@pytest.mark.parametrize("option, value, message", [
    # Issue 15, item 3: each of these once printed a traceback, some after fitting had started.
    ("--set", "module__dropuot=0.2", r"--set module__dropuot: no such parameter\. Did you mean module__dropout"),
    ("--grid", "lr=0.001,abc", r"--grid lr='abc': this parameter takes a number"),
    ("--set", "lr=fast", r"--set lr='fast': this parameter takes a number"),
    ("--set", "module__video_widths=(8,fast)", r"module__video_widths=\(8, 'fast'\): this parameter takes comma-separated numbers"),
    ("--grid", "lrr=0.1", r"--grid lrr: no such parameter\. Did you mean lr\?.*module__dropout"),
    ("--set", "lr", r"--set 'lr': write PARAM=VALUE"),
])
def test_bad_parameters_fail_before_the_data_is_read(tmp_path, capsys, option, value, message):
    # --data does not exist: the parameter error must come first, without a traceback.
    assert run("fit", "--data", tmp_path / "nowhere", "--out", tmp_path / "m.mmemotion", option, value, "-q") == 1
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err and "nowhere" not in err


def test_ctrl_c_leaves_no_partial_output(tmp_path, make_synthetic, monkeypatch, capsys):
    root = make_synthetic(n_actors=3, clips_per_actor=6)

    def interrupted(*args, **kwargs):
        raise cli.Interrupted()

    monkeypatch.setattr(experiment, "fit_experiment", interrupted)
    out = tmp_path / "out"
    out.mkdir()
    status = run("fit", "--data", root, "--out", out / "m.mmemotion", "--epochs", 1, "-q")
    assert status == 130
    assert "interrupted" in capsys.readouterr().err
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_fit_predict_explain_report(tmp_path, make_synthetic, capsys):
    root = make_synthetic(n_actors=4, clips_per_actor=6)
    model = tmp_path / "m.mmemotion"
    assert run("fit", "--data", root, "--out", model, "--epochs", 2, "--test-size", 0.25, "-q") == 0
    meta = json.loads((tmp_path / "m.mmemotion.meta.json").read_text())
    test_actors = meta["split"]["test_actors"]
    assert len(test_actors) == 1 and not set(test_actors) & set(meta["split"]["train_actors"])
    assert 0 <= meta["evaluation"]["accuracy"] <= 1
    assert run("fit", "--data", root, "--out", model, "--epochs", 1, "-q") == 1  # exists, no --force

    assert run("predict", "--model", model, "--data", root, "--out", tmp_path / "p.csv", "-q") == 0
    import pandas as pd

    table = pd.read_csv(tmp_path / "p.csv")
    assert len(table) == 24 and set(table["predicted"]) <= {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"}
    assert np.allclose(table.filter(like="proba_").sum(axis=1), 1, atol=1e-4)

    args = ("--model", model, "--data", root, "--n-clips", 3, "--n-steps", 2, "--shap-nsamples", 2, "-q")
    assert run("explain", *args, "--out", tmp_path / "e.npz") == 0
    explanation = load_explanation(tmp_path / "e.npz")
    assert {int(c.split("_")[0]) for c in explanation.clip_ids} <= set(test_actors)  # held-out actors only
    # Two epochs on 18 clips leave the model at chance: the chance alarm reaches the terminal.
    err = capsys.readouterr().err
    assert any(w.startswith("Chance alarm") for w in explanation.warnings)
    assert all(f"warning: {w}" in err for w in explanation.warnings)

    html = tmp_path / "r.html"
    assert run("report", "--model", model, "--data", root, "--explanation", tmp_path / "e.npz",
               "--out", html, "-q") == 0
    numbers = json.loads(html.with_suffix(".json").read_text())
    assert all(numbers["sections"][sid]["available"] for sid, _ in SECTIONS)
    assert numbers["sections"]["overview"]["split"]["test_actors"] == test_actors
    assert str(html.resolve()) in capsys.readouterr().out

    # Issue 15, item 1: another model's explanation is refused, naming both, and nothing is written.
    other = tmp_path / "other.mmemotion"
    assert run("fit", "--data", root, "--out", other, "--epochs", 1, "--modalities", "audio", "-q") == 0
    capsys.readouterr()
    refused = tmp_path / "refused.html"
    assert run("report", "--model", other, "--data", root, "--explanation", tmp_path / "e.npz",
               "--out", refused, "-q") == 1
    err = capsys.readouterr().err
    assert f"--explanation {tmp_path / 'e.npz'} explains another model (modalities audio, video, text" in err
    assert f"than --model {other} (modalities audio;" in err
    assert not refused.exists() and not refused.with_suffix(".json").exists()


@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run("demo", "--quick", "--out", out, "-q") == 0
    printed = capsys.readouterr().out
    assert printed.strip().splitlines()[-1] == f"report: {(out / 'report.html').resolve()}"
    numbers = json.loads((out / "report.json").read_text())
    for sid, _ in SECTIONS:
        assert numbers["sections"][sid]["available"], sid
    models = numbers["sections"]["evaluation"]["models"]
    # The linear baseline on the same actors sits beside the networks (issue 12).
    assert set(models) == {"fusion", "audio", "video", "baseline"}
    assert "per speaker" in numbers["sections"]["overview"]["split"]["speaker_norm"]
    matched = {(r["model"], r["presentation"]) for r in numbers["sections"]["trust"]["human_vs_model"] if r["matched"]}
    assert matched == {("fusion", "multimodal"), ("baseline", "multimodal"), ("audio", "voice"), ("video", "face")}
    split = numbers["sections"]["overview"]["split"]
    assert not set(split["train_actors"]) & set(split["test_actors"])
    assert (out / "model.mmemotion").is_file() and (out / "data" / "AudioWAV").is_dir()
    # A second run refuses and leaves every output as it was; --force replaces them.
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert run("demo", "--quick", "--out", out, "-q") == 1
    err = capsys.readouterr().err
    assert err.startswith("mmemotion demo: error: ") and "pass --force to replace the demo's outputs" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps
    assert run("demo", "--quick", "--out", out, "--force", "--no-variants", "--max-epochs", 1, "--n-explain", 2,
               "-q") == 0
    again = json.loads((out / "report.json").read_text())["sections"]
    assert set(again["evaluation"]["models"]) == {"fusion", "baseline"}  # the new run's, not the old one's
    for name in ("report.html", "report.json", "model.mmemotion", "data/synthetic_truth.csv"):
        assert (out / name).stat().st_mtime_ns > stamps[out / name], name
    assert [p.name for p in out.parent.iterdir() if "partial" in p.name] == []


@pytest.mark.slow
def test_demo_cv_scores_every_actor_out_of_fold(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run("demo", "--quick", "--cv", "3", "--no-variants", "--out", out, "-q") == 0
    numbers = json.loads((out / "report.json").read_text())["sections"]
    folds = numbers["evaluation"]["folds"]["rows"]
    # 6 actors x 12 clips: every clip scored once, each actor in exactly one fold's test set.
    assert numbers["evaluation"]["models"]["fusion"]["n_samples"] == 72
    assert set(numbers["evaluation"]["models"]) == {"fusion", "baseline"}
    tested = [a for row in folds for a in row["test_actors"]]
    assert sorted(tested) == list(range(1001, 1007)) and sum(row["n_samples"] for row in folds) == 72
    split = numbers["overview"]["split"]
    assert split["test_actors"] == folds[0]["test_actors"] and not set(split["train_actors"]) & set(split["test_actors"])
    assert "every actor is held out once" in split["protocol"]
    assert numbers["calibration"]["available"] and numbers["audit"]["available"]
    assert len(numbers["calibration"]["sets"]) == 72
    explained = {c["clip_id"][:4] for c in numbers["gallery"]["clips"]}
    assert explained <= {str(a) for a in split["test_actors"]}
    assert run("demo", "--quick", "--cv", "9", "--out", tmp_path / "other", "-q") == 1
    assert "--cv 9: needs between 2 and the number of actors (6)" in capsys.readouterr().err


@pytest.mark.slow
def test_fit_cv_scores_every_actor_and_the_report_uses_it(tmp_path, make_synthetic, capsys):
    root = make_synthetic(n_actors=4, clips_per_actor=6)
    model = tmp_path / "m.mmemotion"
    assert run("fit", "--data", root, "--out", model, "--epochs", 2, "--cv", 1, "-q") == 1
    assert "--cv 1: actor-grouped cross-validation needs at least 2 folds" in capsys.readouterr().err
    assert run("fit", "--data", root, "--out", model, "--epochs", 2, "--cv", 4, "--modalities", "audio", "-q") == 0
    oof = json.loads((tmp_path / "m.mmemotion.meta.json").read_text())["out_of_fold"]
    assert oof["n_folds"] == 4 and oof["evaluation"]["n_samples"] == 24 and len(oof["sets"]) == 24
    assert sorted(a for f in oof["folds"] for a in f["test_actors"]) == [1001, 1002, 1003, 1004]
    assert run("report", "--model", model, "--data", root, "--out", tmp_path / "r.html", "-q") == 0
    sections = json.loads((tmp_path / "r.json").read_text())["sections"]
    assert sections["evaluation"]["models"]["audio"]["n_samples"] == 24
    assert len(sections["evaluation"]["folds"]["rows"]) == 4
    assert sections["calibration"]["conformal"] == oof["conformal"]
    assert "every actor held out once" in sections["overview"]["split"]["protocol"]


@pytest.mark.slow
def test_fit_grid_search_reaches_the_report(tmp_path, make_synthetic):
    root = make_synthetic(n_actors=4, clips_per_actor=6)
    model = tmp_path / "g.mmemotion"
    assert run("fit", "--data", root, "--out", model, "--grid", "max_epochs=1,2", "--cv", 2,
               "--set", "batch_size=8", "-q") == 0
    meta = json.loads((tmp_path / "g.mmemotion.meta.json").read_text())
    assert meta["grid"] == {"clf__max_epochs": [1, 2]}
    assert meta["params"]["classifier"]["batch_size"] == 8
    html = tmp_path / "g.html"
    assert run("report", "--model", model, "--data", root, "--out", html, "-q") == 0
    numbers = json.loads(html.with_suffix(".json").read_text())
    cv = numbers["sections"]["evaluation"]["cv_results"]
    assert len(cv["params"]) == 2 and len(cv["mean_test_score"]) == 2
    assert "Cross-validation" in html.read_text() and "clf__max_epochs=2" in html.read_text()
    # No explanation was given: the gallery says why instead of failing.
    assert numbers["sections"]["gallery"]["available"] is False


@pytest.mark.slow
@pytest.mark.parametrize("kept, removed", [("audio", "VideoFlash"), ("video", "AudioWAV")])
def test_one_modality_folder_fit_predict_explain_report(tmp_path, make_synthetic, kept, removed):
    # The most common copy of CREMA-D is AudioWAV/ alone: fit picks the modalities the folder's
    # media allow (plus text, which reads the file name) without being told.
    import shutil

    import pandas as pd

    root = tmp_path / f"{kept}_only"
    shutil.copytree(make_synthetic(n_actors=4, clips_per_actor=6), root)
    shutil.rmtree(root / removed)
    model = tmp_path / "m.mmemotion"
    assert run("fit", "--data", root, "--out", model, "--epochs", 1, "-q") == 0
    meta = json.loads((tmp_path / "m.mmemotion.meta.json").read_text())
    assert meta["modalities"] == [kept, "text"]
    assert run("predict", "--model", model, "--data", root, "--out", tmp_path / "p.csv", "-q") == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == 24
    assert run("explain", "--model", model, "--data", root, "--n-clips", 3, "--n-steps", 2, "--shap-nsamples", 2,
               "--out", tmp_path / "e.npz", "-q") == 0
    assert set(load_explanation(tmp_path / "e.npz").modalities) == {kept, "text"}
    html = tmp_path / "r.html"
    assert run("report", "--model", model, "--data", root, "--explanation", tmp_path / "e.npz",
               "--out", html, "-q") == 0
    numbers = json.loads(html.with_suffix(".json").read_text())
    assert numbers["sections"]["gallery"]["available"] is True
    missing = "video" if kept == "audio" else "audio"
    assert f"the {missing} of" in html.read_text() and "is missing" in html.read_text()
    # The forward-only preset: Shapley values and ablations, no maps; the report still renders.
    assert run("explain", "--model", model, "--data", root, "--n-clips", 3, "--methods", "fast",
               "--out", tmp_path / "fast.npz", "-q") == 0
    assert load_explanation(tmp_path / "fast.npz").params["methods"] == ["shapley", "ablation"]
    assert run("report", "--model", model, "--data", root, "--explanation", tmp_path / "fast.npz",
               "--out", tmp_path / "fast.html", "-q") == 0
    # Asking for the removed media fails before any fitting, naming the reason.
    assert run("fit", "--data", root, "--out", tmp_path / "x.mmemotion", "--modalities", missing, "-q") == 1


@pytest.mark.parametrize("value, message", [
    ("2.5", "2.5 is more than 1 but not a whole number of clips"),
    ("abc", "'abc' is not a number"),
    ("0", "must be a fraction in (0, 1] or a number of clips"),
    ("nan", "must be a fraction in (0, 1] or a number of clips"),
])
def test_sample_must_be_a_fraction_or_a_whole_count(tmp_path, capsys, value, message):
    with pytest.raises(SystemExit) as exit_info:
        run("fit", "--data", tmp_path, "--out", tmp_path / "m.mmemotion", "--sample", value)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"--sample: {message}" in " ".join(err.split()) and "Traceback" not in err
    assert _fraction_or_count("0.05") == 0.05 and _fraction_or_count("300") == 300
    assert _fraction_or_count("300.0") == 300 and isinstance(_fraction_or_count("300.0"), int)
