"""Turn a listing of CREMA-D media paths into one row per usable clip (no media is opened)."""

from pathlib import PurePosixPath

import pandas as pd

from .. import MODALITIES
from ..modalities import get_modality
from ._codes import EMOTIONS, LEVELS, SENTENCES, STEM_PATTERN, parse_stem

__all__ = ["AUDIO_DIR", "VIDEO_DIR", "AUDIO_MEDIA", "VIDEO_MEDIA", "MEDIA_KINDS", "AUDIO_SUFFIXES", "VIDEO_SUFFIXES", "QUALITY_COLUMNS", "build_manifest"]

AUDIO_DIR, VIDEO_DIR = "AudioWAV", "VideoFlash"
#: The two media kinds of the CREMA-D layout (a WAV in AudioWAV/, a video in VideoFlash/; manifest
#: columns ``audio_path`` and ``video_path``), as the built-in registry entries name them
#: (:attr:`mmemotion.modalities.Modality.media`), in that order.
MEDIA_KINDS = tuple(dict.fromkeys(get_modality(m).media for m in MODALITIES if get_modality(m).media))
AUDIO_MEDIA, VIDEO_MEDIA = MEDIA_KINDS
AUDIO_SUFFIXES = (".wav",)
#: .flv is the original; .mp4 for users who converted the videos. Earlier wins on duplicates.
VIDEO_SUFFIXES = (".flv", ".mp4")
QUALITY_COLUMNS = ["clip_id", "path", "reason", "detail"]
_NAME_HELP = "expected <actor>_<sentence>_<emotion>_<level>, e.g. 1001_DFA_ANG_XX"


def _quality_row(clip_id, path, reason, detail):
    return {"clip_id": clip_id, "path": path, "reason": reason, "detail": detail}


def _unknown_codes(stem):
    match = STEM_PATTERN.match(stem)
    if match is None:
        return None
    parts = match.groupdict()
    bad = [f"{kind} {parts[kind]!r}" for kind, known in
           (("sentence", SENTENCES), ("emotion", EMOTIONS), ("level", LEVELS)) if parts[kind] not in known]
    return "unknown " + ", ".join(bad)


def build_manifest(entries, root, *, media=MEDIA_KINDS):
    """Pair audio and video files by stem and parse their names.

    Parameters
    ----------
    entries : iterable of (str, int)
        ``(relative_path, size_in_bytes)`` with POSIX separators, e.g.
        ``("AudioWAV/1001_DFA_ANG_XX.wav", 55852)``. Paths outside ``AudioWAV/`` and
        ``VideoFlash/`` (e.g. ``AudioMP3/``) and other suffixes are ignored.
    root : pathlib.Path
        Folder the paths are relative to; output paths are ``root / relative_path`` as str.
    media : tuple of {"audio", "video"}, default=("audio", "video")
        The files a clip needs. A clip lacking one of them is excluded ("unpaired audio":
        its video is missing; "unpaired video": its WAV is missing); a file of a kind that is
        not needed is used when present (its path is filled in) and left empty (None) when
        absent. With ``media=()`` a clip needs one file of either kind (its name carries
        everything the text modality reads).

    Returns
    -------
    clips : DataFrame
        One row per usable clip with parsable name and non-empty files, sorted by clip_id:
        clip_id, audio_path, video_path, actor_id, sentence, sentence_text, emotion, level.
    quality : DataFrame
        One row per excluded file: clip_id, path, reason, detail.
    """
    audio, video, rejected = {}, {}, []
    empty = set()  # stems already reported for an empty file; their partner is not "unpaired"

    for rel, size in entries:
        rel = PurePosixPath(rel)
        if len(rel.parts) != 2:
            continue
        folder, suffix, stem = rel.parts[0], rel.suffix.lower(), rel.stem
        if folder == AUDIO_DIR and suffix in AUDIO_SUFFIXES:
            target = audio
        elif folder == VIDEO_DIR and suffix in VIDEO_SUFFIXES:
            target = video
        else:
            continue
        path = str(root / rel)
        if parse_stem(stem) is None:
            unknown = _unknown_codes(stem)
            reason, detail = ("unknown code", unknown) if unknown else ("name does not parse", _NAME_HELP)
            rejected.append(_quality_row(stem, path, reason, detail))
        elif int(size) == 0:
            rejected.append(_quality_row(stem, path, "empty file", "0 bytes"))
            empty.add(stem)
        elif stem in target:
            # Keep the preferred container (.flv over .mp4); report the other one.
            kept, kept_suffix = target[stem]
            order = VIDEO_SUFFIXES if target is video else AUDIO_SUFFIXES
            if order.index(suffix) < order.index(kept_suffix):
                target[stem] = (path, suffix)
                path, kept = kept, path
            rejected.append(_quality_row(stem, path, "duplicate", f"another file is used: {kept}"))
        else:
            target[stem] = (path, suffix)

    rows = []
    for stem in sorted(audio.keys() | video.keys()):
        missing_audio = AUDIO_MEDIA in media and stem not in audio
        missing_video = VIDEO_MEDIA in media and stem not in video
        if stem in empty and (missing_audio or missing_video or stem not in audio and stem not in video):
            continue
        if missing_video:
            rejected.append(_quality_row(stem, audio[stem][0], "unpaired audio",
                                         f"no {VIDEO_DIR}/{stem}.flv (or .mp4)"))
        elif missing_audio:
            rejected.append(_quality_row(stem, video[stem][0], "unpaired video", f"no {AUDIO_DIR}/{stem}.wav"))
        else:
            parts = parse_stem(stem)
            rows.append({"clip_id": stem, "audio_path": audio.get(stem, (None,))[0],
                         "video_path": video.get(stem, (None,))[0],
                         "actor_id": parts["actor_id"], "sentence": parts["sentence"],
                         "sentence_text": SENTENCES[parts["sentence"]], "emotion": parts["emotion"],
                         "level": parts["level"]})
    columns = ["clip_id", "audio_path", "video_path", "actor_id", "sentence", "sentence_text", "emotion", "level"]
    clips = pd.DataFrame(rows, columns=columns)
    clips["actor_id"] = clips["actor_id"].astype("int64")
    quality = pd.DataFrame(rejected, columns=QUALITY_COLUMNS)
    return clips, quality
