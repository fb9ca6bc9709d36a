"""Real synthetic speech for the realistic mode of the synthetic CREMA-D generator.

The words come from the espeak-ng text-to-speech engine (a formant synthesiser, run as a
subprocess): each actor has a voice (English accent and male/female variant), base pitch,
speaking rate and word gap; the emotion is spoken through SSML ``<prosody>`` (pitch level,
pitch range, rate). Loudness, spectral tilt, breathiness, tremor, the microphone's colouring,
the room's reverberation and background noise are added in numpy afterwards, because espeak-ng
has no voice-quality controls and a recording chain is part of what makes speakers differ.
"""

import shutil
import subprocess
from xml.sax.saxutils import escape

import numpy as np
from scipy.signal import fftconvolve, resample_poly

from ._codes import EMOTIONS

__all__ = ["SR", "SPEECH_CUES", "check_espeak", "draw_speaker", "speak", "speech_envelope"]

SR = 16000
_ESPEAK_SR = 22050
_ESPEAK = "espeak-ng"

#: Cue name -> (per-emotion mean in EMOTIONS order, clip sd, actor sd), drawn like the toy
#: mode's cues (:func:`~._synthetic_cues.draw_cues`). pitch_st: pitch level in semitones above
#: the actor's own (approximate: espeak-ng realises about half of an SSML pitch percentage and
#: we convert accordingly); range_pct: change of the pitch range in percent; rate_pct: change
#: of the speaking rate in percent; energy_db: loudness; tilt_db: spectral tilt, dB gain at
#: 4 kHz relative to 0 Hz (> 0 = brighter, tense voice); breathiness: aspiration noise relative
#: to the voice; tremor: depth of a 4-7 Hz pitch and amplitude modulation (fraction).
SPEECH_CUES = {
    #                ANG    DIS    FEA    HAP    NEU    SAD
    "pitch_st": ((2.0, -0.8, 3.5, 2.5, 0.0, -1.5), 0.9, 0.8),
    "range_pct": ((30.0, -15.0, 10.0, 60.0, 0.0, -45.0), 15.0, 12.0),
    "rate_pct": ((8.0, -12.0, 15.0, 5.0, 0.0, -18.0), 6.0, 5.0),
    "energy_db": ((5.0, -0.5, 0.0, 2.5, 0.0, -4.0), 1.5, 1.5),
    "tilt_db": ((5.0, 0.0, -1.0, 2.0, 0.0, -5.0), 1.5, 1.5),
    "breathiness": ((0.02, 0.06, 0.12, 0.03, 0.04, 0.12), 0.02, 0.02),
    "tremor": ((0.004, 0.006, 0.03, 0.006, 0.003, 0.015), 0.004, 0.003),
}

# English accents of espeak-ng whose +m/+f variants all work, and the variants per sex.
_ACCENTS = ("en-us", "en-gb-x-rp", "en-029", "en-gb-scotland", "en-gb-x-gbcwmd")
_VARIANTS = {"Male": ("m1", "m2", "m3", "m4", "m5", "m6", "m7"), "Female": ("f1", "f2", "f3", "f4")}
# espeak-ng realises roughly this fraction of an SSML pitch percentage (measured with pyin).
_PITCH_EFFICACY = 0.55


def check_espeak():
    """Raise :class:`RuntimeError` when the espeak-ng program is missing."""
    if shutil.which(_ESPEAK) is None:
        raise RuntimeError(
            "make_synthetic_crema_d(realism='realistic') speaks the sentences with the espeak-ng "
            "text-to-speech program, which is not on PATH; install it (Debian/Ubuntu: "
            "`apt-get install espeak-ng`, macOS: `brew install espeak-ng`) or use realism='toy'.")


