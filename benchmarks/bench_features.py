"""Throughput of the feature transformers against the raw decode rate of the same clips.

Run:  .venv/bin/python benchmarks/bench_features.py [--clips 48] [--repeat 3] [--root DIR]

Generates real-like synthetic CREMA-D clips (16 kHz WAV, 480x360 30 fps FLV1, durations drawn
around the real median of 2.5 s) unless ``--root`` points at a CREMA-D-shaped folder, then prints,
for the same clips in the same run (best of ``--repeat`` interleaved runs, one process, n_jobs=1):

- audio: soundfile read of every clip (reference) vs MFCCTransformer, without and with the
  prosody rows (``prosody=True``);
- video: OpenCV decoding every frame with read() and with grab() only (references) vs
  FrameSampler (centre and face crop);
- a cold pass with ``memory=`` vs the cached rerun;
- peak memory (tracemalloc peak of Python/numpy allocations per step; process max RSS).

It prints measured numbers only; there is no pass/fail.
"""

import argparse
import os
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from mmemotion.datasets import load_crema_d, make_synthetic_crema_d
from mmemotion.features import FrameSampler, MFCCTransformer


def read_audio(paths):
    for p in paths:
        sf.read(p, dtype="float32")


def decode_video(paths, *, retrieve=True):
    for p in paths:
        cap = cv2.VideoCapture(p)
        while cap.grab():
            if retrieve:
                cap.retrieve()
        cap.release()


def best_rate(fn, n_items, repeat):
    """Items per second of the fastest of ``repeat`` runs, and the peak traced memory (MiB).

    Timing runs without tracemalloc (tracing every allocation slows librosa down several
    times); one extra run measures the peak.
    """
    best = min(_timed(fn) for _ in range(repeat))
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return n_items / best, peak / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=48, help="clips to generate (multiple of 6)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", type=Path, default=None, help="existing CREMA-D-shaped folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            root = make_synthetic_crema_d(
                Path(tmp) / "data", n_actors=max(args.clips // 12, 1), clips_per_actor=12 if args.clips >= 12 else args.clips,
                duration=None, verbose=False, random_state=0,
            )
        frame = load_crema_d(root).frame
        audio, video = frame["audio_path"].tolist(), frame["video_path"].tolist()
        n = len(frame)
        secs = [sf.info(p).duration for p in audio]
        n_video_frames = sum(int(cv2.VideoCapture(p).get(cv2.CAP_PROP_FRAME_COUNT)) for p in video)
        print(f"{n} clips, audio {np.median(secs):.2f} s median ({min(secs):.2f}-{max(secs):.2f} s), "
              f"{n_video_frames / n:.0f} video frames/clip on average, cv2 threads={cv2.getNumThreads()}, "
              f"cpu count={os.cpu_count()}, repeat={args.repeat} (best run)")

        mfcc = MFCCTransformer().fit(audio[:1])
        mfcc.transform(audio[:2])  # warm-up: librosa/numba first-call costs are not per clip
        prosody = MFCCTransformer(prosody=True).fit(audio[:1])
        prosody.transform(audio[:2])
        rows = [
            ("audio", "soundfile.read (reference)", lambda: read_audio(audio)),
            ("audio", "MFCCTransformer()", lambda: mfcc.transform(audio)),
            ("audio", "MFCCTransformer(prosody=True)", lambda: prosody.transform(audio)),
        ]
        samplers = {"center": FrameSampler().fit(video[:1]), "face": FrameSampler(crop="face").fit(video[:1])}
        rows += [
            ("video", "cv2 read() every frame (reference)", lambda: decode_video(video)),
            ("video", "cv2 grab() every frame, no retrieve", lambda: decode_video(video, retrieve=False)),
            ("video", "FrameSampler() (center crop)", lambda: samplers["center"].transform(video)),
            ("video", "FrameSampler(crop='face')", lambda: samplers["face"].transform(video)),
        ]
        rates = {}
        print(f"\n{'modality':8} {'step':40} {'clips/s':>9} {'peak MiB':>9}")
        for modality, name, fn in rows:
            rates[name], peak = best_rate(fn, n, args.repeat)
            print(f"{modality:8} {name:40} {rates[name]:9.1f} {peak:9.1f}")
        print("\nratios (same clips, same run):")
        print(f"  MFCC / soundfile read                : {rates['MFCCTransformer()'] / rates['soundfile.read (reference)']:.2f}")
        print(f"  MFCC+prosody / MFCC                  : {rates['MFCCTransformer(prosody=True)'] / rates['MFCCTransformer()']:.2f}")
        for crop in ("FrameSampler() (center crop)", "FrameSampler(crop='face')"):
            print(f"  {crop:28} / cv2 read()  : {rates[crop] / rates['cv2 read() every frame (reference)']:.2f}")
            print(f"  {crop:28} / cv2 grab()  : {rates[crop] / rates['cv2 grab() every frame, no retrieve']:.2f}")

        print("\ncache (memory=<dir>), cold pass vs cached rerun, n_jobs=1:")
        for label, make, paths in [
            ("MFCCTransformer", lambda m: MFCCTransformer(memory=m), audio),
            ("FrameSampler", lambda m: FrameSampler(memory=m), video),
        ]:
            cache_dir = Path(tmp) / f"cache-{label}"
            est = make(str(cache_dir)).fit(paths[:1])
            start = time.perf_counter()
            est.transform(paths)
            cold = time.perf_counter() - start
            warm = min(_timed(lambda: est.transform(paths)) for _ in range(args.repeat))
            # A batch never seen in this order misses the whole-batch entry and reads one entry
            # per clip (as the first transform of a new CV fold does).
            per_file = _timed(lambda: est.transform(paths[::-1]))
            size = sum(f.stat().st_size for f in cache_dir.rglob("*.npy")) / 2**20
            print(f"  {label:16} cold {n / cold:8.1f} clips/s  cached {n / warm:9.1f} clips/s  "
                  f"speed-up {cold / warm:6.1f}x  (per-file entries only: {cold / per_file:5.1f}x; "
                  f"{size:.1f} MiB on disk)")
        print(f"\nprocess max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
