"""Speech-like voice synthesis for the synthetic CREMA-D generator.

A source-filter toy: a harmonic glottal source (partials falling as ``k**-tilt``) whose f0
follows declination, syllable accents, vibrato and jitter, shaped by three vowel formants per
syllable, gated by syllable envelopes, with consonant bursts, aspiration and background noise.
It is not intelligible speech, but pitch, rate, energy, tremor and voice quality are where
speech-emotion features (MFCC, f0, energy) look for them.
"""

import numpy as np

__all__ = ["SR", "SYLLABLES", "speech_plan", "plan_envelope", "synthesize_voice"]

SR = 16000

#: Syllables in each CREMA-D sentence (counted by hand from the sentence texts).
SYLLABLES = {"IEO": 6, "TIE": 8, "IOM": 8, "IWW": 8, "TAI": 7, "MTI": 9,
             "IWL": 8, "ITH": 10, "DFA": 6, "ITS": 7, "TSI": 5, "WSI": 9}

# (F1, F2, F3) in Hz of a few English vowels (Peterson & Barney male averages).
_VOWELS = np.array([(730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (570, 840, 2410),
                    (300, 870, 2240), (660, 1720, 2410), (490, 1350, 1690), (440, 1020, 2240)], float)
_BANDWIDTHS = np.array([90.0, 110.0, 170.0])
_CTRL_HOP = 80  # control-rate hop in samples (200 Hz) for f0 and formant tracks


def speech_plan(rng, n_syllables, rate, duration):
    """Time the syllables of one utterance.

    Syllables that do not fit in ``duration`` are dropped (the speaker is cut off), so the
    speaking rate stays a cue even for very short clips.

    Returns
    -------
    plan : dict
        ``onsets``, ``lengths`` (s) and ``gains`` arrays of shape (n_kept,).
    """
    start = min(rng.uniform(0.12, 0.3), 0.2 * duration)
    end = duration - min(0.12, 0.1 * duration)
    lengths = np.exp(rng.normal(0, 0.2, n_syllables)) / rate
    # Longer final syllable (phrase-final lengthening).
    lengths[-1] *= 1.4
    onsets = start + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    keep = onsets + 0.5 * lengths < end
    keep[0] = True
    onsets, lengths = onsets[keep], lengths[keep]
    lengths = np.minimum(lengths, np.maximum(end - onsets, 0.03))
    gains = np.exp(rng.normal(0, 0.25, len(onsets)))
    gains[rng.random(len(onsets)) < 0.3] *= 1.5  # stressed syllables
    return {"onsets": onsets, "lengths": lengths, "gains": gains}


def plan_envelope(plan, times):
    """Amplitude envelope of a speech plan, shape (len(times),), peak about 1."""
    times = np.asarray(times, dtype=float)[:, None]
    u = (times - plan["onsets"]) / plan["lengths"]
    inside = (u >= 0) & (u <= 1)
    # Fast attack, slower decay: the shape of a syllable nucleus.
    shape = np.where(inside, np.sin(np.pi * np.clip(u, 0, 1) ** 0.7) ** 1.5, 0.0)
    env = (shape * plan["gains"]).max(axis=1)
    return env / max(plan["gains"].max(), 1e-9)


def synthesize_voice(rng, cues, actor, plan, duration):
    """Render the waveform of one clip.

    Parameters
    ----------
    rng : numpy.random.Generator
    cues : dict
        Voice cues from :func:`~._synthetic_cues.draw_cues`.
    actor : dict
        From :func:`~._synthetic_cues.draw_actor`.
    plan : dict
        From :func:`speech_plan`.
    duration : float
        Seconds.

    Returns
    -------
    wave : ndarray of shape (round(duration * 16000),), float32 in [-1, 1]
    """
    n = max(int(round(duration * SR)), 1)
    t = np.arange(n) / SR
    n_ctrl = n // _CTRL_HOP + 2
    tc = np.arange(n_ctrl) * _CTRL_HOP / SR
    onsets, lengths = plan["onsets"], plan["lengths"]
    span_start, span_end = onsets[0], onsets[-1] + lengths[-1]

    # f0 track (semitones re the actor's base): declination over the utterance, a Gaussian
    # accent on roughly half of the syllables, vibrato (tremor) and smoothed random jitter.
    progress = np.clip((tc - span_start) / max(span_end - span_start, 1e-3), 0, 1)
    semis = cues["pitch_shift"] + cues["pitch_range"] * (0.5 - progress) * 0.6
    accents = rng.random(len(onsets)) < 0.55
    for on, ln, acc in zip(onsets, lengths, accents):
        if acc:
            height = cues["pitch_range"] * rng.uniform(0.5, 1.0)
            semis += height * np.exp(-0.5 * ((tc - on - 0.4 * ln) / (0.35 * ln)) ** 2)
    jitter = np.convolve(rng.normal(0, 1, n_ctrl), np.ones(5) / 5, mode="same")
    vib_rate = rng.uniform(4.5, 7.0)
    f0c = actor["f0"] * 2 ** (semis / 12)
    f0c *= 1 + cues["tremor"] * np.sin(2 * np.pi * vib_rate * tc + rng.uniform(0, 2 * np.pi))
    f0c *= 1 + (0.004 + 0.3 * cues["tremor"]) * jitter
    f0 = np.interp(t, tc, f0c)
    phase = 2 * np.pi * np.cumsum(f0) / SR

    # Formants: one vowel per syllable, held (and smoothed) at the control rate.
    vowel_ids = rng.integers(len(_VOWELS), size=len(onsets))
    idx = np.clip(np.searchsorted(onsets, tc, side="right") - 1, 0, len(onsets) - 1)
    formants = _VOWELS[vowel_ids[idx]] * actor["formant_scale"]
    kernel = np.ones(7) / 7
    formants = np.stack([np.convolve(np.pad(f, 3, mode="edge"), kernel, "valid") for f in formants.T], 1)

    n_harm = int(min(40, 4000 // f0c.max()))
    k = np.arange(1, n_harm + 1)[:, None]
    freqs = k * f0c[None, :]  # (n_harm, n_ctrl)
    gain = sum(1.0 / (1.0 + ((freqs - formants[None, :, j]) / _BANDWIDTHS[j]) ** 2) for j in range(3))
    amps = (gain + 0.03) * k ** (-cues["tilt"])
    voiced = np.zeros(n)
    for h in range(n_harm):
        voiced += np.interp(t, tc, amps[h]) * np.sin((h + 1) * phase)

    env = plan_envelope(plan, t)
    noise = rng.normal(0, 1, n)
    aspiration = np.diff(noise, prepend=0.0) * cues["breathiness"] * 0.5
    signal = (voiced / (np.abs(voiced).max() + 1e-9) + aspiration) * env
    # Consonant bursts: short high-passed noise at each syllable onset.
    for on, g in zip(onsets, plan["gains"]):
        i0 = int(on * SR)
        m = int(rng.uniform(0.02, 0.05) * SR)
        seg = slice(max(i0 - m, 0), i0)
        burst = np.diff(rng.normal(0, 1, seg.stop - seg.start + 1)) * 0.15 * g
        signal[seg] += burst * np.hanning(len(burst))

    level = 0.3 * 10 ** (cues["energy_db"] / 20)
    wave = level * signal / (np.abs(signal).max() + 1e-9)
    wave += 10 ** (actor["noise_db"] / 20) * noise
    return np.clip(wave, -0.99, 0.99).astype(np.float32)
