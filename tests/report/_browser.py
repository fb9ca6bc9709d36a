"""Headless Chromium for the report tests.

A missing Chromium is a failure, not a skip: CI installs it, so its absence there is a bug.
"""

import shutil
import subprocess

import pytest


def chromium_binary():
    """The headless browser, or a failure (not a skip): CI installs it, so absence is a bug there."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed; the report must be checked in a real browser. "
                "Install it (Debian/Ubuntu: `apt-get install chromium`) and re-run.")


def run_chromium(tmp_path, url, *args):
    """Run headless Chromium with every network-y background feature off; returns stdout."""
    command = [
        chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args, url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout
