"""The report views of the built-in modalities, named by their registry entries.

Gallery views, ``view(display, attribution)`` for one explained clip, return ``{"image": data
URI}`` or ``{"html": markup}`` with a ``caption`` (and optionally ``numbers`` for the JSON
sidecar), or None when there is nothing to show. EDA views, ``view(frame)`` for the manifest,
draw a sample with the modality's own feature transformer (see
:class:`~mmemotion.modalities.Modality` for the keys they return). The transformers are imported
inside the EDA views: they pull in librosa and OpenCV, which a report without a dataset never needs.
"""

import os
from collections import Counter
from pathlib import Path

import numpy as np
from markupsafe import Markup, escape

from . import _figures as fig

__all__ = ["audio_eda", "frames_view", "mfcc_view", "video_eda", "words_eda", "words_view"]

#: Clip a z-scored MFCC image here: a few extreme frames would otherwise flatten the colours.
_Z_LIMIT = 2.5


def standardize_rows(values):
    """Z-score each row (MFCC coefficient) for display: c0 (log energy) is ten times larger than
    the other coefficients and would otherwise flatten the image to one colour."""
    values = np.asarray(values, dtype=float)
    std = values.std(axis=-1, keepdims=True)
    return (values - values.mean(axis=-1, keepdims=True)) / np.where(std > 0, std, 1.0)


def _symmetric_limit(values):
    limit = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    return limit if limit > 0 else 1.0


def _resize_nearest(values, height, width):
    """Nearest-neighbour resize of a 2-D map; enough to lay a coarse attribution grid on a frame."""
    rows = (np.arange(height) * values.shape[0] / height).astype(int)
    cols = (np.arange(width) * values.shape[1] / width).astype(int)
    return values[rows][:, cols]


# --- gallery views: one explained clip ---------------------------------------------------------

def mfcc_view(mfcc, attribution):
    """The MFCC input, ndarray of shape (n_mfcc, n_frames), beside its attribution map (diverging,
    centred on zero); either may be None."""
    panels = [(m, t) for m, t in ((mfcc, "MFCC input (z-scored rows)"), (attribution, "attribution (IG)"))
              if m is not None]
    if not panels:
        return None
    figure = fig.new_figure(2.6 * len(panels), 2.1)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (values, title) in zip(axes, panels):
        values = np.asarray(values, dtype=float)
        if title.startswith("attribution"):
            limit = _symmetric_limit(values)
            ax.imshow(values, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit,
                      interpolation="nearest")
        else:
            ax.imshow(standardize_rows(values), aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
                      vmin=-_Z_LIMIT, vmax=_Z_LIMIT)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("frame", fontsize=8)
        ax.tick_params(labelsize=7)
    return {"image": fig.to_data_uri(figure), "caption": "MFCC saliency", "alt": "MFCC and its attribution"}


def frames_view(frames, attribution, *, cols=8, size=80):
    """Frames (T, H, W, C) uint8 or None, blended with |attribution| (T, h, w) in a heat colour map.

    The mosaic is composed in numpy (one PNG, no matplotlib axes): 16 small axes per clip made
    the gallery the slowest part of the report.
    """
    from matplotlib import colormaps

    if frames is None and attribution is None:
        return None
    count = len(frames) if frames is not None else len(attribution)
    tiles = []
    heat = None
    if attribution is not None:
        heat = np.abs(np.asarray(attribution, dtype=float))
        # One scale for the whole clip, so frames compare; the 99th percentile rather than the
        # maximum, because pixel attributions are spiky and a single pixel would wash out the rest.
        scale = np.percentile(heat, 99)
        heat = np.clip(heat / (scale if scale > 0 else 1.0), 0, 1)
    for t in range(count):
        if frames is not None:
            frame = fig.as_rgb(frames[t]).astype(float)
            frame = np.stack([_resize_nearest(frame[..., c], size, size) for c in range(3)], axis=-1)
        if heat is not None:
            h = _resize_nearest(heat[t], size, size)
            overlay = colormaps["inferno"](h)[..., :3] * 255
            # Opacity follows the attribution, so unimportant pixels show the frame untouched.
            alpha = 0.8 * np.sqrt(h)[..., None]
            frame = overlay if frames is None else (1 - alpha) * frame + alpha * overlay
        tiles.append(frame.astype(np.uint8))
    return {"image": fig.image_data_uri(fig.mosaic(tiles, cols)), "caption": "sampled frames with attribution overlay",
            "alt": "frames with attribution"}


