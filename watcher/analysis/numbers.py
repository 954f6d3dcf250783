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
from dataclasses import dataclass, replace

from watcher.analysis.align import Item, items_of, net
from watcher.analysis.labels import DATE_RES, EFFECTIVE, VERSION_RE, date_value
from watcher.analysis.severity import Collector
from watcher.analysis.units import Unit, text_of

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
    r"|less than|minimum of|maximum of|up to|greater than|in excess of|exceeds?|exceeding"
    r"|above|below|over|under|[<>]=?|[≥≤])\s*$",
    re.IGNORECASE,
)
# Roles, read from the words just before a quantity (see `Quantity.role`).
_FLOOR_BEFORE = re.compile(
    r"(?:at least|no fewer than|no less than|minimum of|more than|greater than|in excess of"
    r"|exceeds?|exceeding|above|over|>=?|≥)\s*(?:an?\s+|the\s+)?$",
    re.IGNORECASE,
)
_CEILING_BEFORE = re.compile(
    r"(?:at most|no more than|up to|maximum of|fewer than|less than|below|under|within"
    r"|no later than|by|before|every|each|per|once\s+(?:every|per|a)|<=?|≤)\s*"
    r"(?:an?\s+|the\s+)?$",
    re.IGNORECASE,
)
_DEFINITION = re.compile(
    r"\b(?:threshold|thresholds|defined|define|defines|trigger|triggers|triggered|reach|reaches"
    r"|success\s+rate|capability\s+level|uplift|trained\s+(?:with|on|using))\b",
    re.IGNORECASE,
)
_MEASURES = frozenset(["percent", "magnitude", "people", "money", "multiplier"])


def _role(text: str, start: int, quantity: Quantity) -> str:
    """The role of `quantity` at `start` in sentence `text` (see `Quantity.role`)."""
    before = text[max(0, start - 40) : start]
    if quantity.kind == "duration" and quantity.text.lower() in _FREQUENCIES:
        return "ceiling"  # 'annually': a review at most a year apart
    if quantity.kind == "date":
        return "ceiling"  # a deadline
    if _CEILING_BEFORE.search(before):
        return "ceiling"
    if _FLOOR_BEFORE.search(before):
        # a bound on a measure of capability or harm is a trigger; on effort a floor
        return "trigger" if quantity.kind in _MEASURES else "floor"
    if quantity.kind in _MEASURES and _DEFINITION.search(text):
        return "trigger"
    return ""


def direction(old: Quantity | None, new: Quantity | None) -> str | None:
    """'stricter' or 'looser' when the quantities' role makes it knowable, else None."""
    role = (old or new).role if (old or new) else ""  # type: ignore[union-attr]
    if not role:
        return None
    if old is None:
        return "stricter"  # a bound added
    if new is None:
        return "looser"  # a bound removed
    if new.role != old.role or new.value == old.value:
        return None
    higher = new.value > old.value
    looser = higher if role in ("trigger", "ceiling") else not higher
    return "looser" if looser else "stricter"


# Spelled-out numbers: 'two hundred', 'five billion', 'twenty-five', 'twelve'.
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_SPELLED_WORD = "|".join([*_UNITS, *_SCALES])
_SPELLED = re.compile(
    rf"\b(?:{_SPELLED_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_SPELLED_WORD}))*\b", re.IGNORECASE
)
_DIGIT_SCALE = re.compile(r"\b(\d+(?:\.\d+)?)\s+(thousand|million|billion|trillion)\b", re.I)


def _spelled_value(phrase: str) -> float | None:
    total = current = 0.0
    seen = False
    for word in re.split(r"[\s-]+", phrase.lower()):
        if word == "and":
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in _SCALES:
            total += (current or 1) * _SCALES[word]
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _digits(text: str) -> str:
    """`text` with spelled-out numbers and scale words written as digits."""

    def spelled(match: re.Match[str]) -> str:
        phrase = match.group(0)
        if phrase.lower() == "one" or phrase.split()[0].lower() in _SCALES:
            return phrase  # 'one of', 'no one': left as a word (read where bounded)
        value = _spelled_value(phrase)
        return phrase if value is None else f"{value:.15g}"

    def scaled(match: re.Match[str]) -> str:
        return f"{float(match.group(1)) * _SCALES[match.group(2).lower()]:.15g}"

    if "illion" in text or "thousand" in text:
        text = _DIGIT_SCALE.sub(scaled, text)
    if _SPELLED.search(text):
        text = _SPELLED.sub(spelled, text)
    return text


