"""Review tasks: open on a change, extend while open, close with a note.

One open task per source (the database enforces it too). Every action is
written to `events`, so a task's history survives reassignment and reopening.
All functions take a `Store` and are meant to run inside the caller's
transaction when part of a check.

Given the `Config`, an action also queues its notices in the same
transaction (the outbox): "assigned to you" to the assignee's own channels
(`[raters.NAME] notify`), unless they assigned themselves; and "closed",
"dismissed" or "reopened" to the channels that were alerted about the task
and asked for `task_updates`. Every caller passes `config`; `config=None` (a test
about the task itself) queues nothing, said out loud rather than by omission.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from watcher import clock, people
from watcher.config import SEVERITIES, Config
from watcher.errors import TaskStateError
from watcher.store import Row, Store

SYSTEM_ACTOR = "watcher"


@dataclass(frozen=True)
class TaskChange:
    """What `record_change` did: the task, and whether it was opened or extended."""

    task_id: int
    opened: bool
    from_version: int
    to_version: int


def record_change(
    store: Store,
    source_id: str,
    *,
    from_version: int,
    to_version: int,
    summary: str,
    severity: str | None = None,
    signals: str | None = None,
    owner: str | None = None,
    config: Config | None,
) -> TaskChange:
    """Open a task for `source_id`, or extend its open task to `to_version`.

    A new task goes to `owner` (the source's or its lab's, `Config.owner_of`).

    A task that also covers documents (superseding files, removed links; see
    `record_document`) keeps their signals and lines after the source's own.
    """
    stamp = clock.iso(clock.now())
    with store.transaction():
        task = store.open_task(source_id)
        if task is not None and task["documents"]:
            documents = json.loads(task["documents"])
            own = json.loads(signals) if signals else []
            signals = json.dumps(own + [s for d in documents for s in d.get("signals", [])])
            summary = "; ".join([summary, *(d["line"] for d in documents)])
        if task is None:
            task_id = store.add_task(
                source_id=source_id,
                status="open",
                from_version=from_version,
                to_version=to_version,
                severity=severity,
                signals=signals,
                summary=summary,
                opened_at=stamp,
                updated_at=stamp,
            )
            store.add_event(task_id, actor=SYSTEM_ACTOR, action="opened", note=summary)
            _assign_owner(store, task_id, owner, config)
            return TaskChange(task_id, True, from_version, to_version)
        store.update_task(
            task["id"],
            to_version=to_version,
            summary=summary,
            severity=severity,
            signals=signals,
            updated_at=stamp,
        )
        store.add_event(
            task["id"], actor=SYSTEM_ACTOR, action="extended", note=f"to v{to_version}: {summary}"
        )
        return TaskChange(task["id"], False, task["from_version"], to_version)


def record_document(
    store: Store,
    source_id: str,
    *,
    version: int,
    document: dict[str, Any],
    severity: str,
    owner: str | None = None,
    config: Config | None,
) -> TaskChange:
    """Open or extend `source_id`'s task with a change of one of its documents.

    `document` says what happened: `line` (one line for the summary and the
    event: "new file … supersedes …", "document removed: …"), `signals` (its
    signals as JSON-ready dicts), and whatever identifies it (`source`,
    `supersedes`, versions). The task's range of the source's own versions
    stays as it is (`version` is the source's latest, for a new task); its
    signals, severity and summary gain the document's.
    """
    stamp = clock.iso(clock.now())
    with store.transaction():
        task = store.open_task(source_id)
        if task is None:
            task_id = store.add_task(
                source_id=source_id,
                status="open",
                from_version=version,
                to_version=version,
                severity=severity,
                signals=json.dumps(document.get("signals", [])),
                summary=document["line"],
                documents=json.dumps([document]),
                opened_at=stamp,
                updated_at=stamp,
            )
            store.add_event(task_id, actor=SYSTEM_ACTOR, action="opened", note=document["line"])
            _assign_owner(store, task_id, owner, config)
            return TaskChange(task_id, True, version, version)
        documents = json.loads(task["documents"]) if task["documents"] else []
        signals = json.loads(task["signals"]) if task["signals"] else []
        store.update_task(
            task["id"],
            summary="; ".join(filter(None, [task["summary"], document["line"]])),
            severity=severity,
            signals=json.dumps(signals + document.get("signals", [])),
            documents=json.dumps([*documents, document]),
            updated_at=stamp,
        )
        store.add_event(task["id"], actor=SYSTEM_ACTOR, action="extended", note=document["line"])
        return TaskChange(task["id"], False, task["from_version"], task["to_version"])


def _assign_owner(store: Store, task_id: int, owner: str | None, config: Config | None) -> None:
    """A new task goes to its source's owner, by the system (in the caller's transaction)."""
    if owner:
        store.update_task(task_id, assignee=owner)
        store.add_event(task_id, actor=SYSTEM_ACTOR, action="assigned", note=owner)
        _notify_assigned(store, config, store.task(task_id), owner, SYSTEM_ACTOR)


def _notify_assigned(store: Store, config: Config | None, task: Row, who: str, actor: str) -> None:
    """Queue "assigned to you" to `who`'s own channels (`[raters.NAME] notify`), never to
    the team's: not when a rater takes a task themselves, nor when it was theirs already."""
    if config is None or who == actor:
        return
    rater = config.raters.get(who)
    for channel in rater.notify if rater is not None else ():
        store.enqueue(
            kind="assigned",
            channel=channel,
            payload={"task_id": task["id"], "assignee": who, "actor": actor},
            task_id=task["id"],
            source_id=task["source_id"],
        )


