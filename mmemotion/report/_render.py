"""``render_report``: one self-contained HTML file plus a JSON sidecar with every number."""

import datetime
import json
from pathlib import Path

import jinja2

from .. import __version__
from ..utils import atomic_path, check_can_write
from ._sections import SECTIONS, build_sections
from ._serialize import to_jsonable

__all__ = ["render_report"]


def _environment():
    # The templates live in the top-level reports/templates/ folder, which pyproject maps to the
    # package mmemotion.report.templates; loading them as package data (not by a path relative
    # to this file) is what makes them work from an installed wheel too.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mmemotion.report.templates", "."),
        autoescape=True,  # every string a user controls (clip names, paths, reasons) is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _format_number
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * float(v):.1f}%"
    return env


def _format_number(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        return value
    value = float(value)
    if value.is_integer() and abs(value) < 1e9:
        return f"{int(value)}"
    return f"{value:.{digits}f}"


def render_report(
    path,
    *,
    dataset=None,
    evaluation=None,
    explanation=None,
    model=None,
    history=None,
    cv_results=None,
    model_card=None,
    split=None,
    held_out=None,
    title="mmemotion report",
    overwrite=False,
):
    """Write the explainability report: one self-contained HTML file and a JSON sidecar.

    Every figure is inlined (base64 PNG), the page loads nothing from the network and runs no
    script (a Content-Security-Policy forbids it), and every string taken from the data is
    HTML-escaped. Each section says "not available because ..." when its input is missing.

    Parameters
    ----------
    path : str or path-like
        Where to write the HTML file. The sidecar goes beside it with the suffix ``.json``.
    dataset : sklearn.utils.Bunch or pandas.DataFrame, optional
        What :func:`mmemotion.datasets.load_crema_d` returned (its ``frame`` and ``quality``
        are used; ``root`` and ``sample`` too when present), or a bare manifest frame.
    evaluation : dict, optional
        A result of :func:`mmemotion.evaluation.evaluate`, or ``{model name: result}`` for
        several models. The model named ``"fusion"`` (else the first) is the headline one;
        a model named after a modality whose registry ``label`` is a rater presentation
        (``"audio"``: voice only, ``"video"``: face only) is compared with those raters' votes,
        every other model with the audio-visual votes
        (:func:`~mmemotion.evaluation.matched_presentation`).
    explanation : mmemotion.explain.Explanation, optional
        What :func:`mmemotion.explain.explain` returned for held-out clips.
    model : sklearn.pipeline.Pipeline, optional
        The fitted model the report is about. With ``explanation``, the two must match (the
        explanation records its model's fingerprint): a mismatch raises ValueError naming both
        before anything is written.
    history : list of dict, optional
        Per-epoch training records, e.g. ``pipeline[-1].history`` of a skorch net
        (``train_loss``, ``valid_loss``, ``valid_acc``, ...).
    cv_results : dict or pandas.DataFrame, optional
        ``GridSearchCV(...).cv_results_``.
    model_card : dict, optional
        Free-form nested mapping (parameters, seeds, timings, ...). Package versions are
        added automatically.
    split : dict, optional
        How train and test were separated: ``protocol`` (words), ``train_actors``,
        ``test_actors``, ``n_train``, ``n_test``. Overlapping actor sets raise the leakage alarm.
    held_out : dict, optional
        :func:`mmemotion.evaluation.analyse_held_out` of the held-out predictions (one split or
        every actor out-of-fold): per-fold spread, reliability diagram and ECE before/after
        temperature scaling, conformal prediction sets (also shown per clip in the gallery)
        and the demographic audit, whose largest gap the trust section names.
    title : str, default="mmemotion report"
    overwrite : bool, default=False
        Replace existing files at ``path`` or its sidecar. Without it, existing files raise
        :class:`FileExistsError` before anything is computed.

    Returns
    -------
    path : pathlib.Path
        The HTML file.

    Examples
    --------
    >>> from mmemotion.evaluation import evaluate
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> render_report(out, evaluation=evaluate(["ANG", "SAD"], ["ANG", "ANG"])).name
    'report.html'
    """
    path = Path(path)
    sidecar = path.with_suffix(".json")
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"render_report writes HTML; got path={str(path)!r}. Give it a name ending in .html.")
    # Refuse before the (slow) figures are drawn, and for both files, so a refusal writes nothing.
    check_can_write(path, overwrite=overwrite)
    check_can_write(sidecar, overwrite=overwrite)
    if model is not None and explanation is not None:
        from ..explain import check_explains

        check_explains(explanation, model, explanation_name="the explanation", model_name="the model")

    if evaluation is None and held_out:
        evaluation = {"model": held_out["evaluation"]}
    sections = build_sections(dataset=dataset, evaluation=evaluation, explanation=explanation,
                              history=history, cv_results=cv_results, model_card_=model_card, split=split,
                              held_out=held_out)
    generated = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    html = _environment().get_template("report.html.j2").render(
        title=str(title),
        generated=generated,
        version=__version__,
        sidecar=sidecar.name,
        toc=SECTIONS,
        s=sections,
    )
    numbers = {
        "title": str(title),
        "generated": generated,
        "mmemotion_version": __version__,
        "sections": {
            sid: {"available": sections[sid]["available"], "reason": sections[sid].get("reason"),
                  **to_jsonable(sections[sid]["numbers"])}
            for sid, _ in SECTIONS
        },
    }
    if explanation is not None:
        numbers["explanation"] = to_jsonable({
            key: getattr(explanation, key, None)
            for key in ("classes", "modalities", "clip_ids", "y_true", "y_pred", "proba", "target_class",
                        "modality_shares", "shapley_values", "shapley_base", "shapley_full", "ablation", "ablation_alone",
                        "sanity", "baselines", "warnings", "timings", "params")
        })
    # Both files are written to temporaries first; an error (or Ctrl-C) in either leaves neither.
    with atomic_path(path, overwrite=overwrite) as tmp_html, atomic_path(sidecar, overwrite=overwrite) as tmp_json:
        tmp_json.write_text(json.dumps(to_jsonable(numbers), indent=1, allow_nan=False), encoding="utf-8")
        tmp_html.write_text(html, encoding="utf-8")
    return path