@dataclass(frozen=True)
class Quantity:
    """A number with meaning found in a sentence: `kind` and normalised `value` compare."""

    kind: str  # percent, multiplier, magnitude, money, duration, number, people, date, level:ASL
    value: float
    text: str  # as written
    #: 'floor' (at least N reviewers), 'ceiling' (within N days, every N months,
    #: at most N), 'trigger' (more than N FLOP, a threshold's definition) or ''
    role: str = ""
    #: 'low' or 'high' for a bound of a range ('10–20%'), else ''
    bound: str = ""

    @property
    def key(self) -> tuple[str, float]:
        return (self.kind + (f"/{self.bound}" if self.bound else ""), self.value)


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


_Found = Quantity | tuple[Quantity, ...] | None
_Finder = Callable[[str], Iterable[tuple[int, int, _Found]]]


def _find_regex(pattern: str, make: Callable[[re.Match[str]], Quantity | None]) -> _Finder:
    compiled = re.compile(pattern, re.IGNORECASE)

    def find(text: str) -> Iterable[tuple[int, int, _Found]]:
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


_PERCENT_UNIT = r"%|\bpercent\b|\bper\s+cent\b|\bpercentage\s+points?\b"
_TIME_UNIT = (
    r"seconds?|minutes?|hours?|(?:business|working)\s+days?|days?|weeks?|months?|quarters?"
    r"|years?"
)
_RANGE = re.compile(
    rf"(?<![\w.,^/-])(?:(between|from)\s+)?({_NUM})\s*(?:({_PERCENT_UNIT})|\s({_TIME_UNIT})\b)?"
    rf"\s*(-|–|—|\bto\b|\band\b)\s*({_NUM})(?:\s*({_PERCENT_UNIT})|\s+({_TIME_UNIT})\b)?"
    r"(?![\w^+]|[.,]\d)",
    re.IGNORECASE,
)


def _find_ranges(text: str) -> Iterable[tuple[int, int, _Found]]:
    """A range ('10–20%', 'between 5 and 10 days', '10 to 20 percent'): one quantity, two bounds.

    Both bounds take the range's unit and the role of the words before the
    range, so a change of either bound is a change of the quantity. 'and'
    makes a range only after 'between'; a range of bare numbers only when
    'between' or a comparator bounds it ('at most 3-5 reviewers').
    """
    for match in _RANGE.finditer(text):
        lead, low, low_pct, low_time, joint, high, high_pct, high_time = match.groups()
        joint = joint.lower()
        if joint == "and" and (lead or "").lower() != "between":
            continue
        if (lead or "").lower() == "from" and joint != "to":
            continue
        if (low_pct and high_time) or (low_time and not high_time) or (low_pct and not high_pct):
            continue  # '6 months to 1' or '5% to 10 days': not one quantity
        a, b = _float(low), _float(high)
        if high_pct:
            kind, scale = "percent", 1.0
        elif high_time:
            unit = re.sub(r"\s+", " ", high_time.lower()).rstrip("s")
            low_unit = re.sub(r"\s+", " ", (low_time or high_time).lower()).rstrip("s")
            kind, scale = "duration", _DAYS[unit]
            a *= _DAYS[low_unit] / scale
        else:
            bounded = lead and lead.lower() == "between"
            bounded = bounded or _COMPARATOR_BEFORE.search(
                text, max(0, match.start() - 30), match.start()
            )
            if not bounded or (lead and lead.lower() == "from"):
                continue
            kind, scale = "number", 1.0
        if a >= b:
            continue  # '10-5' is no range
        written = match.group(0).strip()
        yield (
            match.start(),
            match.end(),
            (
                Quantity(kind, _sig(a * scale), written, bound="low"),
                Quantity(kind, _sig(b * scale), written, bound="high"),
            ),
        )


