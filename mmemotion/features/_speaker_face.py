"""One face box per speaker: ``FrameSampler(crop="speaker_face")``.

Why: per-speaker normalisation compares each clip with the speaker's other clips, which only
means something when every clip is cropped the same way. Boxes placed clip by clip move by ~20
pixels within a speaker (the detector misses some clips, the colour/motion heuristic wanders),
and the HOG cells then describe different parts of the face from clip to clip. On the realistic
synthetic corpus (10 actors, fixed camera per actor as in CREMA-D's studio sessions; HOG mean and
spread of 16 frames, z-scored per speaker, logistic regression, 5 folds by actor) held-out
accuracy was 0.46 with per-clip boxes, 0.61 with one box per speaker and 0.74 with the true face
box (96x96 crops; 0.43 / 0.56 / 0.73 at 64x64).
"""

import collections
import hashlib
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ..utils import progress
from ._base import _extract_safely
from ._cache import FeatureCache, scratch_array
from ._face_box import FaceFallbackWarning
from ._face_detect import square_box

__all__ = ["BOX_FIELDS", "BoxKeyedCache", "BoxedPath", "SpeakerFaceCrop", "speaker_boxes", "speaker_groups"]

#: Columns of a clip's box record: the box, whether the detector found it, the frame size.
BOX_FIELDS = ("y0", "x0", "y1", "x1", "detected", "height", "width")

# Waiting frames of one speaker beyond this many bytes are not kept: those clips are decoded again
# once the box is known. CREMA-D-like clips at 480x360 wait with ~4.6 MB each (16 frames cut to
# the grown box; 7.9 MB uncut), so ~400 MB for a speaker's ~80 clips.
_WAITING_BYTES = 2**30


class BoxedPath(str):
    """A path that carries the crop box to use for it (pickles with its box to worker processes)."""

    def __new__(cls, path, box):
        obj = super().__new__(cls, path)
        obj.box = tuple(int(v) for v in box)
        return obj

    def __reduce__(self):
        return BoxedPath, (str(self), self.box)


def speaker_groups(speakers):
    """The clips of each speaker, in order of first appearance.

    Parameters
    ----------
    speakers : array-like of shape (n_clips,)
        Speaker of each clip; a missing value makes the clip its own speaker.

    Returns
    -------
    groups : dict
        ``("speaker", name)`` or, for a clip without a speaker, ``("clip", index)``, mapped to
        the list of the clips' indices.
    """
    groups = {}
    for i, speaker in enumerate(speakers):
        groups.setdefault(("clip", i) if pd.isna(speaker) else ("speaker", speaker), []).append(i)
    return groups


def speaker_boxes(records, speakers):
    """One box per speaker from the clips' own box records.

    Parameters
    ----------
    records : ndarray of shape (n_clips, 7)
        Rows of :data:`BOX_FIELDS`; an all-zero row (unreadable clip) is ignored.
    speakers : array-like of shape (n_clips,)
        Speaker of each clip; a missing value makes the clip its own speaker.

    Returns
    -------
    boxes : list of tuple of int
        ``(y0, x0, y1, x1)`` per clip: the square with the per-coordinate median centre and
        side of the speaker's detected boxes (of all its boxes when the detector found the face
        in none of its clips), placed inside the frame.
    undetected : list
        Speakers none of whose clips had a detected face.
    """
    records = np.asarray(records, dtype=np.int64)
    groups = speaker_groups(speakers)
    valid = records[:, 2] > records[:, 0]
    out = [tuple(int(v) for v in r[:4]) for r in records]
    undetected = []
    for (kind, speaker), index in groups.items():
        usable = [i for i in index if valid[i]]
        if not usable:
            continue
        detected = [i for i in usable if records[i, 4] == 1]
        if not detected and kind == "speaker":
            undetected.append(speaker)
        pool = records[detected or usable]
        cy = np.median((pool[:, 0] + pool[:, 2]) / 2)
        cx = np.median((pool[:, 1] + pool[:, 3]) / 2)
        side = np.median(np.maximum(pool[:, 2] - pool[:, 0], pool[:, 3] - pool[:, 1]))
        for i in usable:
            out[i] = square_box(cy, cx, side, int(records[i, 5]), int(records[i, 6]))
    return out, undetected


class BoxKeyedCache(FeatureCache):
    """:class:`FeatureCache` whose per-file key includes a :class:`BoxedPath`'s box: the same
    clip cropped with another speaker box (the speaker's clip set changed) is another entry."""

    def key(self, path):
        key = super().key(path)
        box = getattr(path, "box", None)
        if key is None or box is None:
            return key
        return hashlib.sha256(f"{key}\0{box}".encode()).hexdigest()


