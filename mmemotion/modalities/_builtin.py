"""The three built-in modalities: speech audio (MFCCs), face video (frames) and text (words).

The only place in the package that spells their names. Heavy imports (librosa, OpenCV, torch,
matplotlib) happen inside the factories, so looking an entry up costs nothing.
"""

import numpy as np

from ._registry import Modality, ModalityExplanation, lazy, register_modality

__all__ = ["DEFAULT_MODALITIES"]


# --- transformers of the default (network) and baseline (linear) pipelines --------------------

def _seed(options):
    return 0 if options.get("random_state") is None else options["random_state"]


def _audio_transformer(options):
    from ..features import MFCCTransformer

    return MFCCTransformer(n_mfcc=options["n_mfcc"], n_frames=options["n_audio_frames"], prosody=options["prosody"],
                           n_jobs=options["n_jobs"], memory=options["memory"], verbose=options["verbose"])


def _video_transformer(options):
    from ..features import FrameSampler

    return FrameSampler(n_frames=options["n_video_frames"], size=tuple(options["frame_size"]), crop=options["crop"],
                        speaker_column=options["speaker_column"], dtype=np.uint8, n_jobs=options["n_jobs"],
                        memory=options["memory"], verbose=options["verbose"])


def _text_transformer(options):
    from ..features import FilenameEmbedder

    return FilenameEmbedder(dim=options["text_dim"], random_state=_seed(options))


def _audio_baseline(options):
    from ..features import Functionals, MFCCTransformer

    return Functionals(MFCCTransformer(prosody=options["prosody"], n_jobs=options["n_jobs"], memory=options["memory"],
                                       verbose=options["verbose"]), statistics=("mean", "std"))


def _video_baseline(options):
    from ..features import FrameHOG, FrameSampler, Functionals

    return Functionals(FrameHOG(FrameSampler(crop=options["crop"], dtype=np.uint8, n_jobs=options["n_jobs"],
                                             memory=options["memory"], verbose=options["verbose"])),
                       statistics=("mean", "std"))


def _text_baseline(options):
    from ..features import FilenameEmbedder

    return FilenameEmbedder(random_state=_seed(options))


# --- explanation display -----------------------------------------------------------------------

def _first_channel(x):
    return x[:, 0]


def _channels_last_uint8(x):
    # Frames arrive as float in [0, 1] (after the integer scaling), shown as uint8 RGB.
    x = np.moveaxis(x, 1, -1)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


_AUDIO = Modality(
    name="audio",
    sample_ndim=3,
    shape_doc="(C, n_mfcc, n_frames)",
    make_transformer=_audio_transformer,
    make_baseline_transformer=_audio_baseline,
    make_stream=lazy("mmemotion.models._streams:make_audio_stream"),
    stream_defaults={"widths": (16, 32, 64), "freq_bins": 4, "statistics": True, "conv": True},
    speaker_norm="functionals",
    linear_expert=True,
    media="audio",
    label="voice",
    colour="#1f77b4",
    # Raw (unstandardised) MFCCs have large, coefficient-specific offsets (c0 is around -300), so
    # zeros would be a loud, unnatural "sound". The per-coefficient mean over clips and frames is a
    # flat average spectrum with no temporal structure: the information IG asks about is removed.
    explanation=ModalityExplanation(
        baseline="mean",
        mean_axes=(2,),
        sum_axes=(0,),
        display=_first_channel,
        legacy_fields=("audio_maps", "mfcc"),
        description=(
            "per-coefficient mean MFCC over the background clips and all frames (a flat average "
            "spectrum: timing and emotion-specific spectral shape removed)"
        ),
    ),
    gallery=lazy("mmemotion.report._views:mfcc_view"),
    eda=lazy("mmemotion.report._views:audio_eda"),
)

_VIDEO = Modality(
    name="video",
    sample_ndim=4,
    shape_doc="(C, T, H, W)",
    make_transformer=_video_transformer,
    make_baseline_transformer=_video_baseline,
    make_stream=lazy("mmemotion.models._streams:make_video_stream"),
    stream_defaults={"widths": (16, 32, 64), "stem_stride": (1, 2, 2), "grid": (2, 2), "motion_blocks": 1,
                     "standardize": True, "representation": "hog", "hog_cell": 8, "reference_frames": 0},
    speaker_norm="reference",
    reference_frames=True,
    # uint8 clips are 4x smaller in memory than float32; the network scales them itself, which
    # keeps the feature cache and the DataLoader batches small.
    integer_divisor=255.0,
    media="video",
    label="face",
    colour="#ff7f0e",
    # The mean frame over clips and time keeps the static scene (background, average face
    # position) and removes what changes between clips and over time. A black frame would credit
    # every bright background pixel with evidence it does not carry.
    explanation=ModalityExplanation(
        baseline="mean",
        mean_axes=(1,),
        sum_axes=(0,),
        display=_channels_last_uint8,
        integer_scale=1.0 / 255.0,
        legacy_fields=("video_maps", "frames"),
        description=(
            "mean frame over the background clips and all sampled frames, repeated over time "
            "(static scene kept, clip-specific and moving content removed)"
        ),
    ),
    gallery=lazy("mmemotion.report._views:frames_view"),
    eda=lazy("mmemotion.report._views:video_eda"),
)

_TEXT = Modality(
    name="text",
    sample_ndim=1,
    shape_doc="(dim,)",
    make_transformer=_text_transformer,
    make_baseline_transformer=_text_baseline,
    # In CREMA-D every actor says every sentence in every emotion: its words carry no emotion.
    in_baseline=False,
    make_stream=lazy("mmemotion.models._streams:make_text_stream"),
    stream_defaults={"widths": (32,)},
    label="words",
    colour="#2ca02c",
    # The text vector is a mean of word vectors, so the zero vector is "no words at all"; it also
    # makes the per-word split of the attribution exact (see split_over_words).
    explanation=ModalityExplanation(
        baseline="zeros",
        description="zero vector (no words: the embedding of an empty sentence)",
        split_map=lazy("mmemotion.explain._words:split_over_words"),
        legacy_fields=("text_word_attributions", "words"),
    ),
    gallery=lazy("mmemotion.report._views:words_view"),
    eda=lazy("mmemotion.report._views:words_eda"),
)

for _entry in (_AUDIO, _VIDEO, _TEXT):
    register_modality(_entry)

#: The built-in modalities, in canonical order: the default of every model builder.
DEFAULT_MODALITIES = (_AUDIO.name, _VIDEO.name, _TEXT.name)
