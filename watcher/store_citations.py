"""Citations: a criterion's quoted passages, and what became of each on new versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watcher.errors import NotFound
from watcher.store_base import Row, StoreBase


class CitationQueries(StoreBase):
    """Citations and their events."""

    def add_citation(self, **values: Any) -> int:
        return self._insert("citations", values)

    def citation(self, citation_id: int) -> Row:
        row = self._one(
            "SELECT * FROM citations WHERE id = ? AND removed_at IS NULL", (citation_id,)
        )
        if row is None:
            raise NotFound(f"unknown citation {citation_id} (see `watcher cite list`)")
        return row

    def citations(
        self, *, lab: str | None = None, sources: Sequence[str] | None = None
    ) -> list[Row]:
        """Citations not removed, by lab, criterion and id; narrowed to a lab or to sources."""
        where, params = ["removed_at IS NULL"], []
        if lab is not None:
            where.append("lab = ? COLLATE NOCASE")
            params.append(lab)
        if sources is not None:
            where.append(f"source_id IN ({', '.join('?' for _ in sources)})")
            params.extend(sources)
        return self._all(
            f"SELECT * FROM citations WHERE {' AND '.join(where)} "
            "ORDER BY lab COLLATE NOCASE, criterion COLLATE NOCASE, id",
            tuple(params),
        )

    def duplicate_citation(self, source_id: str, criterion: str, quote_key: str) -> Row | None:
        return self._one(
            "SELECT * FROM citations WHERE source_id = ? AND criterion = ? COLLATE NOCASE "
            "AND quote_key = ? AND removed_at IS NULL",
            (source_id, criterion, quote_key),
        )

    def update_citation(self, citation_id: int, **values: Any) -> None:
        self._update("citations", "id", citation_id, values)

    def add_citation_event(self, citation_id: int, **values: Any) -> None:
        self._insert("citation_events", {"citation_id": citation_id, **values})

    def citation_events(self, citation_id: int) -> list[Row]:
        return self._all(
            "SELECT * FROM citation_events WHERE citation_id = ? ORDER BY id", (citation_id,)
        )
