"""Load the CREMA-D folder as a scikit-learn style Bunch."""

import numbers
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from .. import MODALITIES
from ..modalities import get_modality
from ..utils import check_modalities, progress
from ._codes import EMOTIONS, VOTE_LETTERS
from ._manifest import (AUDIO_DIR, AUDIO_MEDIA, AUDIO_SUFFIXES, MEDIA_KINDS, QUALITY_COLUMNS, VIDEO_DIR, VIDEO_MEDIA,
                        VIDEO_SUFFIXES, build_manifest)
from ._media_checks import check_clip

__all__ = ["load_crema_d", "CremaDQualityWarning", "FRAME_COLUMNS"]

#: Columns of ``Bunch.frame`` in order (``duration`` is NaN when ``check_media=False``).
FRAME_COLUMNS = ["clip_id", "audio_path", "video_path", "actor_id", "sentence", "sentence_text", "emotion",
                 "level", "age", "sex", "race", "ethnicity", "voice_vote", "face_vote", "multimodal_vote",
                 "duration"]
_VOTE_COLUMNS = {"VoiceVote": "voice_vote", "FaceVote": "face_vote", "MultiModalVote": "multimodal_vote"}
_LAYOUT_HELP = (f"A CREMA-D folder holds {AUDIO_DIR}/<stem>.wav and {VIDEO_DIR}/<stem>.flv (or .mp4) with stems "
                "like 1001_DFA_ANG_XX, plus VideoDemographics.csv and optionally "
                "processedResults/summaryTable.csv (https://github.com/CheyneyComputerScience/CREMA-D); "
                "mmemotion.datasets.make_synthetic_crema_d writes one to try the toolkit.")


class CremaDQualityWarning(UserWarning):
    """Issued once per :func:`load_crema_d` call when clips or files were excluded."""


