"""Regions: the changed line ranges of old and new, and the share of words they change."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from watcher.models import Change


@dataclass(frozen=True)
class Region:
    """Lines `old_start:old_end` of the old text became `new_start:new_end` of the new."""

    old_start: int
    old_end: int
    new_start: int
    new_end: int


def regions_from_change(change: Change) -> list[Region]:
    """The regions of `detect.diff`'s hunks."""
    return [
        Region(
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


def line_regions(old_lines: Sequence[str], new_lines: Sequence[str]) -> list[Region]:
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
        Region(i1 + head, i2 + head, j1 + head, j2 + head)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def share_changed(
    regions: Sequence[Region],
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
