"""The outbox: deliver queued alerts, retry what failed, never send one twice.

Alerts are rows of `notifications`, written in the same transaction as the
change that causes them. Delivery claims due rows in a write transaction
(so a `watcher check` beside the daemon never takes the same row), sends
each through its channel, and records the result only while it still holds
the claim. A transient failure is retried with exponential backoff and
jitter (honouring Slack's Retry-After); a permanent one, or too many
transient ones, marks the row `failed` with its reason. Rows of a channel
whose secret is not set wait, untouched, until it is.

Also here: reminders for tasks left open, and the daily digest of changes
held back as below `alert_min_severity`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from watcher import clock, detect
from watcher.config import SEVERITIES, Config
from watcher.errors import DeliveryError, TaskStateError, WatcherError
from watcher.models import Link, Signal
from watcher.notify import Sender, make_sender
from watcher.notify.alert import Alert
from watcher.store import Row, Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # transient failures before a row is marked failed
BACKOFF_BASE_S = 30.0  # first retry after up to this long, doubling each time
BACKOFF_CAP_S = 3600.0  # never wait longer than this between attempts
LEASE_S = 600.0  # a claim this old belongs to a deliverer that died mid-send
BATCH = 50  # rows claimed at a time
ALERT_SIGNALS = 20  # signals an alert carries at most


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: dict[str, list[str]] = field(default_factory=dict)  # channel → unset variables

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


def backoff_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempts + 1`: full jitter, or the server's wish."""
    if retry_after is not None:
        return min(max(retry_after, 1.0), BACKOFF_CAP_S)
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def should_hold(severity: str | None, threshold: str) -> bool:
    """Whether a change of `severity` waits for the digest instead of alerting now.

    Without a severity (no change analysis) every change alerts at once.
    """
    if severity is None or severity not in SEVERITIES or threshold not in SEVERITIES:
        return False
    return SEVERITIES.index(severity) < SEVERITIES.index(threshold)


# --- delivery ------------------------------------------------------------------


async def deliver_due(
    config: Config,
    store: Store,
    *,
    environ: Mapping[str, str] | None = None,
    senders: Mapping[str, Sender] | None = None,
) -> DeliveryReport:
    """Send every due alert once; return what happened."""
    env = os.environ if environ is None else environ
    report = DeliveryReport()
    _fail_orphans(config, store)
    active: dict[str, Sender] = dict(senders or {})
    owned: list[Sender] = []
    for name, channel in config.channels.items():
        if name in active:
            continue
        missing = channel.secret_missing(env)
        if missing:
            report.waiting[name] = missing
            continue
        sender = make_sender(channel, env)
        if sender is not None:
            active[name] = sender
            owned.append(sender)
    token = uuid.uuid4().hex
    try:
        while True:
            now = clock.now()
            rows = store.claim_notifications(
                sorted(active),
                now=clock.iso(now),
                stale_before=clock.iso(now - timedelta(seconds=LEASE_S)),
                token=token,
                limit=BATCH,
            )
            for row in rows:
                await _deliver(config, store, row, active[row["channel"]], token, report)
            if len(rows) < BATCH:
                break
    finally:
        for sender in owned:
            await sender.aclose()
    return report


async def _deliver(
    config: Config, store: Store, row: Row, sender: Sender, token: str, report: DeliveryReport
) -> None:
    attempts = int(row["attempts"]) + 1
    now = clock.now()
    try:
        alert = build_alert(config, store, row)
        await sender.send(alert)
    except DeliveryError as exc:
        if exc.transient and attempts < MAX_ATTEMPTS:
            delay = backoff_delay(attempts, exc.retry_after)
            store.finish_notification(
                row["id"],
                token,
                status="pending",
                attempts=attempts,
                last_error=exc.reason,
                next_attempt_at=clock.iso(now + timedelta(seconds=delay)),
            )
            report.retrying += 1
            log.warning(
                "delivery %d (%s to %s) failed, retry in %.0fs: %s",
                row["id"], row["kind"], row["channel"], delay, exc.reason,
            )  # fmt: skip
            return
        _mark_failed(store, row, token, attempts, exc.reason, report)
        return
    except WatcherError as exc:  # the alert could not even be built
        _mark_failed(store, row, token, attempts, exc.reason, report)
        return
    store.finish_notification(
        row["id"], token, status="sent", attempts=attempts, last_error=None, sent_at=clock.iso(now)
    )
    report.sent += 1
    log.info("delivery %d (%s to %s) sent", row["id"], row["kind"], row["channel"])


def _mark_failed(
    store: Store, row: Row, token: str, attempts: int, reason: str, report: DeliveryReport
) -> None:
    store.finish_notification(
        row["id"], token, status="failed", attempts=attempts, last_error=reason
    )
    report.failed += 1
    log.error("delivery %d (%s to %s) failed: %s", row["id"], row["kind"], row["channel"], reason)


def _fail_orphans(config: Config, store: Store) -> None:
    """Rows for a channel no longer in the config can never be sent: say so."""
    with store.transaction():
        for row in store.notifications("pending"):
            if row["channel"] not in config.channels:
                store.update_notification(
                    row["id"],
                    status="failed",
                    last_error=f"channel {row['channel']!r} is not in the config",
                )


def retry(store: Store, notification_id: int) -> Row:
    """Put a failed alert back in the queue, due now."""
    with store.transaction():
        row = store.notification(notification_id)
        if row["status"] != "failed":
            raise TaskStateError(f"notification {notification_id} is {row['status']}, not failed")
        store.update_notification(
            notification_id,
            status="pending",
            attempts=0,
            next_attempt_at=clock.iso(clock.now()),
            claim_token=None,
        )
    return store.notification(notification_id)


# --- building alerts from rows ---------------------------------------------------


