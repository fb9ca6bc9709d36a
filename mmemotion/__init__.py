"""mmemotion: explainable multimodal emotion recognition in the scikit-learn ecosystem.

Subpackages, in the one direction their imports point:
``datasets`` -> ``features`` -> ``models`` -> ``explain`` -> ``report`` -> ``experiment``; ``cli``
sits on top. ``modalities`` (the registry: one entry per modality) sits below them all; its
entries import what they build only when called.
"""

__version__ = "0.1.0"

#: The built-in modality names, used everywhere: union step names, SliceDict keys, ``forward``
#: arguments, Captum input-tuple slots and report section ids. More can be registered
#: (:func:`mmemotion.modalities.register_modality`).
from .modalities import DEFAULT_MODALITIES as MODALITIES  # noqa: E402

__all__ = ["MODALITIES", "__version__"]
