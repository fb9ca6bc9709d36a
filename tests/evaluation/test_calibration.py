import numpy as np
import pytest

from mmemotion.datasets._codes import EMOTIONS
from mmemotion.evaluation import cross_fit_temperature, reliability

from ._fakes import held_out_proba


def test_reliability_by_hand():
    # Confidences 0.9 (right) and 0.6, 0.55 (both wrong): bins (0.8, 0.9] and (0.5, 0.6].
    r = reliability(["A", "B", "B"], [[0.9, 0.1], [0.6, 0.4], [0.55, 0.45]], ["A", "B"])
    assert [(b["lo"], b["count"]) for b in r["bins"]] == [(pytest.approx(0.5), 2), (pytest.approx(0.8), 1)]
    assert r["ece"] == pytest.approx((2 / 3) * 0.575 + (1 / 3) * 0.1)
    assert r["accuracy"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="shape"):
        reliability(["A"], [[1.0, 0.0, 0.0]], ["A", "B"])


def test_temperature_scaling_fixes_overconfidence():
    proba, y, actors = held_out_proba(sharpness=3.0)
    # Sharpen: the same ranking, far too confident.
    sharp = proba ** 4
    sharp /= sharp.sum(axis=1, keepdims=True)
    calibrated, temperatures = cross_fit_temperature(sharp, y, EMOTIONS, actors)
    before, after = reliability(y, sharp, EMOTIONS)["ece"], reliability(y, calibrated, EMOTIONS)["ece"]
    assert before > 0.25 and after < before / 2
    assert set(temperatures) == set(np.unique(actors)) and min(temperatures.values()) > 2
    # Scaling never changes the predicted class.
    assert (calibrated.argmax(1) == sharp.argmax(1)).all()


def test_an_actors_temperature_ignores_its_own_clips():
    proba, y, actors = held_out_proba(n_actors=4)
    _, reference = cross_fit_temperature(proba, y, EMOTIONS, actors)
    # Scramble actor 1001's labels: its own temperature must not move, the others' must.
    y2 = y.copy()
    y2[actors == 1001] = np.roll(y2[actors == 1001], 1)
    _, changed = cross_fit_temperature(proba, y2, EMOTIONS, actors)
    assert changed[1001] == pytest.approx(reference[1001])
    assert all(changed[a] != pytest.approx(reference[a]) for a in (1002, 1003, 1004))
    with pytest.raises(ValueError, match="at least 2 actors"):
        cross_fit_temperature(proba[actors == 1001], y[actors == 1001], EMOTIONS, actors[actors == 1001])
