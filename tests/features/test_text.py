import warnings

import numpy as np
import pytest

from mmemotion.datasets import EMOTIONS, LEVELS, SENTENCES
from mmemotion.features import FilenameEmbedder, LeakageWarning, tokenize_name


@pytest.mark.parametrize("method", ["random", "hashing"])
def test_names_differing_only_in_label_codes_embed_identically(method):
    names = [f"1001_IEO_{e}_{lvl}" for e in EMOTIONS for lvl in LEVELS]
    names += [f"/data/AudioWAV/1001_IEO_{e}_XX.wav" for e in EMOTIONS]  # paths too
    with warnings.catch_warnings():
        warnings.simplefilter("error", LeakageWarning)  # the default must not warn
        Xt = FilenameEmbedder(method=method).fit(names).transform(names)
    assert np.ptp(Xt, axis=0).max() == 0
    assert np.abs(Xt).sum() > 0


def test_different_sentences_differ_and_actor_is_ignored():
    emb = FilenameEmbedder(dim=16).fit(["x"])
    rows = emb.transform([f"1001_{code}_ANG_XX" for code in SENTENCES])
    assert len({r.tobytes() for r in rows}) == len(SENTENCES)
    np.testing.assert_array_equal(*emb.transform(["1001_DFA_ANG_XX", "1091_DFA_ANG_XX"]))


def test_include_label_codes_is_explicit_and_warns_loudly():
    emb = FilenameEmbedder(include_label_codes=True)
    with pytest.warns(LeakageWarning, match="THE LABEL"):
        emb.fit(["1001_DFA_ANG_XX"])
    assert issubclass(LeakageWarning, UserWarning)
    a, b = emb.transform(["1001_DFA_ANG_XX", "1001_DFA_SAD_XX"])
    assert not np.array_equal(a, b)
    assert emb.word_vectors("1001_DFA_ANG_XX")[0][-2:] == ["emotion=ANG", "level=XX"]


def test_tokenisation():
    assert tokenize_name("1001_IEO_ANG_HI") == ["it's", "eleven", "o'clock"]
    assert tokenize_name("clips/1001_WSI_SAD_XX.flv") == ["we'll", "stop", "in", "a", "couple", "of", "minutes"]
    # Not a CREMA-D stem: split on non-letters.
    assert tokenize_name("holiday_photo-2.wav") == ["holiday", "photo"]
    # CREMA-D shape with an unknown sentence code: the code is one token, the label stays out.
    assert tokenize_name("1001_XYZ_ANG_XX") == ["xyz"]
    assert tokenize_name("___") == []


@pytest.mark.parametrize("method", ["random", "hashing"])
def test_word_vectors_mean_is_the_row_and_seeding(method):
    emb = FilenameEmbedder(dim=8, method=method, random_state=3).fit(["a"])
    words, vectors = emb.word_vectors("1001_ITH_ANG_XX")
    assert words == ["i", "think", "i", "have", "a", "doctor's", "appointment"]
    assert vectors.shape == (7, 8) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[0], vectors[2])  # a word always gets the same vector
    np.testing.assert_allclose(emb.transform(["1001_ITH_ANG_XX"])[0], vectors.mean(axis=0), rtol=1e-6)
    other = FilenameEmbedder(dim=8, method=method, random_state=4).fit(["a"])
    assert not np.array_equal(other.transform(["1001_ITH_ANG_XX"]), emb.transform(["1001_ITH_ANG_XX"]))
    if method == "hashing":
        assert set(np.unique(vectors)) <= {-1.0, 0.0, 1.0}


def test_empty_and_missing_names_give_zero_rows():
    emb = FilenameEmbedder(dim=4).fit(["a"])
    np.testing.assert_array_equal(emb.transform(["123", None]), np.zeros((2, 4)))