def _notify_update(
    store: Store, config: Config | None, task: Row, action: str, actor: str, note: str | None
) -> None:
    """Queue a task's "closed", "dismissed" or "reopened" to the channels alerted about
    its change that ask for `task_updates` (a lab's team channel, not everyone)."""
    if config is None:
        return
    for name in store.alerted_channels(task["id"]):
        channel = config.channels.get(name)
        if channel is None or not channel.task_updates:
            continue
        store.enqueue(
            kind=action,
            channel=name,
            payload={"task_id": task["id"], "actor": actor, "note": note},
            task_id=task["id"],
            source_id=task["source_id"],
        )


def replace_document(
    store: Store,
    task_id: int,
    source: str,
    document: dict[str, Any],
    *,
    actor: str,
    note: str,
) -> None:
    """Replace what task `task_id` says of followed document `source` (a rater
    fixed its lineage): its line, signals and severity, with an event saying so."""
    with store.transaction():
        task = store.task(task_id)
        documents = json.loads(task["documents"]) if task["documents"] else []
        signals = json.loads(task["signals"]) if task["signals"] else []
        lines = [p for p in (task["summary"] or "").split("; ") if p]
        for old in [d for d in documents if d.get("source") == source]:
            for signal in old.get("signals", []):
                if signal in signals:
                    signals.remove(signal)
            if old["line"] in lines:
                lines.remove(old["line"])
        kept = [d for d in documents if d.get("source") != source]
        severities = [d["severity"] for d in (*kept, document) if d.get("severity")]
        store.update_task(
            task_id,
            documents=json.dumps([*kept, document]),
            signals=json.dumps(signals + document.get("signals", [])),
            summary="; ".join([*lines, document["line"]]),
            severity=_highest(task["severity"], *severities),
            updated_at=clock.iso(clock.now()),
        )
        store.add_event(task_id, actor=actor, action="lineage", note=note)


def tasks_covering(store: Store, source: str) -> list[Row]:
    """The tasks whose documents include followed document `source`, oldest first."""
    return [
        task
        for task in store.tasks_with_documents()
        if any(d.get("source") == source for d in json.loads(task["documents"]))
    ]


_ORDER = ("minor", "substantive", "major")


def _highest(*severities: str | None) -> str | None:
    known = [s for s in severities if s in _ORDER]
    return max(known, key=_ORDER.index) if known else None


def note_event(store: Store, task_id: int, *, actor: str, action: str, note: str) -> None:
    """Add an event to a task's history (a rater's lineage fix, say)."""
    with store.transaction():
        store.task(task_id)
        store.add_event(task_id, actor=actor, action=action, note=note)
        store.update_task(task_id, updated_at=clock.iso(clock.now()))


def add_note(store: Store, task_id: int, note: str, *, actor: str = "cli") -> Row:
    """Add a rater's note to a task's history; its status stays as it is."""
    note = note.strip()
    if not note:
        raise TaskStateError("the note cannot be empty")
    note_event(store, task_id, actor=actor, action="noted", note=note)
    return store.task(task_id)


def assign(
    store: Store, task_id: int, who: str, *, actor: str = "cli", config: Config | None
) -> Row:
    """Assign a task to `who`; with `config`, tell them on their own channels."""
    try:
        who = people.check_name(" ".join(who.split()))
    except ValueError as exc:
        raise TaskStateError(f"the assignee: {exc}") from None
    with store.transaction():
        task = store.task(task_id)
        store.update_task(task_id, assignee=who, updated_at=clock.iso(clock.now()))
        store.add_event(task_id, actor=actor, action="assigned", note=who)
        if task["assignee"] != who:
            _notify_assigned(store, config, task, who, actor)
    return store.task(task_id)


def _finish(
    store: Store, task_id: int, status: str, note: str, actor: str, config: Config | None
) -> Row:
    note = note.strip()
    if not note:
        verb = {"closed": "close", "dismissed": "dismiss"}[status]
        raise TaskStateError(f"a note is required to {verb} a task (say what was decided)")
    with store.transaction():
        task = store.task(task_id)
        if task["status"] != "open":
            raise TaskStateError(f"task {task_id} is {task['status']}, not open")
        stamp = clock.iso(clock.now())
        store.update_task(task_id, status=status, note=note, closed_at=stamp, updated_at=stamp)
        store.add_event(task_id, actor=actor, action=status, note=note)
        _notify_update(store, config, task, status, actor, note)
    return store.task(task_id)


def close(
    store: Store, task_id: int, note: str, *, actor: str = "cli", config: Config | None
) -> Row:
    """Close an open task with the reassessment's outcome."""
    return _finish(store, task_id, "closed", note, actor, config)


def dismiss(
    store: Store, task_id: int, note: str, *, actor: str = "cli", config: Config | None
) -> Row:
    """Dismiss an open task (the change needs no reassessment), with the reason."""
    return _finish(store, task_id, "dismissed", note, actor, config)


def reopen(store: Store, task_id: int, *, actor: str = "cli", config: Config | None) -> Row:
    """Reopen a closed or dismissed task (its source has no other open task)."""
    with store.transaction():
        task = store.task(task_id)
        if task["status"] == "open":
            raise TaskStateError(f"task {task_id} is already open")
        other = store.open_task(task["source_id"])
        if other is not None:
            raise TaskStateError(
                f"source {task['source_id']!r} already has open task {other['id']}; "
                "work on that one instead"
            )
        store.update_task(task_id, status="open", closed_at=None, updated_at=clock.iso(clock.now()))
        store.add_event(task_id, actor=actor, action="reopened")
        _notify_update(store, config, task, "reopened", actor, None)
    return store.task(task_id)


def highest(*severities: str | None) -> str:
    """The most severe of the given severities (None counts as nothing)."""
    known = [s for s in severities if s in SEVERITIES]
    return max(known, key=SEVERITIES.index) if known else SEVERITIES[0]
