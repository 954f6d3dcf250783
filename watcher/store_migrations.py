"""The schema: numbered migrations, each a small function applied in order.

`PRAGMA user_version` holds how many of `MIGRATIONS` a database has had;
store.py applies the ones it lacks, all in one transaction. The list only
grows: a migration, once released, never changes, so a database created by
any earlier watcher opens unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute `script` statement by statement, inside the caller's transaction.

    Not `executescript()`: on Python 3.11 it commits a pending transaction
    first, which would let another process see a half-migrated schema.
    """
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                conn.execute(statement)
            statement = ""
    if statement.strip(" \n;"):
        conn.execute(statement)


def _m1_initial(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            parent_id TEXT REFERENCES sources(id),
            url TEXT NOT NULL,
            lab TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            link_text TEXT,
            kind TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            etag TEXT,
            last_modified TEXT,
            last_raw_sha256 TEXT,
            fingerprint TEXT,
            fingerprint_at TEXT,
            last_checked TEXT,
            last_changed TEXT,
            status TEXT NOT NULL DEFAULT 'new',
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            config_hash TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX sources_parent ON sources(parent_id);

        CREATE TABLE checks (
            id INTEGER PRIMARY KEY,
            source_id TEXT NOT NULL REFERENCES sources(id),
            started_at TEXT NOT NULL,
            duration_ms INTEGER NOT NULL DEFAULT 0,
            http_status INTEGER,
            bytes INTEGER NOT NULL DEFAULT 0,
            outcome TEXT NOT NULL,
            error TEXT,
            raw_sha256 TEXT,
            version INTEGER
        );
        CREATE INDEX checks_source ON checks(source_id, started_at);

        CREATE TABLE blobs (
            sha256 TEXT PRIMARY KEY,
            encoding TEXT NOT NULL,
            size INTEGER NOT NULL,
            data BLOB NOT NULL
        );

        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            source_id TEXT NOT NULL REFERENCES sources(id),
            number INTEGER NOT NULL,
            captured_at TEXT NOT NULL,
            raw_sha256 TEXT NOT NULL,
            text_sha256 TEXT NOT NULL,
            kind TEXT NOT NULL,
            chars INTEGER NOT NULL,
            words INTEGER NOT NULL,
            returned_to INTEGER,
            reextracted INTEGER NOT NULL DEFAULT 0,
            rules_hash TEXT,
            url TEXT,
            content_type TEXT,
            etag TEXT,
            last_modified TEXT,
            UNIQUE (source_id, number)
        );

        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            source_id TEXT NOT NULL REFERENCES sources(id),
            status TEXT NOT NULL,
            from_version INTEGER NOT NULL,
            to_version INTEGER NOT NULL,
            severity TEXT,
            summary TEXT NOT NULL DEFAULT '',
            assignee TEXT,
            note TEXT,
            opened_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            closed_at TEXT,
            reminded_at TEXT,
            signals TEXT
        );
        CREATE INDEX tasks_source ON tasks(source_id, status);
        -- one open task per source, enforced by the database itself
        CREATE UNIQUE INDEX tasks_one_open ON tasks(source_id) WHERE status = 'open';

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            task_id INTEGER NOT NULL REFERENCES tasks(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            note TEXT
        );
        CREATE INDEX events_task ON events(task_id);

        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            task_id INTEGER REFERENCES tasks(id),
            source_id TEXT REFERENCES sources(id),
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            claimed_at TEXT,
            claim_token TEXT,
            digest_id INTEGER REFERENCES notifications(id)
        );
        CREATE INDEX notifications_due ON notifications(status, next_attempt_at);

        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    )


def _m2_version_search(conn: sqlite3.Connection) -> None:
    # Full-text index of every version's text for the dashboard's search.
    # Texts are compressed blobs, so triggers cannot fill it: rows are added
    # from Python by `Store.index_versions()`, keyed by versions.id (rowid).
    # unicode61 without stemming: 'when did this sentence disappear' wants
    # the words as written; diacritics fold so 'regime' finds 'régime'.
    _run_script(
        conn,
        """
        CREATE VIRTUAL TABLE version_search USING fts5(
            text, tokenize = 'unicode61 remove_diacritics 2'
        );
        """,
    )


def _m3_check_text_and_warning(conn: sqlite3.Connection) -> None:
    # text_sha256: the text a `suspect` check saw, which the next check must
    # see again to confirm; warning: what a good check still reports (why it
    # is suspect, a redirect from https to http).
    _run_script(
        conn,
        """
        ALTER TABLE checks ADD COLUMN text_sha256 TEXT;
        ALTER TABLE checks ADD COLUMN warning TEXT;
        """,
    )


def _m4_claim_owner(conn: sqlite3.Connection) -> None:
    # Who holds a claim (pid and host), so a deliverer that provably died
    # (kill -9 mid-send) can be taken over at once instead of after the lease.
    _run_script(
        conn,
        """
        ALTER TABLE notifications ADD COLUMN claimed_pid INTEGER;
        ALTER TABLE notifications ADD COLUMN claimed_host TEXT;
        """,
    )


