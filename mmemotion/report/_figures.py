"""Matplotlib figures for the report, returned as ``data:`` URIs (PNG, base64).

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas directly instead of
through ``pyplot``: this needs no display, changes no global backend, and keeps no figure alive
in pyplot's registry (the matplotlib docs' "Embedding in a web application server" recipe).
"""

import base64
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..modalities import get_modality

__all__ = [
    "as_rgb",
    "confusion",
    "eda_overview",
    "group_accuracy",
    "image_data_uri",
    "modality_color",
    "modality_importance",
    "model_vs_human",
    "mosaic",
    "mpl_text",
    "new_figure",
    "reliability_diagram",
    "shapley_waterfall",
    "to_data_uri",
    "training_curves",
]

DPI = 80
#: Colours of modalities the registry does not know (e.g. in an explanation from a session that
#: had registered more).
_FALLBACK = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def mpl_text(text):
    """Make a user string safe for matplotlib, whose mathtext parser chokes on ``$``."""
    return str(text).replace("$", r"\$")


def modality_color(modality, i=0):
    """The registry's colour of ``modality``; ``i`` picks a fallback for an unregistered one."""
    try:
        return get_modality(modality).colour
    except ValueError:
        return _FALLBACK[i % len(_FALLBACK)]


def new_figure(width, height):
    """A constrained-layout figure (inches) on its own Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_data_uri(fig):
    """Render ``fig`` as PNG and return it as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _bar(ax, labels, values, title, color="#4c72b0", horizontal=False):
    labels = [mpl_text(label) for label in labels]
    positions = np.arange(len(labels))
    if horizontal:
        ax.barh(positions, values, color=color)
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
    else:
        ax.bar(positions, values, color=color)
        ax.set_xticks(positions, labels, rotation=30 if max(map(len, labels), default=0) > 4 else 0)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)


def eda_overview(panels):
    """Several count bar charts side by side.

    Parameters
    ----------
    panels : list of (title, {label: count}, kind)
        ``kind`` is ``"bar"`` or ``"hist"`` (then the mapping is ``{"values": array}``).
    """
    fig = new_figure(3.2 * len(panels), 2.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, data, kind) in zip(axes, panels):
        if kind == "hist":
            ax.hist(np.asarray(data["values"], dtype=float), bins=10, color="#4c72b0", edgecolor="white")
            ax.set_title(title)
            ax.spines[["top", "right"]].set_visible(False)
        else:
            _bar(ax, list(data), list(data.values()), title, horizontal=len(data) > 6)
    return to_data_uri(fig)


