"""What a check saw, recorded: one transaction per check.

The `Checker` (`watcher.pipeline`) hands each check's `Observation` to its
`Recorder`, which writes the check's row and the source's state and, when the
text changed, the version, the documents newly linked, the task (opened or
extended) and its alerts in the outbox, all in one transaction. A failed check
is a row with its reason; enough of them in a row make the source `failing`,
which alerts once, and so does its recovery. A snapshot re-extracted with new
rules is recorded here too, as a version marked re-extracted. The Checker
only reads the store: its writes are here (the lineage step's, after a
parent's documents are checked, are in `watcher.succession`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher import analysis, clock, criteria, detect, review
from watcher.compare import Comparison
from watcher.config import Config
from watcher.errors import StoreError
from watcher.models import (
    CheckOutcome,
    Extracted,
    FetchResult,
    Link,
    Outcome,
    Source,
    signal_to_json,
)
from watcher.notify.outbox import ALERT_SIGNALS, should_hold
from watcher.review import highest
from watcher.sources import add_child
from watcher.store import Row, Store, VersionRow, encode_pages


@dataclass(frozen=True)
class Observation:
    """What one check saw of its source, handed from step to step down to the
    write that records it.

    Filled in as the check goes: `raw_sha256` once a body came (None for a
    304), `extracted`, `fingerprint` and `new_links` once extraction ran.
    """

    source: Source
    state: Row  # the source's row as the check found it
    latest: VersionRow | None  # its latest version, after any re-extraction
    started: datetime
    t0: float  # time.monotonic() when the check started
    fetched: FetchResult
    raw_sha256: str | None = None
    extracted: Extracted | None = None
    fingerprint: str | None = None
    new_links: tuple[Link, ...] = ()
    sketch: str | None = None  # a followed document's lineage sketch (JSON)

    @property
    def text_changed(self) -> bool:
        """Extraction ran, and made a text other than the latest version's."""
        if self.extracted is None:
            return False
        return self.latest is None or self.extracted.sha256 != self.latest.text_sha256

    @property
    def warning(self) -> str | None:
        return _downgrade_warning(self.fetched)


@dataclass(frozen=True)
class Comparisons:
    """A new text compared with the versions before it."""

    change: Comparison  # with the latest version: what the alert tells
    whole: Comparison  # with the open task's first version: what the task tells


