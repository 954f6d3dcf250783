"""The outbox: alerts queued in the check's transaction, claimed and sent apart.

A deliverer claims due rows in one write transaction, so two deliverers
never send the same alert; a claim left by a deliverer that died goes back
to the queue once stale.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from watcher import clock
from watcher.errors import NotFound
from watcher.store_base import Row, StoreBase


class OutboxQueries(StoreBase):
    """Queueing, claiming and finishing alerts (the `notifications` table)."""

    def enqueue(
        self,
        *,
        kind: str,
        channel: str,
        payload: dict[str, Any],
        task_id: int | None = None,
        source_id: str | None = None,
        status: str = "pending",
        now: datetime | None = None,
    ) -> int:
        """Queue an alert, due at `now` (the caller's moment; the clock's when not given)."""
        stamp = clock.iso(now or clock.now())
        return self._insert(
            "notifications",
            {
                "task_id": task_id,
                "source_id": source_id,
                "kind": kind,
                "channel": channel,
                "payload": json.dumps(payload, sort_keys=True),
                "status": status,
                "attempts": 0,
                "next_attempt_at": stamp,
                "created_at": stamp,
            },
        )

    def notifications(self, status: str | None = None) -> list[Row]:
        if status is None:
            return self._all("SELECT * FROM notifications ORDER BY id")
        return self._all("SELECT * FROM notifications WHERE status = ? ORDER BY id", (status,))

    def first_notification(self, task_id: int, channel: str) -> int | None:
        """The id of the first alert queued about a task for a channel (its thread's root)."""
        row = self._one(
            "SELECT MIN(id) AS id FROM notifications WHERE task_id = ? AND channel = ?",
            (task_id, channel),
        )
        return row["id"] if row else None

    def alerted_channels(self, task_id: int, kind: str = "change") -> list[str]:
        """The channels queued an alert of `kind` about a task (held or sent alike), by name."""
        rows = self._all(
            "SELECT DISTINCT channel FROM notifications WHERE task_id = ? AND kind = ? "
            "ORDER BY channel",
            (task_id, kind),
        )
        return [row["channel"] for row in rows]

    def notification(self, notification_id: int) -> Row:
        row = self._one("SELECT * FROM notifications WHERE id = ?", (notification_id,))
        if row is None:
            raise NotFound(f"no notification {notification_id}")
        return row

    def claim_notifications(
        self,
        channels: Sequence[str],
        *,
        now: str,
        stale_before: str,
        token: str,
        limit: int,
        kinds: Sequence[str] | None = None,
        pid: int | None = None,
        host: str | None = None,
    ) -> list[Row]:
        """Mark up to `limit` due rows of `channels` as being sent by `token`, atomically.

        Due: pending with `next_attempt_at` reached, or left `sending` by a
        deliverer that died before `stale_before`. Two deliverers never claim
        the same row: the claim is one write transaction. The claim records
        the deliverer's pid and host (this process's by default).
        """
        if not channels:
            return []
        with self.transaction():
            where, params = self._due(channels, now, stale_before, kinds)
            rows = self._all(
                f"SELECT id FROM notifications WHERE {where} ORDER BY id LIMIT ?",
                (*params, limit),
            )
            ids = [row["id"] for row in rows]
            for notification_id in ids:
                self._update(
                    "notifications",
                    "id",
                    notification_id,
                    {
                        "status": "sending",
                        "claimed_at": now,
                        "claim_token": token,
                        "claimed_pid": os.getpid() if pid is None else pid,
                        "claimed_host": socket.gethostname() if host is None else host,
                    },
                )
        return [self.notification(notification_id) for notification_id in ids]

    def count_due(
        self, channel: str, *, now: str, stale_before: str, kinds: Sequence[str] | None = None
    ) -> int:
        """How many rows of `channel` `claim_notifications` would take now."""
        where, params = self._due([channel], now, stale_before, kinds)
        row = self._one(f"SELECT COUNT(*) AS n FROM notifications WHERE {where}", params)
        return int(row["n"]) if row else 0

    @staticmethod
    def _due(
        channels: Sequence[str], now: str, stale_before: str, kinds: Sequence[str] | None
    ) -> tuple[str, tuple[Any, ...]]:
        marks = ", ".join("?" for _ in channels)
        where = f"""channel IN ({marks})
                   AND ((status = 'pending' AND next_attempt_at <= ?)
                        OR (status = 'sending' AND claimed_at < ?))"""
        params: tuple[Any, ...] = (*channels, now, stale_before)
        if kinds is not None:
            where += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params += tuple(kinds)
        return where, params

    def claims(self) -> list[Row]:
        """Rows being sent: who claimed them (token, pid, host) and when."""
        return self._all(
            "SELECT id, channel, claimed_at, claim_token, claimed_pid, claimed_host "
            "FROM notifications WHERE status = 'sending' ORDER BY id"
        )

    def release_claim(self, notification_id: int, token: str) -> bool:
        """Put a row claimed by `token` back in the queue as it was (no attempt spent)."""
        cursor = self.conn.execute(
            "UPDATE notifications SET status = 'pending', claim_token = NULL "
            "WHERE id = ? AND claim_token = ? AND status = 'sending'",
            (notification_id, token),
        )
        return cursor.rowcount == 1

    def fail_pending(self, channel: str, reason: str) -> int:
        """Mark every pending row of `channel` failed with `reason`; return how many."""
        cursor = self.conn.execute(
            "UPDATE notifications SET status = 'failed', last_error = ? "
            "WHERE channel = ? AND status = 'pending'",
            (reason, channel),
        )
        return cursor.rowcount

    def finish_notification(self, notification_id: int, token: str, **values: Any) -> bool:
        """Record a delivery attempt's result if this deliverer still holds the claim."""
        sets = ", ".join(f"{column} = ?" for column in values)
        cursor = self.conn.execute(
            f"UPDATE notifications SET {sets}, claim_token = NULL "
            "WHERE id = ? AND claim_token = ? AND status = 'sending'",
            (*values.values(), notification_id, token),
        )
        return cursor.rowcount == 1

    def update_notification(self, notification_id: int, **values: Any) -> None:
        self._update("notifications", "id", notification_id, values)

    def count_waiting(self, channel: str) -> int:
        """How many alerts of `channel` are still to be sent (pending or being sent)."""
        row = self._one(
            "SELECT COUNT(*) AS n FROM notifications "
            "WHERE channel = ? AND status IN ('pending', 'sending')",
            (channel,),
        )
        return int(row["n"]) if row else 0

    def notification_counts(self) -> dict[str, int]:
        """How many alerts the outbox holds in each status."""
        rows = self._all("SELECT status, COUNT(*) AS n FROM notifications GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}
