"""Small helpers shared by every layer: atomic writes, progress bars, modality checks."""

from ._atomic import atomic_path, atomic_write_bytes, atomic_write_text, check_can_write
from ._modalities import check_modalities
from ._progress import progress

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "check_can_write", "check_modalities",
           "progress"]
