"""Validation of a modality subset, shared by the loader and the pipeline builders."""

from ..modalities import check_modalities

__all__ = ["check_modalities"]