def draw_speaker(rng, sex):
    """Draw one actor's voice, recording chain and emotion habits.

    Parameters
    ----------
    rng : numpy.random.Generator
        Generator seeded for this actor only.
    sex : {"Male", "Female"}

    Returns
    -------
    speaker : dict
        espeak-ng ``voice``, ``pitch`` (0-99), ``speed`` (words/min) and ``gap`` (10 ms
        units); ``level_db``, microphone ``eq`` (dB at :data:`_EQ_FREQS`), ``low_cut`` and
        ``high_cut`` (Hz), room ``rt60`` (s) and ``wet``, ``noise_db`` and ``noise_colour``;
        ``habit_<cue>`` offsets for every :data:`SPEECH_CUES` entry and ``gain`` of shape
        (6,), how strongly the actor shows each emotion in the voice.
    """
    speaker = {
        "voice": f"{_ACCENTS[rng.integers(len(_ACCENTS))]}+{rng.choice(_VARIANTS[sex])}",
        # Between-speaker spread (about +-4 semitones of base pitch, +-25% rate, +-7 dB level)
        # is wider than the emotion effects, as among real speakers.
        "pitch": int(rng.integers(22, 78)),
        "speed": int(rng.integers(130, 215)),
        "gap": int(rng.integers(0, 5)),
        "level_db": float(rng.uniform(-9, 5)),
        "eq": rng.normal(0, 3.0, len(_EQ_FREQS)),
        "low_cut": float(rng.uniform(50, 140)),
        "high_cut": float(rng.uniform(4500, 7800)),
        "rt60": float(rng.uniform(0.08, 0.35)),
        "wet": float(rng.uniform(0.01, 0.1)),
        "noise_db": float(rng.uniform(-64, -42)),
        "noise_colour": float(rng.uniform(0, 1.0)),
        "hum": float(rng.uniform(0, 0.001)) if rng.random() < 0.2 else 0.0,
        "hum_hz": float(rng.choice([50.0, 60.0])),
    }
    for name, (_, _, actor_sd) in SPEECH_CUES.items():
        speaker[f"habit_{name}"] = float(rng.normal(0, actor_sd))
    # Some actors are expressive overall, and each shows some emotions more than others.
    speaker["gain"] = rng.uniform(0.7, 1.15) * rng.uniform(0.7, 1.15, len(EMOTIONS))
    return speaker


_EQ_FREQS = np.array([100.0, 250.0, 600.0, 1500.0, 3500.0, 7000.0])


def _espeak(text, speaker, cues):
    pitch_pct = (2 ** (cues["pitch_st"] / 12) - 1) * 100 / _PITCH_EFFICACY
    ssml = (f'<speak><prosody pitch="{pitch_pct:+.0f}%" range="{max(cues["range_pct"], -95):+.0f}%" '
            f'rate="{max(cues["rate_pct"], -60):+.0f}%">{escape(text)}</prosody></speak>')
    cmd = [_ESPEAK, "--stdout", "-m", "-v", speaker["voice"], "-p", str(speaker["pitch"]),
           "-s", str(speaker["speed"]), "-g", str(speaker["gap"]), ssml]
    try:
        out = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        raise RuntimeError(f"espeak-ng failed on {text!r} with voice {speaker['voice']}: {exc} "
                           f"{stderr.decode(errors='replace').strip()}; check the espeak-ng installation "
                           "(`espeak-ng --voices=en` lists the voices) or use realism='toy'.") from exc
    # With --stdout the RIFF header cannot know the length, so read the samples after "data".
    start = out.find(b"data") + 8
    if start < 8:
        raise RuntimeError(f"espeak-ng returned no WAV data for {text!r}; check the espeak-ng installation.")
    pcm = np.frombuffer(out[start:start + (len(out) - start) // 2 * 2], dtype="<i2")
    return pcm.astype(np.float64) / 32768.0


def _trim(y, threshold=0.01):
    loud = np.flatnonzero(np.abs(y) > threshold * max(np.abs(y).max(), 1e-9))
    return y[loud[0]:loud[-1] + 1] if len(loud) else y


def _spectral_gain(speaker, tilt_db, n):
    # Microphone colouring (smooth EQ over log frequency plus band limits) and the clip's tilt.
    freqs = np.fft.rfftfreq(n, 1 / SR)
    logf = np.log(np.maximum(freqs, 20.0))
    eq_db = np.interp(logf, np.log(_EQ_FREQS), speaker["eq"])
    db = eq_db + tilt_db * np.minimum(freqs / 4000.0, 2.0)
    band = 1 / np.sqrt(1 + (speaker["low_cut"] / np.maximum(freqs, 1.0)) ** 4)
    band /= np.sqrt(1 + (freqs / speaker["high_cut"]) ** 8)
    return 10 ** (db / 20) * band


def _envelope(y, hop=160):
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, (hop, hop)), 2 * hop)[::hop]
    return np.sqrt((frames**2).mean(axis=1))


