"""Contract tests shared by every transformer, driven by one table of small constructor args.

scikit-learn's own estimator checks feed numeric 2-D arrays; these transformers read files
(precedent: ``CountVectorizer(input="filename")``) and declare ``input_tags.two_d_array=False``,
so sklearn's suite yields only ``check_estimator_cloneable`` for them. We therefore run the
checks that do not depend on X directly (``SKLEARN_CHECKS``), list every other one in
``EXCLUDED_CHECKS`` with the reason (``test_sklearn_suite`` keeps the two tables complete), and
test the same properties on real media where they make sense (marked "file-based equivalent
below").
"""

import functools
import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.utils import estimator_checks as ec

from mmemotion.features import EGeMAPSTransformer, FilenameEmbedder, FrameSampler, MFCCTransformer, ModalityUnion

NAMES = ["1001_DFA_ANG_XX", "1002_IEO_SAD_HI", "1003_TSI_NEU_XX", "holiday_photo-2"]

#: estimator factory, fixture giving X (a list of paths / names)
CASES = {
    "MFCCTransformer": (lambda: MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10), "wavs"),
    "MFCCTransformer-deltas-std": (
        lambda: MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10, deltas=True, standardize=True),
        "wavs",
    ),
    "MFCCTransformer-prosody": (lambda: MFCCTransformer(n_mfcc=8, n_mels=16, n_frames=10, prosody=True), "wavs"),
    "FrameSampler": (lambda: FrameSampler(n_frames=3, size=(8, 6)), "flvs"),
    "FrameSampler-grey-uint8-face": (
        lambda: FrameSampler(n_frames=4, size=(6, 6), color=False, crop="face", dtype=np.uint8),
        "flvs",
    ),
    "FilenameEmbedder": (lambda: FilenameEmbedder(dim=6), "names"),
    "EGeMAPSTransformer": (lambda: EGeMAPSTransformer(), "wavs"),
    "FilenameEmbedder-hashing": (lambda: FilenameEmbedder(dim=6, method="hashing"), "names"),
}

#: sklearn checks that never look at X; run as they are.
SKLEARN_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_valid_tag_types,
    ec.check_estimator_tags_renamed,
    ec.check_mixin_order,
    # Parameters are validated before X is looked at, so the numeric X it passes is harmless.
    ec.check_param_validation,
]

_NUMERIC = "feeds a numeric 2-D array; X here is a 1-D sequence of paths/names"
#: every other sklearn check that would apply to a transformer, and why it is not run.
EXCLUDED_CHECKS = {
    "check_fit_score_takes_y": _NUMERIC,
    "check_estimators_overwrite_params": _NUMERIC + " (file-based equivalent below)",
    "check_dont_overwrite_parameters": _NUMERIC + " (file-based equivalent below)",
    "check_estimators_fit_returns_self": _NUMERIC + " (file-based equivalent below)",
    "check_readonly_memmap_input": _NUMERIC + "; paths cannot be memory-mapped",
    "check_estimators_unfitted": _NUMERIC + " (file-based equivalent below)",
    "check_transformer_general": _NUMERIC,
    "check_transformers_unfitted": _NUMERIC + " (file-based equivalent below)",
    "check_transformer_data_not_an_array": _NUMERIC + " (lists and DataFrames tested below)",
    "check_transformer_preserve_dtypes": "output dtype is a parameter (float32 default), not the input's",
    "check_transformer_n_iter": "no iterative solver",
    "check_transformer_get_feature_names_out": _NUMERIC + " (file-based equivalent below)",
    "check_transformer_get_feature_names_out_pandas": _NUMERIC,
    "check_set_output_transform": _NUMERIC + " (file-based equivalent below)",
    "check_set_output_transform_pandas": _NUMERIC + " (file-based equivalent below)",
    "check_global_output_transform_pandas": _NUMERIC,
    "check_set_output_transform_polars": "polars is not a dependency; " + _NUMERIC,
    "check_global_set_output_transform_polars": "polars is not a dependency; " + _NUMERIC,
    "check_estimators_dtypes": _NUMERIC,
    "check_dtype_object": _NUMERIC,
    "check_complex_data": _NUMERIC,
    "check_estimators_empty_data_messages": _NUMERIC + " (file-based equivalent below)",
    "check_estimators_nan_inf": _NUMERIC + "; NaN waveforms are tested in test_mfcc.py",
    "check_estimators_pickle": _NUMERIC + " (file-based equivalent below)",
    "check_pipeline_consistency": _NUMERIC + "; pipelines on synthetic media in test_pipelines.py",
    "check_methods_subset_invariance": _NUMERIC + " (file-based equivalent below)",
    "check_methods_sample_order_invariance": _NUMERIC + " (file-based equivalent below)",
    "check_fit2d_1sample": _NUMERIC + "; one file works (test_base.py)",
    "check_fit2d_1feature": _NUMERIC,
    "check_fit1d": "X is 1-D by design",
    "check_fit2d_predict1d": _NUMERIC,
    "check_dict_unchanged": _NUMERIC + " (file-based equivalent below)",
    "check_fit_idempotent": _NUMERIC + " (file-based equivalent below)",
    "check_fit_check_is_fitted": _NUMERIC + " (file-based equivalent below)",
    "check_n_features_in": "n_features_in_ is not defined for 1-D path input (as CountVectorizer)",
    "check_n_features_in_after_fitting": "n_features_in_ is not defined for 1-D path input",
    "check_dataframe_column_names_consistency": "a DataFrame X is read through `column` only",
    "check_inplace_ensure_writeable": "no in-place option",
    "check_get_feature_names_out_error": _NUMERIC,
    "check_estimator_sparse_tag": "paths, not sparse matrices",
    "check_estimator_sparse_array": "paths, not sparse matrices",
    "check_estimator_sparse_matrix": "paths, not sparse matrices",
    "check_f_contiguous_array_estimator": _NUMERIC,
    "check_requires_y_none": "y is ignored",
    "check_positive_only_tag_during_fit": _NUMERIC,
    "check_array_api_input": _NUMERIC + "; array API namespaces (torch, CuPy) hold numbers, not paths",
}