class Recorder:
    """Records the checks of one pass in the store: each method one outcome,
    in one transaction."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store

    def reextraction(self, source: Source, latest: VersionRow, extracted: Extracted) -> bool:
        """The stored snapshot of `latest` re-extracted with the source's new rules
        (or a new extractor): a version of its own when the text differs, marked
        re-extracted (no task, no alert), and the rules recorded either way.
        Returns whether a version was added."""
        digest = extracted.sha256
        added = digest != latest.text_sha256
        with self.store.transaction():
            if added:
                self.store.put_text(extracted.text)
                self.store.add_version(
                    source_id=source.id,
                    number=latest.number + 1,
                    captured_at=clock.iso(clock.now()),
                    raw_sha256=latest.raw_sha256,
                    text_sha256=digest,
                    kind=extracted.kind,
                    chars=extracted.chars,
                    words=extracted.words,
                    returned_to=self.store.version_with_text(source.id, digest),
                    reextracted=1,
                    rules_hash=source.rules.hash,
                    url=latest.url,
                    content_type=latest.content_type,
                    charset=latest.charset,
                    http_status=latest.http_status,
                    etag=latest.etag,
                    last_modified=latest.last_modified,
                    snapshot_as_sent=int(latest.snapshot_as_sent),
                    fetcher=latest.fetcher,
                    pages=encode_pages(extracted.line_pages),
                )
            self.store.update_source(source.id, config_hash=source.rules.hash)
        return added

    def unchanged(self, seen: Observation) -> CheckOutcome:
        """Nothing new: a 304, the same bytes, or the latest version's text again."""
        source, fetched = seen.source, seen.fetched
        outcome: Outcome = "not_modified" if fetched.not_modified else "unchanged"
        duration = _ms_since(seen.t0)
        with self.store.transaction():
            checked = self._add_check(seen, outcome, duration, warning=seen.warning)
            self.store.update_source(source.id, **self._success_state(seen))
            self._recovered(source, seen.state)
        return checked

    def suspect(self, seen: Observation, note: str) -> CheckOutcome:
        """A new text that waits for a second sighting: a check row, nothing else.

        The source's validators, raw digest and fingerprint stay those of its
        latest version, so the next check extracts whatever comes and compares
        it with this one. Not a failure: the failure count stays as it is, and a
        failing source stays failing until a check proves it recovered.
        """
        source = seen.source
        assert seen.extracted is not None
        duration = _ms_since(seen.t0)
        warning = "; ".join(filter(None, [note, seen.warning]))
        with self.store.transaction():
            checked = self._add_check(
                seen, "suspect", duration, warning=warning, text_sha256=seen.extracted.sha256
            )
            values: dict[str, Any] = {"last_checked": clock.iso(clock.now())}
            if seen.state["status"] != "failing":
                values.update(status="suspect", last_error=note)
            self.store.update_source(source.id, **values)
        return checked

    def version(self, seen: Observation, comparisons: Comparisons | None) -> CheckOutcome:
        """A new text, or new links beside the same text: the version, the
        documents newly linked, the task and its alerts, the check, together."""
        source, latest, extracted = seen.source, seen.latest, seen.extracted
        assert extracted is not None
        duration = _ms_since(seen.t0)
        outcome: Outcome = "new_version" if seen.text_changed else "unchanged"
        number = latest.number if latest is not None else 0
        task_id: int | None = None
        with self.store.transaction():
            if self._recorded_meanwhile(seen):
                return self.unchanged(seen)
            if seen.text_changed:
                number = self._add_version(seen)
            children = tuple(add_child(self.store, source, link) for link in seen.new_links)
            if comparisons is not None:
                summary = self._summary(seen, number, comparisons.whole)
                task = self._open_or_extend(seen, number, comparisons.whole, summary)
                touched = None
                if seen.text_changed:  # which graded criteria this change touches
                    signals = [signal_to_json(s) for s in comparisons.whole.analysis.signals]
                    touched = criteria.on_new_version(
                        self.store, source.id, number, extracted.text, task.task_id, signals
                    )
                self._queue_alerts(seen, number, comparisons.change, task, summary, touched)
                task_id = task.task_id
            checked = self._add_check(
                seen,
                outcome,
                duration,
                warning=seen.warning,
                version=number if seen.text_changed else None,
                task_id=task_id,
                children=children,
            )
            values = self._success_state(seen)
            if latest is not None:
                values["last_changed"] = clock.iso(seen.started)
            # the rules the latest version was extracted with
            values["config_hash"] = source.rules.hash
            self.store.update_source(source.id, kind=extracted.kind, **values)
            self._recovered(source, seen.state)
        return checked

    def failure(
        self,
        source: Source,
        reason: str,
        started: datetime,
        t0: float,
        *,
        http_status: int | None = None,
        fetched: FetchResult | None = None,
        fetcher: str | None = None,
    ) -> CheckOutcome:
        """A failed check; `fetched` is an answer that did not make a document
        (its status and size are kept); `fetcher` the one that failed when no
        answer came. Enough failures in a row make the
        source `failing`, which alerts once (not a document its parent no
        longer links that answers 404 or 410: its removal was the alert)."""
        if fetched is not None:
            http_status = fetched.status
        duration = _ms_since(t0)
        threshold = self.config.watcher.failure_alert_after
        with self.store.transaction():
            state = self.store.require_source(source.id)
            failures = int(state["consecutive_failures"]) + 1
            status = state["status"]
            # a document its parent no longer links that is gone (404/410) says
            # nothing new: its removal was the alert; it is not a failing source
            removed = state["unlinked_at"] is not None and http_status in (404, 410)
            if failures >= threshold and not removed:
                status = "failing"
                if state["status"] != "failing":
                    self._enqueue_admin(source, "failing", {"failures": failures, "error": reason})
            self.store.add_check(
                source_id=source.id,
                started_at=clock.iso(started),
                duration_ms=duration,
                http_status=http_status,
                bytes=len(fetched.content) if fetched else 0,
                outcome="failed",
                error=reason,
                warning=_downgrade_warning(fetched) if fetched else None,
                fetcher=fetched.fetcher if fetched else fetcher,
            )
            self.store.update_source(
                source.id,
                last_checked=clock.iso(clock.now()),
                consecutive_failures=failures,
                last_error=reason,
                status=status,
            )
        return CheckOutcome(source.id, "failed", http_status, duration, 0, error=reason)

    def _recorded_meanwhile(self, seen: Observation) -> bool:
        """Whether a `watcher check` beside the daemon recorded this very text
        during this check (what it recorded stands, and this check adds
        nothing); raises a transient error when it recorded another text."""
        current = self.store.latest_version(seen.source.id)
        if (current.number if current else 0) == (seen.latest.number if seen.latest else 0):
            return False
        assert current is not None and seen.extracted is not None
        if current.text_sha256 == seen.extracted.sha256:
            return True
        raise StoreError(
            f"another watcher process recorded v{current.number} of this source "
            "during this check; the next check compares against it",
            transient=True,
        )

    def _add_version(self, seen: Observation) -> int:
        """Store the snapshot, the text and the version row; returns its number."""
        source, latest, fetched, extracted = seen.source, seen.latest, seen.fetched, seen.extracted
        assert extracted is not None and seen.raw_sha256 is not None
        number = latest.number + 1 if latest is not None else 1
        # The snapshot is the body as the server sent it (its digest is the
        # check's raw digest), with the headers that matter. The text is its
        # zstd prefix: the article costs ~nothing twice.
        text_bytes = extracted.text.encode("utf-8")
        self.store.put_blob(fetched.content, prefix=text_bytes if extracted.kind != "pdf" else None)
        self.store.put_blob(text_bytes)
        returned_to = self.store.version_with_text(source.id, extracted.sha256) if latest else None
        self.store.add_version(
            source_id=source.id,
            number=number,
            captured_at=clock.iso(seen.started),
            raw_sha256=seen.raw_sha256,
            text_sha256=extracted.sha256,
            kind=extracted.kind,
            chars=extracted.chars,
            words=extracted.words,
            returned_to=returned_to,
            reextracted=0,
            rules_hash=source.rules.hash,
            url=fetched.url,
            http_status=fetched.status,
            content_type=fetched.content_type,
            charset=fetched.charset,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            fetcher=fetched.fetcher,
            # Chromium's rendered DOM is what the page became, not what the server sent.
            snapshot_as_sent=int(fetched.fetcher == "http"),
            sketch=seen.sketch,
            pages=encode_pages(extracted.line_pages),
        )
        return number

    def _summary(self, seen: Observation, number: int, whole: Comparison) -> str:
        """One line for the task and its alert: what changed over the range under review."""
        source, latest, new_links = seen.source, seen.latest, seen.new_links
        assert latest is not None
        parts = [whole.analysis.headline()]
        if top := analysis.top_changes(whole.analysis):
            parts.append(top)  # the three most material changes, a sentence each
        if whole.change is not None:
            parts.append(detect.summary(whole.change))
        returned_to = (
            self.store.version(source.id, number).returned_to if number != latest.number else None
        )
        if returned_to is not None:
            parts.append(f"text returned to that of v{returned_to}")
        if new_links:
            names = ", ".join(link.url for link in new_links[:5])
            more = f" and {len(new_links) - 5} more" if len(new_links) > 5 else ""
            parts.append(f"new document{'s' if len(new_links) > 1 else ''} linked: {names}{more}")
        return "; ".join(parts)

    def _open_or_extend(
        self, seen: Observation, number: int, whole: Comparison, summary: str
    ) -> review.TaskChange:
        """Open the source's task, or extend its open task to this version.

        The task describes the whole range under review: its first version to
        this one.
        """
        assert seen.latest is not None
        open_task = self.store.open_task(seen.source.id)
        return review.record_change(
            self.store,
            seen.source.id,
            from_version=seen.latest.number,
            to_version=number,
            summary=summary,
            severity=highest(whole.analysis.severity, open_task["severity"] if open_task else None),
            signals=json.dumps([signal_to_json(s) for s in whole.analysis.signals]),
            owner=self.config.owner_of(seen.source.parent_id or seen.source.id),
            config=self.config,
        )

    def _queue_alerts(
        self,
        seen: Observation,
        number: int,
        change: Comparison,
        task: review.TaskChange,
        summary: str,
        touched: criteria.Touched | None = None,
    ) -> None:
        """Queue one alert per channel of the source, about this change: the
        previous version to this one."""
        source, latest, new_links = seen.source, seen.latest, seen.new_links
        assert latest is not None
        payload: dict[str, Any] = {
            "event": "opened" if task.opened else "extended",
            "task_id": task.task_id,
            "source_id": source.id,
            "lab": source.lab,
            "title": source.title,
            "url": source.url,
            "from_version": task.from_version,
            "old_version": latest.number,
            "new_version": number,
            "summary": summary,
            "severity": change.analysis.severity,
            "signals": [signal_to_json(s) for s in change.analysis.signals[:ALERT_SIGNALS]],
            "signal_count": len(change.analysis.signals) + change.analysis.truncated,
            "new_documents": [{"url": link.url, "text": link.text} for link in new_links],
        }
        queue_change_alert(
            self.store,
            self.config,
            source.notify,
            payload,
            task_id=task.task_id,
            source_id=source.id,
            touched=touched,
        )

    def _add_check(
        self,
        seen: Observation,
        outcome: Outcome,
        duration: int,
        *,
        warning: str | None,
        version: int | None = None,
        text_sha256: str | None = None,
        task_id: int | None = None,
        children: tuple[str, ...] = (),
    ) -> CheckOutcome:
        """The row of a check that got an answer; returns the check's outcome."""
        status, size = seen.fetched.status, len(seen.fetched.content)
        self.store.add_check(
            source_id=seen.source.id,
            started_at=clock.iso(seen.started),
            duration_ms=duration,
            http_status=status,
            bytes=size,
            outcome=outcome,
            raw_sha256=seen.raw_sha256,
            text_sha256=text_sha256,
            version=version,
            warning=warning,
            fetcher=seen.fetched.fetcher,
        )
        return CheckOutcome(
            seen.source.id,
            outcome,
            status,
            duration,
            size,
            version=version,
            task_id=task_id,
            children=children,
            warning=warning,
        )

    def _success_state(self, seen: Observation) -> dict[str, Any]:
        """The source's row after a good check."""
        values: dict[str, Any] = {
            "last_checked": clock.iso(clock.now()),
            "consecutive_failures": 0,
            "last_error": None,
            "status": "ok",
        }
        if not seen.fetched.not_modified:
            values.update(etag=seen.fetched.etag, last_modified=seen.fetched.last_modified)
        if seen.raw_sha256 is not None:
            values["last_raw_sha256"] = seen.raw_sha256
        if seen.extracted is not None:
            # a full extraction ran: its fingerprint stands in for the next ones
            values.update(fingerprint=seen.fingerprint, fingerprint_at=clock.iso(clock.now()))
        return values

    def _recovered(self, source: Source, state: Row) -> None:
        if state["status"] == "failing":
            self._enqueue_admin(source, "recovered", {"failures": state["consecutive_failures"]})

    def _enqueue_admin(self, source: Source, kind: str, extra: dict[str, Any]) -> None:
        admin = self.config.watcher.admin_notify
        channels = admin if admin is not None else source.notify
        payload = {
            "source_id": source.id,
            "lab": source.lab,
            "title": source.title,
            "url": source.url,
            **extra,
        }
        for channel in channels:
            self.store.enqueue(kind=kind, channel=channel, payload=payload, source_id=source.id)


def queue_change_alert(
    store: Store,
    config: Config,
    channels: Sequence[str],
    payload: dict[str, Any],
    *,
    task_id: int,
    source_id: str,
    touched: criteria.Touched | None = None,
) -> None:
    """Queue a change alert on each of `channels`. A change that touches graded
    criteria says so and is at least as severe as what it did to them; one
    below the alerting threshold waits, held, for the daily digest."""
    if touched is not None and touched.line:
        payload = {**payload, "criteria_line": touched.line}
        payload["severity"] = highest(payload["severity"], touched.severity)
    held = should_hold(payload["severity"], config.analysis.alert_min_severity)
    for channel in channels:
        store.enqueue(
            kind="change",
            channel=channel,
            payload=payload,
            task_id=task_id,
            source_id=source_id,
            status="held" if held else "pending",
        )


def _downgrade_warning(fetched: FetchResult) -> str | None:
    if fetched.downgrade is None:
        return None
    return f"redirected from https to http ({fetched.downgrade})"


def _ms_since(t0: float) -> int:
    return int((time.monotonic() - t0) * 1000)
