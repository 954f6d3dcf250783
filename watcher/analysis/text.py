"""Words and sentences: how the analysis cuts and compares plain text."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence


def word_set(text: str) -> frozenset[str]:
    """The words of `text`, split on white space: a vocabulary written as a sentence."""
    return frozenset(text.split())


_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*")

_ABBREVIATIONS = word_set(
    "e.g i.e etc vs dr mr mrs ms no fig figs sec approx cf inc ltd co st u.s u.k jr sr al pp vol eq"
)
# A sentence ends at '.', '!' or '?' before a capital, a digit or a clause
# marker ('(a)', '(ii)'); at ';'; and at the colon of a run-in heading
# ('External access: We will…').
_BOUNDARY = re.compile(
    r"[.!?][\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9]|\([a-z0-9]{1,4}\)\s)|;\s+|:\s+(?=[A-Z][a-z]*\s+[a-z])"
)
#: A short capitalised phrase ending in a colon, before a sentence: a run-in heading.
RUN_IN_HEADING = re.compile(r"[A-Z][\w’'/&()-]*(?:\s+[\w’'/&()-]+){0,3}")
# A clause number alone: '1.', '2.3.', 'iv.', '(a)'.
_ENUMERATOR = re.compile(r"\(?(?:\d+(?:\.\d+)*|[ivxlc]{1,5}|[a-z])\)?", re.IGNORECASE)


# Formatting that is not meaning: typographic punctuation, odd spaces, soft
# hyphens, words hyphenated across a line break ('capa- bilities'), and
# footnote markers glued to a word ('safeguards.3', '3Bench').
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": " - ",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u00ad": None,
        "\u200b": None,
        "\ufb01": "fi",
        "\ufb02": "fl",
    }
)
_BROKEN_WORD = re.compile(r"(?<=[a-z]{2})- (?=[a-z]{2,})(?!and\b|or\b|to\b)")
_GLUED_FOOTNOTE = re.compile(
    r"(?<=[a-z][.,;:)])\d{1,2}(?=\s|$)|(?<=[a-z]{3})\d{1,2}(?=[\s.,;:]|$)|^\d{1,2}(?=[A-Z][a-z])"
)
_SPACES = re.compile(r"[ \t]{2,}")


def normalise(line: str) -> str:
    """`line` without the formatting that carries no meaning (see above); same line count."""
    if line.isascii() and "  " not in line and "- " not in line and not _has_digit(line):
        return line
    line = line.translate(_TYPOGRAPHY)
    line = _BROKEN_WORD.sub("", line)
    line = _GLUED_FOOTNOTE.sub("", line)
    return _SPACES.sub(" ", line)


def _has_digit(text: str) -> bool:
    return any(char.isdigit() for char in text)


def undouble(found: list[str]) -> list[str]:
    """Words of a run a PDF producer printed twice ('a b c a b c'), once."""
    half = len(found) // 2
    if half >= 2 and len(found) % 2 == 0 and found[:half] == found[half:]:
        return found[:half]
    return found


def words(text: str) -> list[str]:
    """The words and numbers of `text`, case-folded, with one kind of apostrophe."""
    return [word.replace("’", "'") for word in _WORD.findall(text.casefold())]


def key(text: str) -> str:
    """`text` as its words: equal for the same words however punctuated or cased."""
    return " ".join(words(text))


def dice(a: Counter[str], b: Counter[str]) -> float:
    """Share of words two bags have in common (Dice coefficient on word counts)."""
    total = sum(a.values()) + sum(b.values())
    return 1.0 if not total else 2 * sum((a & b).values()) / total


def multiset_minus(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """The items of `a` not matched one for one by an item of `b` (ignoring case), in order."""
    left = Counter(word.lower() for word in b)
    out = []
    for word in a:
        if left[word.lower()]:
            left[word.lower()] -= 1
        else:
            out.append(word)
    return out


def split_sentences(text: str) -> list[str]:
    """`text` cut into sentences: after '.', '!', '?' (not after 'e.g.', 'U.S.', an
    initial or a clause number), before a clause marker ('(a)'), after ';', and
    after a run-in heading ('External access:')."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        char = text[match.start()]
        if char == ".":
            before = text[start : match.start()].rsplit(None, 1)
            word = before[-1].lower() if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
            if len(before) == 1 and _ENUMERATOR.fullmatch(word):
                continue  # '1. Scope': the number belongs to its clause
        elif char == ":" and not RUN_IN_HEADING.fullmatch(text[start : match.start()].strip()):
            continue  # a colon inside a sentence ('as follows: …')
        piece = text[start : match.end()].strip()
        if piece:
            out.append(piece)
        start = match.end()
    piece = text[start:].strip()
    if piece:
        out.append(piece)
    return out
