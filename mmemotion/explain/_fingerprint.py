"""Which model an explanation belongs to: a fingerprint of the fitted network."""

import hashlib
import warnings

import numpy as np

__all__ = ["check_explains", "describe_fingerprint", "model_fingerprint"]


def model_fingerprint(pipeline):
    """Identify a fitted pipeline by its network's weights, classes and modalities.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted; its last step is a :class:`~mmemotion.models.FusionClassifier`.

    Returns
    -------
    fingerprint : dict
        ``weights_sha256`` (first 16 hex digits of SHA-256 over every parameter and buffer of
        the network, by name), ``classes`` and ``modalities``. Equal for a model and its copy
        saved and loaded with :func:`~mmemotion.models.save_model` / ``load_model``.
    """
    clf = pipeline[-1]
    net = clf.module_
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensor.detach().cpu().numpy()).tobytes())
    return {
        "weights_sha256": digest.hexdigest()[:16],
        "classes": [str(c) for c in np.asarray(clf.classes_).tolist()],
        "modalities": [str(m) for m in net.modalities],
    }


def describe_fingerprint(fingerprint):
    """One line naming a fingerprint: modalities, classes and weights hash."""
    return (f"modalities {', '.join(fingerprint['modalities'])}; classes {' '.join(fingerprint['classes'])}; "
            f"weights {fingerprint['weights_sha256']}")


def check_explains(explanation, pipeline, *, explanation_name="the explanation", model_name="the model"):
    """Raise ValueError when ``explanation`` was computed from another model than ``pipeline``.

    Parameters
    ----------
    explanation : Explanation
    pipeline : sklearn.pipeline.Pipeline
        The fitted model the explanation is presented with.
    explanation_name, model_name : str
        How the message names them (e.g. the CLI's ``--explanation ex.npz``).

    Raises
    ------
    ValueError
        Naming both fingerprints. An explanation saved before fingerprints existed cannot be
        checked: a :class:`UserWarning` says so.
    """
    recorded = getattr(explanation, "model", None)
    actual = model_fingerprint(pipeline)
    if recorded is None:
        warnings.warn(
            f"{explanation_name} records no model fingerprint (made by an older mmemotion), so it cannot be "
            f"checked against {model_name}; explain the model again to be sure they match.",
            UserWarning,
            stacklevel=3,
        )
        return
    if dict(recorded) != actual:
        raise ValueError(
            f"{explanation_name} explains another model ({describe_fingerprint(recorded)}) than {model_name} "
            f"({describe_fingerprint(actual)}); explain this model to get its explanation."
        )
