"""The outbox: deliver queued alerts, retry what failed, never send one twice.

Alerts are rows of `notifications`, written in the same transaction as the
change that causes them. Delivery claims due rows in a write transaction
(so a `watcher check` beside the daemon never takes the same row), sends
each through its channel, and records the result only while it still holds
the claim. A transient failure is retried with exponential backoff and
jitter; a permanent one, or too many transient ones, marks the row `failed`
with its reason. Rows of a channel whose secret is not set wait, untouched,
until it is.

Channels are rate limited (a Slack webhook takes about a message a second),
so each is paced (`pace`), many alerts due at once for one channel go as one
summary message (`batch_over`), and a "slow down" answer (Slack's 429, an
SMTP 4xx) pauses that channel for its Retry-After without spending the
alert's attempts; only a channel that refuses everything for a day gives up.
A claim records the deliverer's pid and host: claims of a process that is
gone are taken over at once, others after a one-minute lease.

Also here: reminders for tasks left open, and the daily digest of changes
held back as below `alert_min_severity`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from watcher import clock, detect
from watcher.config import APPRISE_INSTALL, SEVERITIES, Config, apprise_missing
from watcher.config_values import parse_schedule
from watcher.errors import DeliveryError, TaskStateError, WatcherError
from watcher.models import Link, Signal
from watcher.notify import Sender, make_sender
from watcher.notify.alert import TASK_NOTICES, Alert
from watcher.queries import listed_task
from watcher.store import Row, Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # transient failures before a row is marked failed
BACKOFF_BASE_S = 30.0  # first retry after up to this long, doubling each time
BACKOFF_CAP_S = 3600.0  # never wait longer than this between attempts
# A claim this old belongs to a deliverer that died mid-send. One delivery is
# bounded by its sender's timeout (Slack 10 s, SMTP 30 s per operation), and a
# row is claimed just before it is sent, so a minute is ample.
LEASE_S = 60.0
THROTTLE_CAP_S = 86_400.0  # a channel refusing everything as rate limited this long: give up
BATCH_ITEMS = 50  # alerts listed in one summary message at most
ALERT_SIGNALS = 20  # signals an alert carries at most
# Kinds that a summary message may list; a digest is already a list, a test is direct.
BATCHABLE = ("change", "reminder", "failing", "recovered", *TASK_NOTICES)

_PAUSED = "channel.{}.paused_until"  # meta: no message to the channel before this time
_THROTTLED = "channel.{}.throttled_since"  # meta: first "slow down" since the last success


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    throttled: int = 0  # refused as rate limited: back in the queue, no attempt spent
    messages: int = 0  # messages the channels accepted (a summary lists several alerts)
    # channel → what its alerts wait for (unset variables, a real smtp_host) and how
    # many wait; only channels with alerts waiting (nothing to send waits for nothing)
    waiting: dict[str, list[str]] = field(default_factory=dict)
    waiting_alerts: dict[str, int] = field(default_factory=dict)
    paused: dict[str, str] = field(default_factory=dict)  # channel → paused until (ISO)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed + self.throttled


class Pacer:
    """Spaces the messages to each channel: one every `pace` seconds at most.

    `sleep` and `monotonic` are injectable so tests pace on a virtual clock.
    The daemon keeps one pacer for its life, so pacing holds across runs.
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sleep = sleep
        self._monotonic = monotonic
        self._last: dict[str, float] = {}

    async def wait(self, channel: str, pace: float) -> None:
        """Return once a message to `channel` keeps to its pace."""
        last = self._last.get(channel)
        if pace > 0 and last is not None:
            left = last + pace - self._monotonic()
            if left > 0:
                await self._sleep(left)

    def sent(self, channel: str) -> None:
        self._last[channel] = self._monotonic()


