"""Old text, new text → what kind of change a rater is looking at.

`analyse` reads a change the way a rater does and returns a severity with
signals, each with its evidence (old → new sentence or value, heading path):

- commitments: firm language (commit, will, must, shall, require, ensure,
  guarantee) traded for hedged language (expect, may, aim to, should, where
  appropriate, ...) or back, in aligned sentences; a deleted firm sentence is
  a weakened commitment, an added one a strengthened commitment;
- quantities with meaning (percentages, multipliers, FLOP counts, durations
  and review cycles, counts, deadlines) removed, added or changed within a
  section; equal values written differently ('five'/'5', '12 months'/'every
  year', '10^26'/'1e26') are not a change;
- watched terms that appear or disappear; edits inside sentences that say what
  the policy covers or what triggers its consequences; sections added,
  removed or renamed (a moved or renumbered section is neither); version
  labels and effective dates; newly linked documents; large rewrites.

Only the changed lines are read (the hunks of `detect.diff`, or an equivalent
line diff when no `Change` is given), plus the heading lines of both texts:
analysing a 50,000-word policy with a few edits takes milliseconds.

How it works: the changed lines of each hunk are cut into sentences (headings
and list items are units of their own; a paragraph wrapped over several lines
is joined first). Sentences that reappear unchanged elsewhere (moved text,
reordered lists, punctuation, case, reflow) cancel out. The rest are aligned
old ↔ new by word overlap; an aligned pair whose only edits are misspellings
is cosmetic. Signals come from the aligned pairs and from the sentences left
over (deleted or added).
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from watcher.config import SEVERITIES, AnalysisSettings
from watcher.models import Analysis, Change, Link, Signal

log = logging.getLogger(__name__)

PATH_SEPARATOR = " › "

#: The severity each kind of signal gives a change at least. A watched term
#: that disappears is `major`; one that appears is `substantive`.
KIND_SEVERITY: dict[str, str] = {
    "commitment_weakened": "major",
    "quantitative_removed": "major",
    "quantitative_changed": "major",
    "scope_changed": "major",
    "section_removed": "major",
    "large_rewrite": "major",
    "commitment_strengthened": "substantive",
    "quantitative_added": "substantive",
    "term_changed": "substantive",
    "section_added": "substantive",
    "section_renamed": "substantive",
    "version_label_changed": "substantive",
    "new_document": "substantive",
    "effective_date_changed": "minor",
}

#: Sentences are aligned old ↔ new when at least this share of their words
#: is common (Dice coefficient on word counts).
ALIGN_MIN = 0.5

#: A renamed heading keeps at least this share of its section's words.
RENAME_MIN_BODY = 0.5

#: Candidate pairs scored per hunk before falling back to positional alignment
#: (bounds the work on a rewritten document).
MAX_PAIR_WORK = 2500

#: Past this many deleted plus added sentences (a rewritten document), the
#: sentences left unaligned raise no signals of their own: the change is a
#: `large_rewrite`, its sections are still reported, and the work stays bounded.
MAX_DETAILED_UNITS = 1500

#: At most this many signals are kept (the most severe first).
MAX_SIGNALS = 200

#: Evidence sentences are cut to this many characters.
MAX_EVIDENCE = 400

_RANK: dict[str, int] = {name: index for index, name in enumerate(SEVERITIES)}


# ---------------------------------------------------------------------------
# vocabulary

_HEADING = re.compile(r"(#{1,6}) +(.*?)(?: +#+)? *")
_LIST_ITEM = re.compile(r"(?:[-*•+]|\d{1,3}[.)]|\([a-z0-9]{1,3}\))\s+")
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*")
_TERMINAL = re.compile(r"[.!?:;…\"”’')\]]\s*$")

# Firm words whose loss alone weakens a sentence ('will' dropped for the
# present tense does not: 'we will publish' → 'we publish').
_STRONG_WORDS = (
    r"commit|commits|committed|committing|shall|must|require|requires|required|requiring"
    r"|ensure|ensures|ensured|ensuring|guarantee|guarantees|guaranteed|mandatory|obligated"
)
_STRONG = re.compile(rf"\b(?:{_STRONG_WORDS})\b", re.IGNORECASE)
_FIRM = re.compile(
    rf"\b(?:{_STRONG_WORDS}|will|won['’]t|shan['’]t|mustn['’]t|always|never)\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:expect|expects|expected|expecting|might|could|should|shouldn['’]t"
    r"|generally|typically|usually|normally|ordinarily"
    r"|(?:aim|aims|aiming|aimed|intend|intends|intending|plan|plans|planning|strive|strives"
    r"|striving|seek|seeks|seeking|hope|hopes|endeavou?rs?|try|tries|attempts?)\s+to"
    r"|(?:where|when|as|if)\s+(?:appropriate|needed|necessary|possible|feasible|practicable"
    r"|relevant|warranted)"
    r"|to\s+the\s+extent\s+(?:possible|practicable|feasible|appropriate|necessary)"
    r"|(?:reasonable|best)\s+efforts|in\s+most\s+cases|at\s+our\s+discretion)\b",
    re.IGNORECASE,
)
# 'may' is hedging; 'May' is usually the month.
_MAY = re.compile(r"\bmay\b")

_SCOPE = re.compile(
    r"\b(?:appl(?:y|ies|ied|ying)\s+(?:only\s+)?to|cover(?:s|ed)?|in[- ]scope"
    r"|out[- ]of[- ]scope|(?:within|outside)\s+(?:the\s+)?scope|scope\s+of"
    r"|relat(?:e|es|ed|ing)\s+to|pertain(?:s|ing)?\s+to|exclud(?:e|es|ed|ing)"
    r"|trigger(?:s|ed|ing)?)\b",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"\b(?:if|unless|once|when|whenever|until|provided\s+that)\b", re.I)

# Words a scope comparison ignores: articles and pronouns, the scope verbs
# themselves ('applies to' → 'covers' is a rewording), and modal language
# (judged by the commitment signals).
_SCOPE_NOISE = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "our",
        "we",
        "us",
        "their",
        "they",
        "of",
        "to",
        "for",
        "and",
        "or",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "as",
        "be",
        "is",
        "are",
        "was",
        "were",
        "been",
        "being",
        "also",
        "which",
        "who",
        "apply",
        "applies",
        "applied",
        "applying",
        "cover",
        "covers",
        "covered",
        "covering",
        "relate",
        "relates",
        "related",
        "pertain",
        "pertains",
        "scope",
        "trigger",
        "triggers",
        "triggered",
    ]
)
_MODAL_WORDS = frozenset(
    [
        "commit",
        "commits",
        "committed",
        "committing",
        "will",
        "won't",
        "shall",
        "shan't",
        "must",
        "mustn't",
        "require",
        "requires",
        "required",
        "requiring",
        "ensure",
        "ensures",
        "ensured",
        "ensuring",
        "guarantee",
        "guarantees",
        "guaranteed",
        "mandatory",
        "obligated",
        "expect",
        "expects",
        "expected",
        "might",
        "could",
        "should",
        "shouldn't",
        "may",
        "generally",
        "typically",
        "usually",
        "normally",
        "aim",
        "aims",
        "intend",
        "intends",
        "plan",
        "plans",
        "strive",
        "seek",
        "seeks",
        "hope",
        "appropriate",
        "needed",
        "necessary",
        "possible",
        "feasible",
        "where",
        "when",
        "not",
    ]
)
# Words whose similar-looking replacement is never a typo fix.
_NOT_TYPO = frozenset(["not", "no", "now", "never", "nor"]) | _MODAL_WORDS

_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "dr",
        "mr",
        "mrs",
        "ms",
        "no",
        "fig",
        "figs",
        "sec",
        "approx",
        "cf",
        "inc",
        "ltd",
        "co",
        "st",
        "u.s",
        "u.k",
        "jr",
        "sr",
        "al",
        "pp",
        "vol",
        "eq",
    ]
)
_BOUNDARY = re.compile(r"[.!?][\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9])|;\s+")


# ---------------------------------------------------------------------------
# quantities

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)
_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
}
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMW = rf"(?:{_NUM}|{'|'.join(_NUMBER_WORDS)}|one)"
_DAYS = {
    "second": 1 / 86400,
    "minute": 1 / 1440,
    "hour": 1 / 24,
    "day": 1.0,
    "business day": 1.0,
    "working day": 1.0,
    "week": 7.0,
    "month": 365.25 / 12,
    "quarter": 365.25 / 4,
    "year": 365.25,
}
_FREQUENCIES = {
    "annually": 365.25,
    "yearly": 365.25,
    "every year": 365.25,
    "each year": 365.25,
    "once a year": 365.25,
    "once per year": 365.25,
    "biennially": 730.5,
    "every other year": 730.5,
    "biannually": 182.625,
    "semiannually": 182.625,
    "semi-annually": 182.625,
    "twice a year": 182.625,
    "quarterly": 91.3125,
    "every quarter": 91.3125,
    "each quarter": 91.3125,
    "monthly": 365.25 / 12,
    "every month": 365.25 / 12,
    "each month": 365.25 / 12,
    "weekly": 7.0,
    "every week": 7.0,
    "daily": 1.0,
    "every day": 1.0,
}
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_DEADLINE_BEFORE = re.compile(
    r"(?:\bby|\bbefore|\buntil|\btill|\bno later than|\bdue|\bdeadline|\bstarting|\bfrom"
    r"|\bafter|\bbeginning|\bon)\s*(?:the\s+end\s+of\s+)?$",
    re.IGNORECASE,
)
_COMPARATOR_BEFORE = re.compile(
    r"(?:at least|at most|only|exactly|no more than|more than|no fewer than|fewer than"
    r"|less than|minimum of|maximum of|up to)\s+$",
    re.IGNORECASE,
)
_EFFECTIVE = re.compile(
    r"\b(?:effective|last\s+updated|updated|last\s+revised|revised|last\s+modified|published"
    r"|issued|dated|date|takes?\s+effect|took\s+effect|in\s+effect"
    r"|(?:comes?|came)\s+into\s+(?:force|effect)|entry\s+into\s+force)\b",
    re.IGNORECASE,
)

_VERSION_RE = re.compile(
    r"\b(?:version|ver\.)\s*(\d+(?:\.\d+)*)\b|\b[vV](\d+(?:\.\d+)*)\b", re.IGNORECASE
)
_DATE_RES = (
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH}),?\s+(\d{{4}})\b"),
    re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b"),
    re.compile(rf"\b({_MONTH}),?\s+(\d{{4}})\b"),
    re.compile(r"\b(Q[1-4])\s+(\d{4})\b"),
)


@dataclass(frozen=True)
class Quantity:
    """A number with meaning found in a sentence: `kind` and normalised `value` compare."""

    kind: str  # percent, multiplier, magnitude, money, duration, number, date, level:ASL
    value: float
    text: str  # as written

    @property
    def key(self) -> tuple[str, float]:
        return (self.kind, self.value)


def _float(text: str) -> float:
    word = text.lower()
    if word in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[word])
    if word == "one":
        return 1.0
    return float(text.replace(",", ""))


def _date_value(match: re.Match[str], pattern: int) -> float:
    groups = match.groups()
    if pattern == 0:
        return int(groups[0]) * 10000 + int(groups[1]) * 100 + int(groups[2])
    if pattern == 1:
        day, month, year = groups
    elif pattern == 2:
        month, day, year = groups
    elif pattern == 3:
        month, year, day = groups[0], groups[1], "0"
    else:
        quarter, year = groups
        return int(year) * 10000 + (int(quarter[1]) * 3 - 2) * 100
    return int(year) * 10000 + _MONTHS[month.rstrip(".").lower()] * 100 + int(day)


def _sig(value: float) -> float:
    """`value` to 6 significant digits, so that 1e26 equals 10^26."""
    return float(f"{value:.6g}")


_Finder = Callable[[str], Iterable[tuple[int, int, Quantity | None]]]


def _find_regex(pattern: str, make: Callable[[re.Match[str]], Quantity | None]) -> _Finder:
    compiled = re.compile(pattern, re.IGNORECASE)

    def find(text: str) -> Iterable[tuple[int, int, Quantity | None]]:
        for match in compiled.finditer(text):
            yield match.start(), match.end(), make(match)

    return find


def _find_dates(text: str) -> Iterable[tuple[int, int, Quantity | None]]:
    for index, pattern in enumerate(_DATE_RES):
        for match in pattern.finditer(text):
            value = _date_value(match, index)
            # An effective date is a label of the document, not a deadline.
            deadline = not _EFFECTIVE.search(text) and _DEADLINE_BEFORE.search(
                text, 0, match.start()
            )
            quantity = Quantity("date", value, match.group(0)) if deadline else None
            yield match.start(), match.end(), quantity


def _find_number_words(text: str) -> Iterable[tuple[int, int, Quantity | None]]:
    # A spelled-out number is prose ('three pillars') unless it is bounded
    # ('at least two reviewers'); digits are always taken.
    words = "|".join(_NUMBER_WORDS)
    for match in re.finditer(rf"\b({words}|one)\b(?=\s+[a-z])", text, re.IGNORECASE):
        if _COMPARATOR_BEFORE.search(text, 0, match.start()):
            word = match.group(1)
            yield match.start(), match.end(), Quantity("number", _float(word), word)


def _duration(match: re.Match[str]) -> Quantity:
    unit = re.sub(r"\s+", " ", match.group(2).lower()).rstrip("s")
    days = _float(match.group(1)) * _DAYS[unit]
    return Quantity("duration", _sig(days), match.group(0).strip())


def _magnitude(match: re.Match[str]) -> Quantity:
    mantissa = _float(match.group(1)) if match.group(1) else 1.0
    exponent = int(match.group(2).translate(_SUPERSCRIPT))
    return Quantity("magnitude", _sig(mantissa * 10.0**exponent), match.group(0).strip())


# The unit after a magnitude is part of it: '10^26 FLOP' → '10^27 operations'
# changes the number, not the wording of the sentence.
_MAGNITUDE_UNIT = (
    r"(?:\s*(?:FLOPs?|FLOP/s|flops?|floating[- ]point\s+operations|operations|ops|parameters"
    r"|tokens)\b)?"
)

_MONEY_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6}
_MONEY_SCALE |= {"billion": 1e9, "b": 1e9, "bn": 1e9}

# In priority order: an earlier finder claims its span, a later one cannot
# reuse it. Finders that return None claim a span without making it a
# quantity (references, version labels, years, non-deadline dates).
_FINDERS: tuple[_Finder, ...] = (
    _find_regex(
        r"\b(?:sections?|sec\.|§|appendix|appendices|annex|table|figure|fig\.|pages?|p\.|pp\."
        r"|footnote|chapter|part|article|step|item|no\.|number)\s*[A-Z]?\d+(?:\.\d+)*"
        r"(?:\s*(?:of|-|–|and|to)\s*\d+(?:\.\d+)*)?|\[\d+(?:[,–-]\s*\d+)*\]",
        lambda match: None,
    ),
    _find_regex(_VERSION_RE.pattern, lambda match: None),
    _find_dates,
    _find_regex(r"\b(?:19|20)\d{2}\b", lambda match: None),
    _find_regex(
        r"\b([A-Z][A-Za-z&]{1,6})-(\d+(?:\.\d+)?)\b",
        lambda match: Quantity(
            f"level:{match.group(1).upper()}", float(match.group(2)), match.group(0)
        ),
    ),
    _find_regex(
        rf"(?:(?:({_NUM})\s*[×x*]\s*)?\b10\s*(?:\^|\*\*)\s*(\d+)|(?<![\w.])()10([⁰¹²³⁴⁵⁶⁷⁸⁹]+))"
        + _MAGNITUDE_UNIT,
        lambda match: _magnitude_any(match),
    ),
    _find_regex(
        r"(?<![\w.])(\d+(?:\.\d+)?)[eE]\+?(\d+)\b" + _MAGNITUDE_UNIT,
        _magnitude,
    ),
    _find_regex(
        rf"(?<![\w.,])({_NUMW})\s*(?:%|\bpercent\b|\bper\s+cent\b|\bpercentage\s+points?\b)",
        lambda match: Quantity("percent", _float(match.group(1)), match.group(0).strip()),
    ),
    _find_regex(
        rf"(?<![\w.,])({_NUMW})(?:\s*[x×](?!\w)|[- ]fold\b|\s+times\b)",
        lambda match: Quantity("multiplier", _float(match.group(1)), match.group(0).strip()),
    ),
    _find_regex(
        rf"[$€£]\s?({_NUM})(?:\s*(thousand|million|billion|k|m|mn|b|bn)\b)?",
        lambda match: Quantity(
            "money",
            _sig(_float(match.group(1)) * _MONEY_SCALE.get((match.group(2) or "").lower(), 1)),
            match.group(0).strip(),
        ),
    ),
    _find_regex(
        rf"(?<![\w.,])({_NUMW})[\s-]*(seconds?|minutes?|hours?|(?:business|working)\s+days?"
        r"|days?|weeks?|months?|quarters?|years?)\b",
        _duration,
    ),
    _find_regex(
        r"\b(?:" + "|".join(re.escape(phrase) for phrase in _FREQUENCIES) + r")\b",
        lambda match: Quantity(
            "duration",
            _sig(_FREQUENCIES[re.sub(r"\s+", " ", match.group(0).lower())]),
            match.group(0),
        ),
    ),
    _find_regex(
        rf"(?<![\w.,^/-])({_NUM})(?![\w^]|[.,]\d)",
        lambda match: Quantity("number", _float(match.group(1)), match.group(0)),
    ),
    _find_number_words,
)


# Without a digit only these can match (spelled-out numbers, 'annually'), and
# only when a number word or a frequency word is present: most sentences of a
# policy skip the patterns entirely.
_WORD_FINDERS = tuple(_FINDERS[index] for index in (7, 8, 10, 11, 13))
_DIGIT = re.compile(r"\d")
_NUMBERISH = re.compile(
    r"\b(?:one|" + "|".join(_NUMBER_WORDS) + r"|annually|yearly|every|each|once|biennially"
    r"|biannually|semi-?annually|twice|quarterly|monthly|weekly|daily)\b",
    re.IGNORECASE,
)


def _magnitude_any(match: re.Match[str]) -> Quantity:
    if match.group(4):  # 10 with superscript digits
        exponent = int(match.group(4).translate(_SUPERSCRIPT))
        return Quantity("magnitude", _sig(10.0**exponent), match.group(0).strip())
    return _magnitude(match)


def quantities(text: str) -> list[Quantity]:
    """The meaningful numbers in `text`, in order (see the module docstring)."""
    if _DIGIT.search(text):
        finders = _FINDERS
    elif _NUMBERISH.search(text):
        finders = _WORD_FINDERS
    else:
        return []
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Quantity]] = []
    for finder in finders:
        for start, end, quantity in finder(text):
            if any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            if quantity is not None:
                found.append((start, quantity))
    found.sort(key=lambda item: item[0])
    return [quantity for _, quantity in found]


def versions(text: str) -> list[str]:
    """Version labels in `text` ('Version 2.0', 'v1.1'), as written."""
    return [match.group(0) for match in _VERSION_RE.finditer(text)]


def effective_dates(text: str) -> list[tuple[float, str]]:
    """Dates in `text` when it says they are an effective, updated or published date."""
    if not _EFFECTIVE.search(text):
        return []
    taken: list[tuple[int, int]] = []
    out: list[tuple[float, str]] = []
    for index, pattern in enumerate(_DATE_RES):  # longest forms first
        for match in pattern.finditer(text):
            if any(match.start() < b and a < match.end() for a, b in taken):
                continue
            taken.append(match.span())
            out.append((_date_value(match, index), match.group(0)))
    return out


# ---------------------------------------------------------------------------
# commitment language


@dataclass(frozen=True)
class Modality:
    """How firm a sentence is: counts of firm, strongly firm and hedged expressions."""

    firm: int
    strong: int
    hedge: int
    firm_words: tuple[str, ...]
    hedge_words: tuple[str, ...]


def modality(text: str) -> Modality:
    """Firm and hedged expressions in `text` ('will' in 'goodwill' is not one)."""
    firm = [match.group(0) for match in _FIRM.finditer(text)]
    hedge = [match.group(0) for match in _HEDGE.finditer(text)]
    hedge += [match.group(0) for match in _MAY.finditer(text)]
    strong = len(_STRONG.findall(text))
    return Modality(len(firm), strong, len(hedge), tuple(firm), tuple(hedge))


def commitment_change(old: str, new: str) -> str | None:
    """'weakened', 'strengthened' or None for an aligned pair of sentences."""
    a, b = modality(old), modality(new)
    if (b.hedge > a.hedge and b.firm <= a.firm) or (
        b.firm < a.firm and b.hedge >= a.hedge and b.strong < a.strong
    ):
        return "weakened"
    if (b.hedge < a.hedge and b.firm >= a.firm and b.firm > 0) or (
        b.firm > a.firm and b.hedge <= a.hedge and b.strong > a.strong
    ):
        return "strengthened"
    if b.firm > a.firm and b.hedge <= a.hedge and a.firm == 0:
        return "strengthened"
    return None


def _modal_detail(old: str, new: str) -> str:
    a, b = modality(old), modality(new)
    gone = _multiset_minus(a.firm_words + a.hedge_words, b.firm_words + b.hedge_words)
    came = _multiset_minus(b.firm_words + b.hedge_words, a.firm_words + a.hedge_words)
    if gone and came:
        return f"'{gone[0]}' → '{came[0]}'"
    if gone:
        return f"'{gone[0]}' removed"
    if came:
        return f"'{came[0]}' added"
    return ""


def _multiset_minus(a: Sequence[str], b: Sequence[str]) -> list[str]:
    left = Counter(word.lower() for word in b)
    out = []
    for word in a:
        if left[word.lower()]:
            left[word.lower()] -= 1
        else:
            out.append(word)
    return out


# ---------------------------------------------------------------------------
# units: sentences, list items and headings of the changed lines


@dataclass
class _Unit:
    text: str
    key: str
    section: str
    region: int
    line: int  # line index in its own text
    old: bool
    heading_level: int = 0  # 0 for a sentence
    words: list[str] = field(default_factory=list)
    bag: Counter[str] = field(default_factory=Counter)
    done: bool = False  # cancelled by an equal unit, or aligned

    @property
    def is_heading(self) -> bool:
        return self.heading_level > 0


def _words(text: str) -> list[str]:
    return [word.replace("’", "'") for word in _WORD.findall(text.casefold())]


def _key(text: str) -> str:
    return " ".join(_words(text))


_NUMBERING = re.compile(
    r"^\s*(?:(?:section|part|chapter|appendix|annex)\s+)?"
    r"(?:\d+(?:\.\d+)*|[ivxlc]+|[a-z])(?:[.):]|\s)\s*",
    re.IGNORECASE,
)


def _heading_key(text: str) -> str:
    """A heading without its numbering, version labels and dates: moved or renumbered is equal."""
    text = _VERSION_RE.sub(" ", text)
    for pattern in _DATE_RES:
        text = pattern.sub(" ", text)
    previous = None
    while previous != text:
        previous, text = text, _NUMBERING.sub("", text, count=1)
    return _key(text)


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


def _continues(previous: str, line: str) -> bool:
    """Whether `line` continues the paragraph `previous` (text wrapped over lines)."""
    if _TERMINAL.search(previous):
        return False
    return line[:1].islower() or len(previous) >= 60


def _units(
    lines: Sequence[str],
    start: int,
    end: int,
    paths: Sequence[tuple[str, ...]],
    region: int,
    old: bool,
) -> list[_Unit]:
    units: list[_Unit] = []
    block: list[str] = []
    block_line = start

    def add(text: str, line: int, level: int = 0) -> None:
        section = PATH_SEPARATOR.join(paths[line]) if line < len(paths) else ""
        words = _words(text)
        key = "#" + _heading_key(text) if level else " ".join(words)
        if not key.strip("#"):
            return
        units.append(_Unit(text, key, section, region, line, old, level, words, Counter(words)))

    def flush() -> None:
        if block:
            for sentence in split_sentences(" ".join(block)):
                add(sentence, block_line)
            block.clear()

    for index in range(start, end):
        line = lines[index].strip()
        heading = _HEADING.fullmatch(line) if line.startswith("#") else None
        if heading and heading.group(2):
            flush()
            add(heading.group(2), index, len(heading.group(1)))
        elif not line:
            flush()
        elif (item := _LIST_ITEM.match(line)) or line.startswith("|"):
            flush()
            body = line[item.end() :] if item else line
            for sentence in split_sentences(body):
                add(sentence, index)
        elif block and _continues(block[-1], line):
            block.append(line)
        else:
            flush()
            block.append(line)
            block_line = index
    flush()
    return units


def _heading_paths(lines: Sequence[str]) -> tuple[list[tuple[str, ...]], list[int], list[int]]:
    """Heading path of every line, the indexes of heading lines and their levels."""
    stack: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()
    paths: list[tuple[str, ...]] = []
    heads: list[int] = []
    levels: list[int] = []
    for index, line in enumerate(lines):
        if line.startswith("#"):
            match = _HEADING.fullmatch(line.strip())
            if match and match.group(2):
                level = len(match.group(1))
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, match.group(2)))
                path = tuple(text for _, text in stack)
                heads.append(index)
                levels.append(level)
        paths.append(path)
    return paths, heads, levels


# ---------------------------------------------------------------------------
# regions: the changed line ranges


@dataclass(frozen=True)
class _Region:
    old_start: int
    old_end: int
    new_start: int
    new_end: int


def _regions_from_change(change: Change) -> list[_Region]:
    return [
        _Region(
            hunk.old_start,
            hunk.old_start + len(hunk.old_lines),
            hunk.new_start,
            hunk.new_start + len(hunk.new_lines),
        )
        for hunk in change.hunks
    ]


def _match_work(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    count_b = Counter(b)
    return sum(n * count_b[key] for key, n in Counter(a).items())


def _line_regions(old_lines: Sequence[str], new_lines: Sequence[str]) -> list[_Region]:
    """The changed line ranges, as `detect.diff` finds them (used when no Change is given)."""
    n, m = len(old_lines), len(new_lines)
    head = 0
    while head < n and head < m and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while (
        tail < n - head and tail < m - head and old_lines[n - 1 - tail] == new_lines[m - 1 - tail]
    ):
        tail += 1
    a = old_lines[head : n - tail]
    b = new_lines[head : m - tail]
    matcher = SequenceMatcher(None, a, b, autojunk=_match_work(a, b) > 1_000_000)
    return [
        _Region(i1 + head, i2 + head, j1 + head, j2 + head)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _share_changed(
    regions: Sequence[_Region],
    old_lines: Sequence[str],
    new_lines: Sequence[str],
    old_words: int,
    new_words: int,
) -> float:
    """Changed words over the larger text, word-level inside small replaced regions."""
    added = removed = 0
    for region in regions:
        a = " ".join(old_lines[region.old_start : region.old_end]).split()
        b = " ".join(new_lines[region.new_start : region.new_end]).split()
        if a and b and len(a) + len(b) <= 6000:
            matcher = SequenceMatcher(None, a, b, autojunk=False)
            common = sum(block.size for block in matcher.get_matching_blocks())
            removed += len(a) - common
            added += len(b) - common
        else:
            removed += len(a)
            added += len(b)
    return min(1.0, max(added, removed) / max(old_words, new_words, 1))


# ---------------------------------------------------------------------------
# alignment


def _dice(a: _Unit, b: _Unit) -> float:
    total = len(a.words) + len(b.words)
    if not total:
        return 1.0
    return 2 * sum((a.bag & b.bag).values()) / total


def _align(olds: list[_Unit], news: list[_Unit], minimum: float) -> list[tuple[_Unit, _Unit]]:
    """Greedy best-first pairs of units with word overlap ≥ `minimum`."""
    if not olds or not news:
        return []
    if len(olds) * len(news) > MAX_PAIR_WORK:
        return _align_in_order(olds, news, minimum)
    candidates = []
    for i, a in enumerate(olds):
        for j, b in enumerate(news):
            la, lb = len(a.words), len(b.words)
            if la + lb and 2 * min(la, lb) / (la + lb) < minimum:
                continue  # cannot reach the bar whatever the overlap
            score = _dice(a, b)
            if score >= minimum:
                candidates.append((-score, abs(i - j), i, j))
    candidates.sort()
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs = []
    for _, _, i, j in candidates:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((olds[i], news[j]))
    return pairs


def _align_in_order(
    olds: list[_Unit], news: list[_Unit], minimum: float
) -> list[tuple[_Unit, _Unit]]:
    """Pairs along a sequence alignment of the units: bounded work for rewritten text."""
    matcher = SequenceMatcher(None, [u.key for u in olds], [u.key for u in news], autojunk=False)
    pairs = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace":
            block_old, block_new = olds[i1:i2], news[j1:j2]
            if len(block_old) * len(block_new) <= MAX_PAIR_WORK:
                pairs += _align(block_old, block_new, minimum)
            else:
                pairs += [
                    (a, b)
                    for a, b in zip(block_old, block_new, strict=False)
                    if _dice(a, b) >= minimum
                ]
    return pairs


# Words that re-punctuating a passage adds or drops: 'We test, and we publish.'
# → 'We test. We publish.'
_CONNECTIVES = frozenset(
    ["and", "but", "also", "so", "then", "which", "that", "this", "it", "its", "they", "we", "or"]
)


def _repunctuated(olds: Sequence[_Unit], news: Sequence[_Unit]) -> bool:
    """Whether the sentences of a region keep their words but are cut differently."""
    if not olds or not news or len(olds) == len(news):
        return False
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for unit in olds:
        before.update(unit.bag)
    for unit in news:
        after.update(unit.bag)
    difference = (before - after) + (after - before)
    return sum(difference.values()) <= 3 and set(difference) <= _CONNECTIVES


def _is_typo(a: str, b: str) -> bool:
    """Whether replacing word `a` by `b` is a spelling fix, not a change of word."""
    if a == b:
        return True
    if a in _NOT_TYPO and b in _NOT_TYPO:
        return False
    # 'comit' → 'commit' is a fix; 'may' → 'way' is not a fix anyone makes.
    if (a in _NOT_TYPO or b in _NOT_TYPO) and min(len(a), len(b)) < 4:
        return False
    if any(ch.isdigit() for ch in a + b) or min(len(a), len(b)) < 3:
        return False
    return SequenceMatcher(None, a, b).ratio() >= 0.75


def _pair_edit(a: _Unit, b: _Unit) -> int:
    """Words changed between two aligned units, spelling fixes not counted (0: cosmetic).

    The same words in another order (a clause moved) count as no change.
    """
    if a.bag == b.bag:
        return 0
    matcher = SequenceMatcher(None, a.words, b.words, autojunk=False)
    changed = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if (
            tag == "replace"
            and i2 - i1 == j2 - j1
            and all(_is_typo(x, y) for x, y in zip(a.words[i1:i2], b.words[j1:j2], strict=True))
        ):
            continue
        changed += max(i2 - i1, j2 - j1)
    return changed


# ---------------------------------------------------------------------------
# the analysis


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_EVIDENCE:
        return text
    return text[: MAX_EVIDENCE - 1].rstrip() + "…"


@dataclass
class _Collector:
    """Signals found so far, each with its severity and its place in the document."""

    items: list[tuple[int, tuple[int, int], Signal]] = field(default_factory=list)
    seen: set[Signal] = field(default_factory=set)

    def add(
        self,
        kind: str,
        section: str,
        old: str | None,
        new: str | None,
        detail: str,
        where: tuple[int, int],
        severity: str | None = None,
    ) -> None:
        signal = Signal(kind, section, _clip(old), _clip(new), detail)
        if signal in self.seen:
            return
        self.seen.add(signal)
        rank = _RANK[severity or KIND_SEVERITY[kind]]
        self.items.append((rank, where, signal))

    def sorted(self) -> list[tuple[int, Signal]]:
        ordered = sorted(self.items, key=lambda item: (-item[0], item[1]))
        return [(rank, signal) for rank, _, signal in ordered]


def _where(unit: _Unit) -> tuple[int, int]:
    return (unit.region, unit.line)


def _section(old: _Unit | None, new: _Unit | None) -> str:
    return new.section if new is not None else old.section if old is not None else ""


def _text(unit: _Unit | None) -> str | None:
    return unit.text if unit is not None else None


def _scope_view(text: str) -> Counter[str]:
    """The words of a scope sentence that carry its meaning (see `_SCOPE_NOISE`)."""
    taken = [(q.text) for q in quantities(text)]
    for written in taken:
        text = text.replace(written, " ")
    text = _HEDGE.sub(" ", text)
    view: Counter[str] = Counter()
    for word in _words(text):
        if word in _SCOPE_NOISE or word in _MODAL_WORDS:
            continue
        view[word[:-1] if len(word) > 3 and word.endswith("s") else word] += 1
    return view


def _is_scope(text: str) -> bool:
    if _SCOPE.search(text):
        return True
    return bool(_CONDITION.search(text)) and modality(text).firm > 0


def _scope_detail(old: Counter[str], new: Counter[str]) -> str:
    dropped = sorted((old - new).elements())
    added = sorted((new - old).elements())
    parts = []
    if dropped:
        parts.append("dropped " + ", ".join(f"'{word}'" for word in dropped[:6]))
    if added:
        parts.append("added " + ", ".join(f"'{word}'" for word in added[:6]))
    return "; ".join(parts)


def _term_pattern(term: str) -> re.Pattern[str]:
    # 'third-party' also matches 'third party'; a trailing plural 's' is allowed.
    parts = [re.escape(part) for part in re.split(r"[\s\-]+", term.strip()) if part]
    body = r"[\s\-]+".join(parts)
    return re.compile(rf"(?<!\w){body}(?:s|es)?(?!\w)", re.IGNORECASE)


@dataclass
class _Item:
    """A quantity or a term occurrence, with the unit it came from."""

    key: Hashable
    group: Hashable  # what it may be netted against first (its pair)
    unit: _Unit
    label: str
    kind: str = ""  # for quantities: pairs of the same kind are a change


def _net(
    olds: list[_Item], news: list[_Item], group_keys: Sequence[Callable[[_Item], Hashable]]
) -> tuple[list[tuple[_Item, _Item]], list[_Item], list[_Item]]:
    """Cancel equal items, then pair items of the same kind, group by group (pair, region, section).

    Returns the changed pairs and the items left over on each side.
    """
    changed: list[tuple[_Item, _Item]] = []
    for group_key in group_keys:
        by_group: dict[Hashable, tuple[list[_Item], list[_Item]]] = {}
        for item in olds:
            by_group.setdefault(group_key(item), ([], []))[0].append(item)
        for item in news:
            by_group.setdefault(group_key(item), ([], []))[1].append(item)
        left_old: list[_Item] = []
        left_new: list[_Item] = []
        for group_old, group_new in by_group.values():
            # equal values cancel
            pool: dict[Hashable, list[_Item]] = {}
            for item in group_new:
                pool.setdefault(item.key, []).append(item)
            rest_old = []
            for item in group_old:
                same = pool.get(item.key)
                if same:
                    same.pop(0)
                else:
                    rest_old.append(item)
            rest_new = [item for items in pool.values() for item in items]
            rest_new.sort(key=lambda item: (item.unit.region, item.unit.line))
            # same kind, other value: a change
            for item in list(rest_old):
                if not item.kind:
                    continue
                match = next((other for other in rest_new if other.kind == item.kind), None)
                if match is not None:
                    changed.append((item, match))
                    rest_old.remove(item)
                    rest_new.remove(match)
            left_old += rest_old
            left_new += rest_new
        olds, news = left_old, left_new
    return changed, olds, news


def analyse(
    old: str,
    new: str,
    *,
    change: Change | None = None,
    watch_terms: Sequence[str] = (),
    large_rewrite_share: float = 0.5,
    substantive_share: float = 0.05,
    substantive_words: int = 50,
    new_documents: Sequence[Link] = (),
) -> Analysis:
    """Severity and signals of the change from `old` to `new` (see the module docstring).

    `change` is `detect.diff(old, new)` when the caller has it (its hunks are
    reused); `watch_terms` the global and per-source terms; the thresholds are
    the `[analysis]` settings of the same names; `new_documents` the links a
    `follow` rule found for the first time.
    """
    collector = _Collector()
    for link in new_documents:
        collector.add("new_document", "", None, link.url, link.text, (-1, 0))
    if old == new:
        return _finish(collector, 0, 1, substantive_share, substantive_words)

    old_lines = old.split("\n")
    new_lines = new.split("\n")
    regions = (
        _regions_from_change(change) if change is not None else _line_regions(old_lines, new_lines)
    )
    if change is not None:
        old_words, new_words = change.stats.old_words, change.stats.new_words
        share = change.stats.share_changed
    else:
        old_words, new_words = len(old.split()), len(new.split())
        share = _share_changed(regions, old_lines, new_lines, old_words, new_words)
    if share >= large_rewrite_share:
        collector.add("large_rewrite", "", None, None, f"{share:.0%} of the text changed", (-1, 1))

    old_paths, old_heads, _ = _heading_paths(old_lines)
    new_paths, new_heads, _ = _heading_paths(new_lines)

    olds: list[_Unit] = []
    news: list[_Unit] = []
    for index, region in enumerate(regions):
        olds += _units(old_lines, region.old_start, region.old_end, old_paths, index, True)
        news += _units(new_lines, region.new_start, region.new_end, new_paths, index, False)

    _labels(regions, old_lines, new_lines, collector)

    # Moved text, reordered lists, punctuation, case and reflow: equal keys cancel.
    pool: dict[str, list[_Unit]] = {}
    for unit in news:
        pool.setdefault(unit.key, []).append(unit)
    for unit in olds:
        same = pool.get(unit.key)
        if same:
            unit.done = True
            same.pop(0).done = True

    changed_words, renamed = _sections(
        olds, news, old_lines, new_lines, old_heads, new_heads, collector
    )

    # Align the sentences left: inside each region first, then across regions.
    pairs: list[tuple[_Unit, _Unit]] = []
    by_region: dict[int, tuple[list[_Unit], list[_Unit]]] = {}
    for unit in olds:
        if not unit.done and not unit.is_heading:
            by_region.setdefault(unit.region, ([], []))[0].append(unit)
    for unit in news:
        if not unit.done and not unit.is_heading:
            by_region.setdefault(unit.region, ([], []))[1].append(unit)
    for region_old, region_new in by_region.values():
        if _repunctuated(region_old, region_new):
            for unit in region_old + region_new:
                unit.done = True
            continue
        found = _align(region_old, region_new, ALIGN_MIN)
        paired = {id(unit) for pair in found for unit in pair}
        rest_old = [unit for unit in region_old if id(unit) not in paired]
        rest_new = [unit for unit in region_new if id(unit) not in paired]
        if len(rest_old) == 1 and len(rest_new) == 1:
            # One sentence replaced by one other, however reworded: the seed's
            # 'We commit to …' → 'We expect this to include …'.
            found.append((rest_old[0], rest_new[0]))
        for a, b in found:
            a.done = b.done = True
        pairs += found
    leftover_old = [unit for unit in olds if not unit.done and not unit.is_heading]
    leftover_new = [unit for unit in news if not unit.done and not unit.is_heading]
    if leftover_old and leftover_new:
        for a, b in _align(leftover_old, leftover_new, ALIGN_MIN):
            a.done = b.done = True
            pairs.append((a, b))

    real_pairs = []
    for a, b in pairs:
        edit = _pair_edit(a, b)
        if edit:
            changed_words += edit
            real_pairs.append((a, b))
    deleted = [unit for unit in olds if not unit.done]
    inserted = [unit for unit in news if not unit.done]
    changed_words += max(
        sum(len(u.words) for u in deleted if not u.is_heading),
        sum(len(u.words) for u in inserted if not u.is_heading),
    )

    if len(deleted) + len(inserted) > MAX_DETAILED_UNITS:
        log.debug(
            "analysis: %d sentences deleted or added, not read one by one",
            len(deleted) + len(inserted),
        )
        deleted, inserted = [], []

    _commitments(real_pairs, deleted, inserted, collector)
    _scope(real_pairs, deleted, inserted, collector)
    _quantities(real_pairs, deleted, inserted, collector)
    _terms(watch_terms, real_pairs + renamed, deleted, inserted, collector)

    return _finish(
        collector, changed_words, max(old_words, new_words), substantive_share, substantive_words
    )


def _finish(
    collector: _Collector,
    changed_words: int,
    total_words: int,
    substantive_share: float,
    substantive_words: int,
) -> Analysis:
    ranked = collector.sorted()
    if len(ranked) > MAX_SIGNALS:
        log.debug("analysis: %d signals, keeping the first %d", len(ranked), MAX_SIGNALS)
        ranked = ranked[:MAX_SIGNALS]
    rank = max((rank for rank, _ in ranked), default=0)
    if changed_words and (
        changed_words >= substantive_words or changed_words >= substantive_share * total_words
    ):
        rank = max(rank, _RANK["substantive"])
    return Analysis(SEVERITIES[rank], tuple(signal for _, signal in ranked))


def _labels(
    regions: Sequence[_Region],
    old_lines: Sequence[str],
    new_lines: Sequence[str],
    collector: _Collector,
) -> None:
    """Version labels and effective dates on the changed lines."""
    old_versions: list[str] = []
    new_versions: list[str] = []
    old_dates: list[tuple[float, str]] = []
    new_dates: list[tuple[float, str]] = []
    for region in regions:
        for line in old_lines[region.old_start : region.old_end]:
            old_versions += versions(line)
            old_dates += effective_dates(line)
        for line in new_lines[region.new_start : region.new_end]:
            new_versions += versions(line)
            new_dates += effective_dates(line)

    def number(label: str) -> str:
        match = _VERSION_RE.fullmatch(label)
        return (match.group(1) or match.group(2)) if match else label

    gone = _multiset_minus(old_versions, new_versions) if old_versions else []
    came = _multiset_minus(new_versions, old_versions) if new_versions else []
    gone = [v for v in gone if number(v) not in {number(w) for w in new_versions}]
    came = [v for v in came if number(v) not in {number(w) for w in old_versions}]
    if gone or came:
        before, after = (gone[0] if gone else None), (came[0] if came else None)
        detail = (
            f"'{before}' → '{after}'"
            if before and after
            else f"'{before or after}' " + ("removed" if before else "added")
        )
        collector.add("version_label_changed", "", before, after, detail, (-1, 2))

    old_values = Counter(value for value, _ in old_dates)
    new_values = Counter(value for value, _ in new_dates)
    if old_values != new_values:
        before_date = next((w for v, w in old_dates if v not in new_values), None)
        after_date = next((w for v, w in new_dates if v not in old_values), None)
        if before_date or after_date:
            detail = (
                f"'{before_date}' → '{after_date}'"
                if before_date and after_date
                else f"'{before_date or after_date}' " + ("removed" if before_date else "added")
            )
            collector.add("effective_date_changed", "", before_date, after_date, detail, (-1, 3))


def _body_bag(lines: Sequence[str], heads: Sequence[int], at: int) -> Counter[str]:
    """The words of the section under the heading at line `at` (up to the next heading)."""
    index = bisect.bisect_right(heads, at)
    end = heads[index] if index < len(heads) else len(lines)
    return Counter(_words(" ".join(lines[at + 1 : min(end, at + 400)])))


def _bag_dice(a: Counter[str], b: Counter[str]) -> float:
    total = sum(a.values()) + sum(b.values())
    return 1.0 if not total else 2 * sum((a & b).values()) / total


def _sections(
    olds: list[_Unit],
    news: list[_Unit],
    old_lines: Sequence[str],
    new_lines: Sequence[str],
    old_heads: Sequence[int],
    new_heads: Sequence[int],
    collector: _Collector,
) -> tuple[int, list[tuple[_Unit, _Unit]]]:
    """Section signals from the headings left after cancellation.

    Returns the words changed and the renamed headings (old, new).
    """
    removed = [unit for unit in olds if unit.is_heading and not unit.done]
    added = [unit for unit in news if unit.is_heading and not unit.done]
    changed = 0
    renamed: list[tuple[_Unit, _Unit]] = []
    for a in removed:
        candidates = [
            b
            for b in added
            if not b.done and b.region == a.region and b.heading_level == a.heading_level
        ]
        for b in candidates:
            if SequenceMatcher(None, a.key, b.key).ratio() >= 0.9:
                a.done = b.done = True  # a typo fixed in a heading
                break
            similar = _bag_dice(
                _body_bag(old_lines, old_heads, a.line), _body_bag(new_lines, new_heads, b.line)
            )
            if similar >= RENAME_MIN_BODY:
                a.done = b.done = True
                changed += max(len(a.words), len(b.words))
                renamed.append((a, b))
                collector.add(
                    "section_renamed",
                    b.section,
                    a.text,
                    b.text,
                    f"'{a.text}' → '{b.text}'",
                    _where(b),
                )
                break
    for a in removed:
        if not a.done:
            collector.add("section_removed", a.section, a.text, None, f"'{a.text}'", _where(a))
    for b in added:
        if not b.done:
            collector.add("section_added", b.section, None, b.text, f"'{b.text}'", _where(b))
    return changed, renamed


def _commitments(
    pairs: Sequence[tuple[_Unit, _Unit]],
    deleted: Sequence[_Unit],
    inserted: Sequence[_Unit],
    collector: _Collector,
) -> None:
    for a, b in pairs:
        direction = commitment_change(a.text, b.text)
        if direction:
            collector.add(
                f"commitment_{direction}",
                _section(a, b),
                a.text,
                b.text,
                _modal_detail(a.text, b.text),
                _where(b),
            )
    for a in deleted:
        if not a.is_heading and (words := modality(a.text).firm_words):
            collector.add(
                "commitment_weakened",
                a.section,
                a.text,
                None,
                f"sentence with '{words[0]}' deleted",
                _where(a),
            )
    for b in inserted:
        mood = modality(b.text)
        if not b.is_heading and mood.firm and not mood.hedge:
            collector.add(
                "commitment_strengthened",
                b.section,
                None,
                b.text,
                f"sentence with '{mood.firm_words[0]}' added",
                _where(b),
            )


def _scope(
    pairs: Sequence[tuple[_Unit, _Unit]],
    deleted: Sequence[_Unit],
    inserted: Sequence[_Unit],
    collector: _Collector,
) -> None:
    for a, b in pairs:
        if not (_is_scope(a.text) or _is_scope(b.text)):
            continue
        before, after = _scope_view(a.text), _scope_view(b.text)
        if before != after:
            detail = _scope_detail(before, after)
            collector.add("scope_changed", _section(a, b), a.text, b.text, detail, _where(b))
    for a in deleted:
        if not a.is_heading and _SCOPE.search(a.text):
            collector.add(
                "scope_changed", a.section, a.text, None, "scope sentence deleted", _where(a)
            )
    for b in inserted:
        if not b.is_heading and _SCOPE.search(b.text):
            collector.add(
                "scope_changed", b.section, None, b.text, "scope sentence added", _where(b)
            )


def _group_keys() -> tuple[Callable[[_Item], Hashable], ...]:
    return (
        lambda item: item.group,
        lambda item: ("region", item.unit.region),
        lambda item: ("section", item.unit.section),
    )


def _quantities(
    pairs: Sequence[tuple[_Unit, _Unit]],
    deleted: Sequence[_Unit],
    inserted: Sequence[_Unit],
    collector: _Collector,
) -> None:
    olds: list[_Item] = []
    news: list[_Item] = []
    partner: dict[int, _Unit] = {}
    for index, (a, b) in enumerate(pairs):
        partner[id(a)], partner[id(b)] = b, a
        olds += [_Item(q.key, ("pair", index), a, q.text, q.kind) for q in quantities(a.text)]
        news += [_Item(q.key, ("pair", index), b, q.text, q.kind) for q in quantities(b.text)]
    for unit in deleted:
        if not unit.is_heading:
            olds += [
                _Item(q.key, ("unit", id(unit)), unit, q.text, q.kind)
                for q in quantities(unit.text)
            ]
    for unit in inserted:
        if not unit.is_heading:
            news += [
                _Item(q.key, ("unit", id(unit)), unit, q.text, q.kind)
                for q in quantities(unit.text)
            ]
    if not olds and not news:
        return
    changed, gone, came = _net(olds, news, _group_keys())
    for x, y in changed:
        collector.add(
            "quantitative_changed",
            y.unit.section,
            x.unit.text,
            y.unit.text,
            f"'{x.label}' → '{y.label}'",
            _where(y.unit),
        )
    for x in gone:
        other = partner.get(id(x.unit))
        collector.add(
            "quantitative_removed",
            other.section if other else x.unit.section,
            x.unit.text,
            _text(other),
            f"'{x.label}' removed",
            _where(other or x.unit),
        )
    for y in came:
        other = partner.get(id(y.unit))
        collector.add(
            "quantitative_added",
            y.unit.section,
            _text(other),
            y.unit.text,
            f"'{y.label}' added",
            _where(y.unit),
        )


def _terms(
    watch_terms: Sequence[str],
    pairs: Sequence[tuple[_Unit, _Unit]],
    deleted: Sequence[_Unit],
    inserted: Sequence[_Unit],
    collector: _Collector,
) -> None:
    terms = list(dict.fromkeys(term.strip() for term in watch_terms if term.strip()))
    if not terms:
        return
    patterns = [(term, _term_pattern(term)) for term in terms]
    olds: list[_Item] = []
    news: list[_Item] = []
    partner: dict[int, _Unit] = {}

    def items(unit: _Unit, group: Hashable) -> list[_Item]:
        return [
            _Item(term, group, unit, term)
            for term, pattern in patterns
            for _ in pattern.finditer(unit.text)
        ]

    for index, (a, b) in enumerate(pairs):
        partner[id(a)], partner[id(b)] = b, a
        olds += items(a, ("pair", index))
        news += items(b, ("pair", index))
    for unit in deleted:
        olds += items(unit, ("unit", id(unit)))
    for unit in inserted:
        news += items(unit, ("unit", id(unit)))
    _, gone, came = _net(olds, news, _group_keys())
    for x in gone:
        other = partner.get(id(x.unit))
        collector.add(
            "term_changed",
            other.section if other else x.unit.section,
            x.unit.text,
            _text(other),
            f"'{x.label}' removed",
            _where(other or x.unit),
            severity="major",
        )
    for y in came:
        other = partner.get(id(y.unit))
        collector.add(
            "term_changed",
            y.unit.section,
            _text(other),
            y.unit.text,
            f"'{y.label}' added",
            _where(y.unit),
        )


def analyse_with(
    settings: AnalysisSettings,
    old: str,
    new: str,
    *,
    change: Change | None = None,
    watch_terms: Sequence[str] = (),
    new_documents: Sequence[Link] = (),
) -> Analysis:
    """`analyse` with the thresholds of the `[analysis]` table."""
    return analyse(
        old,
        new,
        change=change,
        watch_terms=watch_terms,
        large_rewrite_share=settings.large_rewrite_share,
        substantive_share=settings.substantive_share,
        substantive_words=settings.substantive_words,
        new_documents=new_documents,
    )
