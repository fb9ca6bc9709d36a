"""Small helpers shared by every layer: atomic writes and progress bars."""

from ._atomic import atomic_path, atomic_write_bytes, atomic_write_text, check_can_write
from ._progress import progress

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "check_can_write", "progress"]