_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "fifteenth": 15,
    "twentieth": 20,
}  # fmt: skip
_ORDINAL = rf"(?:\d+(?:st|nd|rd|th)|{'|'.join(_ORDINALS)})"
# 'every 2nd quarter', 'each third year': a cadence
_ORDINAL_CADENCE = re.compile(rf"\b(?:every|each)\s+({_ORDINAL})\s+({_TIME_UNIT})\b", re.IGNORECASE)
# 'after the third failed evaluation', 'by the 5th day': a threshold or a deadline;
# 'the first section', 'the third pillar' only number things and are not read
_ORDINAL_THRESHOLD = re.compile(
    rf"\b(?:after|at|by|on|upon|before|until|following|from|within)\s+(?:the\s+|its\s+|our\s+)?"
    rf"({_ORDINAL})(?![\w-])(?!\s+(?:part(?:y|ies)|person|section|chapter|part|paragraph"
    r"|page|item|step|annex|appendix|table|figure|clause|edition|version|point|bullet"
    r"|principle|pillar|half|place)\b)\s+[a-z]",
    re.IGNORECASE,
)


def _ordinal(word: str) -> float:
    word = word.lower()
    return float(_ORDINALS[word]) if word in _ORDINALS else float(word[:-2])


def _find_ordinals(text: str) -> Iterable[tuple[int, int, _Found]]:
    """Ordinals that carry a cadence ('every 2nd quarter': a duration) or a threshold
    ('after the third failed evaluation': the later, the looser)."""
    for match in _ORDINAL_CADENCE.finditer(text):
        unit = re.sub(r"\s+", " ", match.group(2).lower()).rstrip("s")
        days = _ordinal(match.group(1)) * _DAYS[unit]
        cadence = Quantity("duration", _sig(days), match.group(0), role="ceiling")
        yield match.start(), match.end(), cadence
    for match in _ORDINAL_THRESHOLD.finditer(text):
        written = match.group(1)
        yield (
            match.start(1),
            match.end(1),
            Quantity("ordinal", _ordinal(written), written, role="trigger"),
        )


_BARE = re.compile(rf"(?<![\w.,^/-])({_NUM})(?![\w^+]|[.,]\d)")


def _find_bare_numbers(text: str) -> Iterable[tuple[int, int, Quantity | None]]:
    # A bare number (no unit) is a quantity only when bounded ('at least 5
    # evaluations'); footnote markers, list and statute numbers are not.
    for match in _BARE.finditer(text):
        bounded = _COMPARATOR_BEFORE.search(text, max(0, match.start() - 30), match.start())
        quantity = Quantity("number", _float(match.group(1)), match.group(0)) if bounded else None
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

_find_frequencies = _find_regex(
    r"\b(?:" + "|".join(re.escape(phrase) for phrase in _FREQUENCIES) + r")\b",
    lambda match: Quantity(
        "duration",
        _sig(_FREQUENCIES[re.sub(r"\s+", " ", match.group(0).lower())]),
        match.group(0),
    ),
)

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
        r"\b((?-i:ASL|CCL|AISL|BSL|SL|[A-Z]{1,4}L)|Level|Tier|Stage|Category)[- ]?(\d+(?:\.\d+)?)(\+?)"
        r"(?![\w.]\d)",
        lambda match: Quantity(
            f"level:{match.group(1).upper()}",
            float(match.group(2)) + (0.5 if match.group(3) else 0.0),
            match.group(0),
        ),
    ),
    # model, product and statute names are names, not quantities
    _find_regex(
        r"\b[A-Z][A-Za-z]*[- ]\d+(?:\.\d+)+\b|\b[A-Z][A-Za-z]{1,}-\d+(?:\.\d+)*\b"
        r"|\b(?:Models?|Claude|GPT|Gemini|Llama|Grok|Phase|Rule|Regulation|Act|Order|EO|Title"
        r"|Clause|Paragraph|Schedule|Notes?|Principle|Commitment|Recommendation)\s+\d+\b",
        lambda match: None,
    ),
    _find_ranges,
    _find_regex(
        rf"(?<![\w.,])({_NUM})\s+(?:in|out\s+of)\s+({_NUM})\b",
        lambda match: Quantity(
            "percent",
            _sig(100 * _float(match.group(1)) / max(_float(match.group(2)), 1e-9)),
            match.group(0),
        ),
    ),
    _find_regex(
        rf"(?<![\w.,])({_NUM})\s+(?:or\s+more\s+|additional\s+)?(?:deaths|fatalities|casualties"
        r"|people|persons|individuals|lives|injuries|victims)\b",
        lambda match: Quantity("people", _float(match.group(1)), match.group(0)),
    ),
    _find_regex(
        rf"(?<![\w.,])({_NUM})\s*(?:US\s+dollars|dollars|USD)\b",
        lambda match: Quantity("money", _sig(_float(match.group(1))), match.group(0)),
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
    _find_ordinals,
    _find_frequencies,
    _find_bare_numbers,
    _find_number_words,
)


