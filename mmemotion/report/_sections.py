"""Build the template context of each report section from plain results.

Every builder returns a dict with ``available`` (bool), ``reason`` (why not, in words, when
unavailable), the values the template shows, and ``numbers`` (what goes into the JSON sidecar).
Inputs are read by duck typing: ``explanation`` only needs the attributes of
``mmemotion.explain.Explanation``, so this module never imports the explain subpackage (which
imports torch, Captum and SHAP).
"""

import importlib.metadata
import platform
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from .. import __version__
from ..datasets._codes import EMOTION_NAMES, EMOTIONS, LEVEL_NAMES, LEVELS, SENTENCES
from . import _figures as fig
from ._held_out_sections import audit_section, calibration_section, fold_rows, largest_gap_text

__all__ = ["SECTIONS", "build_sections"]

#: (id, heading) of every section, in page order.
SECTIONS = (
    ("overview", "Overview"),
    ("eda", "Exploratory data analysis"),
    ("quality", "Data quality"),
    ("evaluation", "Evaluation on held-out actors"),
    ("calibration", "Calibration and prediction sets"),
    ("audit", "Demographic audit"),
    ("modality-importance", "Modality importance"),
    ("gallery", "Per-clip gallery"),
    ("trust", "Trust: sanity checks, leakage and human raters"),
    ("model-card", "Model card"),
)

#: Which rater presentation a model restricted to some modalities is compared with.
_PRESENTATION_FOR_MODEL = {"audio": "voice", "video": "face"}
_PRESENTATION_NAMES = {"voice": "voice only", "face": "face only", "multimodal": "audio-visual"}

_SANITY_HELP = {
    "randomisation_spearman": "Rank correlation between the attribution maps of the trained model and of "
    "a re-initialised one (Adebayo et al., 2018). Low means the maps depend on what was learned; "
    "close to 1 means they would look the same for an untrained network.",
    "ig_completeness_error": "Mean absolute gap between the sum of Integrated-Gradients attributions and "
    "f(x) − f(baseline). Near 0 means the integral was approximated with enough steps.",
    "accuracy_vs_chance_p": "Probability that always guessing the most frequent label gets at least as many "
    "of the explained clips right (one-sided binomial test). At 0.05 or above, the explanations describe a "
    "model that has not learnt the task (chance alarm).",
}

def _sanity_help(key):
    """Words for a sanity-check key, including explain's per-modality and absolute variants."""
    if key in _SANITY_HELP:
        return _SANITY_HELP[key]
    if key == "ig_completeness_relative_error":
        return "The completeness gap relative to |f(x) − f(baseline)|."
    if key == "randomisation_spearman_abs":
        return "As randomisation_spearman, on absolute attribution maps."
    for prefix, text in (
        ("randomisation_spearman_abs_", "As randomisation_spearman, on absolute maps, for the {} input only."),
        ("randomisation_spearman_", "As randomisation_spearman, for the {} input only."),
        ("randomised_share_", "Share of attribution the re-initialised model gives the {} input (compare with the "
                              "trained model's share in Modality importance)."),
    ):
        if key.startswith(prefix):
            return text.format(key[len(prefix):])
    return ""


_VERSIONED = ("numpy", "pandas", "scikit-learn", "torch", "skorch", "captum", "shap", "librosa",
              "opencv-python-headless", "matplotlib", "jinja2")


def unavailable(reason, **extra):
    return {"available": False, "reason": reason, "numbers": {}, **extra}


def _first(mapping, *keys):
    for key in keys:
        try:
            value = mapping[key]
        except (KeyError, TypeError, IndexError):
            continue
        if value is not None:
            return value
    return None


def _frame_and_quality(dataset):
    """Accept a ``load_crema_d`` Bunch, a dict with ``frame``, or a bare DataFrame."""
    if dataset is None:
        return None, None
    if hasattr(dataset, "columns"):
        return dataset, None
    frame = _first(dataset, "frame")
    if frame is None:
        data, target = _first(dataset, "data"), _first(dataset, "target")
        if data is not None and target is not None:
            frame = data.assign(emotion=np.asarray(target))
    return frame, _first(dataset, "quality")


