"""Generate a synthetic dataset with the layout and naming of CREMA-D.

Just over 400 lines: ``make_synthetic_crema_d``'s numpydoc (its many knobs: realism, signal,
weak groups) is a quarter of it; the voice, speech, face and cue models live in their own modules.
"""

import csv
import numbers
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from joblib import Parallel, delayed

from ..utils import atomic_path, atomic_write_text, progress
from ._codes import EMOTIONS, LEVELS, SENTENCES
from ._manifest import AUDIO_MEDIA, MEDIA_KINDS, VIDEO_MEDIA
from ._synthetic_cues import FACE_CUES, VOICE_CUES, draw_actor, draw_cues
from ._synthetic_face import FPS, face_bbox, write_face_video
from ._synthetic_face_realistic import (REALISTIC_FACE_CUES, draw_face_identity, realistic_face_bbox,
                                        write_realistic_face_video)
from ._synthetic_speech import SPEECH_CUES, check_espeak, draw_speaker, speak, speech_envelope
from ._synthetic_voice import SR, SYLLABLES, plan_envelope, speech_plan, synthesize_voice

__all__ = ["make_synthetic_crema_d", "SIGNAL_MODALITIES", "SIMULATED_VOTE_ACCURACY", "REALISM"]

#: Modalities whose cues can depend on the emotion. Text cannot: in CREMA-D every actor speaks
#: every sentence in every emotion, so the words carry no emotion by design.
SIGNAL_MODALITIES = MEDIA_KINDS  # the media a cue can be planted in

#: Probability that the simulated majority vote names the emotion the modality shows; close to
#: the real CREMA-D majority-vote accuracies (voice 44.6%, face 68.5%, audio-visual 74.4%).
SIMULATED_VOTE_ACCURACY = {"voice": 0.45, "face": 0.68, "multimodal": 0.74}

#: Values of ``realism``: drawn toy media, or real TTS speech and varied faces.
REALISM = ("toy", "realistic")

_SENTENCE_CODES = tuple(SENTENCES)
_MAX_CLIPS_PER_ACTOR = len(SENTENCES) * len(EMOTIONS)
_FIRST_ACTOR = 1001
_VOTE_LETTER = {code: code[0] for code in EMOTIONS}
_RACES = ("Caucasian", "African American", "Asian", "Unknown")


