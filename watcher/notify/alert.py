"""The one message model every channel renders: an `Alert`.

The outbox gathers an alert's facts from the database (versions, diff, task,
source) into an `Alert`; each channel turns it into its own format. All text
fields that come from scraped pages (title, lab, url, change, new documents,
errors) are untrusted and must be escaped by the renderer for its format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from watcher.models import Change, Link, Signal

# "batch": many alerts due at once for one channel, listed in one message.
# "report": a channel's scheduled report (`report` holds `watcher report`'s data).
# "assigned": a task was assigned to the rater whose channel this is;
# "closed"/"dismissed"/"reopened": what a rater did to a task (`task_updates` channels).
AlertKind = Literal[
    "change",
    "reminder",
    "failing",
    "recovered",
    "digest",
    "batch",
    "test",
    "report",
    "assigned",
    "closed",
    "dismissed",
    "reopened",
]

#: The kinds that say what a rater (or the owner rule) did to a task.
TASK_NOTICES = ("assigned", "closed", "dismissed", "reopened")


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    source_id: str = ""
    lab: str = ""
    title: str = ""
    url: str = ""  # the source's URL
    link: str = ""  # where "see the full diff" points: the dashboard if configured, else `url`
    # change alerts
    event: Literal["opened", "extended"] | None = None
    task_id: int | None = None
    from_version: int | None = None  # the task's first version (the baseline of the review)
    old_version: int | None = None  # the version before this change
    new_version: int | None = None
    old_captured_at: str | None = None
    new_captured_at: str | None = None
    change: Change | None = None  # old_version → new_version
    summary: str = ""
    severity: str | None = None  # from change analysis: minor | substantive | major
    signals: tuple[Signal, ...] = ()  # most severe first
    signal_count: int = 0  # signals the change raised, of which `signals` are the first
    new_documents: tuple[Link, ...] = ()
    # "new file <URL> supersedes <URL> (v2.1 → v2.2)": the change is across two files
    supersedes: str = ""
    # "Affects 2 graded criteria: Risk thresholds — quote changed (…)": cited passages touched
    criteria: str = ""
    # failing / recovered
    error: str | None = None
    failures: int | None = None
    # reminder (and a task notice: its assignee)
    opened_at: str | None = None
    assignee: str | None = None
    # a task notice: who acted (a rater's name, or "watcher" for the owner rule) and
    # the note they wrote (closed, dismissed); typed by a person, escaped like scraped text
    actor: str | None = None
    note: str | None = None
    # digest: one entry per change held for it; batch: one per alert listed
    items: tuple[Alert, ...] = field(default=())
    # report: the data `watcher report --format json` prints
    report: Mapping[str, Any] | None = None
    # the outbox row this alert is (its delivery id), and the first row about the
    # same task on the same channel: email threads a task's messages on it
    notification_id: int | None = None
    first_notification_id: int | None = None
    # the task as `watcher tasks --json` shows it (`queries.listed_task`), for the webhook
    task: dict[str, Any] | None = field(default=None, hash=False, compare=False)
