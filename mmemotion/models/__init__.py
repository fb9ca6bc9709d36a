"""Models: the three-stream fusion network, its scikit-learn classifier and pipeline, and a safe file format."""

from ._baseline import make_baseline_pipeline
from ._classifier import FusionClassifier
from ._emotion_pipeline import EmotionPipeline
from ._late_fusion import LateFusionClassifier
from ._module import MultiStreamModule
from ._three_stream import ThreeStreamModule
from ._persistence import load_model, save_model
from ._pipeline import DEFAULT_SPEAKER_NORM, compare_split_protocols, make_default_pipeline

__all__ = [
    "DEFAULT_SPEAKER_NORM",
    "EmotionPipeline",
    "FusionClassifier",
    "LateFusionClassifier",
    "MultiStreamModule",
    "ThreeStreamModule",
    "compare_split_protocols",
    "load_model",
    "make_baseline_pipeline",
    "make_default_pipeline",
    "save_model",
]
