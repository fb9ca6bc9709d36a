"""Text features from file names: mean-pooled word vectors of the spoken sentence."""

import hashlib
import os
import re
import warnings
from numbers import Integral
from pathlib import PurePath

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..datasets._codes import SENTENCES, STEM_PATTERN
from ._base import BaseFileTransformer, path_input_tags
from ._errors import LeakageWarning

__all__ = ["FilenameEmbedder", "tokenize_name"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
_LETTERS = re.compile(r"[^\W\d_]+")


def tokenize_name(name, *, include_label_codes=False):
    """Words a file name contributes to :class:`FilenameEmbedder`.

    Parameters
    ----------
    name : str or path-like
        A path, file name or stem; directory and extension are dropped.
    include_label_codes : bool, default=False
        For CREMA-D names, also return ``emotion=<code>`` and ``level=<code>`` tokens.

    Returns
    -------
    words : list of str
        For a CREMA-D stem ``<actor>_<sentence>_<emotion>_<level>``: the lower-cased words of the
        sentence the actor speaks (apostrophes kept: ``"it's"``, ``"o'clock"``); the actor id and,
        unless asked, the emotion and level codes are left out; an unknown sentence code is
        one lower-cased token. Any other name: its stem split on
        every run of non-letters and lower-cased (``"holiday_photo-2"`` -> ``["holiday", "photo"]``).

    Examples
    --------
    >>> tokenize_name("AudioWAV/1001_IEO_ANG_HI.wav")
    ["it's", 'eleven', "o'clock"]
    """
    stem = PurePath(os.fspath(name)).stem
    # Match the CREMA-D *shape*, not only known codes: a name like 1001_XYZ_ANG_XX (unknown
    # sentence) must still never leak its emotion and level codes into the text features.
    match = STEM_PATTERN.match(stem)
    if match is None:
        return [w.lower() for w in _LETTERS.findall(stem)]
    code = match["sentence"]
    words = _WORD.findall(SENTENCES[code].lower()) if code in SENTENCES else [code.lower()]
    if include_label_codes:
        words += [f"emotion={match['emotion']}", f"level={match['level']}"]
    return words


class FilenameEmbedder(TransformerMixin, BaseEstimator):
    """Mean-pooled word vectors of the sentence spoken in a CREMA-D clip, read from its file name.

    In CREMA-D the file name ``1001_DFA_ANG_XX`` holds the sentence code (``DFA``: "Don't forget
    a jacket") *and the label* (``ANG``, level ``XX``). By default only the words of the sentence
    are embedded, so two names that differ only in emotion or level give identical rows. The text
    stream therefore carries no label information on CREMA-D (every sentence is spoken in every
    emotion); it is kept so that the three-stream model and its explanations are complete and
    can show that the text share is near zero.

    Each word gets a fixed vector that depends only on the word and the seed, so unseen words
    need no vocabulary and the same word always gets the same vector:

    - ``method="random"`` (the seed project's method): a standard normal vector divided by
      ``sqrt(dim)``, drawn from a generator seeded by (seed, SHA-1 of the word);
    - ``method="hashing"``: a signed one-hot vector at a hashed index (the hashing trick).

    A row is the mean of its words' vectors (zeros for a name with no words). Mean pooling is
    linear, so an attribution on a row splits exactly into per-word parts with
    :meth:`word_vectors`.

    Parameters
    ----------
    column : str, default="clip_id"
        Column of a DataFrame X holding the names (stems or paths).
    dim : int, default=32
        Vector length.
    method : {"random", "hashing"}, default="random"
        How a word becomes a vector (see above).
    include_label_codes : bool, default=False
        Also embed ``emotion=<code>`` and ``level=<code>`` tokens. This puts the label into the
        features (a classifier then learns to read the file name); ``fit`` warns with
        :class:`~mmemotion.features.LeakageWarning`. Only for demonstrating leakage.
    random_state : int, RandomState instance or None, default=0
        Seed of the word vectors. ``fit`` draws the seed actually used (``seed_``) from it.

    Attributes
    ----------
    seed_ : int
        Seed of the word vectors, fixed at ``fit``.
    output_shape_ : tuple of int
        ``(dim,)``, the per-sample shape (read by :class:`ModalityUnion`).

    Notes
    -----
    Names that are not CREMA-D stems are tokenised by splitting the stem on non-letters (see
    :func:`tokenize_name`); nothing is removed from them, so if such names contain the label
    they leak it.

    Examples
    --------
    >>> from mmemotion.features import FilenameEmbedder
    >>> emb = FilenameEmbedder(dim=8).fit(["1001_DFA_ANG_XX"])
    >>> X = emb.transform(["1001_DFA_ANG_XX", "1002_DFA_SAD_XX"])
    >>> X.shape, bool((X[0] == X[1]).all())
    ((2, 8), True)
    >>> emb.word_vectors("1001_DFA_ANG_XX")[0]
    ["don't", 'forget', 'a', 'jacket']
    """

    _parameter_constraints = {
        "column": [str],
        "dim": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions({"random", "hashing"})],
        "include_label_codes": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, *, column="clip_id", dim=32, method="random", include_label_codes=False, random_state=0):
        self.column = column
        self.dim = dim
        self.method = method
        self.include_label_codes = include_label_codes
        self.random_state = random_state

    # Input handling is shared with the file transformers (1-D names or a DataFrame column).
    _validate_items = BaseFileTransformer._validate_items
    _accepts_waveforms = False

    def fit(self, X, y=None):
        """Fix the seed of the word vectors and validate X.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,), or DataFrame
            Names, or a DataFrame holding them in ``column``.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted embedder.
        """
        self._validate_params()
        self._validate_items(X)
        if self.include_label_codes:
            warnings.warn(
                "FilenameEmbedder(include_label_codes=True) embeds the CREMA-D emotion and level "
                "codes, i.e. THE LABEL, into the features: any score obtained with them is leakage. "
                "Use include_label_codes=False (the default) for real experiments.",
                LeakageWarning,
                stacklevel=2,
            )
        self.seed_ = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self.output_shape_ = (self.dim,)
        return self

    def _vector(self, word):
        # Not sklearn's FeatureHasher, although method="hashing" is its hashing trick: it hashes
        # with unseeded MurmurHash3, so (even with the seed prefixed to each word) 51 of the 52
        # CREMA-D sentence words get another index or sign at dim=32, all 12 sentence rows change
        # (max abs difference 0.57), and an embedder fitted and saved before would give other
        # features to its model. method="random" (dense Gaussian vectors) has no sklearn
        # counterpart at all.
        digest = hashlib.sha1(word.encode("utf-8")).digest()
        if self.method == "random":
            rng = np.random.default_rng([self.seed_, int.from_bytes(digest[:8], "little")])
            return rng.standard_normal(self.dim) / np.sqrt(self.dim)
        h = int.from_bytes(hashlib.sha1(digest + self.seed_.to_bytes(4, "little")).digest()[:8], "little")
        vec = np.zeros(self.dim)
        vec[h % self.dim] = 1.0 if (h >> 63) & 1 else -1.0
        return vec

    def word_vectors(self, name):
        """The words of one name and their vectors; their mean is the name's row in ``transform``.

        Parameters
        ----------
        name : str or path-like

        Returns
        -------
        words : list of str
        vectors : ndarray of shape (n_words, dim), float32
        """
        check_is_fitted(self)
        words = tokenize_name(name, include_label_codes=self.include_label_codes)
        vectors = np.asarray([self._vector(w) for w in words], dtype=np.float32).reshape(len(words), self.dim)
        return words, vectors

    def transform(self, X):
        """Embed each name.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,), or DataFrame
            Names, or a DataFrame holding them in ``column``.

        Returns
        -------
        Xt : ndarray of shape (n_samples, dim), float32
        """
        check_is_fitted(self)
        items = self._validate_items(X)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        rows = {}  # CREMA-D has 12 sentences: embed each distinct name once
        for i, item in enumerate(items):
            if not isinstance(item, (str, os.PathLike)):
                continue  # missing name -> zero row, like a name with no words
            key = os.fspath(item)
            if key not in rows:
                _, vectors = self.word_vectors(key)
                rows[key] = vectors.mean(axis=0, dtype=np.float64) if len(vectors) else 0.0
            out[i] = rows[key]
        return out

    def get_feature_names_out(self, input_features=None):
        """Names ``emb0`` ... ``emb{dim-1}``.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        feature_names_out : ndarray of str of shape (dim,)
        """
        check_is_fitted(self)
        return np.asarray([f"emb{i}" for i in range(self.dim)], dtype=object)

    def __sklearn_tags__(self):
        return path_input_tags(super().__sklearn_tags__())
