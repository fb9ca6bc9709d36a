"""What the report's model card says about a fitted pipeline: its parameters and training history.

Only ``get_params`` and attributes are read, so nothing here imports torch: a pipeline loaded
with :func:`mmemotion.models.load_model` is described as it is.
"""

__all__ = ["pipeline_card", "speaker_norm_text", "training_history"]

#: Parameters that say how a step runs rather than what it computes; left out of the model card.
_PLUMBING = {"callbacks", "compile", "dataset", "iterator_train", "iterator_valid", "predict_nonlinearity",
             "torch_load_kwargs", "train_split", "use_caching", "verbose", "warm_start", "memory", "n_jobs",
             "on_error", "column", "classes"}


def _plain_params(estimator):
    """JSON-friendly top-level parameters of a pipeline step (no nested estimators)."""
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in _PLUMBING or value is None:
            continue
        if isinstance(value, (str, int, float, bool, type(None))):
            params[key] = value
        elif isinstance(value, (tuple, list)) and all(isinstance(v, (str, int, float)) for v in value):
            params[key] = list(value)
        elif isinstance(value, type):
            params[key] = value.__name__
    return params


def speaker_norm_text(pipeline):
    """How the pipeline's features are normalised per speaker, in words.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Its first step's ``describe_speaker_norm()`` is asked (``ModalityUnion`` has one).

    Returns
    -------
    text : str
        ``"none"`` when the first step cannot say.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> speaker_norm_text(make_pipeline(StandardScaler(), LogisticRegression()))
    'none'
    """
    describe = getattr(pipeline[0], "describe_speaker_norm", None)
    return describe() if describe is not None else "none"


def pipeline_card(pipeline):
    """The parameters section of a model card: what each step of ``pipeline`` computes.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Features first (a ``ModalityUnion``: one entry per modality), classifier last.

    Returns
    -------
    card : dict
        ``classifier`` (its plain parameters), ``speaker normalisation`` (:func:`speaker_norm_text`)
        and ``features.<modality> (<transformer class>)`` for each transformer of the union.
        Parameters that say how a step runs (``verbose``, ``n_jobs``, ``memory``, callbacks)
        and nested estimators are left out, so the card is JSON-friendly.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> card = pipeline_card(make_pipeline(StandardScaler(), LogisticRegression(C=0.1)))
    >>> card["classifier"]["C"], card["speaker normalisation"]
    (0.1, 'none')
    """
    card = {"classifier": _plain_params(pipeline[-1]), "speaker normalisation": speaker_norm_text(pipeline)}
    features = pipeline[0]
    for name, transformer in getattr(features, "transformer_list", []):
        card[f"features.{name} ({type(transformer).__name__})"] = _plain_params(transformer)
    return card


def training_history(pipeline):
    """Per-epoch training records of the pipeline's classifier, without the per-batch detail.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Its last step's ``history_`` (or skorch's ``history``) is read.

    Returns
    -------
    history : list of dict or None
        One dict per epoch (``train_loss``, ``valid_loss``, ``valid_acc``, ...); None when the
        classifier keeps no history (e.g. the linear baseline).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> training_history(make_pipeline(LogisticRegression())) is None
    True
    """
    clf = pipeline[-1]
    history = getattr(clf, "history_", None) or getattr(clf, "history", None)
    return None if history is None else [{k: v for k, v in row.items() if k != "batches"} for row in history]
