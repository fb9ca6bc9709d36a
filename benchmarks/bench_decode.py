"""FrameSampler's rate against decoding every frame of the same clips (issue 13: one decode pass).

Run:  .venv/bin/python benchmarks/bench_decode.py [--clips 40] [--repeat 3] [--realism toy]

Makes CREMA-D-like clips: ``make_synthetic_crema_d`` draws the talking faces (480x360, 30 fps,
2-3 s) and the voices, then FFmpeg re-encodes each pair as CREMA-D ships it, Sorenson Spark
(``flv1``) video with MP3 audio in an FLV container (the audio stream is demuxed and skipped
by OpenCV, as in the real files). For the same clips in the same run (n_jobs=1, no cache, one
process, best of ``--repeat`` interleaved runs) it prints the clips per second of

- opening each clip with OpenCV and ``grab()``-ing every frame (the reference: demux + decode),
  with OpenCV's defaults, and again with one FFmpeg decoding thread as ``FrameSampler`` opens
  clips (ratios are to the first);
- ``FrameSampler()`` at its defaults (centre crop);
- ``FrameSampler`` with the other crops (``"face"``, ``"speaker_face"``, None);

with each one's ratio to the reference and how many times each clip was opened for decoding.
Before issue 13 every crop decoded these clips twice (FFmpeg reports one frame more than an FLV
with MP3 audio holds, which forced a second pass) and ``"speaker_face"`` four times (a pass for
the boxes, then one with the speaker's box). ``"face"`` and ``"speaker_face"`` are dominated by
the face detector (3 frames per clip), not by decoding.

Needs the ``ffmpeg`` program with the ``flv`` and ``libmp3lame`` encoders (Debian: ``ffmpeg``).
It prints measured numbers only; there is no pass/fail. About 3 minutes on 2 cores.
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import pandas as pd

from mmemotion.datasets import make_synthetic_crema_d
from mmemotion.features import FrameSampler
from mmemotion.features import _frames

CLIPS_PER_ACTOR = 8


def make_clips(root, n_clips, realism):
    """Write ``n_clips`` flv1 + mp3 FLV clips under ``root``; return the manifest frame."""
    n_actors = -(-n_clips // CLIPS_PER_ACTOR)
    source = make_synthetic_crema_d(root / "source", n_actors=n_actors, clips_per_actor=CLIPS_PER_ACTOR,
                                    duration=(2.0, 3.0), realism=realism, verbose=False, random_state=0)
    out_dir = root / "VideoFlash"
    out_dir.mkdir()
    rows = []
    for video in sorted((source / "VideoFlash").glob("*.flv"))[:n_clips]:
        target = out_dir / video.name
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(video),
             "-i", str(source / "AudioWAV" / f"{video.stem}.wav"), "-map", "0:v", "-map", "1:a",
             "-c:v", "flv", "-q:v", "4", "-r", "30", "-c:a", "libmp3lame", "-ar", "44100", "-b:a", "64k",
             "-f", "flv", str(target)],
            check=True,
        )
        rows.append({"video_path": str(target), "actor_id": video.stem.split("_")[0]})
    return pd.DataFrame(rows)


def grab_every_frame(paths, params=()):
    for p in paths:
        cap = cv2.VideoCapture(p, cv2.CAP_FFMPEG, list(params))
        while cap.grab():
            pass
        cap.release()


class OpenCounter:
    """Counts the clips FrameSampler opens for decoding (wraps ``_frames._open_video``)."""

    def __init__(self):
        self.opened = 0
        self._real = _frames._open_video

    def __call__(self, path):
        self.opened += 1
        return self._real(path)

    def __enter__(self):
        _frames._open_video = self
        return self

    def __exit__(self, *exc):
        _frames._open_video = self._real


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--realism", choices=("toy", "realistic"), default="toy")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("bench_decode needs the ffmpeg program (Debian: apt-get install ffmpeg).")

    with tempfile.TemporaryDirectory() as tmp:
        frame = make_clips(Path(tmp), args.clips, args.realism)
        paths = frame["video_path"].tolist()
        n = len(paths)
        cap = cv2.VideoCapture(paths[0], cv2.CAP_FFMPEG)
        n_frames = [int(cv2.VideoCapture(p, cv2.CAP_FFMPEG).get(cv2.CAP_PROP_FRAME_COUNT)) for p in paths]
        print(f"{n} clips ({frame['actor_id'].nunique()} speakers, {args.realism} faces), "
              f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))} "
              f"{cap.get(cv2.CAP_PROP_FPS):.0f} fps, {min(n_frames)}-{max(n_frames)} frames/clip, "
              f"flv1 + mp3 in FLV; cv2 threads={cv2.getNumThreads()}, cpu count={os.cpu_count()}, "
              f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, best of {args.repeat}")
        cap.release()

        samplers = {
            "FrameSampler() (center)": FrameSampler(n_jobs=1),
            "FrameSampler(crop='face')": FrameSampler(crop="face", n_jobs=1),
            "FrameSampler(crop='speaker_face')": FrameSampler(crop="speaker_face", n_jobs=1),
            "FrameSampler(crop=None)": FrameSampler(crop=None, n_jobs=1),
        }
        steps = {"cv2 open + grab() every frame": lambda: grab_every_frame(paths),
                 "  the same, one FFmpeg thread": lambda: grab_every_frame(paths, _frames._DECODE_PARAMS)}
        opens = {}
        with warnings.catch_warnings():
            # The drawn faces are not found by the detector: the heuristic's fallback warning.
            warnings.simplefilter("ignore", _frames.FaceFallbackWarning)
            for name, sampler in samplers.items():
                sampler.fit(frame)
                with OpenCounter() as counter:
                    sampler.transform(frame.iloc[:2])  # warm-up: the detector, first-call costs
                    counter.opened = 0
                    sampler.transform(frame)
                opens[name] = counter.opened / n
                steps[name] = lambda s=sampler: s.transform(frame)
            best = {name: float("inf") for name in steps}
            for _ in range(args.repeat):  # interleaved, so load changes hit every step alike
                for name, fn in steps.items():
                    best[name] = min(best[name], timed(fn))

        reference = n / best["cv2 open + grab() every frame"]
        print(f"\n{'step':36} {'clips/s':>9} {'/ grab()':>9} {'opens/clip':>11}")
        for name in steps:
            rate = n / best[name]
            opened = f"{opens[name]:11.2f}" if name in opens else f"{'1.00':>11}"  # the references
            print(f"{name:36} {rate:9.1f} {rate / reference:9.2f} {opened}")


if __name__ == "__main__":
    main()
