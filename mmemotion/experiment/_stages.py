"""Progress of an experiment on the terminal: numbered stages with their durations, scores."""

import contextlib
import time

__all__ = ["Stages", "print_analysis", "print_scores"]


class Stages:
    """Print numbered stages with their duration, and keep the timings for the model card.

    Parameters
    ----------
    total : int
        Number of stages announced (``[k/total]``).
    quiet : bool, default=False
        Time the stages without printing.

    Attributes
    ----------
    done : int
        Stages started so far.
    timings : dict
        Seconds per finished stage, by name (rounded to 0.01 s).

    Examples
    --------
    >>> stages = Stages(2, quiet=True)
    >>> with stages("loading"):
    ...     pass
    >>> list(stages.timings), stages.done
    (['loading'], 1)
    """

    def __init__(self, total, *, quiet=False):
        self.total, self.quiet, self.done, self.timings = total, quiet, 0, {}

    @contextlib.contextmanager
    def __call__(self, name):
        self.done += 1
        self._print(f"[{self.done}/{self.total}] {name} ...")
        tic = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - tic, 2)
        self._print(f"      {name}: done in {self.timings[name]:.1f} s")

    def _print(self, message):
        if not self.quiet:
            print(message, flush=True)


def print_scores(name, evaluation, verbose=True):
    """One line: the accuracy, macro-F1 and UAR of model ``name``."""
    if verbose:
        print(f"      {name:>8}: accuracy {evaluation['accuracy']:.3f}  macro-F1 {evaluation['macro_f1']:.3f}  "
              f"UAR {evaluation['uar']:.3f}", flush=True)


def print_analysis(analysis, verbose=True):
    """Two lines of :func:`~mmemotion.evaluation.analyse_held_out`: calibration and sets, largest gap."""
    if not verbose:
        return
    cal, conformal = analysis["calibration"], analysis["conformal"]
    if conformal is None:
        print(f"      calibration: ECE {cal['before']['ece']:.3f}; {analysis['not_fitted']}", flush=True)
    else:
        print(f"      calibration: ECE {cal['before']['ece']:.3f}, temperature-scaled {cal['after']['ece']:.3f}; "
              f"{conformal['confidence_level']:.0%} prediction sets cover {conformal['coverage']:.1%} "
              f"(mean size {conformal['mean_size']:.2f})", flush=True)
    gap = analysis["audit"]["largest_gap"]
    if gap is not None:
        print(f"      largest demographic gap: {gap['attribute']} = {gap['group']} {gap['gap']:+.3f} "
              f"(permutation p {gap['p_value']:.3f}{', beyond chance' if gap['flagged'] else ''})", flush=True)