@pytest.fixture(params=list(CASES), ids=list(CASES))
def case(request):
    make, fixture = CASES[request.param]
    X = NAMES if fixture == "names" else request.getfixturevalue(fixture)
    return make(), list(X)


def test_excluded_checks_exist_and_are_not_also_run():
    names = {c.__name__ for c in SKLEARN_CHECKS}
    for check in EXCLUDED_CHECKS:
        assert hasattr(ec, check), f"{check} no longer exists in sklearn; update the table"
        assert check not in names


@pytest.mark.parametrize("make", [m for m, _ in CASES.values()], ids=list(CASES))
@pytest.mark.parametrize("check", SKLEARN_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_api_checks(make, check):
    est = make()
    check(type(est).__name__, est)


def _check_name(check):
    while isinstance(check, functools.partial):
        check = check.func
    return check.__name__


def _as_numeric_input(est):
    """The same estimator, but declaring numeric 2-D input: what sklearn's suite would then run."""
    cls = type(est)

    def tags(self):
        out = cls.__sklearn_tags__(self)
        out.input_tags.two_d_array = True
        return out

    return type(cls.__name__, (cls,), {"__sklearn_tags__": tags})(**est.get_params())


@pytest.mark.parametrize("make", [m for m, _ in CASES.values()], ids=list(CASES))
def test_sklearn_suite(make):
    # Every check of sklearn's suite for this estimator is either run above (SKLEARN_CHECKS) or
    # excluded with a reason (EXCLUDED_CHECKS): a check added by a new sklearn fails here until
    # it is placed in one of the two tables.
    would_run = {_check_name(c) for _, c in ec.estimator_checks_generator(_as_numeric_input(make()), legacy=True)}
    assert "check_transformer_general" in would_run and len(would_run) > 30  # the full suite, not a skip
    run_above = {c.__name__ for c in SKLEARN_CHECKS}
    unaccounted = sorted(would_run - run_above - set(EXCLUDED_CHECKS))
    assert not unaccounted, f"sklearn checks neither run nor excluded with a reason: {unaccounted}"
    assert all(isinstance(r, str) and r.strip() for r in EXCLUDED_CHECKS.values())
    # What sklearn does yield for path input (two_d_array=False: only check_estimator_cloneable in
    # sklearn 1.9) runs above already; a check it newly yields runs here, unless it is excluded,
    # whose reason must then be revisited.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkipTestWarning)
        yielded = list(ec.estimator_checks_generator(make(), legacy=True))
    assert {_check_name(c) for _, c in yielded} <= would_run
    for estimator, check in yielded:
        name = _check_name(check)
        assert name not in EXCLUDED_CHECKS, f"sklearn now runs {name} on path input; revisit its exclusion"
        if name not in run_above:
            check(estimator)


def test_tags_declare_path_input(case):
    tags = case[0].__sklearn_tags__()
    assert not tags.input_tags.two_d_array
    assert tags.input_tags.string and tags.input_tags.one_d_array
    assert tags.requires_fit


def test_clone_round_trip(case):
    est, _ = case
    cloned = clone(est)
    assert cloned is not est and cloned.get_params() == est.get_params()


def test_fit_returns_self_and_sets_only_trailing_underscore_attributes(case):
    est, X = case
    params = est.get_params()
    before = set(vars(est))
    assert est.fit(X) is est
    assert est.get_params() == params  # fit does not touch parameters
    new = set(vars(est)) - before
    assert new and all(a.endswith("_") for a in new)


def test_not_fitted_error(case):
    est, X = case
    with pytest.raises(NotFittedError):
        est.transform(X)
    with pytest.raises(NotFittedError):
        est.get_feature_names_out()


def test_output_shape_feature_names_and_transform_do_not_mutate(case):
    est, X = case
    Xt = est.fit_transform(X)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}
    Xt2 = est.transform(X)
    assert vars(est).keys() == state.keys()
    for k, v in vars(est).items():
        np.testing.assert_array_equal(v, state[k])
    assert Xt.ndim == 2 and Xt.shape == (len(X), int(np.prod(est.output_shape_)))
    np.testing.assert_allclose(Xt, Xt2, rtol=1e-6, atol=1e-6)  # fit_transform == fit + transform
    names = est.get_feature_names_out()
    assert len(names) == Xt.shape[1] and len(set(names)) == len(names)


