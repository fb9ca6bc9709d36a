"""The model-card section: what was trained and explained, how, and with which package versions."""

import importlib.metadata
import platform

from .. import __version__

__all__ = ["model_card"]

_VERSIONED = ("numpy", "pandas", "scikit-learn", "torch", "skorch", "captum", "shap", "librosa",
              "opencv-python-headless", "matplotlib", "jinja2")


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
