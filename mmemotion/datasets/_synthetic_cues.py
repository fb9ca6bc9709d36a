"""Planted emotion cues of the synthetic CREMA-D generator.

Every cue is drawn per clip as ``emotion effect x intensity + actor habit + clip noise``. The
emotion effects are deliberately of the same order as the actor and clip spreads for some
emotion pairs (DIS/NEU/SAD in the voice, ANG/DIS in the face), so a classifier has to combine
cues and cannot read the label off one threshold.
"""

import numpy as np

from ._codes import EMOTIONS

__all__ = ["VOICE_CUES", "FACE_CUES", "LEVEL_INTENSITY", "draw_actor", "draw_cues"]

#: Cue name -> (per-emotion mean in EMOTIONS order, clip sd, actor sd).
#: Voice: pitch_shift in semitones above the actor's base f0; pitch_range in semitones of
#: accent excursion; rate in syllables/s; energy_db relative loudness; tremor = vibrato depth
#: as a fraction of f0; tilt = spectral slope exponent (lower = brighter, "tense" voice);
#: breathiness = aspiration noise fraction.
VOICE_CUES = {
    #                ANG    DIS    FEA    HAP    NEU    SAD
    "pitch_shift": ((3.0, -1.0, 5.0, 4.0, 0.0, -1.5), 1.5, 1.5),
    "pitch_range": ((4.5, 2.5, 3.0, 6.0, 2.2, 1.2), 0.9, 0.6),
    "rate": ((4.7, 3.7, 5.3, 4.9, 4.3, 3.3), 0.45, 0.35),
    "energy_db": ((6.0, 0.0, -1.0, 3.0, 0.0, -5.0), 2.0, 2.0),
    "tremor": ((0.006, 0.006, 0.035, 0.01, 0.004, 0.02), 0.006, 0.003),
    "tilt": ((0.9, 1.4, 1.5, 1.1, 1.4, 1.9), 0.15, 0.1),
    "breathiness": ((0.04, 0.1, 0.2, 0.05, 0.07, 0.18), 0.04, 0.02),
}

#: Face: mouth_curve = corner lift as a fraction of the mouth half-width (smile > 0);
#: mouth_asym = one-sided lift (the disgust sneer); mouth_open = gain of the speech-driven
#: opening; mouth_width relative to the actor's neutral width; brow_raise as a fraction of the
#: head half-height; brow_tilt in degrees (inner ends raised > 0); eye_open relative openness.
FACE_CUES = {
    #                ANG    DIS    FEA    HAP    NEU    SAD
    "mouth_curve": ((-0.06, -0.1, -0.1, 0.35, 0.0, -0.3), 0.12, 0.08),
    "mouth_asym": ((0.0, 0.22, 0.0, 0.0, 0.0, 0.0), 0.08, 0.03),
    "mouth_open": ((0.6, 0.5, 1.3, 1.0, 0.75, 0.5), 0.2, 0.12),
    "mouth_width": ((0.9, 0.95, 1.12, 1.2, 1.0, 0.92), 0.07, 0.05),
    "brow_raise": ((-0.05, -0.03, 0.08, 0.02, 0.0, 0.03), 0.025, 0.02),
    "brow_tilt": ((-16.0, -8.0, 12.0, 0.0, 0.0, 15.0), 6.0, 4.0),
    "eye_open": ((0.85, 0.65, 1.4, 0.75, 1.0, 0.7), 0.12, 0.1),
}

#: Intensity level -> multiplier of the deviation from the neutral cue value.
LEVEL_INTENSITY = {"LO": 0.6, "MD": 1.0, "HI": 1.4, "XX": 1.0}

_NEUTRAL = EMOTIONS.index("NEU")
# Cues that must stay positive are clipped at these floors after the noise is added.
_FLOORS = {"pitch_range": 0.3, "rate": 2.0, "tremor": 0.0, "tilt": 0.4, "breathiness": 0.0,
           "mouth_open": 0.15, "mouth_width": 0.7, "eye_open": 0.3}


def draw_actor(rng, sex):
    """Draw the fixed voice, face and cue habits of one actor.

    Parameters
    ----------
    rng : numpy.random.Generator
        Generator seeded for this actor only.
    sex : {"Male", "Female"}

    Returns
    -------
    actor : dict
        ``f0`` (Hz), ``formant_scale``, ``noise_db``, face geometry and colours, and
        ``habit_<cue>`` offsets for every voice and face cue.
    """
    male = sex == "Male"
    actor = {
        "f0": (115.0 if male else 205.0) * float(np.exp(rng.normal(0, 0.13))),
        "formant_scale": (1.0 if male else 1.15) * float(np.exp(rng.normal(0, 0.04))),
        "noise_db": float(rng.uniform(-52, -38)),
        # Face geometry in pixels of the 480x360 frame.
        "head_cx": 240 + float(rng.uniform(-18, 18)),
        "head_cy": 178 + float(rng.uniform(-10, 10)),
        "head_a": float(rng.uniform(66, 82)),
        "head_b": float(rng.uniform(92, 108)),
        "eye_gap": float(rng.uniform(0.34, 0.42)),
        "mouth_y": float(rng.uniform(0.48, 0.58)),
        "skin": tuple(float(c) for c in _skin_tone(rng)),
        "hair": tuple(float(c) for c in rng.uniform(10, 90, size=3)),
        "background": tuple(float(c) for c in rng.uniform(60, 200, size=3)),
        "texture_seed": int(rng.integers(2**31)),
    }
    for table in (VOICE_CUES, FACE_CUES):
        for name, (_, _, actor_sd) in table.items():
            actor[f"habit_{name}"] = float(rng.normal(0, actor_sd))
    return actor


def _skin_tone(rng):
    # Interpolate between a dark and a light tone (BGR) so tones stay plausible.
    dark, light = np.array([45, 70, 110]), np.array([175, 200, 235])
    return dark + rng.uniform(0, 1) * (light - dark) + rng.normal(0, 6, size=3)


def draw_cues(rng, table, emotion, level, actor, gain=1.0):
    """Draw one clip's cue values for one modality.

    Parameters
    ----------
    rng : numpy.random.Generator
    table : dict
        :data:`VOICE_CUES` or :data:`FACE_CUES`.
    emotion : str
        Emotion code whose cue means are used (the true emotion when the modality carries
        signal, an emotion-independent decoy otherwise).
    level : str
        Intensity code, scales the deviation from neutral.
    actor : dict
        From :func:`draw_actor` (or the realistic mode's actor draws); its ``habit_<cue>``
        entries shift every cue.
    gain : float, default=1.0
        How strongly this actor shows this emotion; multiplies the intensity.

    Returns
    -------
    cues : dict of str to float
    """
    e = EMOTIONS.index(emotion)
    k = LEVEL_INTENSITY[level] * gain
    cues = {}
    for name, (means, clip_sd, _) in table.items():
        mean = means[_NEUTRAL] + k * (means[e] - means[_NEUTRAL])
        value = mean + actor[f"habit_{name}"] + rng.normal(0, clip_sd)
        cues[name] = float(max(value, _FLOORS.get(name, -np.inf)))
    return cues