def test_fit_idempotent_subset_and_order_invariance(case):
    est, X = case
    full = clone(est).fit(X).transform(X)
    again = clone(est).fit(X).fit(X).transform(X)
    np.testing.assert_array_equal(full, again)
    if not getattr(est, "standardize", False):  # standardisation depends on the fit set
        order = np.arange(len(X))[::-1]
        np.testing.assert_array_equal(clone(est).fit(X).transform([X[i] for i in order]), full[order])
    fitted = clone(est).fit(X)
    np.testing.assert_array_equal(fitted.transform(X[:2]), fitted.transform(X)[:2])


def test_pickle_round_trip(case):
    est, X = case
    est.fit(X)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))


def test_set_output_pandas(case):
    est, X = case
    frame = pd.DataFrame({est.column: X}, index=[f"r{i}" for i in range(len(X))])
    out = clone(est).set_output(transform="pandas").fit(frame).transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.fit(X).get_feature_names_out())
    assert list(out.index) == list(frame.index)


def test_dataframe_input_uses_the_column(case):
    est, X = case
    frame = pd.DataFrame({"other": range(len(X)), est.column: X})
    np.testing.assert_array_equal(clone(est).fit_transform(frame), clone(est).fit_transform(X))
    with pytest.raises(KeyError, match=f"column={est.column}|{est.column!r}"):
        clone(est).fit(frame.drop(columns=est.column))


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ([], ValueError, "empty"),
        ("single_path.wav", TypeError, "wrap it in a list"),
        ([[1.0, 2.0]], TypeError, "X\\[0\\] is a list"),
    ],
)
def test_bad_x_types(case, bad, error, match):
    with pytest.raises(error, match=match):
        clone(case[0]).fit(bad)


def test_numeric_matrix_rejected_with_a_hint():
    with pytest.raises((TypeError, ValueError), match="path"):
        FrameSampler().fit(np.zeros((3, 4)))
    with pytest.raises((TypeError, ValueError), match="path"):
        FilenameEmbedder().fit(np.zeros((3, 4)))


def _documented_attributes(cls):
    doc = cls.__doc__
    section = doc.split("Attributes\n    ----------\n", 1)[1].split("\n\n    ", 1)[0]
    return set(re.findall(r"^    (\w+_) :", section, flags=re.M))


def test_attributes_section_matches_fit(case):
    est, X = case
    est.fit(X)
    documented = _documented_attributes(type(est))
    fitted = {a for a in vars(est) if a.endswith("_") and not a.startswith("_")}
    # Conditional attributes (MFCC mean_/scale_ only with standardize=True) are documented
    # even when this configuration does not set them.
    assert fitted <= documented
    if getattr(est, "standardize", True):
        assert fitted == documented


@pytest.mark.parametrize(
    "check",
    [
        ec.check_estimator_cloneable,
        ec.check_estimator_repr,
        ec.check_no_attributes_set_in_init,
        ec.check_get_params_invariance,
        ec.check_set_params,
        ec.check_do_not_raise_errors_in_init_or_set_params,
        ec.check_valid_tag_types,
        ec.check_mixin_order,
    ],
    ids=lambda c: c.__name__,
)
def test_union_sklearn_api_checks(check):
    union = ModalityUnion([("audio", MFCCTransformer(n_mfcc=4, n_mels=8)), ("text", FilenameEmbedder(dim=3))])
    check("ModalityUnion", union)


def test_union_attributes_section_matches_fit():
    union = ModalityUnion([("text", FilenameEmbedder(dim=3))]).fit(NAMES)
    assert _documented_attributes(ModalityUnion) == {a for a in vars(union) if a.endswith("_")}
