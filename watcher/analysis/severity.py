"""Signals collected, ranked and capped, and the severity they give a change."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from watcher.analysis.evidence import quotes
from watcher.config import SEVERITIES
from watcher.models import Analysis, Signal

log = logging.getLogger(__name__)

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

#: At most this many signals are kept (the most severe first).
MAX_SIGNALS = 200

_RANK: dict[str, int] = {name: index for index, name in enumerate(SEVERITIES)}


@dataclass
class Collector:
    """Signals found so far, each with its severity and its place in the document."""

    items: list[tuple[int, tuple[int, int], Signal]] = field(default_factory=list)
    seen: set[Signal] = field(default_factory=set)
    # The page each line starts on, of the old and the new text (PDFs; None otherwise).
    old_pages: Sequence[int] | None = None
    new_pages: Sequence[int] | None = None

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
        # a linked document is a link, not a passage that changed
        whole = kind != "new_document"
        old_quote, old_marks, new_quote, new_marks = quotes(old, new, whole=whole)
        signal = Signal(
            kind,
            section,
            old_quote,
            new_quote,
            detail,
            old_marks,
            new_marks,
            self._page(new, where),
        )
        if signal in self.seen:
            return
        self.seen.add(signal)
        rank = _RANK[severity or KIND_SEVERITY[kind]]
        self.items.append((rank, where, signal))

    def _page(self, new: str | None, where: tuple[int, int]) -> int | None:
        """The page of a signal's passage: `where` is the new unit's place when
        the signal has a new side, else the old one's (region -1: the whole document)."""
        pages = self.new_pages if new is not None else self.old_pages
        region, line = where
        if region < 0 or pages is None or not 0 <= line < len(pages):
            return None
        return pages[line]

    def finish(
        self, changed_words: int, total_words: int, substantive_share: float, substantive_words: int
    ) -> Analysis:
        """The change's severity and its signals, most severe first, then in document order.

        A change is at least `substantive` when it changed `substantive_words`
        words or `substantive_share` of the `total_words`, whatever its signals.
        """
        ordered = sorted(self.items, key=lambda item: (-item[0], item[1]))
        if len(ordered) > MAX_SIGNALS:
            log.debug("analysis: %d signals, keeping the first %d", len(ordered), MAX_SIGNALS)
            ordered = ordered[:MAX_SIGNALS]
        rank = max((rank for rank, _, _ in ordered), default=0)
        if changed_words and (
            changed_words >= substantive_words or changed_words >= substantive_share * total_words
        ):
            rank = max(rank, _RANK["substantive"])
        return Analysis(SEVERITIES[rank], tuple(signal for _, _, signal in ordered))
