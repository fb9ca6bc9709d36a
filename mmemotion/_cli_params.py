"""``mmemotion fit --set/--grid``: parse PARAM=VALUE text, check it against the pipeline, build it.

Parsing and checking run before any data is read, so a typo costs a second, not a fit.
"""

import difflib
import inspect

__all__ = ["SYNTAX", "ParameterError", "default_pipeline", "forget_cache", "parse_assignments"]

#: Shown in ``--help`` and in every error message.
SYNTAX = (
    "PARAM=VALUE. Bare names are classifier parameters (lr, max_epochs, batch_size, module__dropout, "
    "optimizer__weight_decay); pipeline paths start with a step (features__audio__n_mfcc). A tuple is "
    "comma-separated, brackets optional: module__video_widths=8,16 or =(8,16). --grid takes candidates "
    "separated by commas, tuples in brackets: --grid lr=0.001,0.003 or --grid \"module__video_widths=(8,16),(16,32)\"."
)


class ParameterError(ValueError):
    """A --set/--grid value the user can fix; the message says how."""


def _split_top_level(text):
    """Split on commas outside brackets: ``"(8,16),(16,32)"`` -> ``["(8,16)", "(16,32)"]``."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts]


def _scalar(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def _value(text):
    """One value: a scalar, or a tuple written ``a,b`` / ``(a,b)`` / ``[a,b]``."""
    text = text.strip()
    if text[:1] in "([" and text[-1:] in ")]":
        inner = text[1:-1].strip()
        return tuple(_scalar(v.strip()) for v in inner.split(",") if v.strip()) if inner else ()
    if "," in text:
        return tuple(_scalar(v.strip()) for v in text.split(","))
    return _scalar(text)


def _full_name(key, steps):
    """Bare names and ``module__``/``optimizer__``/``criterion__`` names belong to the classifier."""
    return key if key.split("__", 1)[0] in steps else f"clf__{key}"


def _known_parameters(pipeline):
    """Every settable name with its default (``inspect.Parameter.empty`` when unknown)."""
    known = dict(pipeline.get_params(deep=True))
    clf = pipeline.named_steps["clf"]
    nested = {"module": clf.module, "optimizer": clf.optimizer, "criterion": clf.criterion}
    for prefix, target in nested.items():
        if not callable(target):
            continue
        if hasattr(target, "parameter_defaults"):  # the fusion network: stream parameters from the registry
            defaults = target.parameter_defaults()
        else:
            defaults = {name: p.default for name, p in inspect.signature(target).parameters.items()
                        if name not in ("self", "params") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        for name, default in defaults.items():
            known.setdefault(f"clf__{prefix}__{name}", default)
    # Objects (the network class, the nested estimators) are not values one types on a command line.
    return {k: v for k, v in known.items() if not (inspect.isclass(v) or hasattr(v, "get_params"))}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_type(option, key, value, default):
    """``value`` if it is of the kind ``default`` is (numbers stay numbers, flags flags); a single
    number given for a tuple of numbers becomes a 1-tuple. Defaults of other kinds accept anything."""
    ok = True
    if isinstance(default, bool):
        ok, expected = isinstance(value, bool), "true or false"
    elif _is_number(default):
        ok, expected = _is_number(value), "a number"
    elif isinstance(default, (tuple, list)) and default and all(map(_is_number, default)):
        value = value if isinstance(value, tuple) else (value,)
        ok, expected = all(map(_is_number, value)), "comma-separated numbers, e.g. 8,16"
    if not ok:
        raise ParameterError(f"{option} {key.removeprefix('clf__')}={value!r}: this parameter takes {expected} "
                             f"(default {default!r}). Syntax: {SYNTAX}")
    return value


def parse_assignments(items, option, pipeline, *, grid):
    """Parse ``--set``/``--grid`` items and check names and values against ``pipeline``.

    Parameters
    ----------
    items : list of str or None
        ``["lr=0.003", "module__dropout=0.2"]``.
    option : {"--set", "--grid"}
        For the messages.
    pipeline : sklearn.pipeline.Pipeline
        An unfitted pipeline of the kind that will be fitted (names are checked against it).
    grid : bool
        True: each item holds candidates (a list per name); False: one value per name.

    Returns
    -------
    params : dict
        Full pipeline parameter names (``clf__lr``) to a value, or to a list of candidates.

    Raises
    ------
    ParameterError
        Malformed item, unknown name (with close matches), or a value of the wrong kind.
    """
    known = _known_parameters(pipeline)
    steps = set(pipeline.named_steps)
    out = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise ParameterError(f"{option} {item!r}: write {'PARAM=V1,V2' if grid else 'PARAM=VALUE'}. Syntax: {SYNTAX}")
        name = _full_name(key, steps)
        if name not in known:
            names = sorted(k.removeprefix("clf__") for k in known)
            close = difflib.get_close_matches(key.removeprefix("clf__"), names, n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            main = [n[len("clf__"):] for n in sorted(known) if n.startswith("clf__")
                    and n.split("__")[1] not in ("callbacks", "optimizer", "criterion")]
            raise ParameterError(
                f"{option} {key}: no such parameter.{hint} Classifier parameters: {', '.join(main)}; also "
                "optimizer__<argument of torch.optim.Adam> (e.g. optimizer__weight_decay), criterion__<argument of "
                "CrossEntropyLoss> (e.g. criterion__label_smoothing) and features__<modality>__<name> "
                "(e.g. features__audio__n_mfcc)."
            )
        default = known[name]
        if grid:
            out[name] = [_check_type(option, name, _value(v), default) for v in _split_top_level(text)]
        else:
            out[name] = _check_type(option, name, _value(text), default)
    return out


def default_pipeline(modalities, *, max_epochs, seed, memory, verbose, early_stopping=True, n_jobs=None,
                     fixed=None):
    """:func:`~mmemotion.models.make_default_pipeline` with the ``--set`` parameters (``fixed``) applied."""
    from .models import make_default_pipeline

    pipeline = make_default_pipeline(modalities=tuple(modalities), memory=memory, random_state=seed, verbose=verbose,
                                     n_jobs=n_jobs, max_epochs=max_epochs, early_stopping=early_stopping)
    try:
        return pipeline.set_params(**(fixed or {}))
    except ValueError as error:
        raise ParameterError(f"--set: {error}") from error


def forget_cache(pipeline):
    """Detach the feature cache of ``pipeline``: a temporary cache is gone before the model is used again."""
    return pipeline.set_params(**{f"features__{name}__memory": None for name, t in pipeline[0].transformer_list
                                  if "memory" in t.get_params()})