def backoff_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempts + 1`: full jitter, or the server's wish."""
    if retry_after is not None:
        return min(max(retry_after, 1.0), BACKOFF_CAP_S)
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def throttle_pause(throttled_for: float, retry_after: float | None) -> float:
    """Seconds a channel waits after a "slow down": its Retry-After, else doubling from 30 s."""
    if retry_after is not None:
        return min(max(retry_after, 1.0), BACKOFF_CAP_S)
    return min(max(throttled_for, BACKOFF_BASE_S), BACKOFF_CAP_S)


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
    pacer: Pacer | None = None,
) -> DeliveryReport:
    """Send every due alert once; return what happened.

    Channels are served side by side: one channel paced or paused (it answered
    "slow down") never holds up the others.
    """
    env = os.environ if environ is None else environ
    report = DeliveryReport()
    _fail_orphans(config, store)
    reclaim_dead_claims(store)
    active: dict[str, Sender] = dict(senders or {})
    owned: list[Sender] = []
    for name, channel in config.channels.items():
        if name in active:
            continue
        missing = channel.waiting_for(env)
        if not missing and channel.type == "apprise" and apprise_missing():
            missing = [f"the Apprise package ({APPRISE_INSTALL})"]
        if missing:
            if count := store.count_waiting(name):
                report.waiting[name] = missing
                report.waiting_alerts[name] = count
            continue
        sender = make_sender(channel, env, config.watcher)
        if sender is not None:
            active[name] = sender
            owned.append(sender)
    token = uuid.uuid4().hex
    pacer = pacer or Pacer()
    try:
        results = await asyncio.gather(
            *(
                _drain(config, store, name, sender, token, pacer, report)
                for name, sender in sorted(active.items())
                if name in config.channels
            ),
            return_exceptions=True,
        )
        for result in results:  # every channel had its turn; then the first error
            if isinstance(result, BaseException):
                raise result
    finally:
        for sender in owned:
            await sender.aclose()
    return report


async def _drain(
    config: Config,
    store: Store,
    name: str,
    sender: Sender,
    token: str,
    pacer: Pacer,
    report: DeliveryReport,
) -> None:
    """Send one channel's due alerts, one message at a time, at its pace."""
    channel = config.channels[name]
    while True:
        now = clock.now()
        paused = store.meta(_PAUSED.format(name))
        if paused is not None and clock.parse_iso(paused) > now:
            report.paused[name] = paused
            return
        stamp, stale = _due_window(now)
        if not store.count_due(name, now=stamp, stale_before=stale):
            return
        await pacer.wait(name, channel.pace)
        # Claimed only now, after the wait: a claim is held for one send, not a queue's worth.
        stamp, stale = _due_window(clock.now())
        rows: list[Row] = []
        if (
            store.count_due(name, now=stamp, stale_before=stale, kinds=BATCHABLE)
            > channel.batch_over
        ):
            rows = store.claim_notifications(
                [name], now=stamp, stale_before=stale, token=token, limit=BATCH_ITEMS,
                kinds=BATCHABLE,
            )  # fmt: skip
        if not rows:
            rows = store.claim_notifications(
                [name], now=stamp, stale_before=stale, token=token, limit=1
            )
        if not rows:
            continue  # another deliverer took them while we waited
        if len(rows) == 1:
            outcome = await _deliver(config, store, rows[0], sender, token, report)
        else:
            outcome = await _deliver_summary(config, store, rows, sender, token, report)
        pacer.sent(name)
        if outcome == "throttled":
            return


def _due_window(now: datetime) -> tuple[str, str]:
    """`now` and the claim time before which a `sending` row's lease has run out."""
    return clock.iso(now), clock.iso(now - timedelta(seconds=LEASE_S))


Outcome = Literal["sent", "retrying", "failed", "throttled"]


async def _deliver(
    config: Config, store: Store, row: Row, sender: Sender, token: str, report: DeliveryReport
) -> Outcome:
    attempts = int(row["attempts"]) + 1
    now = clock.now()
    try:
        alert = build_alert(config, store, row)
        await sender.send(alert)
    except DeliveryError as exc:
        return _failed_send(store, [row], token, exc, report)
    except WatcherError as exc:  # the alert could not even be built
        _mark_failed(store, row, token, attempts, exc.reason, report)
        return "failed"
    _mark_sent(store, [row], token, now, report)
    log.info("delivery %d (%s to %s) sent", row["id"], row["kind"], row["channel"])
    return "sent"


async def _deliver_summary(
    config: Config,
    store: Store,
    rows: list[Row],
    sender: Sender,
    token: str,
    report: DeliveryReport,
) -> Outcome:
    """Many alerts due at once for one channel: one message listing them all."""
    items: list[tuple[Row, Alert]] = []
    for row in rows:
        try:
            items.append((row, build_alert(config, store, row, diff=False)))
        except WatcherError as exc:
            _mark_failed(store, row, token, int(row["attempts"]) + 1, exc.reason, report)
    # Every alert a summary marks sent must be in it: what does not fit waits
    # for the next message.
    while len(items) > 1 and not sender.fits(_summary([a for _, a in items], config)):
        row, _ = items.pop()
        store.release_claim(row["id"], token)
    if not items:
        return "failed"
    if len(items) == 1:
        row, _ = items[0]
        return await _deliver(config, store, row, sender, token, report)
    now = clock.now()
    summary = _summary([alert for _, alert in items], config)
    claimed = [row for row, _ in items]
    try:
        await sender.send(summary)
    except DeliveryError as exc:
        return _failed_send(store, claimed, token, exc, report)
    _mark_sent(store, claimed, token, now, report)
    log.info(
        "deliveries %s (%d alerts to %s) sent as one summary",
        ", ".join(str(row["id"]) for row in claimed), len(claimed), claimed[0]["channel"],
    )  # fmt: skip
    return "sent"


def _summary(alerts: list[Alert], config: Config) -> Alert:
    return Alert(kind="batch", items=tuple(alerts), link=config.watcher.dashboard_url)


def _mark_sent(
    store: Store, rows: list[Row], token: str, now: datetime, report: DeliveryReport
) -> None:
    with store.transaction():
        for row in rows:
            store.finish_notification(
                row["id"],
                token,
                status="sent",
                attempts=int(row["attempts"]) + 1,
                last_error=None,
                sent_at=clock.iso(now),
            )
        # The channel took a message: it is not refusing everything any more.
        store.delete_meta(_THROTTLED.format(rows[0]["channel"]))
    report.sent += len(rows)
    report.messages += 1


def _failed_send(
    store: Store, rows: list[Row], token: str, exc: DeliveryError, report: DeliveryReport
) -> Outcome:
    """Record a refused message for each alert it carried."""
    if exc.throttled:
        return _throttled(store, rows, token, exc, report)
    outcome: Outcome = "failed"
    for row in rows:
        attempts = int(row["attempts"]) + 1
        if exc.transient and attempts < MAX_ATTEMPTS:
            delay = backoff_delay(attempts, exc.retry_after)
            store.finish_notification(
                row["id"],
                token,
                status="pending",
                attempts=attempts,
                last_error=exc.reason,
                next_attempt_at=clock.iso(clock.now() + timedelta(seconds=delay)),
            )
            report.retrying += 1
            outcome = "retrying"
            log.warning(
                "delivery %d (%s to %s) failed, retry in %.0fs: %s",
                row["id"], row["kind"], row["channel"], delay, exc.reason,
            )  # fmt: skip
        else:
            _mark_failed(store, row, token, attempts, exc.reason, report)
    return outcome


def _throttled(
    store: Store, rows: list[Row], token: str, exc: DeliveryError, report: DeliveryReport
) -> Outcome:
    """The channel said "slow down": pause it; the alerts keep their attempts.

    Only a channel that has refused every message as rate limited for
    THROTTLE_CAP_S gives up: then everything queued for it is marked failed.
    """
    name = rows[0]["channel"]
    now = clock.now()
    with store.transaction():
        since_text = store.meta(_THROTTLED.format(name))
        since = clock.parse_iso(since_text) if since_text else now
        if since_text is None:
            store.set_meta(_THROTTLED.format(name), clock.iso(now))
        throttled_for = (now - since).total_seconds()
        if throttled_for >= THROTTLE_CAP_S:
            reason = (
                f"{exc.reason} (the channel has refused every message as rate limited "
                f"since {clock.iso(since)}; gave up after {THROTTLE_CAP_S / 3600:g} hours)"
            )
            for row in rows:
                _mark_failed(store, row, token, int(row["attempts"]) + 1, reason, report)
            others = store.fail_pending(name, reason)
            report.failed += others
            store.delete_meta(_THROTTLED.format(name))
            log.error("channel %s: gave up on %d alert(s): %s", name, len(rows) + others, reason)
            return "failed"
        pause = throttle_pause(throttled_for, exc.retry_after)
        until = clock.iso(now + timedelta(seconds=pause))
        store.set_meta(_PAUSED.format(name), until)
        for row in rows:
            store.finish_notification(
                row["id"],
                token,
                status="pending",
                last_error=f"rate limited: {exc.reason}",
                next_attempt_at=until,
            )
    report.throttled += len(rows)
    report.paused[name] = until
    log.warning("channel %s asks to slow down: paused for %.0fs (%s)", name, pause, exc.reason)
    return "throttled"


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


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def reclaim_dead_claims(store: Store, *, starting: bool = False) -> int:
    """Put back in the queue the alerts claimed by a process that is provably gone.

    Provably: same host, and its pid is not alive. At the daemon's start
    (`starting`), a claim under our own pid is a previous life's too (a pid
    is reused, e.g. pid 1 in a container). Other claims wait out the lease.
    """
    host = socket.gethostname()
    mine = os.getpid()
    reclaimed = 0
    with store.transaction():
        for claim in store.claims():
            pid, token = claim["claimed_pid"], claim["claim_token"]
            if pid is None or token is None or claim["claimed_host"] != host:
                continue
            if (pid == mine and not starting) or (pid != mine and pid_alive(pid)):
                continue
            if store.release_claim(claim["id"], token):
                reclaimed += 1
                log.warning(
                    "delivery %d (to %s) was claimed by pid %d, which is gone: queued again",
                    claim["id"], claim["channel"], pid,
                )  # fmt: skip
    return reclaimed


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


def build_alert(config: Config, store: Store, row: Row, *, diff: bool = True) -> Alert:
    """Gather what an alert shows from its row and the database (`diff`: with the change),
    with the row's id (the delivery id) and, for an alert about a task, the task as
    `watcher tasks --json` shows it and the task's first row on the same channel."""
    alert = _build_alert(config, store, row, diff=diff)
    alert = replace(alert, notification_id=row["id"])
    if alert.task_id is not None:
        alert = replace(
            alert,
            task=listed_task(store, alert.task_id),
            first_notification_id=store.first_notification(alert.task_id, row["channel"]),
        )
    return alert


def _build_alert(config: Config, store: Store, row: Row, *, diff: bool = True) -> Alert:
    payload: dict[str, Any] = json.loads(row["payload"])
    kind = row["kind"]
    if kind == "change":
        return _change_alert(config, store, payload, diff=diff)
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
    if kind in TASK_NOTICES:
        # who and what as queued (a later action must not rewrite this one); the task as now
        task = store.task(payload["task_id"])
        source = store.require_source(task["source_id"])
        return Alert(
            kind=kind,
            source_id=source["id"],
            lab=source["lab"],
            title=source["title"],
            url=source["url"],
            link=_link(config, task["id"], source["url"]),
            task_id=task["id"],
            from_version=task["from_version"],
            new_version=task["to_version"],
            summary=task["summary"] or "",
            opened_at=task["opened_at"],
            assignee=payload.get("assignee") or task["assignee"],
            actor=payload.get("actor"),
            note=payload.get("note"),
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
    if kind == "report":
        data = payload.get("report")
        if data is None:  # queued by an older watcher, without its data
            due = DueReport(
                row["channel"],
                payload.get("schedule", ""),
                clock.parse_iso(payload["since"]),
                clock.parse_iso(payload["until"]),
            )
            data = build_report(config, store, due)
        return Alert(kind="report", report=data, link=config.watcher.dashboard_url)
    raise DeliveryError(f"unknown alert kind {kind!r}", transient=False)


def _change_alert(
    config: Config, store: Store, payload: dict[str, Any], *, diff: bool = True
) -> Alert:
    source_id = payload["source_id"]
    old_number, new_number = payload["old_version"], payload["new_version"]
    # a superseding file is compared with its predecessor, another source
    old = store.version(payload.get("old_source") or source_id, old_number)
    new = store.version(source_id, new_number)
    change = None
    if diff and old.text_sha256 != new.text_sha256:
        old_text, new_text = store.version_text(old), store.version_text(new)
        change = detect.diff(
            old_text,
            new_text,
            store.version_pages(old, old_text),
            store.version_pages(new, new_text),
        )
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
        supersedes=payload.get("supersedes", ""),
        criteria=payload.get("criteria_line", ""),
        severity=payload.get("severity"),
        signals=_signals(payload.get("signals")),
        signal_count=int(payload.get("signal_count") or 0),
        new_documents=tuple(
            Link(d["url"], d.get("text", "")) for d in payload.get("new_documents", [])
        ),
    )


def _signals(data: list[dict[str, Any]] | None) -> tuple[Signal, ...]:
    return tuple(Signal(**item) for item in data or [])[:ALERT_SIGNALS]


# --- reminders and digests --------------------------------------------------------


def _channels_of(
    config: Config, source_id: str, store: Store, assignee: str | None = None
) -> tuple[str, ...]:
    """The channels of a source's alerts (a followed document: its parent's);
    with `assignee`, that rater's `notify` channels when [raters] names some."""
    rater = config.raters.get(assignee) if assignee else None
    if rater is not None and rater.notify:
        return rater.notify
    row = store.source(source_id)
    top = (row["parent_id"] if row else None) or source_id
    for source in config.sources:
        if source.id == top:
            return source.notify
    return ()


def enqueue_reminders(config: Config, store: Store, now: datetime | None = None) -> int:
    """Queue a reminder for each task open past `remind_after`, then every `remind_every`,
    to its assignee's channels when [raters] names some, else to its source's."""
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
            for channel in _channels_of(config, task["source_id"], store, task["assignee"]):
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


_REPORT_PERIOD = "channel.{}.report_period"  # meta: the last period a report was queued for


@dataclass(frozen=True)
class DueReport:
    """A channel's scheduled report that is due and not yet queued: the period it covers."""

    channel: str
    schedule: str
    since: datetime
    until: datetime


def reports_due(config: Config, store: Store, now: datetime | None = None) -> list[DueReport]:
    """The channels' scheduled reports (`report = "weekly Mon 08:00"`) due at `now` and
    not yet queued for their period. The report covers the period ending at its due time."""
    moment = now or clock.now()
    due_reports = []
    for name, channel in sorted(config.channels.items()):
        if not channel.report:
            continue
        schedule = parse_schedule(channel.report)
        due = schedule.due_at(moment)
        last = store.meta(_REPORT_PERIOD.format(name))
        if last is None or clock.parse_iso(last) < due:
            due_reports.append(DueReport(name, channel.report, due - schedule.period, due))
    return due_reports


def build_report(config: Config, store: Store, due: DueReport) -> dict[str, Any]:
    """The data of a due report (`watcher report` for its period): the slow part,
    since each change in the period is analysed."""
    from watcher import report  # the analysis loads only when a report is built

    return report.build(config, store, since=due.since, until=due.until)


def queue_report(
    store: Store, due: DueReport, data: Mapping[str, Any], now: datetime | None = None
) -> bool:
    """Queue a built report, unless its period was queued meanwhile; True when queued.

    Once: the period a report was queued for is recorded per channel in the
    same write transaction as the report (BEGIN IMMEDIATE), so two daemon
    passes, a restart or a `watcher check` beside the daemon never queue it
    twice. The report's data travels in the row: built once, for its period,
    and never rebuilt when its delivery is retried.
    """
    moment = now or clock.now()
    key = _REPORT_PERIOD.format(due.channel)
    with store.transaction():
        last = store.meta(key)
        if last is not None and clock.parse_iso(last) >= due.until:
            return False
        store.enqueue(
            kind="report",
            channel=due.channel,
            payload={
                "schedule": due.schedule,
                "since": clock.iso(due.since),
                "until": clock.iso(due.until),
                "report": dict(data),
            },
            now=moment,
        )
        store.set_meta(key, clock.iso(due.until))
    log.info("report for %s queued (%s, period ending %s)",
             due.channel, due.schedule, clock.iso(due.until))  # fmt: skip
    return True


def make_reports(config: Config, store: Store, now: datetime | None = None) -> int:
    """Build and queue each channel's scheduled report once per period, in this thread.

    A watcher down for several periods sends one report, the latest period's.
    The daemon builds reports off its event loop instead (`make_reports_off_loop`).
    """
    queued = 0
    for due in reports_due(config, store, now):
        queued += queue_report(store, due, build_report(config, store, due), now)
    return queued


async def make_reports_off_loop(config: Config, store: Store, now: datetime | None = None) -> int:
    """`make_reports` for a running event loop: each report is built in a worker thread
    with its own read-only connection, so a period of many large versions never
    stalls the loop (checks, delivery, the dashboard); queuing stays on the loop's
    thread, the store's."""
    queued = 0
    for due in reports_due(config, store, now):
        data = await asyncio.to_thread(_build_report_apart, config, due)
        queued += queue_report(store, due, data, now)
    return queued


def _build_report_apart(config: Config, due: DueReport) -> dict[str, Any]:
    reader = Store.open_for_reading(config.watcher.state_dir)
    try:
        return build_report(config, reader, due)
    finally:
        reader.close()


def housekeeping(config: Config, store: Store, now: datetime | None = None) -> None:
    """What is due besides checks: reminders, the daily digest, scheduled reports."""
    enqueue_reminders(config, store, now)
    make_digests(config, store, now)
    make_reports(config, store, now)


async def housekeeping_off_loop(config: Config, store: Store, now: datetime | None = None) -> None:
    """`housekeeping` for the daemon: reports are built off the event loop."""
    enqueue_reminders(config, store, now)
    make_digests(config, store, now)
    await make_reports_off_loop(config, store, now)
