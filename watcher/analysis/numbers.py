"""Numbers with meaning: the quantities of a sentence, and the signals of their change.

Percentages, multipliers, FLOP counts, money, durations and review cycles,
counts, deadlines and levels ('ASL-3') are found in a sentence, in priority
order; references, version labels, years and dates that are not deadlines
are claimed without being quantities. Equal values written differently
('five'/'5', '12 months'/'every year', '10^26'/'1e26') compare equal, so they
are not a change. A quantity removed, added or changed is netted within its
aligned pair of sentences first, then its region, then its section.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from watcher.analysis.align import Item, items_of, net, report_left_over
from watcher.analysis.labels import DATE_RES, EFFECTIVE, VERSION_RE, date_value
from watcher.analysis.severity import Collector
from watcher.analysis.units import Unit

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
    for index, pattern in enumerate(DATE_RES):
        for match in pattern.finditer(text):
            value = date_value(match, index)
            # An effective date is a label of the document, not a deadline.
            deadline = not EFFECTIVE.search(text) and _DEADLINE_BEFORE.search(
                text, 0, match.start()
            )
            quantity = Quantity("date", value, match.group(0)) if deadline else None
            yield match.start(), match.end(), quantity


_NUMBER_WORD = re.compile(rf"\b({'|'.join(_NUMBER_WORDS)}|one)\b(?=\s+[a-z])", re.IGNORECASE)


def _find_number_words(text: str) -> Iterable[tuple[int, int, Quantity | None]]:
    # A spelled-out number is prose ('three pillars') unless it is bounded
    # ('at least two reviewers'); digits are always taken.
    for match in _NUMBER_WORD.finditer(text):
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
    _find_regex(VERSION_RE.pattern, lambda match: None),
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


def quantity_signals(
    pairs: Sequence[tuple[Unit, Unit]],
    deleted: Sequence[Unit],
    inserted: Sequence[Unit],
    collector: Collector,
) -> None:
    """Quantities changed, removed or added in aligned pairs, deleted and added sentences."""

    def find(unit: Unit, group: Hashable) -> list[Item]:
        if unit.is_heading:
            return []
        return [Item(q.key, group, unit, q.text, q.kind) for q in quantities(unit.text)]

    olds, news, partner = items_of(pairs, deleted, inserted, find)
    if not olds and not news:
        return
    changed, gone, came = net(olds, news)
    for x, y in changed:
        collector.add(
            "quantitative_changed",
            y.unit.section,
            x.unit.text,
            y.unit.text,
            f"'{x.label}' → '{y.label}'",
            y.unit.where,
        )
    report_left_over(collector, ("quantitative_removed", "quantitative_added"), gone, came, partner)
