"""Exceptions and warnings raised by the feature transformers."""

__all__ = ["MediaError", "MediaWarning", "LeakageWarning"]


class MediaError(ValueError):
    """A media file (or in-memory waveform) could not be turned into features.

    The message names the file, what went wrong and how to proceed. The library error that
    caused it (libsndfile, FFmpeg, librosa) is summarised in :attr:`reason` rather than chained,
    so users see one readable line instead of a decoder traceback.

    Parameters
    ----------
    source : str
        The file path, or a description such as ``"waveform at row 3"``.
    reason : str
        What went wrong.
    """

    def __init__(self, source, reason):
        self.source = str(source)
        self.reason = str(reason)
        super().__init__(f"{self.source}: {self.reason}")


class MediaWarning(UserWarning):
    """Some files could not be read and were replaced by zero rows (``on_error="zero"``)."""


class LeakageWarning(UserWarning):
    """Features are computed from something that encodes the label (e.g. CREMA-D emotion codes)."""
