"""Version labels and dates: finding them, and the signals of a changed label or effective date."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from watcher import clock
from watcher.analysis.regions import Region
from watcher.analysis.severity import Collector
from watcher.analysis.text import multiset_minus

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)

#: A sentence that says its date is a label of the document ('effective', 'last updated').
EFFECTIVE = re.compile(
    r"\b(?:effective|last\s+updated|updated|last\s+revised|revised|last\s+modified|published"
    r"|issued|dated|date|takes?\s+effect|took\s+effect|in\s+effect"
    r"|(?:comes?|came)\s+into\s+(?:force|effect)|entry\s+into\s+force)\b",
    re.IGNORECASE,
)

VERSION_RE = re.compile(
    r"\b(?:version|ver\.)\s*(\d+(?:\.\d+)*)\b|\b[vV](\d+(?:\.\d+)*)\b", re.IGNORECASE
)

#: The date forms, longest first; `date_value` reads a match by its index here.
DATE_RES = (
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH}),?\s+(\d{{4}})\b"),
    re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b"),
    re.compile(rf"\b({_MONTH}),?\s+(\d{{4}})\b"),
    re.compile(r"\b(Q[1-4])\s+(\d{4})\b"),
)


def date_value(match: re.Match[str], pattern: int) -> float:
    """A match of `DATE_RES[pattern]` as a comparable number, YYYYMMDD."""
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
    return int(year) * 10000 + clock.MONTHS[month.rstrip(".").lower()] * 100 + int(day)


def versions(text: str) -> list[str]:
    """Version labels in `text` ('Version 2.0', 'v1.1'), as written."""
    return [match.group(0) for match in VERSION_RE.finditer(text)]


def effective_dates(text: str) -> list[tuple[float, str]]:
    """Dates in `text` when it says they are an effective, updated or published date."""
    if not EFFECTIVE.search(text):
        return []
    taken: list[tuple[int, int]] = []
    out: list[tuple[float, str]] = []
    for index, pattern in enumerate(DATE_RES):  # longest forms first
        for match in pattern.finditer(text):
            if any(match.start() < b and a < match.end() for a, b in taken):
                continue
            taken.append(match.span())
            out.append((date_value(match, index), match.group(0)))
    return out


def label_signals(
    regions: Sequence[Region],
    old_lines: Sequence[str],
    new_lines: Sequence[str],
    collector: Collector,
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
        match = VERSION_RE.fullmatch(label)
        return (match.group(1) or match.group(2)) if match else label

    gone = multiset_minus(old_versions, new_versions) if old_versions else []
    came = multiset_minus(new_versions, old_versions) if new_versions else []
    gone = [v for v in gone if number(v) not in {number(w) for w in new_versions}]
    came = [v for v in came if number(v) not in {number(w) for w in old_versions}]
    if gone or came:
        before, after = (gone[0] if gone else None), (came[0] if came else None)
        collector.add("version_label_changed", "", before, after, _detail(before, after), (-1, 2))

    old_values = Counter(value for value, _ in old_dates)
    new_values = Counter(value for value, _ in new_dates)
    if old_values != new_values:
        before_date = next((w for v, w in old_dates if v not in new_values), None)
        after_date = next((w for v, w in new_dates if v not in old_values), None)
        if before_date or after_date:
            detail = _detail(before_date, after_date)
            collector.add("effective_date_changed", "", before_date, after_date, detail, (-1, 3))


def _detail(before: str | None, after: str | None) -> str:
    """'before' → 'after', or the one of them that was removed or added."""
    if before and after:
        return f"'{before}' → '{after}'"
    return f"'{before or after}' " + ("removed" if before else "added")
