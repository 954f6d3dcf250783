"""An `Alert` as the webhook's JSON document (schema in docs/alerts.md).

Values are data, not markup: scraped text (titles, quotes, errors) is passed
as it is, and JSON escapes every control character. A receiver that shows
them escapes them for its own format.
"""

from __future__ import annotations

import json
from typing import Any

from watcher.analysis.severity import KIND_SEVERITY
from watcher.models import SIGNAL_LABELS, Signal
from watcher.notify.alert import Alert

#: The document's `version`: raised when a field changes meaning or goes away.
SCHEMA_VERSION = 1


def render_webhook(alert: Alert) -> bytes:
    """The JSON document, as the exact bytes that are sent and signed."""
    document: dict[str, Any] = {"version": SCHEMA_VERSION}
    if alert.kind in ("batch", "digest"):
        document.update(
            event=alert.kind,
            delivery=delivery_id(alert),
            link=alert.link or None,
            alerts=[_alert(item) for item in alert.items],
        )
    else:
        document.update(_alert(alert))
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def delivery_id(alert: Alert) -> str:
    """The X-Watcher-Delivery value: the outbox row's id, the same on every retry.

    A summary of several rows carries their ids, comma-separated (each alert in
    it has its own `delivery`); a test message, which is not queued, "test".
    """
    if alert.notification_id is not None:
        return str(alert.notification_id)
    ids = [str(item.notification_id) for item in alert.items if item.notification_id is not None]
    return ",".join(ids) or "test"


def _alert(alert: Alert) -> dict[str, Any]:
    change = None
    if alert.kind == "change":
        change = {
            "event": alert.event,
            "from_version": alert.from_version,
            "old_version": alert.old_version,
            "new_version": alert.new_version,
            "old_captured_at": alert.old_captured_at,
            "new_captured_at": alert.new_captured_at,
            "summary": alert.summary,
            "supersedes": alert.supersedes or None,
            "criteria": alert.criteria or None,
            "new_documents": [{"url": d.url, "text": d.text} for d in alert.new_documents],
        }
    return {
        "event": alert.kind,
        "delivery": alert.notification_id,
        "severity": alert.severity,
        "lab": alert.lab,
        "title": alert.title,
        "source": alert.source_id or None,
        "url": alert.url or None,
        "link": alert.link or None,
        "task": alert.task,
        "change": change,
        "signals": [_signal(signal) for signal in alert.signals],
        "signal_count": max(alert.signal_count, len(alert.signals)),
        "error": alert.error,
        "failures": alert.failures,
        "message": alert.summary if alert.kind == "test" else None,
        # a task notice (assigned, closed, dismissed, reopened): who did it, the note
        # they wrote, and for "assigned" whom the task went to; typed by people, as is
        "actor": alert.actor,
        "note": alert.note,
        "assignee": alert.assignee if alert.kind == "assigned" else None,
        # a scheduled report: what `watcher report --format json` prints
        "report": alert.report if alert.kind == "report" else None,
    }


def _signal(signal: Signal) -> dict[str, Any]:
    return {
        "kind": signal.kind,
        "label": SIGNAL_LABELS.get(signal.kind, signal.kind.replace("_", " ")),
        "severity": KIND_SEVERITY.get(signal.kind),
        "section": signal.section or None,
        "page": signal.page,
        "old": signal.old,
        "new": signal.new,
        "detail": signal.detail,
    }
