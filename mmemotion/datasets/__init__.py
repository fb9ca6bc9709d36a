"""Datasets: the CREMA-D loader and a generator of synthetic CREMA-D-shaped data."""

from ._codes import EMOTION_NAMES, EMOTIONS, LEVEL_NAMES, LEVELS, SENTENCES, VOTE_LETTERS, parse_stem
from ._loader import FRAME_COLUMNS, CremaDQualityWarning, load_crema_d
from ._synthetic import SIMULATED_VOTE_ACCURACY, make_synthetic_crema_d
from ._synthetic_folder import write_synthetic_crema_d

__all__ = [
    "EMOTIONS",
    "EMOTION_NAMES",
    "LEVELS",
    "LEVEL_NAMES",
    "SENTENCES",
    "VOTE_LETTERS",
    "FRAME_COLUMNS",
    "SIMULATED_VOTE_ACCURACY",
    "CremaDQualityWarning",
    "load_crema_d",
    "make_synthetic_crema_d",
    "parse_stem",
    "write_synthetic_crema_d",
]
