"""HOG, clip functionals and the SliceDict-to-matrix step."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils import estimator_checks as ec

from mmemotion.features import ConcatModalities, FrameHOG, FrameSampler, Functionals, MFCCTransformer, ModalityUnion
from mmemotion.features._hog import hog


def _stripes(vertical, size=32, period=8):
    ramp = (np.arange(size) % period < period // 2).astype(np.float32) * 200
    return np.tile(ramp, (size, 1)) if vertical else np.tile(ramp[:, None], (1, size))


def test_hog_votes_for_the_edge_orientation_and_ignores_brightness_and_contrast():
    vertical, horizontal = _stripes(True), _stripes(False)
    h = hog(np.stack([vertical, horizontal])).reshape(2, -1, 9)
    # Vertical stripes have horizontal gradients (0 degrees: bins 0 and 8); horizontal ones 90 degrees (bin 4).
    per_bin = h.sum(axis=1)
    assert per_bin[0, [0, 8]].sum() > 0.9 * per_bin[0].sum()
    assert per_bin[1, [3, 4, 5]].sum() > 0.9 * per_bin[1].sum()
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(1, 32, 48)).astype(np.float32)
    np.testing.assert_allclose(hog(0.5 * image + 40), hog(image), atol=1e-3)
    assert hog(image).shape == (1, 3 * 5 * 36)
    with pytest.raises(ValueError, match="2x2 cells"):
        hog(np.zeros((1, 12, 12)))


def test_frame_hog_describes_every_sampled_frame(flvs):
    t = FrameHOG(FrameSampler(n_frames=3, size=(32, 32), dtype=np.uint8)).fit(flvs[:2])
    out = t.transform(flvs[:2])
    assert t.output_shape_ == (3, 9 * 36) and out.shape == (2, 3 * 9 * 36)
    assert t.get_feature_names_out()[:2].tolist() == ["hog_t00_0000", "hog_t00_0001"]
    assert clone(t).get_params()["frame_sampler"].get_params()["n_frames"] == 3


def test_functionals_are_statistics_over_the_valid_frames_only(wavs):
    mfcc = MFCCTransformer(n_mfcc=5, n_mels=12, n_frames=60)
    f = Functionals(mfcc, statistics=("mean", "std", "p90")).fit(wavs[:3])
    out = f.transform(wavs[:3])
    assert out.shape == (3, 15) and f.output_shape_ == (15,)
    assert f.get_feature_names_out()[[0, 5, 10]].tolist() == ["mean_0", "std_0", "p90_0"]
    raw = mfcc.fit(wavs[:3]).transform(wavs[:3]).reshape(3, 5, 60)
    for i in range(3):
        valid = raw[i].any(axis=0)
        assert not valid.all(), "the fixture clips are shorter than 60 frames, so padding is tested"
        np.testing.assert_allclose(out[i, :5], raw[i][:, valid].mean(axis=1), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(out[i, 5:10], raw[i][:, valid].std(axis=1), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="statistics"):
        Functionals(mfcc, statistics=("median",)).fit(wavs[:2])


def test_concat_modalities_flattens_blocks_in_key_order(wavs):
    X = pd.DataFrame({"audio_path": wavs[:2], "clip_id": ["1001_DFA_ANG_XX", "1002_IEO_SAD_HI"]})
    union = ModalityUnion([("audio", Functionals(MFCCTransformer(n_mfcc=4, n_mels=12, n_frames=10)))])
    Xt = union.fit_transform(X)
    concat = ConcatModalities().fit(Xt)
    assert concat.transform(Xt).shape == (2, 16)
    assert concat.get_feature_names_out()[0] == "audio_0"
    with pytest.raises(ValueError, match="lacks the blocks"):
        concat.transform({"video": np.zeros((2, 3))})


# sklearn's estimator checks that do not feed X; the others feed numeric 2-D arrays, while these
# steps read media paths (FrameHOG, Functionals) or a SliceDict (ConcatModalities).
# check_parameters_default_constructible is left out for Functionals: its `transformer` is
# required, like Pipeline's `steps`.
_API_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_valid_tag_types,
    ec.check_mixin_order,
]
_STEPS = {
    "FrameHOG": lambda: FrameHOG(FrameSampler(n_frames=2, size=(16, 16))),
    "Functionals": lambda: Functionals(MFCCTransformer(n_mfcc=4, n_mels=12)),
    "ConcatModalities": ConcatModalities,
}


@pytest.mark.parametrize("make", list(_STEPS.values()), ids=list(_STEPS))
@pytest.mark.parametrize("check", _API_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_api_checks(make, check):
    est = make()
    check(type(est).__name__, est)


def _documented(cls):
    section = cls.__doc__.split("Attributes\n    ----------\n", 1)[1].split("\n\n    ", 1)[0]
    return set(re.findall(r"^    (\w+_) :", section, flags=re.M))


def test_attributes_sections_match_fit(wavs, flvs):
    fitted = {
        FrameHOG: FrameHOG(FrameSampler(n_frames=2, size=(16, 16))).fit(flvs[:1]),
        Functionals: Functionals(MFCCTransformer(n_mfcc=4, n_mels=12)).fit(wavs[:1]),
        ConcatModalities: ConcatModalities().fit({"a": np.zeros((2, 3))}),
    }
    for cls, est in fitted.items():
        assert _documented(cls) == {a for a in vars(est) if a.endswith("_") and not a.startswith("_")}, cls
