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
_BOUNDARY = re.compile(r"[.!?][\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9])|;\s+")


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
    """`text` cut after '.', '!', '?' (not after 'e.g.' or an initial) and ';'."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if text[match.start()] == ".":
            before = text[start : match.start()].rsplit(None, 1)
            word = before[-1].lower() if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        piece = text[start : match.end()].strip()
        if piece:
            out.append(piece)
        start = match.end()
    piece = text[start:].strip()
    if piece:
        out.append(piece)
    return out