def _counts(values, order=None):
    counts = Counter(str(v) for v in values if v is not None and v == v)
    keys = [k for k in (order or []) if k in counts] + sorted(k for k in counts if k not in (order or []))
    return {k: int(counts[k]) for k in keys}


def _main_evaluation(evaluation):
    """Normalise ``evaluation`` to ``{model name: evaluate() dict}`` and pick the headline one."""
    if not evaluation:
        return {}, None
    if "accuracy" in evaluation:
        evaluation = {"fusion": evaluation}
    main = "fusion" if "fusion" in evaluation else next(iter(evaluation))
    return dict(evaluation), main


# --------------------------------------------------------------------------------------------
# overview
# --------------------------------------------------------------------------------------------
def overview(frame, dataset, split, evaluations, main, explanation):
    numbers = {}
    facts = []
    if frame is not None:
        n_actors = frame["actor_id"].nunique() if "actor_id" in frame else None
        facts += [("clips", len(frame)), ("actors", n_actors if n_actors is not None else "unknown")]
        if "emotion" in frame:
            facts.append(("emotions", ", ".join(_counts(frame["emotion"], EMOTIONS))))
        numbers.update(n_clips=len(frame), n_actors=n_actors)
    if dataset is not None and not hasattr(dataset, "columns"):
        for key, label in (("root", "source folder"), ("sample", "sample fraction"), ("synthetic", "synthetic")):
            value = _first(dataset, key)
            if value is not None:
                facts.append((label, value))
                numbers[key] = value
    split_rows = []
    if split:
        train, test = set(split.get("train_actors") or ()), set(split.get("test_actors") or ())
        split_rows = [("protocol", split.get("protocol", "not recorded"))]
        if split.get("speaker_norm"):
            split_rows.append(("speaker normalisation", split["speaker_norm"]))
        for key in ("n_train", "n_test"):
            if key in split:
                split_rows.append((key.replace("n_", "") + " clips", split[key]))
        if train or test:
            split_rows += [
                ("train actors", f"{len(train)}: " + ", ".join(map(str, sorted(train)))),
                ("test actors", f"{len(test)}: " + ", ".join(map(str, sorted(test)))),
                ("actors in both", len(train & test)),
            ]
        numbers["split"] = split
    headline = []
    if main is not None:
        ev = evaluations[main]
        chance = 1 / max(len(ev["classes"]), 1)
        headline = [("accuracy", ev["accuracy"]), ("macro-F1", ev["macro_f1"]), ("UAR", ev["uar"]),
                    ("chance", chance)]
        human = ev.get("human", {}).get("multimodal")
        if human:
            who = "simulated raters" if _is_synthetic(dataset) else "human raters"
            headline.append((f"{who} (audio-visual)", human["human_accuracy"]))
        numbers["headline"] = dict(headline)
    if frame is None and main is None and explanation is None:
        return unavailable("not available because no dataset, evaluation or explanation was passed "
                           "to render_report.")
    return {
        "available": True,
        "facts": facts,
        "split_rows": split_rows,
        "split_missing": not split,
        "headline": headline,
        "main_model": main,
        "numbers": numbers,
    }


# --------------------------------------------------------------------------------------------
# EDA
# --------------------------------------------------------------------------------------------
def _sample_audio(path):
    """Waveform and 40-coefficient MFCC of one WAV, for display only."""
    import librosa  # deferred: slow to import and only needed for this one figure
    import soundfile

    signal, sr = soundfile.read(path, dtype="float32", always_2d=True)
    signal = signal.mean(axis=1)
    mfcc = librosa.feature.mfcc(y=signal, sr=sr, n_mfcc=40)
    return signal, sr, mfcc


