"""Sources, their checks and their versions: what was watched, when, and what it said.

A source is one configured document (or a document a source follows); a
check is one attempt at it; a version is a distinct text of it, with the
response whose body is its snapshot.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from watcher import clock
from watcher.errors import NotFound
from watcher.models import PageStarts, expand_pages, page_starts
from watcher.store_base import Row
from watcher.store_blobs import BlobQueries

# the store's logs keep the one name users know, whichever module writes them
log = logging.getLogger("watcher.store")


def encode_pages(line_pages: tuple[int, ...] | None) -> str | None:
    """A per-line page map as the `versions.pages` column stores it (None stays None)."""
    if line_pages is None:
        return None
    return json.dumps(page_starts(line_pages), separators=(",", ":"))


def decode_pages(value: str | None) -> PageStarts | None:
    """The `versions.pages` column read back; None for no map or one that cannot be read."""
    if not value:
        return None
    try:
        starts = tuple((int(index), int(page)) for index, page in json.loads(value))
    except (ValueError, TypeError):
        log.warning("a version's page map cannot be read; its pages are left out")
        return None
    return starts


@dataclass(frozen=True)
class VersionRow:
    source_id: str
    number: int
    captured_at: str
    raw_sha256: str
    text_sha256: str
    kind: str
    chars: int
    words: int
    returned_to: int | None
    reextracted: bool
    # The response whose body is the snapshot: final URL after redirects,
    # status, media type and charset of Content-Type, ETag, Last-Modified.
    url: str | None
    content_type: str | None
    http_status: int | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # False: recorded before snapshots were kept whole, and not known to be the
    # bytes as sent (an HTML page may lack its script and style bodies).
    snapshot_as_sent: bool = True
    # "browser": the snapshot is the DOM Chromium rendered, not the body as sent
    fetcher: str = "http"
    # A PDF's page map: where each run of lines on one page starts (None: no map).
    page_starts: PageStarts | None = None

    @property
    def snapshot_sha256(self) -> str | None:
        """SHA-256 of the body exactly as the server sent it (after content
        decoding), which is the stored snapshot's; None when the stored
        snapshot is not known to be that body."""
        return self.raw_sha256 if self.snapshot_as_sent else None

    @classmethod
    def from_row(cls, row: Row) -> VersionRow:
        return cls(
            source_id=row["source_id"],
            number=row["number"],
            captured_at=row["captured_at"],
            raw_sha256=row["raw_sha256"],
            text_sha256=row["text_sha256"],
            kind=row["kind"],
            chars=row["chars"],
            words=row["words"],
            returned_to=row["returned_to"],
            reextracted=bool(row["reextracted"]),
            url=row["url"],
            content_type=row["content_type"],
            http_status=row["http_status"],
            charset=row["charset"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            snapshot_as_sent=bool(row["snapshot_as_sent"]),
            fetcher=row["fetcher"],
            page_starts=decode_pages(row.get("pages")),
        )


class SourceQueries(BlobQueries):
    """Sources, checks and versions."""

    # -- sources --

    def upsert_source(
        self,
        source_id: str,
        *,
        url: str,
        lab: str,
        title: str,
        parent_id: str | None = None,
        link_text: str | None = None,
    ) -> None:
        """Create the source row or refresh its descriptive columns; state is kept."""
        existing = self.source(source_id)
        if existing is None:
            self._insert(
                "sources",
                {
                    "id": source_id,
                    "parent_id": parent_id,
                    "url": url,
                    "lab": lab,
                    "title": title,
                    "link_text": link_text,
                    "active": 1,
                    "status": "new",
                    "created_at": clock.iso(clock.now()),
                },
            )
            return
        changes: dict[str, Any] = {}
        for column, value in (("url", url), ("lab", lab), ("title", title), ("active", 1)):
            if existing[column] != value:
                changes[column] = value
        if existing["url"] != url:
            # a new URL has nothing to do with the old validators
            changes.update(etag=None, last_modified=None)
        self._update("sources", "id", source_id, changes)

    def set_active_sources(self, keep: set[str]) -> None:
        """Configured sources in `keep` and their children are active; all others not."""
        for row in self._all("SELECT id, parent_id, active FROM sources"):
            active = int((row["parent_id"] or row["id"]) in keep)
            if row["active"] != active:
                self._update("sources", "id", row["id"], {"active": active})

    def source(self, source_id: str) -> Row | None:
        return self._one("SELECT * FROM sources WHERE id = ?", (source_id,))

    def require_source(self, source_id: str) -> Row:
        row = self.source(source_id)
        if row is None:
            raise NotFound(f"unknown source {source_id!r}")
        return row

    def sources(self, *, include_inactive: bool = False) -> list[Row]:
        where = "" if include_inactive else "WHERE active = 1"
        return self._all(f"SELECT * FROM sources {where} ORDER BY COALESCE(parent_id, id), id")

    def source_overview(self) -> list[Row]:
        """Active sources, each parent followed by its children, with counts."""
        return self._all(
            """
            SELECT s.*,
                   (SELECT COUNT(*) FROM versions v WHERE v.source_id = s.id) AS versions,
                   (SELECT t.id FROM tasks t
                     WHERE t.source_id = s.id AND t.status = 'open') AS open_task,
                   (SELECT COUNT(*) FROM notifications n
                     WHERE n.source_id = s.id AND n.status = 'failed') AS failed_alerts
              FROM sources s
             WHERE s.active = 1
             ORDER BY COALESCE(s.parent_id, s.id), s.parent_id IS NOT NULL, s.id
            """
        )

    def raw_history(self, source_id: str) -> list[Row]:
        """Every successful check that saw bytes: when, which bytes, what came of them."""
        return self._all(
            "SELECT started_at, raw_sha256, outcome, version FROM checks "
            "WHERE source_id = ? AND raw_sha256 IS NOT NULL ORDER BY id",
            (source_id,),
        )

    def children(self, parent_id: str) -> list[Row]:
        return self._all(
            "SELECT * FROM sources WHERE parent_id = ? AND active = 1 ORDER BY created_at, id",
            (parent_id,),
        )

    def update_source(self, source_id: str, **values: Any) -> None:
        self._update("sources", "id", source_id, values)

    # -- checks --

    def add_check(self, **values: Any) -> int:
        return self._insert("checks", values)

    def checks(self, source_id: str, limit: int = 50) -> list[Row]:
        return self._all(
            "SELECT * FROM checks WHERE source_id = ? ORDER BY id DESC LIMIT ?", (source_id, limit)
        )

    def last_answer(self, source_id: str) -> Row | None:
        """The source's latest check that got an answer (any outcome but `failed`)."""
        return self._one(
            "SELECT * FROM checks WHERE source_id = ? AND outcome != 'failed' "
            "ORDER BY id DESC LIMIT 1",
            (source_id,),
        )

    def prune_checks(self, before_iso: str) -> int:
        """Delete check rows started before `before_iso`; return how many went.

        Versions, blobs and tasks are never pruned: a check row is only the
        record of one attempt.
        """
        with self.transaction():
            cursor = self.conn.execute("DELETE FROM checks WHERE started_at < ?", (before_iso,))
        return cursor.rowcount

    # -- versions --

    def latest_version(self, source_id: str) -> VersionRow | None:
        row = self._one(
            "SELECT * FROM versions WHERE source_id = ? ORDER BY number DESC LIMIT 1",
            (source_id,),
        )
        return VersionRow.from_row(row) if row else None

    def version(self, source_id: str, number: int) -> VersionRow:
        row = self._one(
            "SELECT * FROM versions WHERE source_id = ? AND number = ?", (source_id, number)
        )
        if row is None:
            raise NotFound(f"source {source_id!r} has no version {number}")
        return VersionRow.from_row(row)

    def versions(self, source_id: str) -> list[VersionRow]:
        rows = self._all("SELECT * FROM versions WHERE source_id = ? ORDER BY number", (source_id,))
        return [VersionRow.from_row(row) for row in rows]

    def version_with_text(self, source_id: str, text_digest: str) -> int | None:
        """The first version number of `source_id` whose text has this hash."""
        row = self._one(
            "SELECT MIN(number) AS number FROM versions WHERE source_id = ? AND text_sha256 = ?",
            (source_id, text_digest),
        )
        return row["number"] if row and row["number"] is not None else None

    def add_version(self, **values: Any) -> int:
        self._insert("versions", values)
        return int(values["number"])

    def version_text(self, version: VersionRow) -> str:
        return self.get_text(version.text_sha256)

    @staticmethod
    def version_pages(version: VersionRow, text: str) -> tuple[int, ...] | None:
        """The page each line of a version's `text` starts on; None without a page map."""
        if version.page_starts is None:
            return None
        return expand_pages(version.page_starts, text.count("\n") + 1 if text else 0)
