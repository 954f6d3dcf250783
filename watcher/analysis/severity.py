"""Signals collected, ranked by materiality, and the severity they give a change.

Severity means something: `major` is a commitment weakened or removed, a
threshold loosened or removed, scope narrowed, an exception added, policy
content removed or a large rewrite; `substantive` another material change
(additions, strengthenings, new sections, a threshold made stricter); `minor`
the rest. Signals are ranked by severity, then by how material their kind is,
then in document order; none is dropped silently (see `MAX_SIGNALS`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from watcher.analysis.evidence import quotes
from watcher.config import SEVERITIES
from watcher.models import SIGNAL_LABELS, Analysis, Signal

log = logging.getLogger(__name__)

#: The severity each kind of signal gives a change at least, unless the
#: finder says otherwise (a quantity made stricter is `substantive`, a scope
#: sentence added is `substantive`). A watched term that disappears is
#: `major`; one that appears is `substantive`.
KIND_SEVERITY: dict[str, str] = {
    "commitment_weakened": "major",
    "exception_added": "major",
    "quantitative_removed": "major",
    "quantitative_changed": "major",
    "scope_changed": "major",
    "content_removed": "major",
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

#: Within a severity, the kinds a rater reads first (most material first).
MATERIALITY: tuple[str, ...] = (
    "commitment_weakened",
    "quantitative_removed",
    "quantitative_changed",
    "exception_added",
    "scope_changed",
    "content_removed",
    "section_removed",
    "term_changed",
    "large_rewrite",
    "commitment_strengthened",
    "quantitative_added",
    "section_added",
    "section_renamed",
    "new_document",
    "version_label_changed",
    "effective_date_changed",
)
_MATERIAL = {kind: index for index, kind in enumerate(MATERIALITY)}

#: At most this many signals are kept, the most material first; the number
#: left out is the analysis's `truncated` count, shown wherever signals are.
MAX_SIGNALS = 500

_RANK: dict[str, int] = {name: index for index, name in enumerate(SEVERITIES)}


@dataclass
class Collector:
    """Signals found so far, each with its severity and its place in the document."""

    items: list[tuple[int, int, tuple[int, int], Signal]] = field(default_factory=list)
    seen: set[Signal] = field(default_factory=set)
    # The page each line starts on, of the old and the new text (PDFs; None otherwise).
    old_pages: Sequence[int] | None = None
    new_pages: Sequence[int] | None = None
    #: the sentences (old and new) some signal was raised on
    touched: set[str] = field(default_factory=set)

    def add(
        self,
        kind: str,
        section: str,
        old: str | None,
        new: str | None,
        detail: str,
        where: tuple[int, int],
        severity: str | None = None,
        direction: str | None = None,
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
            direction,
        )
        if signal in self.seen:
            return
        self.seen.add(signal)
        self.touched.update(text for text in (old, new) if text)
        rank = _RANK[severity or KIND_SEVERITY[kind]]
        self.items.append((rank, _MATERIAL.get(kind, len(MATERIALITY)), where, signal))

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
        """The change's severity and its signals, most material first, then in document order.

        A change is at least `substantive` when it changed `substantive_words`
        words or `substantive_share` of the `total_words`, whatever its signals.
        """
        ordered = sorted(self.items, key=lambda item: (-item[0], item[1], item[2]))
        truncated = max(0, len(ordered) - MAX_SIGNALS)
        if truncated:
            log.debug("analysis: %d signals, %d left out", len(ordered), truncated)
            ordered = ordered[:MAX_SIGNALS]
        rank = max((item[0] for item in self.items), default=0)
        if changed_words and (
            changed_words >= substantive_words or changed_words >= substantive_share * total_words
        ):
            rank = max(rank, _RANK["substantive"])
        return Analysis(SEVERITIES[rank], tuple(item[3] for item in ordered), truncated)


def top_changes(analysis: Analysis, count: int = 3) -> str:
    """The `count` most material changes, a sentence each ('' when there are none)."""
    out = []
    for signal in analysis.signals[:count]:
        label = SIGNAL_LABELS.get(signal.kind, signal.kind.replace("_", " "))
        where = f" in {signal.section.rsplit(' › ', 1)[-1]}" if signal.section else ""
        what = f": {signal.detail}" if signal.detail else ""
        out.append(f"{label[:1].upper()}{label[1:]}{where}{what}.")
    return " ".join(out)
