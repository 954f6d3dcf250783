"""Lineage: which document supersedes which, and the sketches that decide it."""

from __future__ import annotations

from watcher.store_base import Row
from watcher.store_sources import SourceQueries


class LineageQueries(SourceQueries):
    """Links between documents and their version sketches."""

    def set_lineage(
        self, source_id: str, *, supersedes: str | None, decision: str, reason: str
    ) -> None:
        """Record what `source_id` supersedes (None: nothing) and how that was decided."""
        self._update(
            "sources",
            "id",
            source_id,
            {"supersedes": supersedes, "lineage_decision": decision, "lineage_reason": reason},
        )

    def lineage_links(self) -> dict[str, str]:
        """Every recorded link: a document's id → the id of the document it supersedes."""
        rows = self._all("SELECT id, supersedes FROM sources WHERE supersedes IS NOT NULL")
        return {row["id"]: row["supersedes"] for row in rows}

    def lineage(self, source_id: str) -> list[str]:
        """The ids of the lineage `source_id` belongs to, oldest first (just itself
        when it has none). Follows `supersedes` back to the first document, then
        its successors forward (a document two others supersede lists both,
        the earlier created first)."""
        self.require_source(source_id)
        links = self.lineage_links()
        root, seen = source_id, {source_id}
        while root in links and links[root] not in seen:
            root = links[root]
            seen.add(root)
        successors: dict[str, list[str]] = {}
        for new, old in links.items():
            successors.setdefault(old, []).append(new)
        created = {
            row["id"]: row["created_at"]
            for row in self._all("SELECT id, created_at FROM sources WHERE supersedes IS NOT NULL")
        }
        out: list[str] = []
        queue = [root]
        while queue:
            current = queue.pop(0)
            if current in out:
                continue
            out.append(current)
            queue.extend(sorted(successors.get(current, []), key=lambda i: (created[i], i)))
        return out

    def undecided_children(self, parent_id: str) -> list[Row]:
        """Active children with a version whose lineage is not decided yet."""
        return self._all(
            "SELECT * FROM sources s WHERE parent_id = ? AND active = 1 "
            "AND lineage_decision IS NULL "
            "AND EXISTS (SELECT 1 FROM versions v WHERE v.source_id = s.id) "
            "ORDER BY created_at, id",
            (parent_id,),
        )

    def version_sketch(self, source_id: str, number: int) -> str | None:
        row = self._one(
            "SELECT sketch FROM versions WHERE source_id = ? AND number = ?", (source_id, number)
        )
        return row["sketch"] if row else None

    def set_version_sketch(self, source_id: str, number: int, sketch: str) -> None:
        self.conn.execute(
            "UPDATE versions SET sketch = ? WHERE source_id = ? AND number = ?",
            (sketch, source_id, number),
        )