def make_synthetic_crema_d(path, *, n_actors=8, clips_per_actor=24, signal=MEDIA_KINDS,
                           duration=None, votes=True, overwrite=False, n_jobs=None, verbose=True,
                           random_state=0, realism="toy", weak_group=None, weak_group_gain=0.25):
    """Write a synthetic dataset with the folder layout and file names of CREMA-D.

    Each clip is a 16 kHz mono 16-bit WAV of a speech-like voice and a 480x360, 30 fps FLV of
    a drawn talking face. Emotion is planted in the voice (pitch level and range, speaking
    rate, loudness, tremor, voice quality) and in the face (mouth curvature and opening,
    which follows the speech envelope, brow height and tilt, eye openness), on top of
    per-actor voice and face variation and noise, so it is learnable but not trivially.

    Parameters
    ----------
    path : str or path-like
        Output folder. Receives ``AudioWAV/<stem>.wav``, ``VideoFlash/<stem>.flv``,
        ``VideoDemographics.csv``, ``processedResults/summaryTable.csv`` (when ``votes``)
        and ``synthetic_truth.csv``.
    n_actors : int, default=8
        Actors, numbered from 1001 like CREMA-D.
    clips_per_actor : int, default=24
        Clips per actor, at most 72 (12 sentences x 6 emotions); emotions are balanced
        (as far as divisibility allows) and sentences rotate across actors.
    signal : sequence of {"audio", "video"}, default=("audio", "video")
        Modalities whose cues depend on the emotion. The cues of the other modalities are
        drawn for a random decoy emotion, independent of the label. When exactly one of audio
        and video carries signal, the mouth follows its own speech timing so the face cannot
        leak the voice's speaking rate.
    duration : None, float or (float, float), default=None
        Clip length in seconds. None draws real-like lengths (median about 2.5 s, between
        1.3 and 5 s, longer for longer sentences; with ``realism="realistic"`` the length of
        the spoken sentence plus pauses, at most 5 s); a float fixes it; a tuple draws
        uniformly. Speech that does not fit is cut off.
    votes : bool, default=True
        Write ``processedResults/summaryTable.csv`` with *simulated* human-rater majority
        votes (see Notes).
    overwrite : bool, default=False
        Replace existing files. Otherwise a folder that already holds a dataset raises
        :class:`FileExistsError`.
    n_jobs : int, default=None
        Parallel workers (joblib semantics; None means 1).
    verbose : bool, default=True
        Show a progress bar.
    random_state : int, default=0
        Seed. Each actor and each clip gets its own stream spawned from ``(random_state,
        actor, clip)``, so a clip does not change when more actors or clips are generated.
    realism : {"toy", "realistic"}, default="toy"
        ``"toy"`` draws a speech-like buzz and a cartoon face with strong, clean cues.
        ``"realistic"`` speaks the real CREMA-D sentences with the espeak-ng text-to-speech
        engine and draws faces whose identity and recording set-up vary more than the
        expressions (see Notes). It needs the ``espeak-ng`` program (Debian package
        ``espeak-ng``) and raises :class:`RuntimeError` without it.

    weak_group : dict, optional
        Demographic group whose emotion cues are weakened, e.g. ``{"Sex": "Female"}`` or
        ``{"Race": "Asian", "Sex": "Male"}`` (keys are ``VideoDemographics.csv`` columns, any
        case; an actor belongs when every key matches). Its actors show every emotion at
        ``weak_group_gain`` times the usual strength in voice and face, and the simulated
        raters recognise them correspondingly less often. Gives a demographic audit a known
        answer. None: every actor shows emotion alike.
    weak_group_gain : float, default=0.25
        Strength of the weak group's cues relative to the others', in [0, 1] (0: no cue).

    Returns
    -------
    path : pathlib.Path
        The output folder.

    Notes
    -----
    The votes are simulated, not collected: for each clip and presentation (voice, face,
    audio-visual) the majority vote names the emotion the presentation shows with probability
    :data:`SIMULATED_VOTE_ACCURACY`, otherwise a confusion biased towards neutral; about 7% of
    the votes are ties written ``"A:N"`` as in CREMA-D. For a modality without signal the
    "shown" emotion is the decoy.

    ``synthetic_truth.csv`` holds one row per clip: ``clip_id``, the face bounding box
    ``face_x0, face_y0, face_x1, face_y1`` in 480x360 pixel coordinates, ``duration``, the
    emotions the voice and the face show (``audio_cue_emotion``, ``video_cue_emotion``) and
    every planted cue value (``audio_<cue>``, ``video_<cue>``); the realistic mode adds
    ``audio_display_gain`` and ``video_display_gain``, how strongly the actor shows the emotion;
    ``cue_gain`` is ``weak_group_gain`` for clips of the weak group and 1 otherwise.

    What ``realism="realistic"`` makes realistic: intelligible English speech of the actual
    sentence (espeak-ng, in one of several accents and male or female variants); per-actor
    base pitch, speaking rate, word gap, loudness, microphone colouring, room reverberation
    and background noise that differ between actors more than the emotions differ; emotion
    spoken as pitch level, pitch range, rate, loudness, spectral tilt, breathiness and tremor,
    scaled by the intensity level (LO 0.6, MD 1.0, HI 1.4) and by a per-actor, per-emotion
    display gain (0.5-1.3); faces varying in head shape and size, framing, camera distance,
    skin tone, hair, beard, glasses, clothing, lighting direction, white balance, background,
    camera noise, blur and head motion, with the mouth following the speech envelope and
    some actors barely showing some emotions. With per-speaker normalised simple statistics
    and actor-held-out cross-validation, a linear model reaches roughly 0.6-0.8 (audio) and
    0.5-0.75 (video) accuracy on 6 emotions. What is still not realistic: espeak-ng is a
    formant synthesiser (robotic timbre, rule-based intonation), an emotion is a few
    parametric changes rather than an acted performance, the faces are drawn shapes facing
    the camera, and the cues are the same for every sentence.

    Examples
    --------
    >>> import tempfile
    >>> from mmemotion.datasets import make_synthetic_crema_d
    >>> root = make_synthetic_crema_d(tempfile.mkdtemp(), n_actors=2, clips_per_actor=6,
    ...                               duration=0.5, verbose=False)
    >>> len(list((root / "AudioWAV").glob("*.wav")))
    12
    >>> real = make_synthetic_crema_d(tempfile.mkdtemp(), n_actors=2, clips_per_actor=2,
    ...                               realism="realistic", verbose=False)  # needs espeak-ng
    >>> len(list((real / "VideoFlash").glob("*.flv")))
    4
    """
    path = Path(path)
    signal = _check_params(n_actors, clips_per_actor, signal, duration)
    if realism not in REALISM:
        raise ValueError(f"make_synthetic_crema_d: realism must be one of {REALISM}, got {realism!r}.")
    if realism == "realistic":
        check_espeak()
    entropy = _entropy(random_state)
    if not overwrite:
        for existing in ("AudioWAV", "VideoFlash", "VideoDemographics.csv", "synthetic_truth.csv"):
            if (path / existing).exists():
                raise FileExistsError(
                    f"{path / existing} already exists; pass overwrite=True (CLI: --force) to replace "
                    f"the dataset in {path}, or choose an empty folder.")
    (path / "AudioWAV").mkdir(parents=True, exist_ok=True)
    (path / "VideoFlash").mkdir(parents=True, exist_ok=True)

    demographics = _demographics(entropy, n_actors, realism)
    _mark_weak_group(demographics, weak_group, weak_group_gain)
    jobs = [(a, j) for a in range(n_actors) for j in range(clips_per_actor)]
    make_clip = _make_realistic_clip if realism == "realistic" else _make_clip
    tasks = (delayed(make_clip)(path, entropy, a, j, demographics[a], signal, duration, votes, overwrite)
             for a, j in jobs)
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    rows = list(progress(parallel(tasks), verbose=verbose, desc="synthetic CREMA-D", total=len(jobs),
                         unit="clip"))

    truth = pd.DataFrame([r["truth"] for r in rows])
    _write_csv(path / "synthetic_truth.csv", truth, overwrite)
    demo = pd.DataFrame(demographics)[["ActorID", "Age", "Sex", "Race", "Ethnicity"]]
    # Quoted like the real CREMA-D files (strings quoted; every field of summaryTable.csv).
    _write_csv(path / "VideoDemographics.csv", demo, overwrite, csv.QUOTE_NONNUMERIC)
    if votes:
        table = pd.DataFrame([r["votes"] for r in rows])
        table.insert(0, "", np.arange(1, len(table) + 1).astype(str))
        _write_csv(path / "processedResults" / "summaryTable.csv", table, overwrite, csv.QUOTE_ALL)
    return path


