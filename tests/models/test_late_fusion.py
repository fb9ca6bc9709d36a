"""LateFusionClassifier: one classifier per modality, probabilities multiplied."""

import numpy as np
import pytest
import sklearn.utils.estimator_checks as ec
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mmemotion.models import LateFusionClassifier, load_model, save_model


def _two_modalities(n=120, seed=0):
    """A strong 2-feature "audio" block and a weak, wide "video" block (mostly noise)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    audio = rng.normal(size=(n, 2)) + 1.5 * np.eye(3)[y][:, :2]
    video = rng.normal(size=(n, 200, 2))
    video[:, 0, 0] += 0.8 * (y == 2)
    return {"audio": audio, "video": video}, np.array(["ANG", "HAP", "SAD"])[y]


def test_fused_log_proba_is_the_normalised_sum_of_the_modalities():
    X, y = _two_modalities()
    clf = LateFusionClassifier(LogisticRegression(max_iter=1000), weights={"video": 0.5}).fit(X, y)
    assert list(clf.estimators_) == ["audio", "video"] and list(clf.classes_) == ["ANG", "HAP", "SAD"]
    assert clf.estimators_["video"].coef_.shape == (3, 400)  # the block was flattened
    parts = clf.predict_log_proba_by_modality(X)
    expected = softmax(parts["audio"] + 0.5 * parts["video"], axis=1)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-6)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), expected, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[expected.argmax(1)])


def test_late_fusion_keeps_a_wide_noisy_block_from_drowning_a_strong_one():
    X, y = _two_modalities(seed=1)
    X_test, y_test = _two_modalities(seed=2)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    late = LateFusionClassifier(model).fit(X, y).score(X_test, y_test)
    early = model.fit(np.hstack([X["audio"], X["video"].reshape(len(y), -1)]), y).score(
        np.hstack([X_test["audio"], X_test["video"].reshape(len(y_test), -1)]), y_test)
    assert late > early + 0.05, (late, early)


def test_errors_name_the_problem():
    X, y = _two_modalities()
    with pytest.raises(TypeError, match="keyed by modality"):
        LateFusionClassifier(LogisticRegression()).fit(np.zeros((4, 2)), y[:4])
    with pytest.raises(ValueError, match=r"weights name modalities \['text'\]"):
        LateFusionClassifier(LogisticRegression(), weights={"text": 1.0}).fit(X, y)
    clf = LateFusionClassifier(LogisticRegression(max_iter=1000)).fit(X, y)
    with pytest.raises(ValueError, match=r"lacks the modalities \['video'\]"):
        clf.predict({"audio": X["audio"]})


def test_round_trips_through_the_safe_format(tmp_path):
    X, y = _two_modalities()
    clf = LateFusionClassifier(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))).fit(X, y)
    loaded = load_model(save_model(clf, tmp_path / "late.mmemotion"))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))


# sklearn's checks that do not feed X: the others feed 2-D arrays, and this classifier reads a
# dict of per-modality blocks (a ModalityUnion output).
@pytest.mark.parametrize("check", [
    ec.check_estimator_cloneable, ec.check_estimator_repr, ec.check_no_attributes_set_in_init,
    ec.check_get_params_invariance, ec.check_set_params, ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_valid_tag_types, ec.check_mixin_order,
], ids=lambda c: c.__name__)
def test_sklearn_api_checks(check):
    check("LateFusionClassifier", LateFusionClassifier(LogisticRegression()))
