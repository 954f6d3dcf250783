"""Review tasks and their events (the audit trail of what raters did)."""

from __future__ import annotations

from typing import Any

from watcher import clock
from watcher.errors import NotFound
from watcher.store_base import Row, StoreBase


class TaskQueries(StoreBase):
    """Tasks, one open per source at most, and their events."""

    def open_task(self, source_id: str) -> Row | None:
        return self._one(
            "SELECT * FROM tasks WHERE source_id = ? AND status = 'open'", (source_id,)
        )

    def task(self, task_id: int) -> Row:
        row = self._one("SELECT * FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFound(f"no task {task_id}")
        return row

    def tasks(self, status: str | None = None) -> list[Row]:
        if status is None:
            return self._all("SELECT * FROM tasks ORDER BY id")
        return self._all("SELECT * FROM tasks WHERE status = ? ORDER BY id", (status,))

    def tasks_with_documents(self) -> list[Row]:
        return self._all("SELECT * FROM tasks WHERE documents IS NOT NULL ORDER BY id")

    def add_task(self, **values: Any) -> int:
        return self._insert("tasks", values)

    def update_task(self, task_id: int, **values: Any) -> None:
        self._update("tasks", "id", task_id, values)

    def add_event(self, task_id: int, *, actor: str, action: str, note: str | None = None) -> None:
        self._insert(
            "events",
            {
                "task_id": task_id,
                "at": clock.iso(clock.now()),
                "actor": actor,
                "action": action,
                "note": note,
            },
        )

    def events(self, task_id: int) -> list[Row]:
        return self._all("SELECT * FROM events WHERE task_id = ? ORDER BY id", (task_id,))

    def source_tasks(self, source_id: str) -> list[Row]:
        """Every task of one source, oldest first."""
        return self._all("SELECT * FROM tasks WHERE source_id = ? ORDER BY id", (source_id,))
