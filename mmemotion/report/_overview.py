"""The overview section: dataset facts, the split protocol and the headline scores."""

from ..datasets._codes import EMOTIONS
from ._common import counts, first, is_synthetic, unavailable

__all__ = ["overview"]


def _split_rows(split):
    train, test = set(split.get("train_actors") or ()), set(split.get("test_actors") or ())
    rows = [("protocol", split.get("protocol", "not recorded"))]
    if split.get("speaker_norm"):
        rows.append(("speaker normalisation", split["speaker_norm"]))
    for key in ("n_train", "n_test"):
        if key in split:
            rows.append((key.replace("n_", "") + " clips", split[key]))
    if train or test:
        rows += [
            ("train actors", f"{len(train)}: " + ", ".join(map(str, sorted(train)))),
            ("test actors", f"{len(test)}: " + ", ".join(map(str, sorted(test)))),
            ("actors in both", len(train & test)),
        ]
    return rows


def overview(frame, dataset, split, evaluations, main, explanation):
    numbers = {}
    facts = []
    if frame is not None:
        n_actors = frame["actor_id"].nunique() if "actor_id" in frame else None
        facts += [("clips", len(frame)), ("actors", n_actors if n_actors is not None else "unknown")]
        if "emotion" in frame:
            facts.append(("emotions", ", ".join(counts(frame["emotion"], EMOTIONS))))
        numbers.update(n_clips=len(frame), n_actors=n_actors)
    if dataset is not None and not hasattr(dataset, "columns"):
        for key, label in (("root", "source folder"), ("sample", "sample fraction"), ("synthetic", "synthetic")):
            value = first(dataset, key)
            if value is not None:
                facts.append((label, value))
                numbers[key] = value
    if split:
        numbers["split"] = split
    headline = []
    if main is not None:
        ev = evaluations[main]
        chance = 1 / max(len(ev["classes"]), 1)
        headline = [("accuracy", ev["accuracy"]), ("macro-F1", ev["macro_f1"]), ("UAR", ev["uar"]),
                    ("chance", chance)]
        human = ev.get("human", {}).get("multimodal")
        if human:
            who = "simulated raters" if is_synthetic(dataset) else "human raters"
            headline.append((f"{who} (audio-visual)", human["human_accuracy"]))
        numbers["headline"] = dict(headline)
    if frame is None and main is None and explanation is None:
        return unavailable("not available because no dataset, evaluation or explanation was passed "
                           "to render_report.")
    return {
        "available": True,
        "facts": facts,
        "split_rows": _split_rows(split) if split else [],
        "split_missing": not split,
        "headline": headline,
        "main_model": main,
        "numbers": numbers,
    }
