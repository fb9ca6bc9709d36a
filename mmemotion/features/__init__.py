"""Feature transformers: one per modality, plus the union that feeds the fusion network.

Each transformer is a scikit-learn transformer taking a 1-D sequence of paths (or clip ids) or
a DataFrame column and returning a 2-D float array, with ``output_shape_`` giving the natural
per-sample shape. :class:`ModalityUnion` reshapes each output (a view) into a
:class:`skorch.helper.SliceDict` keyed by modality.
"""

from ._errors import LeakageWarning, MediaError, MediaWarning
from ._egemaps import EGeMAPSTransformer
from ._face_box import FaceFallbackWarning, face_box
from ._frames import FrameSampler
from ._functionals import ConcatModalities, Functionals
from ._hog import FrameHOG
from ._mfcc import MFCCTransformer
from ._text import FilenameEmbedder, tokenize_name
from ._union import ModalityUnion

__all__ = [
    "ConcatModalities",
    "EGeMAPSTransformer",
    "face_box",
    "FaceFallbackWarning",
    "FilenameEmbedder",
    "FrameHOG",
    "FrameSampler",
    "Functionals",
    "LeakageWarning",
    "MediaError",
    "MediaWarning",
    "MFCCTransformer",
    "ModalityUnion",
    "tokenize_name",
]
