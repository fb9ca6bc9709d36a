"""The exploratory-data-analysis section: label and demographic counts, then one sample view per
registered modality that has an ``eda`` view (:class:`~mmemotion.modalities.Modality`)."""

import numpy as np

from ..datasets._codes import EMOTION_NAMES, EMOTIONS, LEVEL_NAMES, LEVELS
from ..modalities import get_modality, registered_modalities
from . import _figures as fig
from ._common import counts, unavailable

__all__ = ["eda"]


def _label_panels(frame, numbers):
    panels = []
    for column, order, title in (("emotion", EMOTIONS, "emotion"), ("level", LEVELS, "intensity level")):
        if column in frame:
            numbers[f"{column}_counts"] = counts(frame[column], order)
            panels.append((title, numbers[f"{column}_counts"], "bar"))
    return panels


def _demographic_panels(frame, numbers):
    """One panel per demographic column, counting actors (not clips)."""
    if "actor_id" not in frame:
        return []
    actors = frame.drop_duplicates("actor_id")
    panels = []
    for column in ("sex", "race", "ethnicity"):
        if column in actors:
            found = counts(actors[column])
            if found:
                numbers[f"actor_{column}_counts"] = found
                panels.append((column, found, "bar"))
    if "age" in actors:
        ages = np.asarray(actors["age"], dtype=float)
        ages = ages[np.isfinite(ages)]
        if ages.size:
            numbers["actor_age"] = {"min": ages.min(), "median": float(np.median(ages)), "max": ages.max()}
            panels.insert(0, ("age (actors)", {"values": ages}, "hist"))
    return panels


def _modality_views(frame, numbers):
    """``{name, title, sample, image | html | table, caption, note, reason}`` per modality shown."""
    views = []
    for name in registered_modalities():
        view = get_modality(name).eda
        if view is None:
            continue
        try:
            shown = view(frame)
        except Exception as error:  # a broken sample clip must not sink the whole report
            shown = {"reason": f"not available because its sample could not be read: {error}"}
        if shown is None:  # the manifest holds nothing of this modality
            continue
        if shown.get("numbers"):
            numbers[name] = shown["numbers"]
        views.append({"name": name, "title": None, "sample": None, "image": None, "html": None, "table": None,
                      "caption": "", "note": None, "reason": None, **shown})
    return views


def eda(frame):
    if frame is None:
        return unavailable("not available because no dataset was passed (render_report(dataset=...)).")
    figures, numbers, notes = [], {}, []
    panels = _label_panels(frame, numbers)
    if panels:
        figures.append(("Emotion distribution and intensity levels (clips)", fig.eda_overview(panels)))
    demographics = _demographic_panels(frame, numbers)
    if demographics:
        figures.append(("Actor demographics (one count per actor)", fig.eda_overview(demographics)))
    else:
        notes.append("Actor demographics not available because the dataset frame has no "
                     "actor_id/age/sex/race/ethnicity columns (VideoDemographics.csv missing?).")
    return {
        "available": True,
        "figures": figures,
        "notes": notes,
        "modalities": _modality_views(frame, numbers),
        "emotion_names": EMOTION_NAMES,
        "level_names": LEVEL_NAMES,
        "numbers": numbers,
    }
