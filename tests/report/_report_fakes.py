"""Hand-made report inputs with realistic shapes and random numbers.

They let the report be tested without training anything, and make the awkward cases (hostile
clip names, no votes, a single-modality model) cheap to build. Only numpy, pandas, soundfile
and OpenCV are used, so the "report never imports torch" test can run this module too.
"""

import numpy as np
import pandas as pd

from mmemotion.datasets._codes import EMOTIONS, SENTENCES

HOSTILE = "<script>alert(1)</script>\"'&é漢字🙂"


def write_media(folder, stem, *, seconds=0.6, sr=16000, n_frames=12, rng=None):
    """A short WAV (a chirp plus noise) and an MJPG AVI of a moving blob; returns both paths."""
    import cv2
    import soundfile

    rng = rng or np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    signal = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.02 * rng.standard_normal(t.size)
    audio = folder / f"{stem}.wav"
    soundfile.write(audio, signal.astype(np.float32), sr, subtype="PCM_16")
    video = folder / f"{stem}.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (120, 90))
    for k in range(n_frames):
        frame = np.full((90, 120, 3), 40, np.uint8)
        cv2.circle(frame, (30 + 5 * k, 45), 18, (60, 180, 230), -1)
        writer.write(frame)
    writer.release()
    return str(audio), str(video)


def make_frame(n_actors=6, clips_per_actor=12, *, votes=True, media=None, hostile=False, seed=0):
    """A manifest like ``load_crema_d(...).frame``; ``media`` = (audio, video) paths for every row."""
    rng = np.random.default_rng(seed)
    rows = []
    sentences = list(SENTENCES)
    for a in range(n_actors):
        actor = 1001 + a
        for c in range(clips_per_actor):
            emotion = EMOTIONS[c % len(EMOTIONS)]
            sentence = sentences[(a + c) % len(sentences)]
            level = "XX" if sentence != "IEO" else ("LO", "MD", "HI")[c % 3]
            clip = f"{actor}_{sentence}_{emotion}_{level}"
            row = {
                "clip_id": clip,
                "audio_path": media[0] if media else f"/nonexistent/{clip}.wav",
                "video_path": media[1] if media else f"/nonexistent/{clip}.flv",
                "actor_id": actor,
                "sentence": sentence,
                "sentence_text": SENTENCES[sentence],
                "emotion": emotion,
                "level": level,
                "age": 20 + 7 * a,
                "sex": ("Male", "Female")[a % 2],
                "race": ("Caucasian", "African American", "Asian")[a % 3],
                "ethnicity": ("Not Hispanic", "Hispanic")[a % 2],
            }
            for column, p_right in (("voice_vote", 0.45), ("face_vote", 0.68), ("multimodal_vote", 0.74)):
                if not votes:
                    row[column] = None
                elif rng.random() < 0.08:
                    row[column] = ":".join(sorted({emotion, str(rng.choice(EMOTIONS))}))
                else:
                    row[column] = emotion if rng.random() < p_right else str(rng.choice(EMOTIONS))
            rows.append(row)
    frame = pd.DataFrame(rows)
    if hostile:
        frame.loc[0, "clip_id"] = HOSTILE
        frame.loc[0, "race"] = HOSTILE
    return frame


def make_quality(hostile=False):
    return pd.DataFrame(
        {
            "clip_id": ["1076_MTI_SAD_XX", HOSTILE if hostile else "1064_TIE_SAD_XX"],
            "path": ["/data/AudioWAV/1076_MTI_SAD_XX.wav", "/data/VideoFlash/1064_TIE_SAD_XX.flv"],
            "reason": ["audio has no samples", "video has no duration"],
        }
    )