def load_crema_d(root, *, modalities=None, sample=None, stratify=True, random_state=None, return_X_y=False,
                 check_media=True, min_duration=0.25, max_duration=10.0, verbose=False):
    """Load CREMA-D (or a synthetic copy) as a table of clips, one row per usable clip.

    Audio ``AudioWAV/*.wav`` and video ``VideoFlash/*.flv`` (or ``.mp4``) are paired by file
    stem ``<actor>_<sentence>_<emotion>_<level>``; a clip needs the files of the ``modalities``
    it will be used for (the common audio-only copy of CREMA-D, 7,442 WAVs without
    ``VideoFlash/``, loads as audio + text). Files that cannot be used (unpaired,
    unparsable or unknown-code names, empty or unreadable files, audio or video too short or
    too long, video length far from its audio) are excluded, listed with their reason in
    ``quality``, and summarised in one :class:`CremaDQualityWarning`.

    Parameters
    ----------
    root : str or path-like
        The CREMA-D folder (the one containing ``AudioWAV`` and/or ``VideoFlash``).
    modalities : str or tuple of {"audio", "video", "text"}, default=None
        What the clips will be used for. A clip needs a WAV for "audio" and a video for
        "video" ("text" reads the file name only); a file that no requested modality needs is
        neither required nor checked, and its path is filled in when it exists (None
        otherwise). None: every modality whose folder exists, i.e. audio and video for a full
        copy, audio alone when there is no ``VideoFlash/``, video alone when there is no
        ``AudioWAV/`` (text is always possible).
    sample : float or int, default=None
        Keep a random subset: a fraction in (0, 1] (``0.05`` = 5% of the usable clips) or
        a number of clips. None keeps all.
    stratify : bool, default=True
        Sample each emotion in proportion to its share (largest-remainder rounding).
    random_state : int, RandomState instance or None, default=None
        Seed of the sampling; an int makes the sample reproducible.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    check_media : bool, default=True
        Read the WAV header (soundfile) and the video container's frame count and fps
        (OpenCV, nothing decoded) of every paired clip. False trusts names and sizes only,
        which is faster on slow disks.
    min_duration, max_duration : float, default=0.25, 10.0
        Usable audio and video length in seconds. CREMA-D clips last 1.3 to 5 s; its
        ``1064_IEO_DIS_MD.flv`` holds about a minute of takes and is excluded as too long.
        Only the media a clip needs are checked.
    verbose : bool, default=False
        Progress bar over the media checks.

    Returns
    -------
    data : Bunch
        ``frame`` : DataFrame of shape (n_clips, 16) with columns clip_id (file stem),
        audio_path, video_path (absolute str), actor_id (int), sentence (code), sentence_text,
        emotion (code), level, age, sex, race, ethnicity (from ``VideoDemographics.csv``;
        missing when absent), voice_vote, face_vote, multimodal_vote (human majority votes
        from ``processedResults/summaryTable.csv`` as emotion codes, ties joined as
        ``"ANG:SAD"``, missing when the file is absent), duration (audio seconds, or video
        seconds when the audio is not needed and absent).
        ``data`` : ``frame`` without ``emotion``. ``target`` : Series of emotion codes.
        ``target_names`` : list of the six emotion codes. ``feature_names`` : columns of
        ``data``. ``quality`` : DataFrame with columns clip_id, path, reason, detail, one row
        per excluded file. ``DESCR`` : description. ``root`` : the folder as a Path.
        ``modalities`` : the modalities the clips were loaded for, as a tuple.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        ``root`` does not exist or holds neither ``AudioWAV`` nor ``VideoFlash``.
    ValueError
        ``root`` is a file, holds no usable clip, or a parameter is invalid.

    Examples
    --------
    >>> import tempfile
    >>> from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
    >>> root = make_synthetic_crema_d(tempfile.mkdtemp(), n_actors=2, clips_per_actor=6,
    ...                               duration=0.5, verbose=False)
    >>> bunch = load_crema_d(root)
    >>> bunch.frame.shape
    (12, 16)
    >>> sorted(bunch.target.unique()) == list(bunch.target_names)
    True
    """
    root = _check_root(root)
    modalities = _check_modalities(root, modalities)
    # The media kinds the modalities read, as their registry entries say.
    wanted = {get_modality(m).media for m in modalities}
    media = tuple(kind for kind in MEDIA_KINDS if kind in wanted)
    _check_sample(sample)
    entries = _listing(root)
    clips, quality = build_manifest(entries, root, media=media)
    rejected = [quality]

    clips["duration"] = np.nan
    if check_media and len(clips):
        keep = np.ones(len(clips), dtype=bool)
        rows = zip(clips["clip_id"], clips["audio_path"], clips["video_path"])
        for i, (clip_id, audio, video) in enumerate(progress(rows, verbose=verbose, desc="checking CREMA-D media",
                                                             total=len(clips), unit="clip")):
            audio, video = (path if isinstance(path, str) else None for path in (audio, video))
            # Check what the modalities need; text alone needs one readable file of either kind.
            needed_audio = audio if AUDIO_MEDIA in media or VIDEO_MEDIA not in media else None
            needed_video = video if VIDEO_MEDIA in media or needed_audio is None else None
            duration, problem = check_clip(needed_audio, needed_video, min_duration=min_duration,
                                           max_duration=max_duration)
            clips.iloc[i, clips.columns.get_loc("duration")] = duration
            if problem is not None:
                keep[i] = False
                path, reason, detail = problem
                rejected.append(pd.DataFrame([[clip_id, path, reason, detail]], columns=QUALITY_COLUMNS))
        clips = clips[keep].reset_index(drop=True)
    quality = pd.concat(rejected, ignore_index=True).sort_values(["reason", "clip_id"], kind="stable")
    quality = quality.reset_index(drop=True)

    if len(clips) == 0:
        counts = quality["reason"].value_counts().to_dict() if len(quality) else {}
        raise ValueError(f"No usable CREMA-D clip for modalities={modalities} in {root} (excluded files by "
                         f"reason: {counts}). {_LAYOUT_HELP}")
    if len(quality):
        _warn_quality(root, quality, n_kept=len(clips))

    frame = clips.merge(_demographics(root), on="actor_id", how="left")
    frame = frame.merge(_votes(root), on="clip_id", how="left")
    frame = frame[FRAME_COLUMNS]
    for column in ("audio_path", "video_path"):  # an absent file is None, not NaN
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame = _sample(frame, sample, stratify, random_state).reset_index(drop=True)

    data = frame.drop(columns="emotion")
    target = frame["emotion"].rename("emotion")
    if return_X_y:
        return data, target
    return Bunch(frame=frame, data=data, target=target, target_names=list(EMOTIONS),
                 feature_names=list(data.columns), quality=quality, DESCR=_describe(root, frame, quality),
                 root=root, modalities=modalities)


