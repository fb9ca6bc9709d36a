"""The report as a browser shows it: headless Chromium screenshots and DOM dumps.

Chromium missing is a failure, not a skip (see _browser.chromium_binary).
"""

import cv2
import numpy as np

from mmemotion.report import SECTIONS, render_report

from ._browser import run_chromium
from ._report_fakes import HOSTILE, make_explanation, make_frame, make_quality


def screenshot(tmp_path, html_path, height=4000):
    png = tmp_path / "shot.png"
    run_chromium(tmp_path, html_path.resolve().as_uri(), f"--screenshot={png}", f"--window-size=1280,{height}")
    image = cv2.imread(str(png))
    assert image is not None, f"Chromium wrote no readable PNG at {png}"
    return image


def test_screenshot_is_not_blank(tmp_path, full_report):
    image = screenshot(tmp_path, full_report)
    assert image.shape[:2] == (4000, 1280)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # A blank (or unstyled error) page is one flat colour; the report has dark header, cards, text.
    assert gray.std() > 20
    assert np.mean(gray < 200) > 0.05
    # The inlined PNG figures decoded: bright saturated pixels come only from the charts.
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    colourful = (hsv[..., 1] > 100) & (hsv[..., 2] > 100)
    assert colourful.mean() > 0.01


def test_browser_dom_has_every_section_and_no_script(tmp_path, explanation_cls):
    report = render_report(
        tmp_path / "hostile.html",
        title=HOSTILE,
        dataset={"frame": make_frame(hostile=True), "quality": make_quality(hostile=True)},
        explanation=make_explanation(explanation_cls, n=2, clip_ids=[HOSTILE, "x"]),
    )
    dom = run_chromium(tmp_path, report.resolve().as_uri(), "--dump-dom")
    # What the browser parsed: no script element came out of the hostile strings...
    assert "<script" not in dom.lower()
    # ...they are text nodes, re-serialised escaped by the browser itself.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "漢字🙂" in dom
    for sid, _ in SECTIONS:
        assert f'id="{sid}"' in dom