def _m5_snapshot_as_sent(conn: sqlite3.Connection) -> None:
    # A version's snapshot is the body as the server sent it, with the headers
    # that matter (url, content_type, etag and last_modified were there from
    # the start; the status and the charset join them). Versions recorded
    # before may hold an HTML page stripped of its script and style bodies:
    # `snapshot_as_sent` stays 1 only where that is known not to be so. Only
    # HTML was ever stripped, and checks.raw_sha256 and sources.last_raw_sha256
    # always named the bytes as fetched, so a check that saw the version's
    # bytes proves them whole; where check rows were pruned, it is 0 (unknown).
    _run_script(
        conn,
        """
        ALTER TABLE versions ADD COLUMN http_status INTEGER;
        ALTER TABLE versions ADD COLUMN charset TEXT;
        ALTER TABLE versions ADD COLUMN snapshot_as_sent INTEGER NOT NULL DEFAULT 1;
        UPDATE versions SET snapshot_as_sent = 0
         WHERE kind = 'html'
           AND NOT EXISTS (SELECT 1 FROM checks c
                            WHERE c.source_id = versions.source_id
                              AND c.raw_sha256 = versions.raw_sha256)
           AND NOT EXISTS (SELECT 1 FROM sources s
                            WHERE s.id = versions.source_id
                              AND s.last_raw_sha256 = versions.raw_sha256);
        -- the status of the check that recorded the version
        UPDATE versions SET http_status = (
            SELECT c.http_status FROM checks c
             WHERE c.source_id = versions.source_id AND c.version = versions.number
             ORDER BY c.id LIMIT 1)
         WHERE reextracted = 0;
        -- a re-extraction's snapshot is that of the last version fetched before it
        UPDATE versions SET (http_status, etag, last_modified) = (
            SELECT v.http_status, v.etag, v.last_modified FROM versions v
             WHERE v.source_id = versions.source_id AND v.raw_sha256 = versions.raw_sha256
               AND v.reextracted = 0 AND v.number < versions.number
             ORDER BY v.number DESC LIMIT 1)
         WHERE reextracted = 1;
        """,
    )


def _m6_fetcher(conn: sqlite3.Connection) -> None:
    # Which fetcher produced a check's answer and a version's snapshot: "http",
    # or "browser" (the snapshot is then the DOM Chromium rendered). NULL: a
    # check that failed before any fetch. Everything before was plain HTTP.
    _run_script(
        conn,
        """
        ALTER TABLE checks ADD COLUMN fetcher TEXT;
        ALTER TABLE versions ADD COLUMN fetcher TEXT NOT NULL DEFAULT 'http';
        UPDATE checks SET fetcher = 'http';
        """,
    )


def _m7_lineage(conn: sqlite3.Connection) -> None:
    # A policy is a lineage of documents: `supersedes` names a followed
    # document's predecessor, `lineage_decision` how that was decided
    # (supersedes / precedes / ambiguous / unrelated / rater; NULL: not yet),
    # `lineage_reason` why, in one line. `unlinked_at`: when the parent page
    # stopped linking the document. `versions.sketch`: the text's lineage
    # sketch (JSON), so decisions never read texts again. `tasks.documents`:
    # the superseding files a task covers (JSON). Documents found before
    # lineage existed count as decided (their own lineage): a rater links them.
    _run_script(
        conn,
        """
        ALTER TABLE sources ADD COLUMN supersedes TEXT REFERENCES sources(id);
        ALTER TABLE sources ADD COLUMN lineage_decision TEXT;
        ALTER TABLE sources ADD COLUMN lineage_reason TEXT;
        ALTER TABLE sources ADD COLUMN unlinked_at TEXT;
        ALTER TABLE versions ADD COLUMN sketch TEXT;
        ALTER TABLE tasks ADD COLUMN documents TEXT;
        CREATE INDEX sources_supersedes ON sources(supersedes);
        UPDATE sources SET lineage_decision = 'unrelated',
                           lineage_reason = 'found before lineage was decided'
         WHERE parent_id IS NOT NULL
           AND EXISTS (SELECT 1 FROM versions v WHERE v.source_id = sources.id);
        """,
    )


def _m8_version_pages(conn: sqlite3.Connection) -> None:
    # A PDF version's page map, beside its text and not in it (the text alone
    # names the version): JSON [[line index, page], ...] where each run of
    # lines on one page starts. NULL for HTML and for versions recorded before.
    _run_script(conn, "ALTER TABLE versions ADD COLUMN pages TEXT;")


def _m9_citations(conn: sqlite3.Connection) -> None:
    # A rater's citation: criterion C of a lab rests on a passage of a source.
    # `anchor` (JSON: quote, context, heading path, page) is where it stands in
    # (source_id, version); `status`, `placement` (JSON) and `checked_*` are
    # what the latest re-anchoring found, in `checked_source` (the source
    # itself or a file superseding it). `removed_at`: removed by a rater, kept
    # for history. `citation_events`: every add, move and removal.
    # `tasks.criteria` (JSON): the graded criteria a task's change touches.
    _run_script(
        conn,
        """
        CREATE TABLE citations (
            id INTEGER PRIMARY KEY,
            lab TEXT NOT NULL,
            criterion TEXT NOT NULL,
            source_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            quote TEXT NOT NULL,
            quote_key TEXT NOT NULL,
            anchor TEXT NOT NULL,
            note TEXT,
            status TEXT NOT NULL DEFAULT 'intact',
            placement TEXT,
            checked_source TEXT,
            checked_version INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            removed_at TEXT
        );
        CREATE INDEX citations_source ON citations(source_id);
        CREATE INDEX citations_lab ON citations(lab, criterion);
        CREATE TABLE citation_events (
            id INTEGER PRIMARY KEY,
            citation_id INTEGER NOT NULL REFERENCES citations(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            source_id TEXT,
            version INTEGER,
            quote TEXT,
            note TEXT
        );
        CREATE INDEX citation_events_citation ON citation_events(citation_id);
        ALTER TABLE tasks ADD COLUMN criteria TEXT;
        """,
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _m1_initial,
    _m2_version_search,
    _m3_check_text_and_warning,
    _m4_claim_owner,
    _m5_snapshot_as_sent,
    _m6_fetcher,
    _m7_lineage,
    _m8_version_pages,
    _m9_citations,
)
SCHEMA_VERSION = len(MIGRATIONS)
