"""CREMA-D naming codes: sentences, emotions and intensity levels.

The codes and sentence texts are those documented in the CREMA-D repository README
(Cao et al., IEEE Trans. Affective Computing 5(4), 2014).
"""

import re

__all__ = [
    "SENTENCES",
    "EMOTIONS",
    "EMOTION_NAMES",
    "LEVELS",
    "LEVEL_NAMES",
    "VOTE_LETTERS",
    "STEM_PATTERN",
    "parse_stem",
]

#: Sentence code -> the sentence the actor speaks.
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}

#: Emotion codes in the order used for class indices everywhere in mmemotion.
EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")

EMOTION_NAMES = {
    "ANG": "Anger",
    "DIS": "Disgust",
    "FEA": "Fear",
    "HAP": "Happy",
    "NEU": "Neutral",
    "SAD": "Sad",
}

#: Intensity levels; ``XX`` means unspecified (all sentences but IEO).
LEVELS = ("LO", "MD", "HI", "XX")

LEVEL_NAMES = {"LO": "Low", "MD": "Medium", "HI": "High", "XX": "Unspecified"}

#: Letter codes used by the human raters' votes in ``summaryTable.csv``.
VOTE_LETTERS = {"A": "ANG", "D": "DIS", "F": "FEA", "H": "HAP", "N": "NEU", "S": "SAD"}

STEM_PATTERN = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})$")


def parse_stem(stem):
    """Split a CREMA-D file stem into its codes.

    Parameters
    ----------
    stem : str
        File name without directory and extension, e.g. ``"1001_DFA_ANG_XX"``.

    Returns
    -------
    parts : dict or None
        ``{"actor_id": 1001, "sentence": "DFA", "emotion": "ANG", "level": "XX"}``, or ``None``
        when the stem does not follow the pattern or uses an unknown code.

    Examples
    --------
    >>> parse_stem("1001_DFA_ANG_XX")["emotion"]
    'ANG'
    >>> parse_stem("holiday_photo") is None
    True
    """
    match = STEM_PATTERN.match(stem)
    if match is None:
        return None
    parts = match.groupdict()
    if (
        parts["sentence"] not in SENTENCES
        or parts["emotion"] not in EMOTIONS
        or parts["level"] not in LEVELS
    ):
        return None
    return {
        "actor_id": int(parts["actor"]),
        "sentence": parts["sentence"],
        "emotion": parts["emotion"],
        "level": parts["level"],
    }
