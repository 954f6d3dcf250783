"""What every group of the store's queries builds on: the connection, transactions, rows.

`Store` (store.py) is this class with the query groups of the store_*.py
modules mixed in; each group reaches the database only through what is here.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

from watcher.errors import StorageError

Row = dict[str, Any]


class StoreBase:
    """The connection to a watcher database and the helpers every query uses."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over our connection: savepoints for nested transactions.

        Imported when first needed: sqlite-utils loads its plugins, dateutil and
        more, ~0.1 s of every command that does not nest a transaction.
        """
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of writes. Nested calls become savepoints.

        The outermost level takes the write lock at once (`BEGIN IMMEDIATE`)
        so two processes never both read, then both try to write. Whatever
        fails inside (a full disk included), nothing of the unit is kept.
        """
        if self.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite may have rolled back already (some errors end the
        # transaction); a failing ROLLBACK must not hide the first error.
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error, StorageError):
                self.conn.execute("ROLLBACK")

    def _one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> Row | None:
        row = self.conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[Row]:
        return [dict(row) for row in self.conn.execute(sql, params).fetchall()]

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = self.conn.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values())
        )
        return int(cursor.lastrowid or 0)

    def _update(self, table: str, key: str, key_value: Any, values: dict[str, Any]) -> None:
        if not values:
            return
        sets = ", ".join(f"{column} = ?" for column in values)
        self.conn.execute(
            f"UPDATE {table} SET {sets} WHERE {key} = ?", (*values.values(), key_value)
        )