def _mark_weak_group(demographics, weak_group, gain):
    """Set each actor's ``_cue_gain``: ``gain`` for members of ``weak_group``, else 1."""
    for row in demographics:
        row["_cue_gain"] = 1.0
    if weak_group is None:
        return
    if not isinstance(gain, numbers.Real) or not 0 <= gain <= 1:
        raise ValueError(f"make_synthetic_crema_d: weak_group_gain must be in [0, 1], got {gain!r}.")
    columns = {c.lower(): c for c in ("ActorID", "Age", "Sex", "Race", "Ethnicity")}
    if not isinstance(weak_group, dict) or not weak_group:
        raise ValueError(f"make_synthetic_crema_d: weak_group must be a dict such as {{'Sex': 'Female'}}, got "
                         f"{weak_group!r}.")
    unknown = [k for k in weak_group if str(k).lower() not in columns]
    if unknown:
        raise ValueError(f"make_synthetic_crema_d: weak_group keys {unknown} are not demographic columns; use "
                         f"{sorted(columns.values())}.")
    members = 0
    for row in demographics:
        if all(str(row[columns[str(k).lower()]]) == str(v) for k, v in weak_group.items()):
            row["_cue_gain"] = float(gain)
            members += 1
    if not members:
        raise ValueError(f"make_synthetic_crema_d: no generated actor matches weak_group={weak_group!r}; check the "
                         "spelling (e.g. 'Female', 'Asian', 'Hispanic') or generate more actors.")


