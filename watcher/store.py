"""The store: the only code that speaks SQL (this module and the store_*.py beside it).

One SQLite file (`watcher.db` in `state_dir`) in WAL mode with a busy
timeout, so a `watcher check` can run beside a daemon. This module opens it,
migrates it and closes it; `Store` is the base of store_base.py (connection,
transactions, row helpers) with one group of queries per subject mixed in:
blobs (store_blobs.py), sources, checks and versions (store_sources.py),
lineage (store_lineage.py), tasks and events (store_tasks.py), the outbox
(store_outbox.py), citations (store_citations.py), the search index and the
changes feed (store_search.py). The schema version lives in
`PRAGMA user_version`; migrations are numbered functions (store_migrations.py),
applied under the write lock after reading the version again, so processes
opening a new state folder together never apply one twice.

sqlite3 errors that are about the file rather than the code (disk full,
read-only, locked, corrupt, cannot open, I/O) become `StorageError`, naming
the file and what to do, wherever they happen: every statement goes through
`_Connection`, which maps them.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from watcher.errors import StorageError, StoreError
from watcher.store_base import Row  # noqa: F401  (public here too)
from watcher.store_blobs import ZSTD_MIN_PREFIX, ZSTD_TEXT_PREFIX, sha256  # noqa: F401  (public here too)
from watcher.store_citations import CitationQueries
from watcher.store_lineage import LineageQueries
from watcher.store_migrations import MIGRATIONS, SCHEMA_VERSION
from watcher.store_outbox import OutboxQueries
from watcher.store_search import SearchQueries
from watcher.store_sources import VersionRow, decode_pages, encode_pages  # noqa: F401  (public here too)
from watcher.store_tasks import TaskQueries

log = logging.getLogger(__name__)

DB_NAME = "watcher.db"
BUSY_TIMEOUT_S = 30.0
PAGE_SIZE = 1024


# --- sqlite3 errors at the boundary -----------------------------------------

# Primary result codes (the low byte of an extended code) that are about the
# file, not the SQL; any other sqlite3 error is a bug and stays what it is.
_CAUSES: dict[int, str] = {
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_READONLY: "readonly",
    sqlite3.SQLITE_PERM: "readonly",
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_CORRUPT: "corrupt",
    sqlite3.SQLITE_NOTADB: "corrupt",
    sqlite3.SQLITE_CANTOPEN: "cantopen",
    sqlite3.SQLITE_IOERR: "ioerr",
}


def _cause(exc: sqlite3.Error) -> str | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return _CAUSES.get(code & 0xFF) if isinstance(code, int) else None


def storage_error(exc: sqlite3.Error, path: Path, *, opening: bool = False) -> StorageError:
    """`exc` as a StorageError naming `path` (cause "other" when not about the file)."""
    return StorageError(path, _cause(exc) or "other", str(exc), opening=opening)


@contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Any failure to open the database, as a StorageError marked `opening`."""
    try:
        yield
    except StorageError as exc:
        raise exc.while_opening() from exc
    except sqlite3.Error as exc:
        raise storage_error(exc, path, opening=True) from exc
    except OSError as exc:
        cause = "readonly" if isinstance(exc, PermissionError) else "cantopen"
        raise StorageError(path, cause, exc.strerror or str(exc), opening=True) from exc


class _Cursor(sqlite3.Cursor):
    """A cursor whose file errors are StorageErrors (rows are read lazily, so
    a damaged page can surface in a fetch as well as in an execute)."""

    def _mapped(self, exc: sqlite3.Error) -> BaseException:
        if _cause(exc) is None:
            return exc
        connection = self.connection
        return storage_error(
            exc, connection.path if isinstance(connection, _Connection) else Path()
        )

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise self._mapped(exc) from exc

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        try:
            return super().executemany(sql, seq_of_parameters)
        except sqlite3.Error as exc:
            raise self._mapped(exc) from exc

    def executescript(self, sql_script: str, /) -> _Cursor:
        try:
            super().executescript(sql_script)
            return self
        except sqlite3.Error as exc:
            raise self._mapped(exc) from exc

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise self._mapped(exc) from exc

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(size)
        except sqlite3.Error as exc:
            raise self._mapped(exc) from exc

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise self._mapped(exc) from exc

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise self._mapped(exc) from exc


class _Connection(sqlite3.Connection):
    """A connection whose file errors are StorageErrors naming the database."""

    path: Path = Path()

    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        # not super().execute(): its cursor would be a plain one
        cursor = self.cursor()
        cursor.execute(sql, parameters)
        return cursor

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(sql_script)
        except sqlite3.Error as exc:
            if _cause(exc) is None:
                raise
            raise storage_error(exc, self.path) from exc


def _connect(target: str, path: Path, *, uri: bool = False) -> _Connection:
    conn = sqlite3.connect(
        target,
        timeout=BUSY_TIMEOUT_S,
        isolation_level=None,
        check_same_thread=False,
        factory=_Connection,
        uri=uri,
    )
    assert isinstance(conn, _Connection)
    conn.path = path
    conn.row_factory = sqlite3.Row
    return conn


