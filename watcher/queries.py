"""Read-side views of the database, shaped for people: the CLI and the dashboard.

Each function returns plain JSON-ready data; printing is the caller's job.
"""

from __future__ import annotations

from typing import Any

from watcher import detect
from watcher.errors import NotFound
from watcher.models import Change
from watcher.store import Row, Store, VersionRow


def sources(store: Store) -> list[dict[str, Any]]:
    return [
        {
            "id": row["id"],
            "parent": row["parent_id"],
            "lab": row["lab"],
            "title": row["title"],
            "url": row["url"],
            "status": row["status"],
            "consecutive_failures": row["consecutive_failures"],
            "last_error": row["last_error"],
            "last_checked": row["last_checked"],
            "last_changed": row["last_changed"],
            "versions": row["versions"],
            "open_task": row["open_task"],
            "failed_alerts": row["failed_alerts"],
        }
        for row in store.source_overview()
    ]


def version_dict(version: VersionRow) -> dict[str, Any]:
    return {
        "number": version.number,
        "captured_at": version.captured_at,
        "text_sha256": version.text_sha256,
        "raw_sha256": version.raw_sha256,
        "kind": version.kind,
        "chars": version.chars,
        "words": version.words,
        "returned_to": version.returned_to,
        "reextracted": version.reextracted,
    }


def history(store: Store, source_id: str) -> dict[str, Any]:
    """A source's versions, oldest first, and the re-uploads that kept the text.

    A re-upload is a check that saw new raw bytes while the text stayed the
    same (labs silently replace PDFs at the same URL).
    """
    store.require_source(source_id)
    reuploads: list[dict[str, Any]] = []
    previous: str | None = None
    current_version: int | None = None
    for check in store.raw_history(source_id):
        if check["version"] is not None:
            current_version = check["version"]
        elif previous is not None and check["raw_sha256"] != previous:
            reuploads.append(
                {
                    "at": check["started_at"],
                    "raw_sha256": check["raw_sha256"],
                    "version": current_version,
                }
            )
        previous = check["raw_sha256"]
    return {
        "source": source_id,
        "versions": [version_dict(v) for v in store.versions(source_id)],
        "reuploads": reuploads,
    }


def resolve_version(store: Store, source_id: str, number: int | None) -> VersionRow:
    store.require_source(source_id)
    if number is None:
        latest = store.latest_version(source_id)
        if latest is None:
            raise NotFound(f"source {source_id!r} has no version yet (run `watcher check`)")
        return latest
    return store.version(source_id, number)


def text(store: Store, source_id: str, number: int | None = None) -> tuple[VersionRow, str]:
    version = resolve_version(store, source_id, number)
    return version, store.version_text(version)


def compare(
    store: Store, source_id: str, old: int | None = None, new: int | None = None
) -> tuple[VersionRow, VersionRow, Change | None]:
    """The two versions to compare (default: the last change) and their diff."""
    store.require_source(source_id)
    if old is None and new is None:
        latest = resolve_version(store, source_id, None)
        if latest.number == 1:
            raise NotFound(f"source {source_id!r} has only its first version; nothing to compare")
        old_v, new_v = store.version(source_id, latest.number - 1), latest
    elif new is None:
        assert old is not None
        old_v, new_v = store.version(source_id, old), resolve_version(store, source_id, None)
    else:
        assert old is not None
        old_v, new_v = store.version(source_id, old), store.version(source_id, new)
    change = detect.diff(store.version_text(old_v), store.version_text(new_v))
    return old_v, new_v, change


def task_dict(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "source": row["source_id"],
        "status": row["status"],
        "from_version": row["from_version"],
        "to_version": row["to_version"],
        "severity": row["severity"],
        "opened_at": row["opened_at"],
        "updated_at": row["updated_at"],
        "closed_at": row["closed_at"],
        "assignee": row["assignee"],
        "summary": row["summary"],
        "note": row["note"],
    }


def tasks(store: Store, status: str | None) -> list[dict[str, Any]]:
    return [task_dict(row) for row in store.tasks(status)]


def task(store: Store, task_id: int) -> dict[str, Any]:
    data = task_dict(store.task(task_id))
    data["events"] = [
        {"at": e["at"], "actor": e["actor"], "action": e["action"], "note": e["note"]}
        for e in store.events(task_id)
    ]
    return data


def notifications(store: Store, status: str | None) -> list[dict[str, Any]]:
    return [
        {
            "id": row["id"],
            "kind": row["kind"],
            "channel": row["channel"],
            "source": row["source_id"],
            "task": row["task_id"],
            "status": row["status"],
            "attempts": row["attempts"],
            "created_at": row["created_at"],
            "next_attempt_at": row["next_attempt_at"],
            "sent_at": row["sent_at"],
            "last_error": row["last_error"],
        }
        for row in store.notifications(status)
    ]
