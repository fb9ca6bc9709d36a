"""A scikit-learn ``Pipeline`` that tells a user with metadata routing on how to pass ``groups``."""

import sklearn
from sklearn.pipeline import Pipeline

__all__ = ["EmotionPipeline"]


class EmotionPipeline(Pipeline):
    """:class:`sklearn.pipeline.Pipeline`, with a clear error for ``step__param`` under routing.

    Identical to ``Pipeline`` except in one case: with scikit-learn's metadata routing enabled
    (``sklearn.set_config(enable_metadata_routing=True)``), ``fit(X, y, clf__groups=...)``
    makes ``Pipeline`` raise a generic "not routed to any object" error. Here the error names
    the two ways that work: switch routing off, or request the metadata from the step and pass
    it by its plain name (``pipe["clf"].set_fit_request(groups=True)``, then
    ``pipe.fit(X, y, groups=...)``).

    Examples
    --------
    >>> from mmemotion.models import make_default_pipeline
    >>> type(make_default_pipeline()).__name__
    'EmotionPipeline'
    """

    def fit(self, X, y=None, **params):
        _check_step_params(params, "fit")
        return super().fit(X, y, **params)

    def fit_predict(self, X, y=None, **params):
        _check_step_params(params, "fit_predict")
        return super().fit_predict(X, y, **params)


def _check_step_params(params, method):
    if not sklearn.get_config().get("enable_metadata_routing", False):
        return
    stepwise = sorted(key for key in params if "__" in key)
    if not stepwise:
        return
    step, _, name = stepwise[0].partition("__")
    raise TypeError(
        f"EmotionPipeline.{method} got {', '.join(stepwise)}: the 'step__param' form is not accepted while "
        "scikit-learn's metadata routing is on (sklearn.set_config(enable_metadata_routing=True)). Either turn "
        f"routing off, or request the metadata from the step and pass it by its plain name: "
        f"pipe[{step!r}].set_{method.split('_')[0]}_request({name}=True); pipe.{method}(X, y, {name}=...)."
    )
