"""Fixtures of the report tests: hand-made inputs (see _report_fakes) and one full report."""

import pytest

from ._report_fakes import make_evaluation, make_frame, make_quality, write_media


@pytest.fixture(scope="session")
def explanation_cls():
    from mmemotion.explain._explanation import Explanation

    return Explanation


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    return write_media(tmp_path_factory.mktemp("media"), "1001_DFA_ANG_XX")


@pytest.fixture(scope="session")
def frame(media):
    return make_frame(media=media)


@pytest.fixture(scope="session")
def full_inputs(frame, explanation_cls):
    """Every input of render_report, hand-made (see _report_fakes)."""
    from ._report_fakes import make_cv_results, make_explanation, make_held_out_analysis, make_history

    from mmemotion.evaluation import evaluate

    test = frame[frame["actor_id"] >= 1005]
    return dict(
        dataset={"frame": frame, "quality": make_quality(), "root": "/data/CREMA-D"},
        evaluation=make_evaluation(evaluate, test, names=("fusion", "audio", "video", "baseline")),
        explanation=make_explanation(explanation_cls, n=8, clip_ids=test["clip_id"].iloc[:8].tolist()),
        history=make_history(),
        cv_results=make_cv_results(),
        model_card={"params": {"lr": 1e-3, "max_epochs": 8}, "seeds": {"random_state": 0}},
        split={"protocol": "actor-independent hold-out", "train_actors": [1001, 1002, 1003, 1004],
               "test_actors": [1005, 1006], "n_train": 48, "n_test": 24},
        held_out=make_held_out_analysis(frame),
    )


@pytest.fixture(scope="session")
def full_report(tmp_path_factory, full_inputs):
    """The report rendered once from every input; tests only read it."""
    from mmemotion.report import render_report

    return render_report(tmp_path_factory.mktemp("full") / "report.html", **full_inputs)
