"""mmemotion: explainable multimodal emotion recognition in the scikit-learn ecosystem.

Subpackages, in the one direction their imports point:
``datasets`` -> ``features`` -> ``models`` -> ``explain`` -> ``report``; ``cli`` sits on top.
"""

__version__ = "0.1.0"

#: The modality names used everywhere: union step names, SliceDict keys, ``forward`` arguments,
#: Captum input-tuple slots and report section ids.
MODALITIES = ("audio", "video", "text")

__all__ = ["MODALITIES", "__version__"]
