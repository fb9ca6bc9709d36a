"""One call from held-out predictions to every trust figure the report shows."""

import numpy as np

from ._audit import demographic_audit
from ._calibration import cross_fit_temperature, reliability
from ._conformal import cross_fit_sets, set_summary

__all__ = ["analyse_held_out"]


def analyse_held_out(held_out, *, confidence_level=0.9, temperature=True, n_boot=2000, random_state=0):
    """Pooled and per-fold scores, calibration, conformal sets and a demographic audit.

    Every step that fits something (the temperature, the conformal threshold) is fitted for
    each actor on the *other* held-out actors, never on the actor it is applied to.

    Parameters
    ----------
    held_out : HeldOutPredictions
        From :func:`cross_val_predict_actors` (every actor once) or
        :func:`held_out_predictions` (one test split). With a single held-out actor only the
        reliability and the audit table are computed (``after``, ``conformal`` and ``sets`` are
        None and ``not_fitted`` says why).
    confidence_level : float, default=0.9
        Target coverage of the prediction sets.
    temperature : bool, default=True
        Also temperature-scale the probabilities (ECE before and after), and build the sets
        from the scaled probabilities.
    n_boot : int, default=2000
        Actor-level bootstrap draws of the demographic audit.
    random_state : int, default=0

    Returns
    -------
    analysis : dict
        ``protocol``, ``n_folds``, ``n_actors``, ``evaluation`` (pooled,
        :func:`~mmemotion.evaluation.evaluate`), ``folds`` (per-fold scores) and
        ``fold_spread`` (mean, sd, min, max of the fold accuracies), ``calibration``
        (``before``, ``after``: :func:`reliability`; ``temperatures``), ``conformal``
        (:func:`set_summary`), ``sets`` (``{clip_id: [emotions]}``), ``not_fitted``, ``audit``
        (:func:`demographic_audit`) and ``classes``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from mmemotion.evaluation import HeldOutPredictions
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile(["ANG", "SAD"], 20)
    >>> proba = np.where(y[:, None] == np.array(["ANG", "SAD"]), 0.8, 0.2)
    >>> held = HeldOutPredictions(proba=proba, classes=["ANG", "SAD"], y_true=y,
    ...                           actor_id=np.repeat([1, 2, 3, 4], 10), fold=np.zeros(40, int))
    >>> analyse_held_out(held, n_boot=50)["conformal"]["coverage"]
    1.0
    """
    actors = np.unique(held_out.actor_id)
    if not len(actors):
        raise ValueError("analyse_held_out: no held-out clip; pass the predictions of at least one clip.")
    y, classes = held_out.y_true, held_out.classes
    before = reliability(y, held_out.proba, classes)
    calibration = {"before": before, "after": None, "temperatures": None}
    # Temperature and conformal threshold are fitted on *other* held-out actors: one actor has none.
    fitted_elsewhere = len(actors) >= 2
    not_fitted = (f"only {len(actors)} held-out actor: the temperature and the conformal threshold are fitted on "
                  "other held-out actors, so they need at least 2 (use more test actors or out-of-fold evaluation)")
    proba = held_out.proba
    if temperature and fitted_elsewhere:
        proba, temperatures = cross_fit_temperature(held_out.proba, y, classes, held_out.actor_id)
        calibration["after"] = reliability(y, proba, classes)
        calibration["temperatures"] = temperatures
        calibration["median_temperature"] = float(np.median(list(temperatures.values())))
    sets = (cross_fit_sets(proba, y, classes, held_out.actor_id, confidence_level=confidence_level)
            if fitted_elsewhere else None)
    clip_ids = (held_out.frame["clip_id"].astype(str).tolist() if "clip_id" in held_out.frame
                else [str(i) for i in range(len(y))])
    folds = held_out.per_fold()
    accuracies = np.array([f["accuracy"] for f in folds])
    n_folds = held_out.n_folds
    return {
        "protocol": (f"Out-of-fold: {n_folds} actor-grouped folds, every actor held out once"
                     if n_folds > 1 else "One actor-independent test split"),
        "n_folds": n_folds,
        "n_actors": int(len(actors)),
        "classes": list(classes),
        "evaluation": held_out.evaluate(),
        "folds": folds,
        "fold_spread": {"mean": float(accuracies.mean()), "sd": float(accuracies.std(ddof=1)) if n_folds > 1 else None,
                        "min": float(accuracies.min()), "max": float(accuracies.max())},
        "calibration": calibration,
        "conformal": None if sets is None else set_summary(sets, y, classes, confidence_level=confidence_level),
        "sets": None if sets is None else {clip: [c for c, member in zip(classes, row) if member]
                                           for clip, row in zip(clip_ids, sets)},
        "not_fitted": None if fitted_elsewhere else not_fitted,
        "audit": demographic_audit(held_out, n_boot=n_boot, random_state=random_state),
    }
