"""Watched terms: the global and per-source terms that appear in or disappear from the text."""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence

from watcher.analysis.align import Item, items_of, net, report_left_over
from watcher.analysis.severity import Collector
from watcher.analysis.units import Unit


def _term_pattern(term: str) -> re.Pattern[str]:
    # 'third-party' also matches 'third party'; a trailing plural 's' is allowed.
    parts = [re.escape(part) for part in re.split(r"[\s\-]+", term.strip()) if part]
    body = r"[\s\-]+".join(parts)
    return re.compile(rf"(?<!\w){body}(?:s|es)?(?!\w)", re.IGNORECASE)


def term_signals(
    watch_terms: Sequence[str],
    pairs: Sequence[tuple[Unit, Unit]],
    deleted: Sequence[Unit],
    inserted: Sequence[Unit],
    collector: Collector,
) -> None:
    """Watched terms removed (`major`) or added, in aligned pairs, deleted and added units."""
    terms = list(dict.fromkeys(term.strip() for term in watch_terms if term.strip()))
    if not terms:
        return
    patterns = [(term, _term_pattern(term)) for term in terms]

    def find(unit: Unit, group: Hashable) -> list[Item]:
        return [
            Item(term, group, unit, term)
            for term, pattern in patterns
            for _ in pattern.finditer(unit.text)
        ]

    olds, news, partner = items_of(pairs, deleted, inserted, find)
    _, gone, came = net(olds, news)
    report_left_over(collector, ("term_changed", "term_changed"), gone, came, partner, "major")