def _check_params(n_actors, clips_per_actor, signal, duration):
    for name, value, high in (("n_actors", n_actors, 8999), ("clips_per_actor", clips_per_actor,
                                                                _MAX_CLIPS_PER_ACTOR)):
        if not isinstance(value, numbers.Integral) or not 1 <= value <= high:
            raise ValueError(f"make_synthetic_crema_d: {name} must be an integer in [1, {high}], got {value!r}.")
    if isinstance(signal, str):
        signal = (signal,)
    signal = tuple(signal)
    bad = [m for m in signal if m not in SIGNAL_MODALITIES]
    if bad:
        raise ValueError(
            f"make_synthetic_crema_d: signal may only name {SIGNAL_MODALITIES}, got {bad!r}; the "
            "spoken sentence carries no emotion in CREMA-D, so 'text' cannot carry signal.")
    if duration is not None:
        lo, hi = (duration, duration) if isinstance(duration, numbers.Real) else tuple(duration)
        if not 0 < lo <= hi:
            raise ValueError(f"make_synthetic_crema_d: duration must be positive seconds or a (lo, hi) "
                             f"tuple with 0 < lo <= hi, got {duration!r}.")
    return signal


def _entropy(random_state):
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if random_state is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31))
    raise ValueError(f"make_synthetic_crema_d: random_state must be an int, None or a numpy generator, "
                     f"got {random_state!r}.")


def _rng(entropy, *key):
    # Independent streams per (purpose, actor, clip): SeedSequence spawn keys.
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key))


def _demographics(entropy, n_actors, realism="toy"):
    phase = int(_rng(entropy, 0).integers(2))
    rows = []
    for a in range(n_actors):
        rng = _rng(entropy, 1, a)
        rows.append({
            "ActorID": _FIRST_ACTOR + a,
            "Age": int(rng.integers(20, 75)),
            "Sex": ("Male", "Female")[(a + phase) % 2],
            "Race": _RACES[int(rng.choice(4, p=[0.6, 0.2, 0.1, 0.1]))],
            "Ethnicity": "Hispanic" if rng.random() < 0.1 else "Not Hispanic",
            "_actor": draw_actor(rng, ("Male", "Female")[(a + phase) % 2]),
        })
        if realism == "realistic":
            # Separate streams, so the toy draws above stay as they were.
            sex = rows[-1]["Sex"]
            rows[-1]["_speaker"] = draw_speaker(_rng(entropy, 3, a), sex)
            rows[-1]["_face"] = draw_face_identity(_rng(entropy, 4, a), sex)
    return rows