def words_view(words, attributions):
    """The words of one clip, each on a background coloured by its attribution: red pushes towards
    the explained class, blue away from it (opacity = |attribution| over the clip's largest)."""
    if words is None or attributions is None:
        return None
    attributions = np.asarray(attributions, dtype=float)
    scale = float(np.max(np.abs(attributions))) if attributions.size else 0.0
    spans = []
    for word, value in zip(words, attributions):
        alpha = abs(value) / scale if scale > 0 else 0.0
        rgb = "214,39,40" if value >= 0 else "31,119,180"
        spans.append(Markup('<span style="background: rgba({},{:.2f})" title="{:.4f}">{}</span>').format(
            rgb, alpha * 0.85, value, escape(str(word))))
    return {"html": Markup('<div class="words">') + Markup(" ").join(spans) + Markup("</div>"),
            "caption": "words coloured by attribution",
            "numbers": [{"word": str(w), "attribution": float(v)} for w, v in zip(words, attributions)]}


# --- EDA views: a sample of the manifest ------------------------------------------------------

def _sample(frame, column):
    """``(clip id, path)`` of the first row whose ``column`` names an existing file, ``(None, None)``
    when none does, or None when the frame has no such column."""
    if column not in frame:
        return None
    for i, path in enumerate(frame[column]):
        if isinstance(path, (str, os.PathLike)) and Path(path).is_file():
            clip = frame["clip_id"].iloc[i] if "clip_id" in frame else Path(path).stem
            return str(clip), os.fspath(path)
    return None, None


def _transform_sample(frame, transformer, title):
    """``(features of shape output_shape_, view)`` of the first readable clip: ``view`` is the EDA
    view's dict so far (a reason when no file exists; None when the frame has no column for the
    transformer), ``features`` None when there is nothing to draw."""
    sample = _sample(frame, transformer.column)
    if sample is None:
        return None, None
    clip, path = sample
    if path is None:
        # The loader's columns are "<media>_path"; a folder copied without one kind of media has them all None.
        media = transformer.column.removesuffix("_path")
        return None, {"title": title, "reason": f"not available because the {media} of every clip is missing "
                                                 f"(no {transformer.column} names an existing file)."}
    features = transformer.fit_transform([path]).reshape(transformer.output_shape_)
    return features, {"title": title, "sample": clip}


def _contours_and_mfcc(mfcc, loudness, pitch, seconds_per_frame):
    """Loudness and pitch contours above the MFCC image, on one time axis."""
    figure = fig.new_figure(8.0, 3.6)
    ax_top, ax_mfcc = figure.subplots(2, 1, sharex=True)
    t = np.arange(mfcc.shape[1]) * seconds_per_frame
    ax_top.plot(t, loudness, lw=1.0, color="#1f77b4")
    ax_top.set_ylabel("RMS (dB)")
    ax_top.set_title("loudness and pitch")
    if pitch is not None:
        ax_pitch = ax_top.twinx()
        ax_pitch.plot(t, pitch, lw=1.2, color="#d62728")
        ax_pitch.set_ylabel("F0 (Hz, voiced)", color="#d62728")
    image = ax_mfcc.imshow(standardize_rows(mfcc), aspect="auto", origin="lower", cmap="magma",
                           interpolation="nearest", vmin=-_Z_LIMIT, vmax=_Z_LIMIT,
                           extent=(0, t[-1] + seconds_per_frame, 0, len(mfcc)))
    ax_mfcc.set_xlabel("time (s)")
    ax_mfcc.set_ylabel("coefficient")
    ax_mfcc.set_title("MFCC (each coefficient standardised over time)")
    # Beside both panels, so that their time axes stay aligned.
    figure.colorbar(image, ax=[ax_top, ax_mfcc], pad=0.01)
    return fig.to_data_uri(figure)


