"""MFCC features from WAV files or in-memory waveforms."""

import functools
import math
import os
import warnings
from numbers import Integral

import librosa
import numpy as np
import soundfile as sf
from sklearn.utils._param_validation import Interval, Options
from sklearn.utils.validation import check_is_fitted

from ._base import BaseFileTransformer
from ._errors import MediaError
from ._numba_warmup import warm_up_once
from ._prosody import F0_MIN, PROSODY_ROWS, prosody_contours

__all__ = ["MFCCTransformer"]


@functools.lru_cache(maxsize=8)
def _mel_basis(sr, n_fft, n_mels):
    # librosa.feature.mfcc rebuilds this filter bank on every call (about a third of the per-clip
    # time on 2.5 s clips); it only depends on the parameters, so it is built once per process.
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    basis.flags.writeable = False
    return basis


class MFCCTransformer(BaseFileTransformer):
    """Fixed-size MFCC matrices from speech files, one flattened row per clip.

    Each clip is read with :mod:`soundfile`, mixed down to mono, resampled to ``sr`` when the file
    has another rate, turned into ``n_mfcc`` MFCCs with :func:`librosa.feature.mfcc`, then cut or
    padded **at the end** to exactly ``n_frames`` frames: frames after ``n_frames`` are dropped
    (the tail of long clips) and short clips are padded on the right with zeros (as in the seed
    project). The defaults are chosen for CREMA-D (16 kHz, 1.3-5 s, median 2.5 s):
    ``hop_length=400`` (25 ms) makes the 100 frames span 2.5 s, so the median clip is covered whole
    instead of only its first second (the 10 ms hop of ASR front-ends); ``n_fft=512`` (32 ms) is the
    power of two just above the hop, so consecutive windows overlap slightly and no sample is skipped.

    Parameters
    ----------
    column : str, default="audio_path"
        Column of a DataFrame X that holds the paths.
    sr : int, default=16000
        Sampling rate the features are computed at; other files are resampled.
    n_mfcc : int, default=40
        Number of coefficients.
    n_fft : int, default=512
        FFT window length in samples at ``sr``.
    hop_length : int, default=400
        Samples between frames at ``sr``.
    n_mels : int, default=64
        Mel bands behind the MFCCs (64 keeps every band non-empty at ``n_fft=512``, 16 kHz).
    n_frames : int, default=100
        Frames per clip after truncation/padding at the end.
    deltas : bool, default=False
        Also stack first- and second-order deltas (computed on the fixed-size matrix), so
        ``output_shape_[0]`` is 3.
    prosody : bool, default=False
        Append 7 prosodic and voice-quality contours below the coefficients, computed on the
        same frames (same ``sr``, ``hop_length``, centring, cut and zero padding at the end;
        deltas too with ``deltas=True``), so the map has
        ``n_mfcc + 7`` rows. MFCCs describe the spectral envelope but carry almost no pitch;
        these rows add it. In order: ``log_f0``, F0 from :func:`librosa.yin` (60-500 Hz, on the
        signal resampled to about 8 kHz) in semitones re 100 Hz, linearly interpolated through
        unvoiced frames (held at the edges; 0 if the clip has no voiced frame); ``voicing``, 1
        where the normalised autocorrelation at the YIN period is at least 0.6 and the frame is
        within 50 dB of the clip's loudest, else 0; ``rms_db``, RMS energy in dB re full scale
        (:func:`librosa.feature.rms`); ``zcr``, zero-crossing rate
        (the values of :func:`librosa.feature.zero_crossing_rate`); ``onset_strength``, spectral flux of the
        log-mel spectrogram (:func:`librosa.onset.onset_strength`, a speaking-rate cue);
        ``flatness_db``, spectral flatness in dB (:func:`librosa.feature.spectral_flatness`,
        noisiness/breathiness); ``alpha_ratio``, energy in 1-5 kHz over 50 Hz-1 kHz in dB
        (spectral tilt, as in eGeMAPS). The rows have very different scales: use
        ``standardize=True`` (or the network's input normalisation).
    standardize : bool, default=False
        Learn the mean and standard deviation of each coefficient (over clips and frames) in
        ``fit`` and standardise with them in ``transform``.
    dtype : {np.float32, np.float64}, default=np.float32
        Output dtype.
    n_jobs : int, default=None
        Parallel jobs (:class:`joblib.Parallel`; ``None`` means 1 unless inside a
        :func:`joblib.parallel_config` context, which also selects the backend, e.g. Dask).
    memory : None, str, path-like or joblib.Memory, default=None
        Cache directory for per-file MFCCs, keyed by resolved path, size, modification time and
        the parameters above. In-memory waveforms are not cached.
    on_error : {"raise", "zero"}, default="raise"
        Unreadable file: raise :class:`~mmemotion.features.MediaError` naming it, or use a row of
        zeros and emit one :class:`~mmemotion.features.MediaWarning` listing all such files.
    verbose : bool or int, default=False
        Show a progress bar.

    Attributes
    ----------
    output_shape_ : tuple of int
        ``(1, n_rows, n_frames)``, or ``(3, n_rows, n_frames)`` with ``deltas=True``, where
        ``n_rows`` is ``n_mfcc``, plus 7 with ``prosody=True``.
    mean_ : ndarray of shape (output_shape_[0], n_rows, 1)
        Per-row mean learned in ``fit`` (only with ``standardize=True``).
    scale_ : ndarray of shape (output_shape_[0], n_rows, 1)
        Per-coefficient standard deviation (1 where it is 0; only with ``standardize=True``).

    See Also
    --------
    FrameSampler : The video counterpart.
    ModalityUnion : Combine the modalities into a SliceDict for the fusion network.

    Notes
    -----
    X is a 1-D sequence of paths, a DataFrame with ``column``, or in-memory mono waveforms at
    ``sr``: a list of 1-D float arrays or a 2-D float array of shape (n_samples, n_times).
    Non-finite samples raise :class:`~mmemotion.features.MediaError`.

    Examples
    --------
    >>> import numpy as np
    >>> from mmemotion.features import MFCCTransformer
    >>> waves = np.random.default_rng(0).normal(size=(2, 16000)).astype("float32")
    >>> mfcc = MFCCTransformer(n_mfcc=13, n_frames=20).fit(waves)
    >>> mfcc.transform(waves).shape, mfcc.output_shape_
    ((2, 260), (1, 13, 20))
    """

    # ModalityUnion(speaker_norm=...) pools time into one statistic per channel and row:
    # the speaker's cepstral mean (and mean pitch, loudness, ... with prosody rows).
    speaker_norm_pooled_axes = (2,)

    _parameter_constraints = {
        **BaseFileTransformer._parameter_constraints,
        "sr": [Interval(Integral, 1, None, closed="left")],
        "n_mfcc": [Interval(Integral, 1, None, closed="left")],
        "n_fft": [Interval(Integral, 2, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "n_frames": [Interval(Integral, 1, None, closed="left")],
        "deltas": ["boolean"],
        "prosody": ["boolean"],
        "standardize": ["boolean"],
        "dtype": [Options(type, {np.float32, np.float64}), Options(np.dtype, {np.dtype("float32"), np.dtype("float64")})],
    }
    _extract_params = ("sr", "n_mfcc", "n_fft", "hop_length", "n_mels", "n_frames", "deltas", "prosody", "dtype")
    _accepts_waveforms = True

    def __init__(
        self,
        *,
        column="audio_path",
        sr=16000,
        n_mfcc=40,
        n_fft=512,
        hop_length=400,
        n_mels=64,
        n_frames=100,
        deltas=False,
        prosody=False,
        standardize=False,
        dtype=np.float32,
        n_jobs=None,
        memory=None,
        on_error="raise",
        verbose=False,
    ):
        self.column = column
        self.sr = sr
        self.n_mfcc = n_mfcc
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.n_frames = n_frames
        self.deltas = deltas
        self.prosody = prosody
        self.standardize = standardize
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error
        self.verbose = verbose

    def _check_params(self):
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc={self.n_mfcc} exceeds n_mels={self.n_mels}; lower n_mfcc or raise n_mels.")
        if self.deltas and self.n_frames < 3:
            raise ValueError(f"deltas=True needs n_frames >= 3, got n_frames={self.n_frames}.")

    def _output_shape(self):
        n_rows = self.n_mfcc + (len(PROSODY_ROWS) if self.prosody else 0)
        return (3 if self.deltas else 1, n_rows, self.n_frames)

    def _feature_names(self):
        prefixes = ["", "d1_", "d2_"][: self.output_shape_[0]]
        rows = [f"mfcc{c}" for c in range(self.n_mfcc)]
        if self.prosody:
            rows += [f"prosody_{r}" for r in PROSODY_ROWS]
        return np.asarray([f"{p}{r}_t{t}" for p in prefixes for r in rows for t in range(self.n_frames)], dtype=object)

    def _needs_data_in_fit(self):
        return self.standardize

    def _fit_features(self, F):
        if not self.standardize:
            for attr in ("mean_", "scale_"):
                self.__dict__.pop(attr, None)
            return
        # float64 accumulation: float32 sums over ~10^5 frames lose digits.
        self.mean_ = F.mean(axis=(0, 3), keepdims=True, dtype=np.float64)[0].astype(self.dtype)
        std = F.std(axis=(0, 3), keepdims=True, dtype=np.float64)[0]
        self.scale_ = np.where(std > 0, std, 1.0).astype(self.dtype)

    def _postprocess(self, F):
        if self.standardize:
            check_is_fitted(self, "mean_")
            F -= self.mean_
            F /= self.scale_
        return F.reshape(len(F), -1)

    # ----------------------------------------------------------------------------- per file
    def _needed_samples(self):
        """Samples at ``sr`` that the first ``n_frames`` centred frames can see (the rest is cut)."""
        return (self.n_frames - 1) * self.hop_length + self.n_fft // 2 + 1

    def _read(self, path):
        path = os.fspath(path)
        try:
            with sf.SoundFile(path) as f:
                file_sr = f.samplerate
                # Only the samples the kept frames use are read: long clips cost no more than
                # n_frames worth of decoding. A margin keeps the resampler's edge effects out.
                stop = math.ceil(self._needed_samples() * file_sr / self.sr) + 2048
                y = f.read(frames=stop, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise MediaError(path, f"not a readable audio file (libsndfile: {exc})") from None
        # soundfile gives (n_times, n_channels); mix down to mono by averaging channels.
        return y.mean(axis=1) if y.shape[1] > 1 else y[:, 0], file_sr

    def _extract_all(self, items):
        # Compile librosa's numba functions here, before any worker process can race to write
        # their cache (see mmemotion.features._numba_warmup).
        noise = np.random.default_rng(0).standard_normal(self.sr).astype(np.float32) * 0.1
        # numba compiles per argument type, not per size: the settings that choose which librosa
        # functions run are the key.
        warm_up_once(("MFCCTransformer", self.prosody, self.deltas), lambda: self._features(noise, "warm-up"))
        return super()._extract_all(items)

    def _extract_one(self, item):
        if isinstance(item, np.ndarray):
            y = np.asarray(item, dtype=np.float32)
            if y.ndim != 1:
                raise MediaError("waveform", f"expected a 1-D mono waveform at sr={self.sr}, got shape {y.shape}")
            source = "waveform"
        else:
            y, file_sr = self._read(item)
            source = os.fspath(item)
            if file_sr != self.sr:
                y = librosa.resample(y, orig_sr=file_sr, target_sr=self.sr)
        return self._features(y, source)

    def _features(self, y, source):
        """MFCC (+ prosody, deltas) map of a mono float32 waveform ``y`` at ``sr``."""
        if y.size == 0:
            raise MediaError(source, "contains no audio samples (empty or truncated recording)")
        if not np.isfinite(y).all():
            raise MediaError(source, "the waveform contains NaN or infinite samples")
        # F0 frames (two periods of 60 Hz) are longer than the STFT's: the last kept ones see a
        # little past the cut (the file reader's margin covers it).
        y_prosody = y[: self._needed_samples() + math.ceil(2 * self.sr / F0_MIN)]
        y = y[: self._needed_samples()]
        with warnings.catch_warnings():
            # Clips shorter than one window make librosa warn "n_fft ... too large"; the
            # centred, zero-padded frame it then computes is what we want.
            warnings.filterwarnings("ignore", message="n_fft=", category=UserWarning)
            power = np.abs(librosa.stft(y, n_fft=self.n_fft, hop_length=self.hop_length)) ** 2
        # Same steps and defaults as librosa.feature.mfcc(y=...): power mel spectrogram,
        # power_to_db(ref=1, top_db=80), DCT-II with ortho norm.
        log_mel = librosa.power_to_db(_mel_basis(self.sr, self.n_fft, self.n_mels) @ power)
        mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=self.n_mfcc)
        n = min(self.n_frames, mfcc.shape[1])
        rows = [mfcc[:, :n]]
        if self.prosody:
            rows.append(prosody_contours(
                y_prosody, power, log_mel, sr=self.sr, n_fft=self.n_fft, hop_length=self.hop_length, n=n
            ))
        # Zero padding at the end up to n_frames (the cut is above: prosody needs n).
        fixed = librosa.util.fix_length(np.concatenate(rows, dtype=np.float32), size=self.n_frames)
        if self.deltas:
            width = min(9, self.n_frames if self.n_frames % 2 else self.n_frames - 1)
            fixed = np.stack(
                [fixed, librosa.feature.delta(fixed, width=width), librosa.feature.delta(fixed, width=width, order=2)]
            )
        else:
            fixed = fixed[None]
        return fixed.astype(self.dtype, copy=False)