def _sample_frames(path, n=8, width=160):
    """``n`` evenly spaced RGB frames of one video, resized to ``width`` pixels wide."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"OpenCV decoded no frame from {path}")
    picked = [frames[i] for i in np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)]
    height = int(round(picked[0].shape[0] * width / picked[0].shape[1]))
    return np.stack([cv2.cvtColor(cv2.resize(f, (width, height)), cv2.COLOR_BGR2RGB) for f in picked])


def eda(frame):
    if frame is None:
        return unavailable("not available because no dataset was passed (render_report(dataset=...)).")
    figures, numbers, notes = [], {}, []
    panels = []
    if "emotion" in frame:
        counts = _counts(frame["emotion"], EMOTIONS)
        numbers["emotion_counts"] = counts
        panels.append(("emotion", counts, "bar"))
    if "level" in frame:
        counts = _counts(frame["level"], LEVELS)
        numbers["level_counts"] = counts
        panels.append(("intensity level", counts, "bar"))
    if panels:
        figures.append(("Emotion distribution and intensity levels (clips)", fig.eda_overview(panels)))

    demographics = []
    if "actor_id" in frame:
        actors = frame.drop_duplicates("actor_id")
        for column in ("sex", "race", "ethnicity"):
            if column in actors:
                counts = _counts(actors[column])
                if counts:
                    numbers[f"actor_{column}_counts"] = counts
                    demographics.append((column, counts, "bar"))
        if "age" in actors:
            ages = np.asarray(actors["age"], dtype=float)
            ages = ages[np.isfinite(ages)]
            if ages.size:
                numbers["actor_age"] = {"min": ages.min(), "median": float(np.median(ages)), "max": ages.max()}
                demographics.insert(0, ("age (actors)", {"values": ages}, "hist"))
    if demographics:
        figures.append(("Actor demographics (one count per actor)", fig.eda_overview(demographics)))
    else:
        notes.append("Actor demographics not available because the dataset frame has no "
                     "actor_id/age/sex/race/ethnicity columns (VideoDemographics.csv missing?).")

    sample_id, audio_figure, video_figure = None, None, None
    audio_reason = video_reason = "not available because the dataset frame has no existing media path."
    def exists(path):
        return isinstance(path, str) and Path(path).is_file()

    for _, row in frame.iterrows():
        audio_path, video_path = row.get("audio_path"), row.get("video_path")
        if not (exists(audio_path) or exists(video_path)):
            continue
        # The first clip with any media; a folder loaded for one modality lacks the other's.
        sample_id = row.get("clip_id", audio_path if exists(audio_path) else video_path)
        if exists(audio_path):
            try:
                signal, sr, mfcc = _sample_audio(audio_path)
                audio_figure = fig.waveform_mfcc(signal, sr, mfcc)
            except Exception as error:  # a broken sample clip must not sink the whole report
                audio_reason = f"not available because reading {audio_path} failed: {error}"
        else:
            audio_reason = f"not available because the audio of {sample_id} is missing."
        if exists(video_path):
            try:
                video_figure = fig.frame_strip(_sample_frames(video_path))
            except Exception as error:
                video_reason = f"not available because decoding {video_path} failed: {error}"
        else:
            video_reason = f"not available because the video of {sample_id} is missing."
        break
    text_rows = []
    if "sentence" in frame:
        for code, count in _counts(frame["sentence"], list(SENTENCES)).items():
            text_rows.append((code, SENTENCES.get(code, "?"), count))
        numbers["sentence_counts"] = {code: count for code, _, count in text_rows}
    return {
        "available": True,
        "figures": figures,
        "notes": notes,
        "sample_id": sample_id,
        "audio_figure": audio_figure,
        "audio_reason": audio_reason,
        "video_figure": video_figure,
        "video_reason": video_reason,
        "text_rows": text_rows,
        "emotion_names": EMOTION_NAMES,
        "level_names": LEVEL_NAMES,
        "numbers": numbers,
    }


# --------------------------------------------------------------------------------------------
# quality
# --------------------------------------------------------------------------------------------
def quality(dataset, quality_frame, max_rows=200):
    if dataset is None:
        return unavailable("not available because no dataset was passed (render_report(dataset=...)).")
    if quality_frame is None:
        return unavailable("not available because the dataset carries no quality table "
                           "(load_crema_d(...).quality).")
    records = quality_frame.to_dict(orient="records") if hasattr(quality_frame, "to_dict") else list(quality_frame)
    by_reason = Counter(str(r.get("reason", "")) for r in records)
    # The loader adds a "detail" column (e.g. the decoder's message); show it after the reason.
    rows = [(r.get("clip_id", ""), r.get("path", ""),
             " — ".join(str(v) for v in (r.get("reason"), r.get("detail")) if v is not None and v == v and v != ""))
            for r in records]
    return {
        "available": True,
        "n_excluded": len(rows),
        "by_reason": sorted(by_reason.items(), key=lambda kv: -kv[1]),
        "rows": rows[:max_rows],
        "truncated": max(len(rows) - max_rows, 0),
        "numbers": {"n_excluded": len(rows), "by_reason": dict(by_reason), "excluded": records},
    }


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
def _history_rows(history):
    if history is None:
        return None
    rows = history.to_list() if hasattr(history, "to_list") else list(history)
    # skorch keeps per-batch records under "batches"; only epoch-level numbers are plotted.
    return [{k: v for k, v in dict(row).items() if k != "batches"} for row in rows]


def _cv_rows(cv_results, max_rows=30):
    if hasattr(cv_results, "to_dict") and hasattr(cv_results, "columns"):
        cv_results = {c: list(cv_results[c]) for c in cv_results.columns}
    params = list(cv_results.get("params", []))
    n = len(params) or len(next(iter(cv_results.values()), []))
    rows = []
    for i in range(n):
        row = {"params": ", ".join(f"{k}={v}" for k, v in dict(params[i]).items()) if params else ""}
        for key in ("rank_test_score", "mean_test_score", "std_test_score", "mean_fit_time"):
            if key in cv_results:
                row[key] = cv_results[key][i]
        rows.append(row)
    rows.sort(key=lambda r: r.get("rank_test_score", 0))
    return rows[:max_rows]


def evaluation_section(evaluations, main, history, cv_results, held_out=None):
    numbers = {}
    if main is None and history is None and cv_results is None and not held_out:
        return unavailable("not available because no evaluation, training history or CV results were "
                           "passed (render_report(evaluation=evaluate(...))).")
    out = {"available": True, "main_model": main, "models": [], "numbers": numbers, "curves": None,
           "cv_rows": None, "reason_metrics": None, "reason_curves": None, "reason_cv": None,
           "folds": fold_rows(held_out)}
    if out["folds"]:
        numbers["folds"] = out["folds"]
    if main is not None:
        ev = evaluations[main]
        out["per_class"] = [(label, EMOTION_NAMES.get(label, ""), m) for label, m in ev["per_class"].items()]
        out["headline"] = ev
        out["confusion"] = fig.confusion(ev["confusion_matrix"], ev["classes"])
        out["models"] = [(name, ev_) for name, ev_ in evaluations.items()]
        numbers["models"] = evaluations
        # Chance on these clips: always answering the most frequent true class.
        supports = [m.get("support", 0) for m in ev["per_class"].values()]
        out["chance"] = max(supports) / sum(supports) if sum(supports) else None
        numbers["chance_accuracy"] = out["chance"]
    else:
        out["reason_metrics"] = "not available because no evaluation was passed."
    rows = _history_rows(history)
    if rows:
        out["curves"] = fig.training_curves(rows)
        numbers["history"] = rows
    else:
        out["reason_curves"] = ("not available because no training history was passed "
                                "(render_report(history=net.history)).")
    if cv_results is not None:
        out["cv_rows"] = _cv_rows(cv_results)
        numbers["cv_results"] = cv_results
    else:
        out["reason_cv"] = "not available because no grid search was run (render_report(cv_results=...))."
    return out


# --------------------------------------------------------------------------------------------
# modality importance
# --------------------------------------------------------------------------------------------
def _picked_shapley(explanation):
    values = getattr(explanation, "shapley_values", None)
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    target = np.asarray(explanation.target_class, dtype=int)
    return values[np.arange(len(values)), target]  # (n, m)


def modality_importance(explanation):
    if explanation is None:
        return unavailable("not available because no explanation was given: on the command line, "
                           "`mmemotion explain --out ex.npz` then `mmemotion report --explanation ex.npz`; in "
                           "Python, render_report(explanation=explain(pipeline, X_test, y_test)).")
    modalities = list(explanation.modalities)
    panels, table, numbers = [], {m: {} for m in modalities}, {}
    shares = {method: np.asarray(v, dtype=float).mean(axis=0) for method, v in
              (getattr(explanation, "modality_shares", None) or {}).items()}
    if shares:
        panels.append(("Attribution share", {k: v.tolist() for k, v in shares.items()}))
        for method, values in shares.items():
            for m, v in zip(modalities, values):
                table[m][f"share: {method}"] = v
        numbers["mean_modality_shares"] = {k: dict(zip(modalities, v.tolist())) for k, v in shares.items()}
    picked = _picked_shapley(explanation)
    if picked is not None:
        mean_abs = np.abs(picked).mean(axis=0)
        mean_signed = picked.mean(axis=0)
        panels.append(("Modality Shapley (pred. class)",
                       {"mean |φ|": mean_abs.tolist(), "mean φ": mean_signed.tolist()}))
        for m, a, s in zip(modalities, mean_abs, mean_signed):
            table[m]["Shapley mean |φ|"] = a
            table[m]["Shapley mean φ"] = s
        numbers["mean_abs_shapley"] = dict(zip(modalities, mean_abs.tolist()))
        numbers["mean_shapley"] = dict(zip(modalities, mean_signed.tolist()))
    ablation = getattr(explanation, "ablation", None) or {}
    if "none" in ablation and any(m in ablation for m in modalities):
        drops = {}
        for metric in ("accuracy", "macro_f1"):
            if metric in ablation["none"]:
                drops[f"{metric} drop"] = [ablation["none"][metric] - ablation[m][metric] if m in ablation else 0.0
                                           for m in modalities]
        panels.append(("Ablation drop", drops))
        for name, values in drops.items():
            for m, v in zip(modalities, values):
                table[m][f"ablation {name}"] = v
        numbers["ablation"] = ablation
    alone = getattr(explanation, "ablation_alone", None) or {}
    if any(m in alone for m in modalities) and len(modalities) > 1:
        kept = {}
        for metric in ("accuracy", "macro_f1"):
            values = [alone.get(m, {}).get(metric) for m in modalities]
            if any(v is not None for v in values):
                kept[f"{metric} alone"] = [np.nan if v is None else v for v in values]
        panels.append(("Score with it alone", kept))
        for name, values in kept.items():
            for m, v in zip(modalities, values):
                table[m][name] = v
        numbers["ablation_alone"] = alone
    if not panels:
        return unavailable("not available because the explanation holds no modality shares, Shapley "
                           "values or ablation results (run explain with those methods).")
    rankings, flat, signs, tops = {}, [], {}, set()
    for title, series in panels:
        values = np.asarray(next(iter(series.values())), dtype=float)
        for a in range(len(modalities)):
            for b in range(a + 1, len(modalities)):
                if abs(values[a] - values[b]) > 1e-9:
                    signs.setdefault((a, b), set()).add(bool(values[a] > values[b]))
        # A measure that gives every modality the same value (e.g. no ablation drop) ranks nothing.
        if np.ptp(values) <= 1e-9:
            flat.append(title)
        else:
            order = np.argsort(-values, kind="stable")
            # Equal values are written as ties ("video = text"), so agreement is not overstated.
            ranking = modalities[order[0]]
            for prev, i in zip(order, order[1:]):
                ranking += (" = " if abs(values[prev] - values[i]) <= 1e-9 else " > ") + modalities[i]
            rankings[title] = ranking
            # The first place, ties included ("audio = video" leads with both).
            tops.add(frozenset(modalities[i] for i in order if abs(values[i] - values[order[0]]) <= 1e-9))
    conflicts = [f"{modalities[a]} and {modalities[b]}" for (a, b), seen in sorted(signs.items()) if len(seen) > 1]
    columns = sorted({c for row in table.values() for c in row}, key=lambda c: (c.split(":")[0], c))
    return {
        "available": True,
        "figure": fig.modality_importance(modalities, panels),
        "columns": columns,
        "table": [(m, [table[m].get(c) for c in columns]) for m in modalities],
        "rankings": rankings,
        # Agreement = no pair of modalities is ordered one way by one measure and the other way by
        # another; a tie in one measure contradicts nothing.
        "rankings_agree": not conflicts,
        "conflicts": conflicts,
        # Every measure puts the same modality (or tie) first, whatever they say about the rest.
        "top_agree": sorted(tops.pop()) if len(tops) == 1 and conflicts else None,
        "flat": flat,
        "single_modality": len(modalities) == 1,
        "modalities": modalities,
        "numbers": numbers,
    }


# --------------------------------------------------------------------------------------------
# gallery
# --------------------------------------------------------------------------------------------
def _pick_clips(explanation, per_kind):
    """Most confident correct and most confident wrong predictions (or just the first clips)."""
    proba = np.asarray(explanation.proba, dtype=float)
    n = len(proba)
    confidence = proba[np.arange(n), np.asarray(explanation.target_class, dtype=int)]
    order = np.argsort(-confidence, kind="stable")
    if explanation.y_true is None:
        return [(i, None) for i in order[: 2 * per_kind]]
    correct = np.asarray(explanation.y_true).astype(str) == np.asarray(explanation.y_pred).astype(str)
    return ([(i, True) for i in order if correct[i]][:per_kind]
            + [(i, False) for i in order if not correct[i]][:per_kind])


def _word_spans(words, attributions):
    """(word, css colour, value): red pushes towards the predicted class, blue away from it."""
    attributions = np.asarray(attributions, dtype=float)
    scale = float(np.max(np.abs(attributions))) if attributions.size else 0.0
    spans = []
    for word, value in zip(words, attributions):
        alpha = abs(value) / scale if scale > 0 else 0.0
        rgb = "214,39,40" if value >= 0 else "31,119,180"
        spans.append((str(word), f"rgba({rgb},{alpha * 0.85:.2f})", float(value)))
    return spans


def _item(seq, i):
    return None if seq is None else seq[i]


def gallery(explanation, per_kind=3, sets=None):
    if explanation is None:
        return unavailable("not available because no explanation was passed.")
    if not len(explanation.clip_ids):
        return unavailable("not available because the explanation covers no clip.")
    classes = list(explanation.classes)
    modalities = list(explanation.modalities)
    proba = np.asarray(explanation.proba, dtype=float)
    items, numbers = [], []
    for i, correct in _pick_clips(explanation, per_kind):
        target = int(explanation.target_class[i])
        item = {
            "clip_id": str(explanation.clip_ids[i]),
            "y_true": None if explanation.y_true is None else str(explanation.y_true[i]),
            "y_pred": str(explanation.y_pred[i]),
            "confidence": float(proba[i, target]),
            "correct": correct,
            "top": sorted(zip(classes, proba[i].tolist()), key=lambda kv: -kv[1])[:3],
            "shares": {},
            "audio": None,
            "video": None,
            "text": None,
            "shapley": None,
            "set": None if sets is None else sets.get(str(explanation.clip_ids[i])),
        }
        for method, values in (getattr(explanation, "modality_shares", None) or {}).items():
            item["shares"][method] = dict(zip(modalities, np.asarray(values[i], dtype=float).tolist()))
        mfcc, audio_map = _item(explanation.mfcc, i), _item(explanation.audio_maps, i)
        if mfcc is not None or audio_map is not None:
            item["audio"] = fig.mfcc_saliency(mfcc, audio_map)
        frames, video_map = _item(explanation.frames, i), _item(explanation.video_maps, i)
        if frames is not None or video_map is not None:
            item["video"] = fig.frames_attribution(frames, video_map)
        words, word_attr = _item(explanation.words, i), _item(explanation.text_word_attributions, i)
        if words is not None and word_attr is not None:
            item["text"] = _word_spans(words, word_attr)
        if explanation.shapley_values is not None:
            values = np.asarray(explanation.shapley_values[i, target], dtype=float)
            base = float(np.asarray(explanation.shapley_base)[i, target]) if explanation.shapley_base is not None else 0.0
            full = (float(np.asarray(explanation.shapley_full)[i, target]) if explanation.shapley_full is not None
                    else base + float(values.sum()))
            item["shapley"] = fig.shapley_waterfall(modalities, values, base, full, classes[target])
            item["shapley_values"] = dict(zip(modalities, values.tolist()))
        items.append(item)
        numbers.append({k: v for k, v in item.items() if k not in ("audio", "video", "shapley")})
    missing = [m for m in modalities if not any(it.get(m) for it in items)]
    return {
        "available": True,
        "items": items,
        "modalities": modalities,
        "missing": missing,
        "has_truth": explanation.y_true is not None,
        "has_sets": sets is not None,
        "confidence_level": None,
        "numbers": {"clips": numbers},
    }


# --------------------------------------------------------------------------------------------
# trust
# --------------------------------------------------------------------------------------------
def _is_synthetic(dataset):
    if dataset is None or hasattr(dataset, "columns"):
        return False
    if _first(dataset, "synthetic") is not None:
        return True
    root = _first(dataset, "root")
    return root is not None and (Path(root) / "synthetic_truth.csv").is_file()


def trust(explanation, evaluations, split, synthetic=False, held_out=None):
    numbers = {}
    sanity_rows = []
    if explanation is not None:
        for key, value in (getattr(explanation, "sanity", None) or {}).items():
            sanity_rows.append((key, value, _sanity_help(key)))
        numbers["sanity"] = dict(explanation.sanity or {})
    alarms = [str(w) for w in (getattr(explanation, "warnings", None) or [])]
    n_explain_alarms = len(alarms)
    checks = []
    if split and split.get("train_actors") is not None and split.get("test_actors") is not None:
        overlap = sorted(set(split["train_actors"]) & set(split["test_actors"]))
        if overlap:
            alarms.append(f"Actors {overlap} appear in both the training and the test set: scores are "
                          "not actor-independent and overstate how the model does on new speakers.")
        checks.append(f"train/test actor overlap: {len(overlap)} actor(s)")
    if explanation is not None:
        checks.append(f"{n_explain_alarms} warning(s) raised by explain()")
    audit = (held_out or {}).get("audit")
    gap_text = largest_gap_text(audit)
    if audit is not None:
        for attribute, group in audit["flagged"]:
            row = next(r for r in audit["attributes"][attribute] if r["group"] == group)
            if row["gap"] < 0:
                alarms.append(f"The model is less accurate for {audit['headings'][attribute]} = {group} "
                              f"({row['accuracy']:.3f} vs {row['others_accuracy']:.3f} for the other held-out "
                              f"actors, permutation p = {row['p_value']:.3f}); see Demographic audit.")
        checks.append(f"demographic gaps tested: {audit['n_comparisons']}, beyond chance: {len(audit['flagged'])}")
    numbers["alarms"] = alarms
    numbers["largest_gap"] = gap_text

    human_rows = []
    all_rows = []
    for name, ev in evaluations.items():
        matched = _PRESENTATION_FOR_MODEL.get(name, "multimodal")
        for presentation, result in (ev.get("human") or {}).items():
            row = {"model": name, "presentation": presentation,
                   "presentation_name": _PRESENTATION_NAMES.get(presentation, presentation),
                   "matched": presentation == matched, **result}
            all_rows.append(row)
            if row["matched"]:
                human_rows.append(dict(row, label=f"{name} vs {_PRESENTATION_NAMES.get(presentation, presentation)}"))
    numbers["human_vs_model"] = all_rows
    if not evaluations:
        human_reason = "not available because no evaluation was passed."
    elif not all_rows:
        human_reason = ("not available because the evaluated clips have no CREMA-D rater votes "
                        "(processedResults/summaryTable.csv missing, or evaluate() called without votes=).")
    else:
        human_reason = None
    if explanation is None and not evaluations and not split and not held_out:
        return unavailable("not available because no explanation, evaluation or split was passed.")
    return {
        "available": True,
        "sanity_rows": sanity_rows,
        "sanity_reason": None if sanity_rows else (
            "not available because no explanation was passed." if explanation is None
            else "not available because explain was run without the \"sanity\" method."),
        "alarms": alarms,
        "checks": checks,
        "human_rows": human_rows,
        "all_rows": all_rows,
        "human_figure": fig.model_vs_human(human_rows) if human_rows else None,
        "human_reason": human_reason,
        "simulated_votes": synthetic,
        "largest_gap": gap_text,
        "numbers": numbers,
    }


# --------------------------------------------------------------------------------------------
# model card
# --------------------------------------------------------------------------------------------
def _flatten(mapping, prefix=""):
    rows = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += _flatten(value, name + ".")
        else:
            if isinstance(value, float):
                value = f"{value:.4g}"
            elif isinstance(value, (list, tuple)) and len(value) > 20:
                value = f"{list(value[:20])} … ({len(value)} items)"
            rows.append((name, str(value)))
    return rows


def _versions():
    versions = {"python": platform.python_version(), "mmemotion": __version__}
    for dist in _VERSIONED:
        try:
            # importlib.metadata reads the installed version without importing the package, so
            # naming torch here keeps the report free of a torch import.
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def model_card(model_card, explanation):
    card = dict(model_card or {})
    card.setdefault("versions", {}).update({k: v for k, v in _versions().items() if k not in card["versions"]})
    if explanation is not None:
        card["explanation"] = {
            "params": getattr(explanation, "params", {}) or {},
            "baselines": getattr(explanation, "baselines", {}) or {},
            "timings (s)": getattr(explanation, "timings", {}) or {},
        }
    groups = [(key, _flatten(value) if isinstance(value, dict) else [("", str(value))])
              for key, value in card.items()]
    return {
        "available": True,
        "groups": groups,
        "given": model_card is not None,
        "numbers": card,
    }


def _with_level(section, held_out):
    if section.get("available") and held_out and held_out.get("conformal"):
        section["confidence_level"] = held_out["conformal"]["confidence_level"]
    return section


def build_sections(*, dataset, evaluation, explanation, history, cv_results, model_card_, split, held_out=None):
    """Context of every section, keyed by section id."""
    frame, quality_frame = _frame_and_quality(dataset)
    evaluations, main = _main_evaluation(evaluation)
    with warnings.catch_warnings():
        # Missing glyphs in unusual clip names only cost a box in a figure; say nothing.
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        return {
            "overview": overview(frame, dataset, split, evaluations, main, explanation),
            "eda": eda(frame),
            "quality": quality(dataset, quality_frame),
            "evaluation": evaluation_section(evaluations, main, history, cv_results, held_out),
            "calibration": calibration_section(held_out),
            "audit": audit_section(held_out),
            "modality-importance": modality_importance(explanation),
            "gallery": _with_level(gallery(explanation, sets=(held_out or {}).get("sets")), held_out),
            "trust": trust(explanation, evaluations, split, synthetic=_is_synthetic(dataset), held_out=held_out),
            "model-card": model_card(model_card_, explanation),
        }