def audio_eda(frame, *, n_mfcc=40):
    """The first clip with a readable WAV, as :class:`~mmemotion.features.MFCCTransformer`
    computes it for the model: its MFCCs and its loudness and pitch contours."""
    from ..features import MFCCTransformer

    # 200 frames of 25 ms cover 5 s, CREMA-D's longest clips; the zero padding is cut off below.
    transformer = MFCCTransformer(n_mfcc=n_mfcc, n_frames=200, prosody=True)
    features, out = _transform_sample(frame, transformer, "sample clip")
    if features is None:
        return out
    rows = [name.rsplit("_t", 1)[0] for name in transformer.get_feature_names_out()[:: transformer.n_frames]]
    values = dict(zip(rows, features[0]))
    # Real frames never have all-zero MFCCs (c0 is a log energy); padded frames do.
    n = int(np.flatnonzero(np.abs(features[0, :n_mfcc]).sum(axis=0) > 0).max(initial=0)) + 1
    voiced = values["prosody_voicing"][:n] > 0.5
    pitch = np.where(voiced, 100.0 * 2.0 ** (values["prosody_log_f0"][:n] / 12.0), np.nan) if voiced.any() else None
    out["image"] = _contours_and_mfcc(features[0, :n_mfcc, :n], values["prosody_rms_db"][:n], pitch,
                                      transformer.hop_length / transformer.sr)
    out["caption"] = (f"Loudness, pitch and the {n_mfcc} MFCCs of the sample clip, as MFCCTransformer computes "
                      "them for the model.")
    return out


def video_eda(frame, *, n_frames=8):
    """Evenly spaced whole frames of the first clip with a readable video, sampled by
    :class:`~mmemotion.features.FrameSampler` (160x120: the 4:3 of CREMA-D's 480x360)."""
    from ..features import FrameSampler

    transformer = FrameSampler(n_frames=n_frames, size=(120, 160), crop=None, dtype=np.uint8)
    features, out = _transform_sample(frame, transformer, "frames sampled evenly from sample clip")
    if features is None:
        return out
    frames = np.moveaxis(features, 0, -1)  # (C, T, H, W) -> (T, H, W, C)
    out["image"] = fig.image_data_uri(fig.mosaic([fig.as_rgb(f) for f in frames], cols=n_frames))
    out["caption"] = f"{n_frames} evenly spaced frames (FrameSampler, whole frame)."
    return out


def words_eda(frame):
    """The sentences of the manifest, as the words :class:`~mmemotion.features.FilenameEmbedder`
    reads from each clip name (beside the manifest's sentence code, when it has one), with their
    number of clips."""
    from ..features import FilenameEmbedder, tokenize_name

    column = FilenameEmbedder().column
    if column not in frame:
        return None
    words = [" ".join(tokenize_name(str(name))) for name in frame[column]]
    codes = [str(code) for code in frame["sentence"]] if "sentence" in frame else None
    found = Counter(zip(codes, words) if codes else words)
    rows = [(*key, count) if codes else (key, count) for key, count in sorted(found.items(), key=lambda kv: -kv[1])]
    return {
        "title": "the sentences spoken",
        "table": {"header": (["code"] if codes else []) + ["words the text stream reads", "clips"], "rows": rows},
        "note": "CREMA-D actors speak 12 fixed sentences in every emotion, so the words alone carry no emotion; "
                "only the label codes in the file name would (a leak).",
        "numbers": {"sentence_counts": {" | ".join(row[:-1]): row[-1] for row in rows}},
    }
