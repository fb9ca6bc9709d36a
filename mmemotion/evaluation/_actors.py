"""Actor-independent splits: which clips train a model, which test it, and how to say so."""

import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold, GroupShuffleSplit

from ._held_out import _groups_fit_param

__all__ = ["actor_split", "fit_by_actor", "held_out_rows", "split_record"]


def actor_split(frame, test_size=0.25, random_state=0):
    """Positions of the training and test rows, holding out whole actors.

    One :class:`~sklearn.model_selection.GroupShuffleSplit` by ``actor_id``: no test actor has a
    clip in the training rows. At least one actor is held out, and at least two are kept for
    training (one for the network's own early-stopping split).

    Parameters
    ----------
    frame : pandas.DataFrame
        Manifest with an ``actor_id`` column (the frame of
        :func:`~mmemotion.datasets.load_crema_d`).
    test_size : float, default=0.25
        Fraction of the *actors* held out (rounded, then clipped to ``[1, n_actors - 2]``).
    random_state : int, default=0

    Returns
    -------
    train : ndarray of shape (n_train,)
        Sorted row positions of the training actors.
    test : ndarray of shape (n_test,)
        Sorted row positions of the held-out actors.

    Raises
    ------
    ValueError
        When ``frame`` holds fewer than 3 actors.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"actor_id": [1001, 1001, 1002, 1002, 1003, 1003, 1004, 1004]})
    >>> train, test = actor_split(frame, test_size=0.25, random_state=0)
    >>> len(train), len(test)
    (6, 2)
    >>> set(frame["actor_id"].iloc[train]) & set(frame["actor_id"].iloc[test])
    set()
    """
    actors = frame["actor_id"].to_numpy()
    n_actors = len(np.unique(actors))
    if n_actors < 3:
        raise ValueError(f"the data has {n_actors} actor(s); an actor-independent split needs at least 3 "
                         "(2 to train with early stopping, 1 to test). Use more actors.")
    n_test = min(max(1, int(round(test_size * n_actors))), n_actors - 2)
    splitter = GroupShuffleSplit(n_splits=1, test_size=n_test, random_state=random_state)
    train, test = next(splitter.split(frame, groups=actors))
    return np.sort(train), np.sort(test)


def split_record(frame, train, test):
    """Describe a train/test split for the report and the model's metadata.

    Parameters
    ----------
    frame : pandas.DataFrame
        Manifest with an ``actor_id`` column.
    train, test : array-like of int
        Row positions, e.g. from :func:`actor_split`. An empty ``test`` means the model was
        trained on every clip.

    Returns
    -------
    record : dict
        ``protocol`` (words), ``train_actors``, ``test_actors`` (sorted lists of int),
        ``n_train`` and ``n_test``: the ``split`` argument of
        :func:`~mmemotion.report.render_report`.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"actor_id": [1001, 1001, 1002, 1003]})
    >>> record = split_record(frame, [0, 1, 2], [3])
    >>> record["train_actors"], record["test_actors"], record["n_test"]
    ([1001, 1002], [1003], 1)
    """
    actors = frame["actor_id"]
    protocol = ("actor-independent hold-out (GroupShuffleSplit by actor_id): no test actor is seen in training"
                if len(test) else "trained on every clip (no held-out actors)")
    return {
        "protocol": protocol,
        "train_actors": sorted(int(a) for a in actors.iloc[train].unique()),
        "test_actors": sorted(int(a) for a in actors.iloc[test].unique()),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
    }


def held_out_rows(frame, train_actors):
    """Positions of the rows of ``frame`` whose actor is not among ``train_actors``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Manifest with an ``actor_id`` column.
    train_actors : sequence of int
        Actors a model was trained on (``split_record(...)["train_actors"]``). Empty when
        unknown: then every row is returned.

    Returns
    -------
    rows : ndarray of shape (n_held_out,)
        Sorted row positions; empty when every actor of ``frame`` was trained on.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"actor_id": [1001, 1002, 1001, 1003]})
    >>> held_out_rows(frame, [1001]).tolist()
    [1, 3]
    """
    train_actors = set(train_actors)
    if not train_actors:
        return np.arange(len(frame))
    return np.flatnonzero(~frame["actor_id"].isin(train_actors).to_numpy())


def fit_by_actor(estimator, X, y, *, param_grid=None, cv=3, scoring="balanced_accuracy"):
    """Fit ``estimator`` so that no split inside the fit puts one actor on both sides.

    When the estimator's final step takes ``groups`` (``FusionClassifier``), it receives the
    actor ids, so its early-stopping split holds out actors too. With ``param_grid``, a
    :class:`~sklearn.model_selection.GridSearchCV` over actor folds
    (:class:`~sklearn.model_selection.GroupKFold`) picks the parameters and refits on all of ``X``.

    Parameters
    ----------
    estimator : estimator
        Unfitted; fitted in place without ``param_grid`` (cloned by the search with it).
    X : pandas.DataFrame
        Manifest with an ``actor_id`` column.
    y : array-like of shape (n_clips,)
        Emotion codes.
    param_grid : dict or None, default=None
        Full parameter names (``clf__lr``) to lists of candidates.
    cv : int, default=3
        Actor folds of the search (at most the number of actors in ``X``).
    scoring : str, default="balanced_accuracy"
        Score the search maximises (balanced accuracy is the UAR).

    Returns
    -------
    model : estimator
        The fitted estimator (the search's ``best_estimator_`` with ``param_grid``).
    search : GridSearchCV or None
        The fitted search (``best_params_``, ``best_score_``, ``cv_results_``); None without
        ``param_grid``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"actor_id": [1, 1, 2, 2, 3, 3], "f": [0.0, 1.0, 0.1, 0.9, 0.2, 1.1]})
    >>> model, search = fit_by_actor(make_pipeline(LogisticRegression()), X, ["ANG", "SAD"] * 3,
    ...                              param_grid={"logisticregression__C": [0.1, 1.0]})
    >>> sorted(search.best_params_), search.n_splits_
    (['logisticregression__C'], 3)
    """
    groups = X["actor_id"].to_numpy()
    param = _groups_fit_param(estimator)
    fit_params = {param: groups} if param else {}
    if not param_grid:
        return estimator.fit(X, y, **fit_params), None
    n_splits = min(cv, len(np.unique(groups)))
    search = GridSearchCV(estimator, param_grid, cv=GroupKFold(n_splits=n_splits), scoring=scoring, refit=True,
                          error_score="raise")
    search.fit(X, y, groups=groups, **fit_params)
    return search.best_estimator_, search