def _clip_codes(a, j, rng):
    emotion = EMOTIONS[j % len(EMOTIONS)]
    sentence = _SENTENCE_CODES[(j // len(EMOTIONS) + a) % len(_SENTENCE_CODES)]
    level = "XX"
    # As in CREMA-D, only the IEO sentence is acted at explicit low/medium/high intensity.
    if sentence == "IEO" and emotion != "NEU":
        level = LEVELS[int(rng.integers(3))]
    return sentence, emotion, level


def _clip_duration(rng, duration, sentence):
    if duration is None:
        # Real CREMA-D: median 2.5 s, range 1.27-5 s; longer sentences take longer.
        median = 2.5 * (0.75 + 0.25 * SYLLABLES[sentence] / 7.75)
        return float(np.clip(median * np.exp(rng.normal(0, 0.18)), 1.3, 5.0))
    if isinstance(duration, numbers.Real):
        return float(duration)
    return float(rng.uniform(*duration))


def _make_clip(root, entropy, a, j, demo, signal, duration, votes, overwrite):
    actor = demo["_actor"]
    rng = _rng(entropy, 2, a, j)
    sentence, emotion, level = _clip_codes(a, j, rng)
    dur = _clip_duration(rng, duration, sentence)
    stem = f"{demo['ActorID']}_{sentence}_{emotion}_{level}"
    decoy = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
    shown = {m: (emotion if m in signal else decoy) for m in SIGNAL_MODALITIES}

    gain = demo["_cue_gain"]
    voice_cues = draw_cues(rng, VOICE_CUES, shown[AUDIO_MEDIA], level, actor, gain)
    face_cues = draw_cues(rng, FACE_CUES, shown[VIDEO_MEDIA], level, actor, gain)
    plan = speech_plan(rng, SYLLABLES[sentence], voice_cues["rate"], dur)
    wave = synthesize_voice(rng, voice_cues, actor, plan, dur)

    n_frames = max(int(round(dur * FPS)), 1)
    frame_times = (np.arange(n_frames) + 0.5) / FPS
    if (AUDIO_MEDIA in signal) == (VIDEO_MEDIA in signal):
        mouth_plan = plan
    else:
        # The mouth follows speech timed by the face's own (decoy or true) rate, so neither
        # modality leaks the other's emotion through lip sync.
        rate = draw_cues(rng, VOICE_CUES, shown[VIDEO_MEDIA], level, actor, gain)["rate"]
        mouth_plan = speech_plan(rng, SYLLABLES[sentence], rate, dur)
    mouth = plan_envelope(mouth_plan, frame_times)

    return _write_clip(root, stem, rng, wave,
                       lambda tmp: write_face_video(tmp, rng, actor, face_cues, mouth, n_frames), face_bbox(actor), dur, shown, voice_cues, face_cues, {"cue_gain": gain},
                       emotion if signal else decoy, votes, overwrite)


def _make_realistic_clip(root, entropy, a, j, demo, signal, duration, votes, overwrite):
    speaker, face = demo["_speaker"], demo["_face"]
    rng = _rng(entropy, 2, a, j)
    sentence, emotion, level = _clip_codes(a, j, rng)
    dur = None if duration is None else _clip_duration(rng, duration, sentence)
    stem = f"{demo['ActorID']}_{sentence}_{emotion}_{level}"
    decoy = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
    shown = {m: (emotion if m in signal else decoy) for m in SIGNAL_MODALITIES}
    gains = {AUDIO_MEDIA: speaker["gain"][EMOTIONS.index(shown[AUDIO_MEDIA])] * demo["_cue_gain"],
             VIDEO_MEDIA: face["gain"][EMOTIONS.index(shown[VIDEO_MEDIA])] * demo["_cue_gain"]}

    voice_cues = draw_cues(rng, SPEECH_CUES, shown[AUDIO_MEDIA], level, speaker, gains[AUDIO_MEDIA])
    face_cues = draw_cues(rng, REALISTIC_FACE_CUES, shown[VIDEO_MEDIA], level, face, gains[VIDEO_MEDIA])
    wave, dry = speak(rng, SENTENCES[sentence], speaker, voice_cues, dur)
    dur = len(wave) / SR
    n_frames = max(int(round(dur * FPS)), 1)
    frame_times = (np.arange(n_frames) + 0.5) / FPS
    if (AUDIO_MEDIA in signal) != (VIDEO_MEDIA in signal):
        # Lip-sync to a second, unheard utterance spoken with the face's (true or decoy)
        # emotion, so neither modality leaks the other's emotion through the mouth.
        silent = draw_cues(rng, SPEECH_CUES, shown[VIDEO_MEDIA], level, speaker,
                           speaker["gain"][EMOTIONS.index(shown[VIDEO_MEDIA])] * demo["_cue_gain"])
        dry = speak(rng, SENTENCES[sentence], speaker, silent, dur)[1]
    mouth = speech_envelope(dry, frame_times)

    gains_truth = {"audio_display_gain": float(gains[AUDIO_MEDIA]), "video_display_gain": float(gains[VIDEO_MEDIA]),
                   "cue_gain": demo["_cue_gain"]}
    return _write_clip(root, stem, rng, wave,
                       lambda tmp: write_realistic_face_video(tmp, rng, face, face_cues, mouth, n_frames),
                       realistic_face_bbox(face), dur, shown, voice_cues, face_cues, gains_truth,
                       emotion if signal else decoy, votes, overwrite)


def _write_clip(root, stem, rng, wave, write_video, bbox, dur, shown, voice_cues, face_cues, extra_truth,
                multimodal, votes, overwrite):
    """Write one clip's WAV and FLV atomically; return its ground-truth row (and simulated votes)."""
    with atomic_path(root / "AudioWAV" / f"{stem}.wav", overwrite=overwrite) as tmp:
        sf.write(tmp, wave, SR, subtype="PCM_16", format="WAV")
    with atomic_path(root / "VideoFlash" / f"{stem}.flv", overwrite=overwrite) as tmp:
        write_video(tmp)

    x0, y0, x1, y1 = bbox
    truth = {"clip_id": stem, "face_x0": x0, "face_y0": y0, "face_x1": x1, "face_y1": y1,
             "duration": dur, "audio_cue_emotion": shown[AUDIO_MEDIA], "video_cue_emotion": shown[VIDEO_MEDIA],
             **extra_truth}
    truth.update({f"audio_{k}": v for k, v in voice_cues.items()})
    truth.update({f"video_{k}": v for k, v in face_cues.items()})
    row = {"truth": truth}
    if votes:
        row["votes"] = _votes(rng, stem, shown, multimodal, extra_truth.get("cue_gain", 1.0))
    return row


def _votes(rng, stem, shown, multimodal, cue_gain=1.0):
    row = {"FileName": stem}
    chance = 1 / len(EMOTIONS)
    for column, key, target in (("Voice", "voice", shown[AUDIO_MEDIA]), ("Face", "face", shown[VIDEO_MEDIA]),
                                ("MultiModal", "multimodal", multimodal)):
        # Weaker cues are recognised less often: the raters' edge over chance shrinks with them.
        accuracy = chance + cue_gain * (SIMULATED_VOTE_ACCURACY[key] - chance)
        vote, vote_level = _simulated_vote(rng, target, accuracy)
        row[f"{column}Vote"] = vote
        row[f"{column}Level"] = vote_level
    return row


def _simulated_vote(rng, target, accuracy):
    others = [e for e in EMOTIONS if e != target]
    # Human raters over-use "neutral" when unsure, as in CREMA-D.
    weights = np.array([3.0 if e == "NEU" else 1.0 for e in others])
    wrong = others[int(rng.choice(len(others), p=weights / weights.sum()))]
    first = target if rng.random() < accuracy else wrong
    level = rng.uniform(30, 90)
    if rng.random() < 0.07:
        pair = sorted({first, wrong if first == target else target}, key=EMOTIONS.index)
        second = rng.uniform(30, 90)
        return ":".join(_VOTE_LETTER[e] for e in pair), f"{level:.2f}:{second:.2f}"
    return _VOTE_LETTER[first], f"{level:.2f}"


def _write_csv(path, frame, overwrite, quoting=csv.QUOTE_MINIMAL):
    atomic_write_text(path, frame.to_csv(index=False, quoting=quoting), overwrite=overwrite)
