"""Sections: headings added, removed or renamed (a moved or renumbered section is neither)."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from difflib import SequenceMatcher

from watcher.analysis.severity import Collector
from watcher.analysis.text import dice, words
from watcher.analysis.units import Unit

#: A renamed heading keeps at least this share of its section's words.
RENAME_MIN_BODY = 0.5


def _body_bag(lines: Sequence[str], heads: Sequence[int], at: int) -> Counter[str]:
    """The words of the section under the heading at line `at` (up to the next heading)."""
    index = bisect.bisect_right(heads, at)
    end = heads[index] if index < len(heads) else len(lines)
    return Counter(words(" ".join(lines[at + 1 : min(end, at + 400)])))


def section_signals(
    olds: list[Unit],
    news: list[Unit],
    old_lines: Sequence[str],
    new_lines: Sequence[str],
    old_heads: Sequence[int],
    new_heads: Sequence[int],
    collector: Collector,
) -> tuple[int, list[tuple[Unit, Unit]]]:
    """Section signals from the headings left after cancellation.

    Returns the words changed and the renamed headings (old, new).
    """
    removed = [unit for unit in olds if unit.is_heading and not unit.done]
    added = [unit for unit in news if unit.is_heading and not unit.done]
    changed = 0
    renamed: list[tuple[Unit, Unit]] = []
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
            similar = dice(
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
                    b.where,
                )
                break
    for a in removed:
        if not a.done:
            collector.add("section_removed", a.section, a.text, None, f"'{a.text}'", a.where)
    for b in added:
        if not b.done:
            collector.add("section_added", b.section, None, b.text, f"'{b.text}'", b.where)
    return changed, renamed