def _check_root(root):
    try:
        root = Path(root).expanduser().resolve()
    except TypeError as exc:
        raise ValueError(f"load_crema_d: root must be a path to a CREMA-D folder, got {root!r}.") from exc
    if not root.exists():
        raise FileNotFoundError(f"load_crema_d: CREMA-D folder {root} does not exist. {_LAYOUT_HELP}")
    if not root.is_dir():
        raise ValueError(f"load_crema_d: root={root} is a file, not a CREMA-D folder. {_LAYOUT_HELP}")
    if not (root / AUDIO_DIR).is_dir() and not (root / VIDEO_DIR).is_dir():
        raise FileNotFoundError(
            f"load_crema_d: {root} is not a CREMA-D folder: it has neither {AUDIO_DIR}/ nor {VIDEO_DIR}/. "
            f"{_LAYOUT_HELP}")
    return root


def _check_modalities(root, modalities):
    if modalities is not None:
        return check_modalities(modalities, "load_crema_d")
    folders = {AUDIO_MEDIA: (root / AUDIO_DIR).is_dir(), VIDEO_MEDIA: (root / VIDEO_DIR).is_dir(), None: True}
    return tuple(m for m in MODALITIES if folders.get(get_modality(m).media, False))


def _check_sample(sample):
    if sample is None:
        return
    if isinstance(sample, bool):
        raise ValueError(f"load_crema_d: sample must be None, a fraction or a count, got {sample!r}.")
    if isinstance(sample, numbers.Integral):
        if sample < 1:
            raise ValueError(f"load_crema_d: sample={sample!r} must be a count >= 1 or a fraction in (0, 1].")
    elif isinstance(sample, numbers.Real):
        if not 0 < sample <= 1:
            raise ValueError(f"load_crema_d: sample={sample!r} must be a fraction in (0, 1] or a count >= 1.")
    else:
        raise ValueError(f"load_crema_d: sample must be None, a fraction or a count, got {sample!r}.")


def _listing(root):
    entries = []
    for folder, suffixes in ((AUDIO_DIR, AUDIO_SUFFIXES), (VIDEO_DIR, VIDEO_SUFFIXES)):
        if not (root / folder).is_dir():
            continue
        # os.scandir gives the size from the directory entry: one system call per file
        # instead of two, which matters for 15k files on network drives.
        with os.scandir(root / folder) as it:
            for entry in it:
                if (entry.is_file() and not entry.name.startswith(".")
                        and os.path.splitext(entry.name)[1].lower() in suffixes):
                    entries.append((f"{folder}/{entry.name}", entry.stat().st_size))
    return entries


def _find(root, name):
    # Real CREMA-D keeps VideoDemographics.csv at the top; some copies move it next to the votes.
    for candidate in (root / name, root / "processedResults" / name):
        if candidate.is_file():
            return candidate
    return None


def _demographics(root):
    columns = ["actor_id", "age", "sex", "race", "ethnicity"]
    path = _find(root, "VideoDemographics.csv")
    if path is None:
        warnings.warn(f"load_crema_d: no VideoDemographics.csv in {root}; age, sex, race and ethnicity are "
                      "missing.", CremaDQualityWarning, stacklevel=3)
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "actor_id" else object) for c in columns})
    table = pd.read_csv(path)
    table = table.rename(columns={"ActorID": "actor_id", "Age": "age", "Sex": "sex", "Race": "race",
                                  "Ethnicity": "ethnicity"})
    missing = set(columns) - set(table.columns)
    if missing:
        raise ValueError(f"load_crema_d: {path} lacks the columns {sorted(missing)}; expected ActorID, Age, Sex, "
                         "Race, Ethnicity as in CREMA-D.")
    table = table[columns].drop_duplicates("actor_id")
    table["actor_id"] = table["actor_id"].astype("int64")
    table["age"] = pd.to_numeric(table["age"], errors="coerce").astype("Int64")
    return table