def as_rgb(frame):
    """One frame as (H, W, 3) uint8 RGB: grey is repeated, float frames in [0, 1] are scaled."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[-1] == 1:
        frame = frame[..., 0]
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    if frame.dtype != np.uint8:  # float frames in [0, 1], as FrameSampler(dtype=float32) gives
        frame = np.clip(np.asarray(frame, dtype=float) * 255, 0, 255).astype(np.uint8)
    return frame


def mosaic(tiles, cols, gap=2):
    """Tile equally sized (H, W, 3) uint8 images on a white background, row-major."""
    tiles = list(tiles)
    rows = int(np.ceil(len(tiles) / cols))
    height, width = tiles[0].shape[:2]
    canvas = np.full((rows * (height + gap) - gap, cols * (width + gap) - gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        canvas[r * (height + gap): r * (height + gap) + height, c * (width + gap): c * (width + gap) + width] = tile
    return canvas


def image_data_uri(image):
    """Encode an (H, W, 3) uint8 RGB array as a PNG ``data:`` URI without drawing a figure."""
    import matplotlib.image

    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, image, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def confusion(matrix, classes):
    """Row-normalised confusion matrix with the raw counts written in each cell."""
    matrix = np.asarray(matrix, dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    fig = new_figure(4.4, 3.8)
    ax = fig.add_subplot()
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    labels = [mpl_text(c) for c in classes]
    ax.set_xticks(range(len(classes)), labels, rotation=45)
    ax.set_yticks(range(len(classes)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, f"{int(count)}", ha="center", va="center", fontsize=8,
                color="white" if norm[i, j] > 0.6 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, label="row share")
    return to_data_uri(fig)


def training_curves(history):
    """Loss and validation-accuracy curves from a skorch history (list of per-epoch dicts)."""
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    fig = new_figure(8.0, 2.8)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, style in (("train_loss", "-o"), ("valid_loss", "-s")):
        values = [row.get(key) for row in history]
        if any(v is not None for v in values):
            ax_loss.plot(epochs, [np.nan if v is None else v for v in values], style, ms=3, label=key)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_title("loss")
    ax_loss.legend(fontsize=8)
    plotted = False
    for key in ("train_acc", "valid_acc"):
        values = [row.get(key) for row in history]
        if any(v is not None for v in values):
            ax_acc.plot(epochs, [np.nan if v is None else v for v in values], "-o", ms=3, label=key)
            plotted = True
    ax_acc.set_xlabel("epoch")
    ax_acc.set_title("accuracy")
    if plotted:
        ax_acc.legend(fontsize=8)
    else:
        ax_acc.text(0.5, 0.5, "no accuracy recorded", ha="center", va="center", transform=ax_acc.transAxes)
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)


def modality_importance(modalities, panels):
    """Side-by-side bar charts: one panel per importance measure, one bar per modality.

    Parameters
    ----------
    modalities : list of str
    panels : list of (title, {series name: list of float per modality})
    """
    fig = new_figure(3.4 * len(panels), 2.9)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    positions = np.arange(len(modalities))
    for ax, (title, series) in zip(axes, panels):
        width = 0.8 / max(len(series), 1)
        for k, (name, values) in enumerate(series.items()):
            offset = (k - (len(series) - 1) / 2) * width
            colors = [modality_color(m, i) for i, m in enumerate(modalities)]
            ax.bar(positions + offset, values, width * 0.95, color=colors,
                   alpha=1.0 - 0.5 * k / max(len(series), 1), label=mpl_text(name), edgecolor="black", lw=0.3)
        ax.set_xticks(positions, [mpl_text(m) for m in modalities])
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(mpl_text(title), fontsize=10)
        if len(series) > 1:
            ax.legend(fontsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)


def shapley_waterfall(modalities, values, base, full, label):
    """Waterfall from f(no modality) to f(all modalities) for one clip and class."""
    fig = new_figure(3.4, 1.9)
    ax = fig.add_subplot()
    names = ["baseline"] + [mpl_text(m) for m in modalities] + ["prediction"]
    start = float(base)
    for i, (modality, value) in enumerate(zip(modalities, values), start=1):
        ax.barh(i, value, left=start, color=modality_color(modality, i) if value >= 0 else "#d62728",
                edgecolor="black", lw=0.3)
        ax.text(start + value, i, f" {value:+.2f}", va="center", fontsize=7)
        start += float(value)
    ax.barh(0, base, color="#bbbbbb")
    ax.barh(len(names) - 1, full, color="#555555")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(min(0.0, ax.get_xlim()[0]), max(1.0, ax.get_xlim()[1]))
    ax.set_xlabel(f"P({mpl_text(label)})", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)


def model_vs_human(rows):
    """Grouped bars: human majority accuracy vs model accuracy per presentation.

    rows : list of dict with ``presentation``, ``human_accuracy``, ``model_accuracy``, ``agreement``.
    """
    fig = new_figure(1.6 + 1.6 * len(rows), 2.8)
    ax = fig.add_subplot()
    positions = np.arange(len(rows))
    for k, (key, color) in enumerate(
        (("human_accuracy", "#999999"), ("model_accuracy", "#4c72b0"), ("agreement", "#dd8452"))
    ):
        values = [row[key] for row in rows]
        ax.bar(positions + (k - 1) * 0.27, values, 0.26, color=color, label=key.replace("_", " "))
    ax.set_xticks(positions, [mpl_text(row["label"]) for row in rows], fontsize=8)
    ax.set_ylim(0, 1.25)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(fontsize=7, loc="upper center", ncols=3, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)


def reliability_diagram(before, after=None):
    """Accuracy against confidence per bin (the diagonal is perfect calibration), bin sizes below."""
    fig = new_figure(4.6, 4.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], color="#888", linestyle="--", linewidth=1, label="perfectly calibrated")
    curves = [("before", before, "#d62728", -0.012)] + ([("temperature-scaled", after, "#1f77b4", 0.012)] if after else [])
    for label, result, color, shift in curves:
        bins = result["bins"]
        centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
        top.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color=color,
                 label=f"{label} (ECE {result['ece']:.3f})")
        bottom.bar(np.asarray(centres) + shift, [b["count"] for b in bins], width=0.022, color=color)
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy in bin")
    top.legend(loc="upper left", fontsize=8)
    bottom.set_xlabel("confidence (probability of the predicted class)")
    bottom.set_ylabel("clips")
    return to_data_uri(fig)


def group_accuracy(rows_by_attribute, headings):
    """Accuracy per demographic group with its actor-bootstrap interval, one panel per attribute."""
    attributes = [a for a, rows in rows_by_attribute.items() if rows]
    heights = [max(len(rows_by_attribute[a]), 1) for a in attributes]
    fig = new_figure(5.2, 0.9 + 0.32 * sum(heights) + 0.3 * len(attributes))
    axes = fig.subplots(len(attributes), 1, sharex=True, height_ratios=heights, squeeze=False)[:, 0]
    for ax, attribute in zip(axes, attributes):
        rows = rows_by_attribute[attribute]
        for i, row in enumerate(rows):
            color = "#d62728" if row["flagged"] else "#4c72b0"
            if row["accuracy_ci"]:
                ax.plot(row["accuracy_ci"], [i, i], color=color, linewidth=2)
            ax.plot([row["accuracy"]], [i], "o", color=color)
            if row.get("human_accuracy") is not None:
                ax.plot([row["human_accuracy"]], [i], "x", color="#555")
        ax.set_yticks(range(len(rows)), [mpl_text(f"{r['group']} ({r['n_actors']})") for r in rows], fontsize=8)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_title(mpl_text(headings.get(attribute, attribute)), fontsize=9, loc="left")
    axes[-1].set_xlim(0, 1)
    axes[-1].set_xlabel("accuracy: o model, bar 95% CI, x raters")
    return to_data_uri(fig)
