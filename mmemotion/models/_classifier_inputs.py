"""FusionClassifier's checks of its input: the modalities it reads and the arrays it is given."""

import inspect
from collections.abc import Mapping

import numpy as np
import torch
from skorch.helper import SliceDict
from torch import nn

from .. import MODALITIES
from ..modalities import check_modalities, get_modality, registered_modalities


class InputChecks:
    """Mixin of :class:`~mmemotion.models.FusionClassifier`: X is a dict of per-modality arrays."""

    def _module_modalities(self):
        """Modalities the configured module will read (before it is built)."""
        kwargs = self.get_params_for("module")
        if isinstance(self.module, nn.Module):
            return tuple(getattr(self.module, "modalities", MODALITIES))
        modalities = kwargs.get("modalities")
        if modalities is None:
            try:
                modalities = inspect.signature(self.module).parameters["modalities"].default
            except (KeyError, TypeError, ValueError):
                modalities = None
        return check_modalities(MODALITIES if modalities is None else modalities, "FusionClassifier: module__modalities")

    def _validate_X(self, X, *, reset):
        """Check X and return a SliceDict holding only the active modalities as arrays."""
        if not isinstance(X, Mapping):
            raise TypeError(
                f"FusionClassifier: X must be a skorch.helper.SliceDict (or dict) keyed by modality "
                f"({', '.join(registered_modalities())}), got {type(X).__name__}. Use mmemotion.features.ModalityUnion "
                "(or make_default_pipeline) to turn a CREMA-D manifest into one."
            )
        modalities = self._module_modalities() if reset else self.modalities_
        missing = [m for m in modalities if m not in X]
        if missing:
            raise ValueError(
                f"FusionClassifier: X lacks {missing} but the module reads {modalities}; add "
                f"{missing} to the ModalityUnion or set module__modalities to a subset of {tuple(X)}."
            )
        arrays, n_samples = {}, None
        for name in modalities:
            x = X[name]
            if isinstance(x, torch.Tensor):
                x = x.detach().cpu().numpy()
            x = np.asarray(x)
            if x.dtype == np.float64:
                x = x.astype(np.float32)
            if x.dtype.kind not in "fiub":
                raise TypeError(f"FusionClassifier: X['{name}'] must be numeric, got dtype {x.dtype}.")
            entry = get_modality(name)
            if x.ndim != entry.sample_ndim + 1:
                raise ValueError(
                    f"FusionClassifier: X['{name}'] has shape {x.shape}; expected (n_samples, "
                    f"{entry.sample_ndim} more axes), i.e. (n, *{entry.shape_doc}), as given by ModalityUnion."
                )
            if not reset and x.shape[1:] != self.input_shapes_[name]:
                raise ValueError(
                    f"FusionClassifier: X['{name}'] has per-sample shape {x.shape[1:]} but the classifier "
                    f"was fitted on {self.input_shapes_[name]}; extract features with the same settings "
                    "as in fit."
                )
            if x.dtype.kind == "f" and not np.isfinite(x).all():
                raise ValueError(
                    f"FusionClassifier: X['{name}'] contains NaN or infinite values; check the feature "
                    "extractor (e.g. on_error='nan' rows) and drop or impute those samples."
                )
            if n_samples is None:
                n_samples = len(x)
            elif len(x) != n_samples:
                raise ValueError(
                    f"FusionClassifier: the modalities in X have different lengths "
                    f"({ {m: len(a) for m, a in arrays.items()} } vs {name}: {len(x)})."
                )
            arrays[name] = x
        if n_samples == 0:
            raise ValueError("FusionClassifier: X has 0 samples.")
        if reset:
            self._check_reference_frames(getattr(X, "appended_observations", None))
            self.modalities_ = modalities
            self.input_shapes_ = {name: tuple(int(d) for d in a.shape[1:]) for name, a in arrays.items()}
        return SliceDict(**arrays)

    def _check_reference_frames(self, appended):
        """The union's appended reference frames and the network's count of them must agree."""
        if appended is None or isinstance(self.module, nn.Module):
            return
        try:
            parameters = inspect.signature(self.module).parameters
        except (TypeError, ValueError):
            return
        any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        module_params = self.get_params_for("module")
        for name in self._module_modalities():
            entry = get_modality(name)
            if not entry.reference_frames or not (any_keyword or f"{name}_reference_frames" in parameters):
                continue  # a module of another design that does not read reference frames
            expected = int(appended.get(name, 0))
            declared = int(module_params.get(f"{name}_reference_frames", entry.stream_defaults.get("reference_frames", 0)))
            if declared != expected:
                raise ValueError(
                    f"FusionClassifier: the ModalityUnion appends {expected} reference frames of the speaker to every "
                    f"{name} clip (speaker_norm 'reference', reference_size) but module__{name}_reference_frames="
                    f"{declared}; set them equal (make_default_pipeline(reference_frames=...) does), or the network "
                    "would read the speaker's frames as the clip's."
                )
