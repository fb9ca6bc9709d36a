"""Cheap header-only checks of CREMA-D media: is a clip usable at all?"""

import contextlib

import cv2
import soundfile as sf

from ._manifest import AUDIO_MEDIA, VIDEO_MEDIA

__all__ = ["probe_audio", "probe_video", "check_clip"]


@contextlib.contextmanager
def _quiet_opencv():
    # OpenCV's FFmpeg backend logs a WARN line to stderr for every unreadable file; the loader
    # reports those itself, so silence OpenCV's logger while probing.
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


def probe_audio(path):
    """Duration in seconds from the WAV header, or an error message string."""
    try:
        info = sf.info(path)
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        return f"soundfile cannot read the header: {exc}"
    if info.frames <= 0 or info.samplerate <= 0:
        return 0.0
    return info.frames / info.samplerate


def probe_video(path):
    """``(n_frames, fps)`` from the container (nothing is decoded), or an error message string."""
    with _quiet_opencv():
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                return "OpenCV cannot open the file"
            return capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
        finally:
            capture.release()


def _length_problem(kind, path, seconds, min_duration, max_duration):
    if seconds < min_duration:
        return path, f"{kind} too short", f"{seconds:.2f} s < min_duration={min_duration} s"
    if seconds > max_duration:
        return path, f"{kind} too long", f"{seconds:.1f} s > max_duration={max_duration} s"
    return None


def check_clip(audio_path, video_path, *, min_duration, max_duration):
    """Decide whether one clip is usable; a path that is None is not checked.

    Returns
    -------
    duration : float
        Audio duration in seconds, or the video's when there is no audio (NaN when unknown).
    problem : None or (path, reason, detail)
    """
    audio = float("nan")
    if audio_path is not None:
        audio = probe_audio(audio_path)
        if isinstance(audio, str):
            return float("nan"), (audio_path, "unreadable audio", audio)
        problem = _length_problem(AUDIO_MEDIA, audio_path, audio, min_duration, max_duration)
        if problem is not None:
            return audio, problem
    if video_path is None:
        return audio, None
    video = probe_video(video_path)
    if isinstance(video, str):
        return audio, (video_path, "unreadable video", video)
    n_frames, fps = video
    if n_frames <= 0 or fps <= 0:
        return audio, (video_path, "video has no frames", f"frame count {n_frames:g}, fps {fps:g}")
    length = n_frames / fps
    problem = _length_problem(VIDEO_MEDIA, video_path, length, min_duration, max_duration)
    if problem is not None:
        return audio, problem
    if audio_path is None:
        return length, None
    # A video far shorter or longer than its audio is a different or truncated recording
    # (CREMA-D's 1076_MTI_NEU_XX.flv is a fraction of its WAV).
    if not 0.5 * audio <= length <= 2.0 * audio + 1.0:
        return audio, (video_path, "audio/video length mismatch", f"video {length:.2f} s, audio {audio:.2f} s")
    return audio, None