def _use_wal(conn: _Connection) -> None:
    """Put the database in WAL mode (a no-op once it is: the mode is persistent).

    Switching a new file needs a moment of exclusive access, and SQLite
    answers "locked" at once instead of waiting the busy timeout, when other
    processes are opening the same new file: retry until the timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except StorageError as exc:
            if exc.cause != "locked" or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Store(LineageQueries, SearchQueries, TaskQueries, OutboxQueries, CitationQueries):
    """A watcher database. Open with `Store.open(state_dir)` (reading and writing)
    or `Store.open_for_reading(state_dir)` (commands that only read)."""

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        """Open (creating and migrating as needed) the database in `state_dir`.

        Raises StorageError (`opening` set) when it cannot be opened.
        """
        path = state_dir / DB_NAME
        conn: _Connection | None = None
        try:
            with _opening(path):
                state_dir.mkdir(parents=True, exist_ok=True)
                conn = _connect(str(path), path)
                if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
                    # Most rows are compressed blobs of 3-20 KB spilling into
                    # overflow pages, each wasting half a page on average: small
                    # pages waste less (a 1000-document pass: 24.5 MB -> 23.2 MB).
                    # Only a new, empty file takes it, and before WAL mode.
                    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
                _use_wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
                store = cls(conn, path)
                store.migrate()
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, state_dir: Path) -> Store:
        """Open the existing database in `state_dir` for reading only; never writes.

        Works in a read-only state folder: a WAL database there is read
        through its -shm file when one exists, else as an immutable file
        (SQLite cannot create the -shm file it otherwise needs). No migration
        runs: a database from an older watcher is a StorageError ("outdated").
        """
        path = state_dir / DB_NAME
        if not path.is_file():
            raise StorageError(path, "missing", "no such file", opening=True)
        uri = "file:" + pathname2url(str(path.absolute()))
        conn: _Connection | None = None
        try:
            with _opening(path):
                try:
                    conn = _connect(uri + "?mode=ro", path, uri=True)
                    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                except (sqlite3.Error, StorageError) as exc:
                    if not isinstance(exc, StorageError):
                        exc = storage_error(exc, path)
                    if exc.cause != "cantopen":
                        raise
                    if conn is not None:
                        conn.close()
                    # No -shm file and no right to create one: nothing writes
                    # here either (the folder is read-only), so the file as it
                    # stands is the whole database.
                    conn = _connect(uri + "?immutable=1", path, uri=True)
                    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                conn.execute("PRAGMA query_only = 1")
                store = cls(conn, path, readonly=True)
                current = store.schema_version
                store._refuse_newer(current)
                if current < SCHEMA_VERSION:
                    raise StorageError(
                        path,
                        "outdated",
                        f"schema version {current}, this watcher needs {SCHEMA_VERSION}",
                        opening=True,
                    )
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return store

    @classmethod
    def open_for_reading(cls, state_dir: Path) -> Store:
        """The database for a command that only reads.

        An existing, current database is opened read-only (so reading works
        in a read-only state folder and takes no write lock); a missing or
        outdated one is created or migrated as `open` does.
        """
        path = state_dir / DB_NAME
        if path.is_file():
            try:
                return cls.open_readonly(state_dir)
            except StorageError as exc:
                if exc.cause != "outdated":
                    raise
        return cls.open(state_dir)

    def close(self) -> None:
        """Close, folding the write-ahead log back into the database file.

        Without the checkpoint the -wal file keeps the pass's pages until the
        next writer, doubling the state folder's size in between. Another
        process still reading (a daemon beside `watcher check`) makes the
        TRUNCATE a no-op, which is fine.
        """
        if not self.readonly:
            with contextlib.suppress(sqlite3.Error, StorageError):
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- migrations --

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _refuse_newer(self, current: int) -> None:
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this watcher "
                f"understands ({SCHEMA_VERSION}); upgrade watcher"
            )

    def migrate(self) -> None:
        """Apply the migrations this database lacks, all in one transaction.

        The version is read again once the write lock is held: another
        process opening the same new state folder may have migrated it in
        the meantime, and then there is nothing left to do.
        """
        current = self.schema_version
        self._refuse_newer(current)
        if current == SCHEMA_VERSION:
            return
        with self.transaction():
            current = self.schema_version
            self._refuse_newer(current)
            for number in range(current + 1, SCHEMA_VERSION + 1):
                migration = MIGRATIONS[number - 1]
                log.info(
                    "migrating %s to schema version %d (%s)", self.path, number, migration.__name__
                )
                migration(self.conn)
                self.conn.execute(f"PRAGMA user_version = {number}")

    # -- meta --

    def meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    def delete_meta(self, key: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- integrity --

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def verify(self) -> None:
        """Raise StorageError ("corrupt", `opening`) unless SQLite's quick check passes.

        Reads every page once (~25 ms for a 13 MB database): for a long-lived
        process to refuse a damaged file at start rather than fail page by page.
        """
        try:
            rows = self.conn.execute("PRAGMA quick_check(3)").fetchall()
        except StorageError as exc:
            raise exc.while_opening() from exc
        problems = [str(row[0]) for row in rows]
        if problems != ["ok"]:
            raise StorageError(self.path, "corrupt", "; ".join(problems), opening=True)
