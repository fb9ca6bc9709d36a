"""The modality registry: what each input kind is, from its transformer to its report view.

``audio`` (MFCCs of the speech), ``video`` (sampled face frames) and ``text`` (the spoken
sentence's words) are registered on import; :func:`register_modality` adds more.
"""

from ._builtin import DEFAULT_MODALITIES
from ._registry import (Modality, ModalityExplanation, check_modalities, get_modality, register_modality,
                        registered_modalities, unregister_modality)

__all__ = [
    "DEFAULT_MODALITIES",
    "Modality",
    "ModalityExplanation",
    "check_modalities",
    "get_modality",
    "register_modality",
    "registered_modalities",
    "unregister_modality",
]