class SpeakerFaceCrop:
    """``crop="speaker_face"`` for :class:`~mmemotion.features.FrameSampler` (a mixin placed
    before :class:`~mmemotion.features._base.BaseFileTransformer`): one decoding pass per clip.

    Clips are taken speaker by speaker; each clip's sampled frames wait, cut to a region around
    its own box, until the speaker's last clip is in and the speaker's box is known. The host
    provides ``_box_finder(scan=...)`` (the box-record transformer and its per-clip scan),
    ``_stack`` and the :class:`BaseFileTransformer` machinery.
    """

    def _validate_items(self, X):
        items = super()._validate_items(X)
        if self.crop != "speaker_face":
            return items
        if not isinstance(X, pd.DataFrame) or self.speaker_column not in X.columns:
            found = f"columns {list(X.columns)[:8]}" if isinstance(X, pd.DataFrame) else f"a {type(X).__name__}"
            raise ValueError(
                f"FrameSampler(crop='speaker_face') crops all clips of a speaker alike and reads the speaker "
                f"from column {self.speaker_column!r} of a DataFrame X, but X has {found}. Pass the manifest "
                "frame of load_crema_d, set speaker_column, or use crop='face' (one box per clip)."
            )
        return _SpeakerItems(items, X[self.speaker_column].tolist())

    def _extract_by_speaker(self, items):
        """``crop="speaker_face"``: one decoding pass per clip (see ``crop``)."""
        finder = self._box_finder()
        records, known = finder._cached_records(items)
        out = scratch_array((len(items), *self.output_shape_), np.uint8, self.memory)
        done = self._scan_speakers(items, records, known, out, finder)
        boxes, undetected = speaker_boxes(records, items.speakers)
        if undetected:
            self._warn_undetected(undetected, items.speakers)
        boxed = [BoxedPath(item, box) if records[i, 2] > records[i, 0] else item
                 for i, (item, box) in enumerate(zip(items, boxes))]
        rest = np.flatnonzero(~done)
        if len(rest) == len(items):
            # Every box was cached: the per-file (and whole-batch) cache of the crops applies.
            return super()._extract_all(boxed)
        if len(rest):
            out[rest] = super()._extract_all([boxed[i] for i in rest])
        return out

    def _scan_speakers(self, items, records, known, out, finder):
        """Decode the clips whose box is not cached, speaker by speaker, and crop a speaker's clips
        into ``out`` as soon as its last clip is in; fills ``records`` and returns which rows of
        ``out`` are done."""
        groups = list(speaker_groups(items.speakers).values())
        todo = [i for group in groups for i in group if not known[i]]
        done = np.zeros(len(items), dtype=bool)
        if not todo:
            return done
        group_of = {i: g for g, group in enumerate(groups) for i in group}
        left = collections.Counter(group_of[i] for i in todo)
        box_cache, crop_cache = finder._cache(), self._cache()
        waiting, failed = {}, []
        # Items in speaker order, so that only one speaker's frames wait at a time; the generator
        # hands results back in that order.
        scanner = self._box_finder(scan=True)
        tasks = (delayed(_extract_safely)(scanner, items[i], i, None, None) for i in todo)
        results = Parallel(n_jobs=self.n_jobs, return_as="generator")(tasks)
        bar = progress(results, verbose=self.verbose, desc=type(self).__name__, total=len(todo), unit="file")
        for i, (scan, reason) in zip(todo, bar):
            if reason is not None:
                failed.append(self._failure(items[i], i, reason))
                out[i], done[i] = 0, True
            else:
                records[i], region, frames, order = scan
                if box_cache is not None:
                    box_cache.save(box_cache.key(items[i]), records[i])
                if sum(_nbytes(w[1]) for w in waiting.values()) + _nbytes(frames) <= _WAITING_BYTES:
                    waiting[i] = region, frames, order
            left[group_of[i]] -= 1
            if left[group_of[i]] == 0:
                group = groups[group_of[i]]
                boxes, _ = speaker_boxes(records[group], [items.speakers[j] for j in group])
                for j, box in zip(group, boxes):
                    if j in waiting:
                        done[j] = self._crop_waiting(out, j, box, waiting.pop(j), crop_cache, items[j])
        if failed:
            self._warn_unreadable(failed, len(items), stacklevel=6)
        return done

    def _crop_waiting(self, out, index, box, waiting, cache, item):
        """Crop a waiting clip with its speaker's box into ``out[index]``; False when the box
        reaches outside the frames kept (the clip is then decoded again)."""
        (ry0, rx0, ry1, rx1), frames, order = waiting
        y0, x0, y1, x1 = box
        if not (ry0 <= y0 and rx0 <= x0 and y1 <= ry1 and x1 <= rx1):
            return False
        out[index] = self._stack(frames, order, (y0 - ry0, x0 - rx0, y1 - ry0, x1 - rx0))
        if cache is not None:
            cache.save(cache.key(BoxedPath(item, box)), out[index])
        return True

    def _warn_undetected(self, undetected, speakers):
        listed = ", ".join(map(str, undetected[:10])) + (", ..." if len(undetected) > 10 else "")
        warnings.warn(
            f"FrameSampler(crop='speaker_face'): the face detector found no face in any clip of "
            f"{len(undetected)} of {len(set(map(str, speakers)))} speakers ({listed}); their box comes "
            "from face_box's colour/motion heuristic. Expected for drawn (synthetic) faces, faces under ~80 "
            "pixels or turned away; check these speakers' clips, or use crop='center'.",
            FaceFallbackWarning,
            stacklevel=5,
        )


class _SpeakerItems(list):
    """The items of one call with each clip's speaker alongside (``crop="speaker_face"``)."""

    def __init__(self, items, speakers):
        super().__init__(items)
        self.speakers = speakers


def _nbytes(frames):
    return sum(f.nbytes for f in frames.values())
