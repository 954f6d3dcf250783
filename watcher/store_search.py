"""What the dashboard reads across documents: the full-text index and the feed of changes."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from watcher.errors import StoreError
from watcher.store_base import Row
from watcher.store_blobs import BlobQueries


class SearchQueries(BlobQueries):
    """The search index over versions, and the changes feed."""

    def index_versions(self) -> int:
        """Add every version missing from the search index; return how many were added.

        One short transaction per version, so indexing a large backlog never
        holds the write lock long enough to stall a running check.
        """
        # Versions are never deleted and their ids only grow (one writer at a
        # time, INTEGER PRIMARY KEY takes max + 1), and indexing goes in id
        # order: every id up to the highest indexed one is indexed. Asking
        # FTS5 row by row instead costs ~60 ms for 200 versions.
        row = self._one("SELECT MAX(rowid) AS last FROM version_search")
        last = row["last"] if row and row["last"] is not None else 0
        missing = self._all(
            "SELECT id, text_sha256 FROM versions WHERE id > ? ORDER BY id", (last,)
        )
        added = 0
        for row in missing:
            text = self.get_text(row["text_sha256"])
            with self.transaction():
                # another process may have indexed it in the meantime
                if self._one("SELECT 1 AS x FROM version_search WHERE rowid = ?", (row["id"],)):
                    continue
                self.conn.execute(
                    "INSERT INTO version_search (rowid, text) VALUES (?, ?)", (row["id"], text)
                )
                added += 1
        return added

    def search_versions(
        self,
        match: str,
        *,
        lab: str | None = None,
        source_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Row]:
        """Per source, the versions whose text matches the FTS5 expression `match`.

        Each row: source_id, lab, title, first and last matching version
        number, how many match, all matching numbers (comma-separated) and the
        source's latest version number. `since`/`until` bound captured_at
        (ISO prefixes compare as strings). `match` must already be quoted.
        """
        where = ["version_search MATCH ?"]
        params: list[Any] = [match]
        for column, op, value in (
            ("s.lab", "=", lab),
            ("v.source_id", "=", source_id),
            ("v.captured_at", ">=", since),
            ("v.captured_at", "<", until),
        ):
            if value:
                where.append(f"{column} {op} ?")
                params.append(value)
        try:
            return self._all(
                f"""
                SELECT v.source_id, s.lab, s.title,
                       MIN(v.number) AS first, MAX(v.number) AS last, COUNT(*) AS matches,
                       GROUP_CONCAT(v.number) AS numbers,
                       (SELECT MAX(l.number) FROM versions l
                         WHERE l.source_id = v.source_id) AS latest
                  FROM version_search f
                  JOIN versions v ON v.id = f.rowid
                  JOIN sources s ON s.id = v.source_id
                 WHERE {" AND ".join(where)}
                 GROUP BY v.source_id
                 ORDER BY s.lab, v.source_id
                """,
                tuple(params),
            )
        except sqlite3.OperationalError as exc:
            raise StoreError(f"search failed: {exc}") from exc

    def search_snippet(
        self, match: str, source_id: str, number: int, *, mark: tuple[str, str], tokens: int = 24
    ) -> str | None:
        """FTS5's snippet of one version for `match`, matches wrapped in `mark`."""
        try:
            row = self._one(
                """
                SELECT snippet(version_search, 0, ?, ?, '…', ?) AS snippet
                  FROM version_search f
                 WHERE version_search MATCH ?
                   AND f.rowid = (SELECT id FROM versions WHERE source_id = ? AND number = ?)
                """,
                (mark[0], mark[1], tokens, match, source_id, number),
            )
        except sqlite3.OperationalError as exc:
            raise StoreError(f"search failed: {exc}") from exc
        return row["snippet"] if row else None

    def changes(
        self,
        *,
        lab: str | None = None,
        source_id: str | Sequence[str] | None = None,
        limit: int = 50,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Row]:
        """The newest versions that changed a text, newest first: every version
        after a source's first (not re-extractions), and the first version of a
        document that supersedes another (its change across files).

        Each row is a version with its source's lab and title, the version
        before it (`previous_source`, `previous_number`: the same source's,
        or the superseded document's latest) and its word count, and the id
        of the task covering it on its own source (if any). `source_id` may
        name several sources (a lineage); `since`/`until` bound the capture
        time (ISO, `since` included, `until` not).
        """
        where = ["(v.number > 1 OR s.supersedes IS NOT NULL)", "v.reextracted = 0"]
        params: list[Any] = []
        if since:
            where.append("v.captured_at >= ?")
            params.append(since)
        if until:
            where.append("v.captured_at < ?")
            params.append(until)
        if lab:
            where.append("s.lab = ?")
            params.append(lab)
        if source_id:
            ids = [source_id] if isinstance(source_id, str) else list(source_id)
            where.append(f"v.source_id IN ({', '.join('?' for _ in ids)})")
            params.extend(ids)
        return self._all(
            f"""
            SELECT c.*, p.words AS previous_words FROM (
              SELECT v.*, s.lab, s.title,
                     CASE WHEN v.number > 1 THEN v.source_id ELSE s.supersedes END
                       AS previous_source,
                     CASE WHEN v.number > 1 THEN v.number - 1
                          ELSE (SELECT MAX(l.number) FROM versions l
                                 WHERE l.source_id = s.supersedes) END AS previous_number,
                     (SELECT t.id FROM tasks t
                       WHERE t.source_id = v.source_id
                         AND t.from_version < v.number AND v.number <= t.to_version
                       ORDER BY t.id DESC LIMIT 1) AS task_id
                FROM versions v JOIN sources s ON s.id = v.source_id
               WHERE {" AND ".join(where)}
               ORDER BY v.captured_at DESC, v.id DESC
               LIMIT ?
            ) c LEFT JOIN versions p
                   ON p.source_id = c.previous_source AND p.number = c.previous_number
             ORDER BY c.captured_at DESC, c.id DESC
            """,
            (*params, limit),
        )
