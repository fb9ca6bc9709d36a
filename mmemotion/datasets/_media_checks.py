"""Cheap header-only checks of CREMA-D media: is a clip usable at all?"""

import contextlib

import cv2
import soundfile as sf

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


def check_clip(audio_path, video_path, *, min_duration, max_duration):
    """Decide whether one clip is usable.

    Returns
    -------
    duration : float
        Audio duration in seconds (NaN when unknown).
    problem : None or (path, reason, detail)
    """
    audio = probe_audio(audio_path)
    if isinstance(audio, str):
        return float("nan"), (audio_path, "unreadable audio", audio)
    if audio < min_duration:
        return audio, (audio_path, "audio too short", f"{audio:.2f} s < min_duration={min_duration} s")
    if audio > max_duration:
        return audio, (audio_path, "audio too long", f"{audio:.1f} s > max_duration={max_duration} s")
    video = probe_video(video_path)
    if isinstance(video, str):
        return audio, (video_path, "unreadable video", video)
    n_frames, fps = video
    if n_frames <= 0 or fps <= 0:
        return audio, (video_path, "video has no frames", f"frame count {n_frames:g}, fps {fps:g}")
    length = n_frames / fps
    if length < min_duration:
        return audio, (video_path, "video too short", f"{length:.2f} s < min_duration={min_duration} s")
    if length > max_duration:
        return audio, (video_path, "video too long", f"{length:.1f} s > max_duration={max_duration} s")
    # A video far shorter or longer than its audio is a different or truncated recording
    # (CREMA-D's 1076_MTI_NEU_XX.flv is a fraction of its WAV).
    if not 0.5 * audio <= length <= 2.0 * audio + 1.0:
        return audio, (video_path, "audio/video length mismatch", f"video {length:.2f} s, audio {audio:.2f} s")
    return audio, None
