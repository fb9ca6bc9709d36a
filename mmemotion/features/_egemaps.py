"""Optional: openSMILE's eGeMAPS functionals (``pip install mmemotion[opensmile]``).

openSMILE is released under audEERING's research licence (free for private, research and
educational use, not for commercial use), so it is an optional extra of mmemotion and never a
default or required dependency. The ``opensmile`` wheel bundles its native library and works
offline.
"""

import functools
import os

import numpy as np
import soundfile as sf
from ._base import BaseFileTransformer
from ._errors import MediaError

__all__ = ["EGeMAPSTransformer"]

_INSTALL = (
    "EGeMAPSTransformer needs the optional package `opensmile` (audEERING research licence, not for "
    "commercial use): pip install 'mmemotion[opensmile]'."
)


@functools.lru_cache(maxsize=2)
def _smile():
    try:
        import opensmile
    except ImportError:
        raise ImportError(_INSTALL) from None
    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals)


class EGeMAPSTransformer(BaseFileTransformer):
    """The 88 eGeMAPS v02 functionals of each speech file (Eyben et al. 2016), via openSMILE.

    The extended Geneva Minimalistic Acoustic Parameter Set: pitch, jitter, shimmer, loudness,
    harmonics-to-noise ratio, formants, spectral slope and more, each summarised over the clip.
    With per-speaker normalisation (``ModalityUnion(speaker_norm="zscore")``) and a linear model
    it is the strongest classical peer for speech emotion on unseen speakers. Optional: needs
    ``pip install mmemotion[opensmile]`` (see the module docstring for the licence).

    Parameters
    ----------
    column : str, default="audio_path"
        Column of a DataFrame X that holds the paths.
    n_jobs, memory, on_error, verbose
        As for :class:`MFCCTransformer`.

    Attributes
    ----------
    output_shape_ : tuple of int
        ``(88,)``.

    Examples
    --------
    >>> from mmemotion.features import EGeMAPSTransformer
    >>> EGeMAPSTransformer().get_params()["column"]
    'audio_path'
    """

    # Files go to openSMILE at their own sampling rate; its eGeMAPS configuration handles it.
    _extract_params = ()

    def __init__(self, *, column="audio_path", n_jobs=None, memory=None, on_error="raise", verbose=False):
        self.column = column
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error
        self.verbose = verbose

    def _work_dtype(self):
        return np.dtype(np.float32)

    def _check_params(self):
        _smile()  # a missing extra fails here, once, with the install hint

    def _output_shape(self):
        return (len(_smile().feature_names),)

    def _feature_names(self):
        return np.array(_smile().feature_names, dtype=object)

    def _extract_one(self, item):
        path = os.fspath(item)
        try:
            y, file_sr = sf.read(path, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise MediaError(path, f"not a readable audio file (libsndfile: {exc})") from None
        if len(y) == 0:
            raise MediaError(path, "holds no audio samples")
        features = _smile().process_signal(y.mean(axis=1), file_sr)
        return features.to_numpy(dtype=np.float32)[0]