def make_explanation(cls, n=8, *, modalities=("audio", "video", "text"), clip_ids=None, seed=0,
                     with_truth=True):
    """An Explanation (``cls`` is the dataclass) filled with random numbers of the right shapes."""
    rng = np.random.default_rng(seed)
    modalities = list(modalities)
    classes = list(EMOTIONS)
    k, m = len(classes), len(modalities)
    logits = rng.normal(size=(n, k)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    target = proba.argmax(1)
    y_pred = np.array(classes, dtype=object)[target]
    y_true = np.array([classes[t] if rng.random() < 0.6 else classes[(t + 1) % k] for t in target], dtype=object)
    shares = {}
    for method in ("integrated_gradients", "gradient_shap", "shap"):
        raw = rng.gamma(2.0, size=(n, m)) * np.linspace(2, 1, m)
        shares[method] = raw / raw.sum(1, keepdims=True)
    base = np.full((n, k), 1 / k)
    shapley = rng.normal(scale=0.1, size=(n, k, m))
    shapley[np.arange(n), target] = np.abs(shapley[np.arange(n), target]) * np.linspace(2, 0.5, m)
    full = base + shapley.sum(-1)
    words = [SENTENCES[list(SENTENCES)[i % len(SENTENCES)]].split() for i in range(n)]
    fields = dict(
        classes=classes,
        modalities=modalities,
        clip_ids=list(clip_ids) if clip_ids is not None else [f"{1001 + i}_DFA_{y_true[i]}_XX" for i in range(n)],
        y_pred=y_pred,
        proba=proba,
        target_class=target,
        y_true=y_true if with_truth else None,
        modality_shares=shares,
        shapley_values=shapley,
        shapley_base=base,
        shapley_full=full,
        ablation={"none": {"accuracy": 0.62, "macro_f1": 0.6},
                  **{mod: {"accuracy": 0.62 - 0.2 / (j + 1), "macro_f1": 0.6 - 0.18 / (j + 1)}
                     for j, mod in enumerate(modalities)}},
        sanity={"randomisation_spearman": 0.12, "ig_completeness_error": 0.003},
        ablation_alone={mod: {"accuracy": 0.5 / (j + 1), "macro_f1": 0.45 / (j + 1)} for j, mod in enumerate(modalities)},
        baselines={mod: "zeros" for mod in modalities},
        warnings=[],
        timings={"integrated_gradients": 1.5, "shapley": 0.4},
        params={"n_samples": 50, "random_state": 0},
    )
    # Per-clip display data and Integrated-Gradients maps, in the shapes explain gives them.
    display = {"audio": rng.normal(size=(n, 40, 100)).astype(np.float32),
               "video": rng.integers(0, 255, size=(n, 16, 32, 32, 3), dtype=np.uint8),
               "text": words}
    maps = {"audio": rng.normal(size=(n, 40, 100)).astype(np.float32),
            "video": rng.normal(size=(n, 16, 32, 32)).astype(np.float32),
            "text": [rng.normal(size=len(w)) for w in words]}
    fields["display"] = {m: display[m] for m in modalities if m in display}
    fields["maps"] = {m: maps[m] for m in modalities if m in maps}
    return cls(**fields)


def make_evaluation(evaluate, frame, *, seed=0, names=("fusion", "audio", "video")):
    """``{model: evaluate(...)}`` on the rows of ``frame`` with noisy predictions."""
    rng = np.random.default_rng(seed)
    y = frame["emotion"].to_numpy()
    out = {}
    for j, name in enumerate(names):
        pred = np.where(rng.random(len(y)) < 0.7 - 0.15 * j, y, rng.choice(EMOTIONS, len(y)))
        out[name] = evaluate(y, pred, EMOTIONS, votes=frame)
    return out


def make_history(epochs=8, seed=0):
    rng = np.random.default_rng(seed)
    return [
        {"epoch": e + 1, "train_loss": 1.8 * 0.85 ** e + 0.05 * rng.random(), "valid_loss": 1.8 * 0.9 ** e + 0.1,
         "valid_acc": min(0.95, 0.2 + 0.07 * e), "dur": 0.5, "batches": [{"train_loss": 1.0}]}
        for e in range(epochs)
    ]


def make_cv_results():
    return {
        "params": [{"clf__lr": 1e-3}, {"clf__lr": 3e-3}, {"clf__lr": 1e-2}],
        "mean_test_score": np.array([0.41, 0.47, 0.39]),
        "std_test_score": np.array([0.03, 0.05, 0.04]),
        "rank_test_score": np.array([2, 1, 3]),
        "mean_fit_time": np.array([12.0, 11.5, 12.3]),
        "param_clf__lr": np.ma.masked_array([1e-3, 3e-3, 1e-2], mask=False),
    }


def make_held_out_analysis(frame, *, seed=0):
    """``analyse_held_out`` of random but better-than-chance predictions for every row of ``frame``."""
    from mmemotion.evaluation import HeldOutPredictions, analyse_held_out

    rng = np.random.default_rng(seed)
    classes = list(EMOTIONS)
    y = frame["emotion"].to_numpy().astype(str)
    logits = rng.normal(size=(len(y), len(classes))) * 2
    logits[np.arange(len(y)), [classes.index(t) for t in y]] += 2
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    actors = frame["actor_id"].to_numpy()
    held = HeldOutPredictions(proba=proba, classes=classes, y_true=y, actor_id=actors, fold=(actors - 1001) // 2,
                              frame=frame[["clip_id", "sex", "age", "race", "ethnicity", "multimodal_vote"]]
                              .reset_index(drop=True))
    return analyse_held_out(held, n_boot=200, random_state=seed)
