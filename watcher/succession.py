"""Which file of a policy follows which, recorded: the lineage step of a check, and a rater's fixes.

After a landing page's followed documents are checked, `Lineages` decides
(with the pure `watcher.lineage`) whether each new document supersedes an
earlier one, compares it with its predecessor's latest version and opens or
extends the landing page's task with that change; it also records removed and
restored links. `link_documents`/`unlink_document` are a rater's corrections
(`watcher lineage link/unlink`, the dashboard's forms).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from watcher import clock, criteria, detect, lineage, review
from watcher.compare import Comparison, compare_texts, watch_terms_for
from watcher.config import Config
from watcher.errors import LineageError
from watcher.models import Source, signal_to_json
from watcher.notify.outbox import ALERT_SIGNALS, should_hold
from watcher.recording import queue_change_alert
from watcher.review import highest
from watcher.store import Row, Store
from watcher.workers import WorkerPool

if TYPE_CHECKING:
    from watcher.pipeline import Checker

log = logging.getLogger(__name__)


# --- lineage: which followed document supersedes which ---------------------------


def sketch_json(sketched: lineage.Sketch, text: str) -> str:
    """What lineage decisions read of a version, stored beside it: its sketch,
    its first page (version labels) and its title (first line)."""
    title = next((line.strip("# \t") for line in text.splitlines() if line.strip("# \t")), "")
    return json.dumps(
        {
            "sketch": sketched.to_json(),
            "first_page": text[: lineage.FIRST_PAGE_CHARS],
            "title": title[:200],
        }
    )


async def sketch_version(workers: WorkerPool, source_id: str, text: str) -> str:
    """A version's lineage sketch, sketched in a worker, as stored beside it."""
    sketched: lineage.Sketch = await workers.run(
        f"lineage sketch of {source_id}", "watcher.sketch:sketch", text
    )
    return sketch_json(sketched, text)


def supersedes_line(new_url: str, old_url: str, labels: tuple[str, str]) -> str:
    """'new file <URL> supersedes <URL> (v2.1 → v2.2)', as tasks and alerts say it."""
    return f"new file {new_url} supersedes {old_url} ({labels[0]} → {labels[1]})"