def _link(config: Config, task_id: int | None, url: str) -> str:
    base = config.watcher.dashboard_url
    if base and task_id is not None:
        return f"{base}/tasks/{task_id}"
    return url


def build_alert(config: Config, store: Store, row: Row) -> Alert:
    """Gather what an alert shows from its row and the database."""
    payload: dict[str, Any] = json.loads(row["payload"])
    kind = row["kind"]
    if kind == "change":
        return _change_alert(config, store, payload)
    if kind == "digest":
        items = tuple(
            _change_alert(
                config, store, json.loads(store.notification(item)["payload"]), diff=False
            )
            for item in payload.get("items", [])
        )
        return Alert(kind="digest", items=items, link=config.watcher.dashboard_url)
    if kind == "reminder":
        task = store.task(payload["task_id"])
        source = store.require_source(task["source_id"])
        return Alert(
            kind="reminder",
            source_id=source["id"],
            lab=source["lab"],
            title=source["title"],
            url=source["url"],
            link=_link(config, task["id"], source["url"]),
            task_id=task["id"],
            from_version=task["from_version"],
            new_version=task["to_version"],
            summary=task["summary"],
            severity=task["severity"],
            signals=_signals(json.loads(task["signals"]) if task["signals"] else None),
            opened_at=task["opened_at"],
            assignee=task["assignee"],
        )
    if kind in ("failing", "recovered"):
        return Alert(
            kind=kind,
            source_id=payload["source_id"],
            lab=payload.get("lab", ""),
            title=payload.get("title", ""),
            url=payload.get("url", ""),
            link=payload.get("url", ""),
            error=payload.get("error"),
            failures=payload.get("failures"),
        )
    if kind == "test":
        return Alert(kind="test", summary=payload.get("message", ""))
    raise DeliveryError(f"unknown alert kind {kind!r}", transient=False)


def _change_alert(
    config: Config, store: Store, payload: dict[str, Any], *, diff: bool = True
) -> Alert:
    source_id = payload["source_id"]
    old_number, new_number = payload["old_version"], payload["new_version"]
    old = store.version(source_id, old_number)
    new = store.version(source_id, new_number)
    change = None
    if diff and old.text_sha256 != new.text_sha256:
        change = detect.diff(store.version_text(old), store.version_text(new))
    return Alert(
        kind="change",
        source_id=source_id,
        lab=payload.get("lab", ""),
        title=payload.get("title", ""),
        url=payload.get("url", ""),
        link=_link(config, payload.get("task_id"), payload.get("url", "")),
        event=payload.get("event"),
        task_id=payload.get("task_id"),
        from_version=payload.get("from_version"),
        old_version=old_number,
        new_version=new_number,
        old_captured_at=old.captured_at,
        new_captured_at=new.captured_at,
        change=change,
        summary=payload.get("summary", ""),
        severity=payload.get("severity"),
        signals=_signals(payload.get("signals")),
        new_documents=tuple(
            Link(d["url"], d.get("text", "")) for d in payload.get("new_documents", [])
        ),
    )


def _signals(data: list[dict[str, Any]] | None) -> tuple[Signal, ...]:
    return tuple(Signal(**item) for item in data or [])[:ALERT_SIGNALS]


# --- reminders and digests --------------------------------------------------------


def _channels_of(config: Config, source_id: str, store: Store) -> tuple[str, ...]:
    row = store.source(source_id)
    top = (row["parent_id"] if row else None) or source_id
    for source in config.sources:
        if source.id == top:
            return source.notify
    return ()


def enqueue_reminders(config: Config, store: Store, now: datetime | None = None) -> int:
    """Queue a reminder for each task open past `remind_after`, then every `remind_every`."""
    moment = now or clock.now()
    after = timedelta(seconds=config.watcher.remind_after)
    every = timedelta(seconds=config.watcher.remind_every)
    queued = 0
    with store.transaction():
        for task in store.tasks("open"):
            opened = clock.parse_iso(task["opened_at"])
            last = clock.parse_iso(task["reminded_at"]) if task["reminded_at"] else None
            due = opened + after if last is None else last + every
            if moment < due:
                continue
            for channel in _channels_of(config, task["source_id"], store):
                store.enqueue(
                    kind="reminder",
                    channel=channel,
                    payload={"task_id": task["id"]},
                    task_id=task["id"],
                    source_id=task["source_id"],
                    now=moment,
                )
                queued += 1
            store.update_task(task["id"], reminded_at=clock.iso(moment))
    return queued


def digest_due_at(config: Config, moment: datetime) -> datetime:
    """Today's digest time (UTC) at or before `moment`, else yesterday's."""
    hours, minutes = (int(part) for part in config.watcher.digest_at.split(":"))
    today = moment.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    return today if today <= moment else today - timedelta(days=1)


def make_digests(config: Config, store: Store, now: datetime | None = None) -> int:
    """Once a day at `digest_at`: one digest per channel of the changes held for it."""
    moment = now or clock.now()
    due = digest_due_at(config, moment)
    with store.transaction():
        last = store.meta("last_digest_at")
        if last is not None and clock.parse_iso(last) >= due:
            return 0
        held: dict[str, list[int]] = {}
        for row in store.notifications("held"):
            held.setdefault(row["channel"], []).append(row["id"])
        for channel, ids in held.items():
            digest_id = store.enqueue(
                kind="digest", channel=channel, payload={"items": ids}, now=moment
            )
            for item in ids:
                store.update_notification(item, status="digested", digest_id=digest_id)
        store.set_meta("last_digest_at", clock.iso(due))
    return len(held)


def housekeeping(config: Config, store: Store, now: datetime | None = None) -> None:
    """What is due besides checks: reminders and the daily digest."""
    enqueue_reminders(config, store, now)
    make_digests(config, store, now)