def speech_envelope(wave, times, sr=SR):
    """Smoothed amplitude envelope of ``wave`` at ``times`` (s), shape (len(times),), peak 1."""
    hop = sr // 100
    env = _envelope(np.asarray(wave, dtype=float), hop)
    env = np.convolve(env, np.ones(5) / 5, mode="same")
    env = np.interp(np.asarray(times) * sr / hop, np.arange(len(env)), env)
    return env / max(env.max(), 1e-9)


def speak(rng, text, speaker, cues, duration=None):
    """Speak one clip: espeak-ng, then voice quality, microphone, room and noise.

    Parameters
    ----------
    rng : numpy.random.Generator
        Clip generator (pauses, noise, tremor phase).
    text : str
        The sentence.
    speaker : dict
        From :func:`draw_speaker`.
    cues : dict
        :data:`SPEECH_CUES` values of the clip.
    duration : float, default=None
        Clip length in seconds; speech that does not fit is cut off. None keeps the whole
        utterance with 0.15-0.45 s of silence before and 0.1-0.35 s after, at most 5 s.

    Returns
    -------
    wave : ndarray of shape (n_samples,), float32 in [-1, 1]
        At 16 kHz.
    dry : ndarray of shape (n_samples,)
        The speech before room and noise, aligned with ``wave`` (for lip sync).
    """
    y = resample_poly(_trim(_espeak(text, speaker, cues)), SR // 50, _ESPEAK_SR // 50)
    n = len(y)
    t = np.arange(n) / SR

    # Tremor: a slow periodic time warp (pitch modulation of depth `tremor`) plus the same
    # amplitude modulation, as in a shaking voice.
    depth = max(cues["tremor"], 0.0)
    rate_hz = rng.uniform(4.0, 7.0)
    phase = rng.uniform(0, 2 * np.pi)
    warp = depth * SR / (2 * np.pi * rate_hz) * np.sin(2 * np.pi * rate_hz * t + phase)
    y = np.interp(np.arange(n) + warp, np.arange(n), y)
    y *= 1 + 2 * depth * np.sin(2 * np.pi * rate_hz * t + phase + 0.7)

    # Breathiness: aspiration noise following the voice's envelope.
    frame_env = _envelope(y)
    env = np.interp(np.arange(n), np.arange(len(frame_env)) * 160, frame_env)
    y = y + max(cues["breathiness"], 0.0) * 3.0 * env * np.diff(rng.normal(0, 1, n + 1)) / np.sqrt(2)

    spectrum = np.fft.rfft(y) * _spectral_gain(speaker, cues["tilt_db"], n)
    y = np.fft.irfft(spectrum, n)
    active = np.abs(y) > 0.05 * np.abs(y).max()
    y *= 0.08 * 10 ** ((speaker["level_db"] + cues["energy_db"]) / 20) / (
        np.sqrt(np.mean(y[active] ** 2)) + 1e-9)

    lead, tail = int(rng.uniform(0.15, 0.45) * SR), int(rng.uniform(0.1, 0.35) * SR)
    total = min(lead + n + tail, 5 * SR) if duration is None else max(int(round(duration * SR)), 1)
    lead = min(lead, max(total - n, 0)) if duration is None else min(lead, int(0.2 * total))
    dry = np.zeros(total)
    part = y[: max(total - lead, 0)]
    dry[lead:lead + len(part)] = part

    # Room: exponentially decaying noise as impulse response, mixed in at the actor's level.
    n_ir = int(speaker["rt60"] * SR)
    ir = rng.normal(0, 1, n_ir) * 10 ** (-3 * np.arange(n_ir) / n_ir)
    ir *= speaker["wet"] / np.sqrt(np.sum(ir**2))
    wave = dry + fftconvolve(dry, ir)[:total]

    # Room noise, coloured towards low frequencies and heard through the same microphone.
    shape = _spectral_gain(speaker, 0.0, total) / np.maximum(
        np.fft.rfftfreq(total, 1 / SR), 50.0) ** (speaker["noise_colour"] / 2)
    noise = np.fft.irfft(np.fft.rfft(rng.normal(0, 1, total)) * shape, total)
    noise *= 10 ** (speaker["noise_db"] / 20) / (np.std(noise) + 1e-12)
    hum = speaker["hum"] * np.sin(2 * np.pi * speaker["hum_hz"] * np.arange(total) / SR)
    wave = wave + noise + hum
    return np.clip(wave, -0.99, 0.99).astype(np.float32), dry