class Lineages:
    """The lineage decisions of one parent's documents, after a check of the parent.

    Each document with a version whose lineage is undecided is placed among
    its parent's decided documents (oldest first, so four versions found at
    once chain v1 → v2 → v3 → v4) by `lineage.predecessor`, reading stored
    sketches only. A superseding file's latest version is diffed and analysed
    against its predecessor's latest, and the parent's task carries that
    change (opened or extended) with its signals and severity; its alert says
    "new file … supersedes …". On the parent's first check (the baseline)
    nothing opens a task: the lineage is history. A source's `lineage` rule
    names each document's policy instead (`lineage.policy_key`).
    """

    def __init__(self, checker: Checker, parent: Source) -> None:
        self.checker = checker
        self.store = checker.store
        self.parent = parent
        self._documents: dict[str, lineage.Document] = {}
        # the source's explicit `lineage` rule: which policy each document is part of
        self.rule = next(
            (s.lineage for s in checker.config.sources if s.id == parent.id and s.lineage), None
        )

    async def decide(self, *, baseline: bool) -> None:
        undecided = self.store.undecided_children(self.parent.id)
        if not undecided:
            return
        new = [await self.document(row) for row in undecided]
        for doc in lineage.order(new):
            candidates = [
                await self.document(row)
                for row in self.store.children(self.parent.id)
                if row["lineage_decision"] is not None
                and row["id"] != doc.id
                and self.store.latest_version(row["id"]) is not None
            ]
            links = self.store.lineage_links()
            candidates = [replace(c, lineage=_root(links, c.id)) for c in candidates]
            decision = lineage.predecessor(doc, candidates)
            log.info("lineage %s: %s: %s", doc.id, decision.kind, decision.reason)
            await self.apply(doc, decision, baseline=baseline)

    async def document(self, row: Row) -> lineage.Document:
        """The document as lineage sees it, from its latest version's stored sketch
        (sketched now, once, for a version recorded before sketches were kept)."""
        if row["id"] in self._documents:
            return self._documents[row["id"]]
        latest = self.store.latest_version(row["id"])
        assert latest is not None
        stored = self.store.version_sketch(row["id"], latest.number)
        if stored is None:
            text = self.store.version_text(latest)
            stored = await sketch_version(self.checker.workers, row["id"], text)
            with self.store.transaction():
                self.store.set_version_sketch(row["id"], latest.number, stored)
        data = json.loads(stored)
        first = self.store.version(row["id"], 1) if latest.number > 1 else latest
        doc = lineage.Document(
            id=row["id"],
            url=row["url"],
            link_text=row["link_text"] or "",
            title=data.get("title", ""),
            captured_at=first.captured_at,
            parent=row["parent_id"],
            first_page=data.get("first_page", ""),
            sketch=lineage.Sketch.from_json(data["sketch"]),
            key=lineage.policy_key(self.rule, row["link_text"] or "", row["url"])
            if self.rule
            else None,
        )
        self._documents[row["id"]] = doc
        return doc

    async def apply(
        self, doc: lineage.Document, decision: lineage.Decision, *, baseline: bool
    ) -> None:
        store = self.store
        links = store.lineage_links()
        if decision.kind == "supersedes":
            old = decision.ids[0]
            if made := lineage.loop(links, old, doc.id):
                decision = lineage.Decision(
                    "unrelated", reason="linking would make a loop: " + " → ".join(made)
                )
            elif baseline:
                with store.transaction():
                    store.set_lineage(
                        doc.id, supersedes=old, decision="supersedes", reason=decision.reason
                    )
                return
            else:
                await self.supersede(doc, old, decision.reason)
                return
        if decision.kind == "precedes":
            member = decision.ids[0]
            if not lineage.would_loop(links, doc.id, member):
                with store.transaction():
                    store.set_lineage(
                        doc.id, supersedes=None, decision="precedes", reason=decision.reason
                    )
                    store.update_source(member, supersedes=doc.id)
                return
            decision = lineage.Decision("unrelated", reason="linking would make a loop")
        with store.transaction():
            store.set_lineage(
                doc.id, supersedes=None, decision=decision.kind, reason=decision.reason
            )
            if decision.kind == "ambiguous" and not baseline:
                names = [store.require_source(i)["url"] for i in decision.ids]
                line = f"new file {doc.url}: possibly a new version of " + " or ".join(names)
                self._record_document(
                    {
                        "source": doc.id,
                        "url": doc.url,
                        "decision": "ambiguous",
                        "candidates": list(decision.ids),
                        "line": line,
                        "reason": decision.reason,
                        "signals": [],
                    },
                    "substantive",
                )

    def links_changed(
        self, children: list[Row], linked: Sequence[str], *, new_version: bool = False
    ) -> None:
        """Mark documents the parent no longer links `unlinked` and those linked
        again restored, each a signal on the parent's task and on its alert (the
        alert of the parent's `new_version` of this check, or one of their own)."""
        said: list[tuple[str, dict[str, Any]]] = []
        task_change: review.TaskChange | None = None
        for row in children:
            present = any(lineage.same_document_url(row["url"], url) for url in linked)
            if present == (row["unlinked_at"] is None):
                continue
            latest = self.store.latest_version(row["id"])
            last = f" (last version v{latest.number}, {latest.captured_at})" if latest else ""
            kind = "document_restored" if present else "document_removed"
            words = "linked again" if present else "no longer linked"
            line = f"document {words}: {row['url']}{last}"
            signal = {
                "kind": kind,
                "section": "",
                "old": None if present else row["url"],
                "new": row["url"] if present else None,
                "detail": f"{row['title']}{last}",
            }
            with self.store.transaction():
                self.store.update_source(
                    row["id"], unlinked_at=None if present else clock.iso(clock.now())
                )
                task_change = self._record_document(
                    {
                        "source": row["id"],
                        "url": row["url"],
                        "decision": kind,
                        "line": line,
                        "severity": "substantive",
                        "signals": [signal],
                    },
                    "substantive",
                )
            log.info("%s: %s", self.parent.id, line)
            said.append((line, signal))
        if task_change is not None:
            self._alert_links(task_change, said, new_version=new_version)

    def _alert_links(
        self,
        task: review.TaskChange,
        said: list[tuple[str, dict[str, Any]]],
        *,
        new_version: bool,
    ) -> None:
        """The removals and restorations reach the parent's alert: the change alert
        this pass queued for it gains their signals (first) and lines, or, when the
        page's text did not change, a change alert of its own says them."""
        store = self.store
        number = self._parent_version()
        if not number:
            return
        lines = [line for line, _ in said]
        signals = [signal for _, signal in said]
        queued = [
            row
            for status in ("pending", "held")
            for row in store.notifications(status)
            if new_version
            and row["kind"] == "change"
            and row["source_id"] == self.parent.id
            and row["task_id"] == task.task_id
            and json.loads(row["payload"]).get("new_version") == number
        ]
        min_severity = self.checker.config.analysis.alert_min_severity
        with store.transaction():
            for row in queued:
                payload = json.loads(row["payload"])
                payload["signals"] = (signals + list(payload.get("signals") or []))[:ALERT_SIGNALS]
                payload["signal_count"] = int(payload.get("signal_count") or 0) + len(signals)
                payload["summary"] = "; ".join(filter(None, [payload.get("summary"), *lines]))
                payload["severity"] = highest("substantive", payload.get("severity"))
                held = should_hold(payload["severity"], min_severity)
                store.update_notification(
                    row["id"],
                    payload=json.dumps(payload, sort_keys=True),
                    status="held" if held else "pending",
                )
            if queued:
                return
            payload = {
                "event": "opened" if task.opened else "extended",
                "task_id": task.task_id,
                "source_id": self.parent.id,
                "lab": self.parent.lab,
                "title": self.parent.title,
                "url": self.parent.url,
                "from_version": task.from_version,
                "old_version": number,
                "new_version": number,
                "summary": "; ".join(lines),
                "severity": "substantive",
                "signals": signals[:ALERT_SIGNALS],
                "signal_count": len(signals),
                "new_documents": [],
            }
            queue_change_alert(
                store,
                self.checker.config,
                self.parent.notify,
                payload,
                task_id=task.task_id,
                source_id=self.parent.id,
            )

    def _record_document(self, document: dict[str, Any], severity: str) -> review.TaskChange:
        """The parent's task, opened or extended with a change of one of its
        documents; as severe as `severity`, or as the open task already is."""
        task = self.store.open_task(self.parent.id)
        return review.record_document(
            self.store,
            self.parent.id,
            version=self._parent_version(),
            document=document,
            severity=highest(severity, task["severity"] if task else None),
            owner=self.checker.config.owner_of(self.parent.id),
            config=self.checker.config,
        )

    def _parent_version(self) -> int:
        latest = self.store.latest_version(self.parent.id)
        return latest.number if latest is not None else 0

    async def supersede(self, doc: lineage.Document, old_id: str, reason: str) -> None:
        """`doc` is the next version of `old_id`'s policy: diff, analyse, task, alert."""
        store, checker = self.store, self.checker
        old_v = store.latest_version(old_id)
        new_v = store.latest_version(doc.id)
        assert old_v is not None and new_v is not None
        settings = checker.config.analysis
        comparison: Comparison = await checker.workers.run(
            f"analysis of {doc.id} against {old_id}",
            compare_texts,
            store.version_text(old_v),
            store.version_text(new_v),
            watch_terms=watch_terms_for(self.parent.watch_terms, settings),
            settings=settings,
        )
        old_doc = await self.document(store.require_source(old_id))
        labels = (str(lineage.document_label(old_doc)), str(lineage.document_label(doc)))
        old_url = store.require_source(old_id)["url"]
        line = supersedes_line(doc.url, old_url, labels)
        signals = [signal_to_json(s) for s in comparison.analysis.signals]
        with store.transaction():
            store.set_lineage(doc.id, supersedes=old_id, decision="supersedes", reason=reason)
            change = self._record_document(
                {
                    "source": doc.id,
                    "url": doc.url,
                    "version": new_v.number,
                    "decision": "supersedes",
                    "supersedes": old_id,
                    "old_url": old_url,
                    "old_version": old_v.number,
                    "labels": list(labels),
                    "line": line,
                    "reason": reason,
                    "severity": comparison.analysis.severity,
                    "signals": signals,
                },
                comparison.analysis.severity,
            )
            summary = "; ".join(
                filter(
                    None,
                    [
                        line,
                        comparison.analysis.headline(),
                        detect.summary(comparison.change) if comparison.change else "",
                    ],
                )
            )
            payload: dict[str, Any] = {
                "event": "opened" if change.opened else "extended",
                "task_id": change.task_id,
                "source_id": doc.id,
                "old_source": old_id,
                "lab": self.parent.lab,
                "title": store.require_source(doc.id)["title"],
                "url": doc.url,
                "from_version": None,
                "old_version": old_v.number,
                "new_version": new_v.number,
                "summary": summary,
                "supersedes": line,
                "severity": comparison.analysis.severity,
                "signals": signals[:ALERT_SIGNALS],
                "new_documents": [],
            }
            # the citations of the superseded file are re-anchored on the new one
            touched = criteria.on_new_version(
                store, doc.id, new_v.number, store.version_text(new_v), change.task_id, signals
            )
            queue_change_alert(
                store,
                checker.config,
                self.parent.notify,
                payload,
                task_id=change.task_id,
                source_id=doc.id,
                touched=touched,
            )