def _vote_codes(value):
    if not isinstance(value, str) or not value:
        return None
    codes = [VOTE_LETTERS.get(letter.strip()) for letter in value.split(":")]
    if any(code is None for code in codes):
        return None
    return ":".join(codes)


def _votes(root):
    columns = ["clip_id", *_VOTE_COLUMNS.values()]
    path = _find(root, "summaryTable.csv")
    if path is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "FileName" not in table.columns:
        raise ValueError(f"load_crema_d: {path} has no FileName column; expected CREMA-D's summaryTable.csv.")
    out = pd.DataFrame({"clip_id": table["FileName"]})
    for source, target in _VOTE_COLUMNS.items():
        values = table[source] if source in table.columns else pd.Series([None] * len(table))
        out[target] = pd.Series([_vote_codes(v) for v in values], dtype=object)
    return out.drop_duplicates("clip_id")


def _sample(frame, sample, stratify, random_state):
    # Not train_test_split(train_size=..., stratify=...): it raises for fewer clips than emotions
    # (sample=0.05 of 96 clips: 5 < 6, where this gives 5 clips of 5 emotions), for every clip
    # (sample=1.0) and for an emotion with one clip; and for the same seed it keeps other clips
    # (4 of 9 shared on a generated 18-clip corpus), so `mmemotion demo --sample` would change.
    if sample is None:
        return frame
    n = len(frame)
    if isinstance(sample, numbers.Integral):
        if sample > n:
            raise ValueError(f"load_crema_d: sample={sample} exceeds the {n} usable clips; pass a smaller count "
                             "or a fraction.")
        n_keep = int(sample)
    else:
        n_keep = max(int(round(sample * n)), 1)
    rng = check_random_state(random_state)
    if not stratify:
        chosen = np.sort(rng.choice(n, size=n_keep, replace=False))
        return frame.iloc[chosen]
    groups = frame.groupby("emotion", sort=True).indices
    labels = sorted(groups)
    sizes = np.array([len(groups[g]) for g in labels])
    exact = sizes * n_keep / n
    quota = np.floor(exact).astype(int)
    # Largest remainder: hand the leftover clips to the classes that lost most to rounding.
    for i in np.argsort(-(exact - quota), kind="stable")[: n_keep - quota.sum()]:
        quota[i] += 1
    chosen = np.concatenate([rng.choice(groups[g], size=q, replace=False) for g, q in zip(labels, quota)])
    return frame.iloc[np.sort(chosen)]


def _warn_quality(root, quality, n_kept):
    counts = quality["reason"].value_counts()
    summary = ", ".join(f"{count} {reason}" for reason, count in counts.items())
    warnings.warn(f"load_crema_d excluded {len(quality)} file(s) in {root} ({summary}); kept {n_kept} clips. "
                  "See the Bunch's `quality` table for each file and reason.", CremaDQualityWarning, stacklevel=3)


def _describe(root, frame, quality):
    counts = frame["emotion"].value_counts().reindex(list(EMOTIONS), fill_value=0)
    per_class = ", ".join(f"{k} {v}" for k, v in counts.items())
    return f"""CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset
-----------------------------------------------------------

Loaded from {root}: {len(frame)} clips, {frame['actor_id'].nunique()} actors, {per_class};
{len(quality)} file(s) excluded (see `quality`).

CREMA-D (Cao et al., IEEE Transactions on Affective Computing 5(4), 2014) holds 7,442 clips of
91 actors (48 male, 43 female, ages 20-74) speaking 12 sentences in six emotions (anger,
disgust, fear, happy, neutral, sad), the IEO sentence at three intensities. Each clip is a
16 kHz mono WAV and a 480x360 30 fps FLV video. Human raters' majority votes are given for
voice only, face only and audio-visual presentation (44.6%, 68.5% and 74.4% of the clips are
voted as intended). The emotion code is part of every file name: features computed from the
full name leak the label. Split by actor (`actor_id`) to measure generalisation to new people.

Licence: Open Database License (ODbL 1.0); contents: Database Contents License (DbCL 1.0).
A folder written by mmemotion.datasets.make_synthetic_crema_d has the same layout, with drawn
faces, synthetic voices and simulated votes.
"""
