"""Screenshot an mmemotion report with headless Chromium, for the README.

    python docs/make_screenshot.py demo-output/report.html docs/report-screenshot.png

The page is captured 1280 px wide and as tall as ``--height`` (the empty background below the
footer is trimmed), cut into ``--columns`` equal slices laid side by side, and downscaled until
the PNG is under ``--max-bytes``: a whole report in one picture that GitHub shows inline.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np


def capture(html, png, *, width=1280, height=16000):
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                    None)
    if chromium is None:
        sys.exit("make_screenshot: Chromium is not installed (Debian/Ubuntu: apt-get install chromium).")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png}",
             f"--window-size={width},{height}", Path(html).resolve().as_uri()],
            check=True, capture_output=True, timeout=300,
        )
    return cv2.imread(str(png))


def trim_bottom(image):
    """Drop the rows below the last one that differs from the page background."""
    background = image[-1, 0]
    differs = np.any(np.abs(image.astype(int) - background).sum(axis=2) > 10, axis=1)
    last = np.flatnonzero(differs)
    return image[: last[-1] + 24] if last.size else image


def columns(image, n, gap=16):
    height = int(np.ceil(image.shape[0] / n))
    background = image[-1, 0]
    slices = []
    for k in range(n):
        part = image[k * height: (k + 1) * height]
        pad = np.empty((height - part.shape[0], image.shape[1], 3), np.uint8)
        pad[:] = background
        slices.append(np.vstack([part, pad]))
        if k < n - 1:
            spacer = np.empty((height, gap, 3), np.uint8)
            spacer[:] = 255
            slices.append(spacer)
    return np.hstack(slices)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html")
    parser.add_argument("png")
    parser.add_argument("--height", type=int, default=16000)
    parser.add_argument("--columns", type=int, default=3)
    parser.add_argument("--max-bytes", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        page = trim_bottom(capture(args.html, Path(tmp) / "page.png", height=args.height))
    sheet = columns(page, args.columns)
    scale = 1.0
    while True:
        small = cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else sheet
        ok, encoded = cv2.imencode(".png", small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if len(encoded) <= args.max_bytes or scale < 0.2:
            break
        scale *= 0.85
    Path(args.png).write_bytes(encoded.tobytes())
    print(f"{args.png}: page {page.shape[1]}x{page.shape[0]} -> {small.shape[1]}x{small.shape[0]}, "
          f"{len(encoded) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