# Without a digit only these can match (spelled-out numbers, 'annually'), and
# only when a number word or a frequency word is present: most sentences of a
# policy skip the patterns entirely.
_WORD_FINDERS: tuple[_Finder, ...] = (_find_ordinals, _find_frequencies, _find_number_words)
_DIGIT = re.compile(r"\d")
_NUMBERISH = re.compile(
    r"\b(?:" + _SPELLED_WORD + r"|annually|yearly|every|each|once|biennially"
    r"|biannually|semi-?annually|twice|quarterly|monthly|weekly|daily|"
    + "|".join(_ORDINALS)
    + r")\b",
    re.IGNORECASE,
)


def _magnitude_any(match: re.Match[str]) -> Quantity:
    if match.group(4):  # 10 with superscript digits
        exponent = int(match.group(4).translate(_SUPERSCRIPT))
        return Quantity("magnitude", _sig(10.0**exponent), match.group(0).strip())
    return _magnitude(match)


def quantities(text: str) -> list[Quantity]:
    """The meaningful numbers in `text`, in order (see the module docstring)."""
    if _NUMBERISH.search(text):
        text = _digits(text)
    if _DIGIT.search(text):
        finders = _FINDERS
    elif _NUMBERISH.search(text):
        finders = _WORD_FINDERS
    else:
        return []
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Quantity]] = []
    for finder in finders:
        for start, end, claimed in finder(text):
            if any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            if claimed is None:
                continue
            for quantity in claimed if isinstance(claimed, tuple) else (claimed,):
                role = quantity.role or _role(text, start, quantity)
                found.append((start, replace(quantity, role=role) if role else quantity))
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
        return [
            Item(q.key, group, unit, q.text, q.key[0], q.role, q.value)
            for q in quantities(unit.text)
        ]

    olds, news, partner = items_of(pairs, deleted, inserted, find)
    if not olds and not news:
        return
    changed, gone, came = net(olds, news)
    for x, y in changed:
        way = direction(_as_quantity(x), _as_quantity(y))
        collector.add(
            "quantitative_changed",
            y.unit.section,
            x.unit.text,
            y.unit.text,
            f"'{x.label}' → '{y.label}'" + (f" ({way})" if way else ""),
            y.unit.where,
            severity=_SEVERITY.get(way or ""),
            direction=way,
        )
    for x in gone:
        other = partner.get(id(x.unit))
        way = direction(_as_quantity(x), None)
        collector.add(
            "quantitative_removed",
            other.section if other else x.unit.section,
            x.unit.text,
            text_of(other),
            f"'{x.label}' removed",
            (other or x.unit).where,
            direction=way,
        )
    for y in came:
        other = partner.get(id(y.unit))
        way = direction(None, _as_quantity(y))
        collector.add(
            "quantitative_added",
            y.unit.section,
            text_of(other),
            y.unit.text,
            f"'{y.label}' added",
            y.unit.where,
            direction=way,
        )


# A bound made stricter is a material change, not a weakening.
_SEVERITY = {"stricter": "substantive", "looser": "major"}


def _as_quantity(item: Item) -> Quantity:
    return Quantity(item.kind, item.value, item.label, item.role)