def _root(links: dict[str, str], source_id: str) -> str:
    """The first document of `source_id`'s lineage (its own id when it has none)."""
    seen = {source_id}
    while source_id in links and links[source_id] not in seen:
        source_id = links[source_id]
        seen.add(source_id)
    return source_id


# --- a rater's lineage fixes ---------------------------------------------------------


@dataclass(frozen=True)
class LineageFix:
    """What `link_documents` / `unlink_document` did: one line, and the tasks updated."""

    message: str
    tasks: tuple[int, ...]


def link_documents(
    config: Config, store: Store, old_id: str, new_id: str, *, actor: str = "cli"
) -> LineageFix:
    """Record, as a rater's decision, that `new_id` supersedes `old_id`.

    Refused (a `LineageError`) when it would make a loop. The change is
    analysed again (the new document's first version against the old one's
    latest), and every task that covered the new document says so from now on,
    with an event in its history.
    """
    old_row, new_row = store.require_source(old_id), store.require_source(new_id)
    if old_id == new_id:
        raise LineageError(f"{new_id!r} cannot supersede itself")
    links = store.lineage_links()
    links.pop(new_id, None)  # the link this one replaces
    if made := lineage.loop(links, old_id, new_id):
        raise LineageError(
            f"refused: {new_id} superseding {old_id} would make a loop ("
            + " → ".join(made)
            + f"); unlink {made[1]} first"
        )
    old_v = store.latest_version(old_id)
    new_v = store.versions(new_id)[0] if store.latest_version(new_id) is not None else None
    if old_v is None or new_v is None:
        missing = old_id if old_v is None else new_id
        raise LineageError(f"{missing!r} has no version yet (run `watcher check`)")
    top = new_row["parent_id"] or new_id
    own = next((s.watch_terms for s in config.sources if s.id == top), ())
    comparison = compare_texts(
        store.version_text(old_v),
        store.version_text(new_v),
        watch_terms=watch_terms_for(own, config.analysis),
        settings=config.analysis,
    )
    labels = (
        str(lineage.version_label(old_row["link_text"] or "", old_row["url"])),
        str(lineage.version_label(new_row["link_text"] or "", new_row["url"])),
    )
    line = supersedes_line(new_row["url"], old_row["url"], labels)
    note = f"{new_id} supersedes {old_id} (set by {actor}): {line}"
    document = {
        "source": new_id,
        "url": new_row["url"],
        "version": new_v.number,
        "decision": "rater",
        "supersedes": old_id,
        "old_url": old_row["url"],
        "old_version": old_v.number,
        "labels": list(labels),
        "line": line,
        "reason": f"linked by {actor}",
        "severity": comparison.analysis.severity,
        "signals": [signal_to_json(s) for s in comparison.analysis.signals],
    }
    with store.transaction():
        store.set_lineage(new_id, supersedes=old_id, decision="rater", reason=f"linked by {actor}")
        tasks = review.tasks_covering(store, new_id)
        for task in tasks:
            review.replace_document(store, task["id"], new_id, document, actor=actor, note=note)
    log.info("lineage %s: %s", new_id, note)
    return LineageFix(line, tuple(task["id"] for task in tasks))


def unlink_document(store: Store, new_id: str, *, actor: str = "cli") -> LineageFix:
    """Record, as a rater's decision, that `new_id` supersedes nothing: its own lineage."""
    row = store.require_source(new_id)
    old_id = row["supersedes"]
    if old_id is None:
        raise LineageError(f"{new_id!r} supersedes nothing; nothing to unlink")
    line = f"new document linked: {row['url']} (not a new version of {old_id})"
    note = f"{new_id} no longer supersedes {old_id} (set by {actor})"
    document = {
        "source": new_id,
        "url": row["url"],
        "decision": "rater",
        "line": line,
        "reason": f"unlinked by {actor}",
        "signals": [],
    }
    with store.transaction():
        store.set_lineage(new_id, supersedes=None, decision="rater", reason=f"unlinked by {actor}")
        tasks = review.tasks_covering(store, new_id)
        for task in tasks:
            review.replace_document(store, task["id"], new_id, document, actor=actor, note=note)
    log.info("lineage %s: %s", new_id, note)
    return LineageFix(note, tuple(task["id"] for task in tasks))
