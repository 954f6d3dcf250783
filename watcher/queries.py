"""Read-side views of the database, shaped for people: the CLI and the dashboard.

Each function returns plain JSON-ready data; printing is the caller's job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from watcher import criteria as criteria_store
from watcher import detect
from watcher.compare import watch_terms_for
from watcher.config import Config
from watcher.errors import NotFound
from watcher.models import Analysis, Change
from watcher.store import Row, Store, VersionRow


def sources(store: Store) -> list[dict[str, Any]]:
    return [
        {
            "id": row["id"],
            "parent": row["parent_id"],
            "lab": row["lab"],
            "title": row["title"],
            "url": row["url"],
            # a followed document its parent no longer links is `unlinked`
            "status": "unlinked" if row["unlinked_at"] else row["status"],
            "supersedes": row["supersedes"],
            "lineage": row["lineage_reason"],
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
    """A version for people and tools.

    `snapshot_sha256` is the SHA-256 of the body exactly as the server sent it
    (after content decoding), the stored snapshot's; null, with
    `snapshot_as_sent` false, for a version recorded before snapshots were
    kept whole whose stored snapshot is not known to be that body. `response`
    holds the headers of the response that produced the snapshot; `fetcher`
    says which fetcher produced it: "http", or "browser" (the snapshot is then
    the DOM Chromium rendered).
    """
    return {
        "number": version.number,
        "captured_at": version.captured_at,
        "text_sha256": version.text_sha256,
        "snapshot_sha256": version.snapshot_sha256,
        "snapshot_as_sent": version.snapshot_as_sent,
        "response": {
            "status": version.http_status,
            "url": version.url,
            "content_type": version.content_type,
            "charset": version.charset,
            "etag": version.etag,
            "last_modified": version.last_modified,
        },
        "kind": version.kind,
        "chars": version.chars,
        "words": version.words,
        "returned_to": version.returned_to,
        "reextracted": version.reextracted,
        "fetcher": version.fetcher,
    }


def lineage_versions(store: Store, source_id: str) -> list[VersionRow]:
    """Every version of the lineage `source_id` belongs to, oldest first: each
    document's versions in turn, its predecessors' before its own."""
    return [v for member in store.lineage(source_id) for v in store.versions(member)]


def history(store: Store, source_id: str) -> dict[str, Any]:
    """The versions of a source's lineage, oldest first, each with its source and
    URL (one source alone when it has no lineage), and the re-uploads that kept
    the text.

    A re-upload is a check that saw new raw bytes while the text stayed the
    same (labs silently replace PDFs at the same URL); its `raw_sha256` is
    the SHA-256 of those bytes as sent, which are not stored.
    """
    row = store.require_source(source_id)
    members = store.lineage(source_id)
    urls = {member: store.require_source(member)["url"] for member in members}
    reuploads: list[dict[str, Any]] = []
    for member in members:
        previous: str | None = None
        current_version: int | None = None
        for check in store.raw_history(member):
            if check["version"] is not None:
                current_version = check["version"]
            elif previous is not None and check["raw_sha256"] != previous:
                reuploads.append(
                    {
                        "source": member,
                        "at": check["started_at"],
                        "raw_sha256": check["raw_sha256"],
                        "version": current_version,
                    }
                )
            previous = check["raw_sha256"]
    return {
        "source": source_id,
        "url": row["url"],
        "lineage": members,
        "versions": [
            {"source": v.source_id, "url": urls[v.source_id], **version_dict(v)}
            for v in lineage_versions(store, source_id)
        ],
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


def paged_text(text: str, pages: Sequence[int]) -> str:
    """The text with a `[[page N]]` line before the first line of each page."""
    out: list[str] = []
    current = None
    for line, page in zip(text.split("\n"), pages, strict=False):
        if page != current:
            out.append(f"[[page {page}]]")
            current = page
        out.append(line)
    return "\n".join(out)


def compare(
    store: Store,
    source_id: str,
    old: int | None = None,
    new: int | None = None,
    *,
    differ: Callable[[str, str], Change | None] = detect.diff,
) -> tuple[VersionRow, VersionRow, Change | None]:
    """The two versions to compare (default: the last change) and their diff.

    The last change is the source's latest version against the version
    before it in its lineage: a superseding file's first version is compared
    with its predecessor's latest. `differ` lets the dashboard pass a cached
    `detect.diff`.
    """
    store.require_source(source_id)
    if old is None and new is None:
        latest = resolve_version(store, source_id, None)
        before = previous_in_lineage(store, latest)
        if before is None:
            raise NotFound(f"source {source_id!r} has only its first version; nothing to compare")
        old_v, new_v = before, latest
    elif new is None:
        assert old is not None
        old_v, new_v = store.version(source_id, old), resolve_version(store, source_id, None)
    else:
        assert old is not None
        old_v, new_v = store.version(source_id, old), store.version(source_id, new)
    return old_v, new_v, _paged_diff(store, old_v, new_v, differ)


def _paged_diff(
    store: Store,
    old_v: VersionRow,
    new_v: VersionRow,
    differ: Callable[[str, str], Change | None],
) -> Change | None:
    """The diff of two versions' texts, its hunks with their pages when either is a paged PDF."""
    old_text, new_text = store.version_text(old_v), store.version_text(new_v)
    change = differ(old_text, new_text)
    if change is None or (old_v.page_starts is None and new_v.page_starts is None):
        return change
    return detect.with_pages(
        change, store.version_pages(old_v, old_text), store.version_pages(new_v, new_text)
    )


def previous_in_lineage(store: Store, version: VersionRow) -> VersionRow | None:
    """The version before `version` in its lineage (None for the very first)."""
    if version.number > 1:
        return store.version(version.source_id, version.number - 1)
    predecessor = store.require_source(version.source_id)["supersedes"]
    return store.latest_version(predecessor) if predecessor else None


#: One side of a comparison: a source and a version number (None: its latest).
VersionRef = tuple[str, int | None]


def parse_version_ref(text: str) -> VersionRef:
    """`SOURCE` or `SOURCE@VERSION` → (source, version or None for the latest).

    Raises ValueError with a one-line reason for a malformed reference.
    """
    source, at, number = text.partition("@")
    if not source.strip():
        raise ValueError(f"{text!r} names no source (write SOURCE or SOURCE@VERSION)")
    if not at:
        return source, None
    if not number.isascii() or not number.isdigit() or int(number) < 1:
        raise ValueError(
            f"{text!r}: the version after @ must be a number from 1 (as `watcher history` lists)"
        )
    return source, int(number)


def compare_any(
    store: Store,
    old: VersionRef,
    new: VersionRef,
    *,
    differ: Callable[[str, str], Change | None] = detect.diff,
) -> tuple[VersionRow, VersionRow, Change | None]:
    """Any version of any source against any version of any source, and their diff
    (a policy's new file against its predecessor's last version, two labs' policies)."""
    old_v = resolve_version(store, *old)
    new_v = resolve_version(store, *new)
    return old_v, new_v, _paged_diff(store, old_v, new_v, differ)


def watch_terms(config: Config, store: Store, *source_ids: str) -> tuple[str, ...]:
    """The watch terms for sources: each one's own (or its parent's), then the
    global ones, each term once (two sources: a file against another's)."""
    terms: list[str] = []
    for source_id in source_ids:
        row = store.source(source_id)
        top = (row["parent_id"] if row else None) or source_id
        own = next((s.watch_terms for s in config.sources if s.id == top), ())
        terms += watch_terms_for(own, config.analysis)
    return tuple(dict.fromkeys(terms))


def analyse_versions(
    config: Config, store: Store, old: VersionRow, new: VersionRow, change: Change | None
) -> Analysis:
    """The analysis of `old` → `new` as `watcher diff` shows it: both sources'
    watch terms, the versions' pages."""
    from watcher.analysis import analyse_with  # 50 ms of patterns: only when analysing

    old_text, new_text = store.version_text(old), store.version_text(new)
    return analyse_with(
        config.analysis,
        old_text,
        new_text,
        change=change,
        watch_terms=watch_terms(config, store, *dict.fromkeys((old.source_id, new.source_id))),
        old_pages=store.version_pages(old, old_text),
        new_pages=store.version_pages(new, new_text),
    )


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
    """The tasks as `watcher tasks --json` lists them (each with its source's lab)."""
    labs = {row["id"]: row["lab"] for row in store.sources(include_inactive=True)}
    return [{**task_dict(row), "lab": labs.get(row["source_id"])} for row in store.tasks(status)]


def listed_task(store: Store, task_id: int) -> dict[str, Any]:
    """One task as `watcher tasks --json` lists it (what a webhook document carries)."""
    row = store.task(task_id)
    source = store.source(row["source_id"])
    return {**task_dict(row), "lab": source["lab"] if source else None}


def task(store: Store, task_id: int) -> dict[str, Any]:
    row = store.task(task_id)
    data = task_dict(row)
    data["signals"] = json.loads(row["signals"]) if row["signals"] else []
    # the followed documents whose change the task covers (a superseding file,
    # a removed or restored link), each with its own line and signals
    data["documents"] = json.loads(row["documents"]) if row["documents"] else []
    # the graded criteria whose cited passages the change moved, changed or removed
    touched = json.loads(row["criteria"]) if row.get("criteria") else {}
    data["criteria_line"] = touched.get("line")
    data["criteria"] = touched.get("criteria", [])
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


# --- the dashboard's views ------------------------------------------------------


def overview(store: Store, *, lab: str | None = None, status: str | None = None) -> dict[str, Any]:
    """Sources grouped by lab (in name order), each with its open task's severity.

    `lab` and `status` filter the sources; `labs` and `statuses` list every
    value present, for the filter pickers.
    """
    rows = sources(store)
    open_tasks = {row["id"]: row for row in store.tasks("open")}
    labs = sorted({row["lab"] for row in rows})
    statuses = sorted({row["status"] for row in rows})
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if (lab and row["lab"] != lab) or (status and row["status"] != status):
            continue
        task_row = open_tasks.get(row["open_task"]) if row["open_task"] else None
        row["open_task_severity"] = task_row["severity"] if task_row else None
        groups.setdefault(row["lab"], []).append(row)
    load: dict[str, int] = {}
    for task_row in open_tasks.values():
        name = task_row["assignee"] or ""
        load[name] = load.get(name, 0) + 1
    return {
        "labs": labs,
        "statuses": statuses,
        "groups": [{"lab": name, "sources": groups[name]} for name in sorted(groups)],
        # who is overloaded: each assignee's open tasks, most first ("" is nobody)
        "raters": [
            {"name": name, "open_tasks": count}
            for name, count in sorted(load.items(), key=lambda item: (-item[1], item[0]))
        ],
    }


def source_detail(store: Store, source_id: str, *, checks: int = 30) -> dict[str, Any]:
    """One source: its row, versions newest first (with the severity of the task
    covering each), recent checks, children and tasks."""
    row = store.require_source(source_id)
    tasks_rows = store.source_tasks(source_id)
    rows = store.versions(source_id)
    versions = [version_dict(v) for v in rows]
    for at, version in enumerate(versions):
        previous = rows[at - 1] if at else None
        version["words_delta"] = None if previous is None else rows[at].words - previous.words
        version.update(_words_changed(store, previous, rows[at]))
        covering = [
            t for t in tasks_rows if t["from_version"] < version["number"] <= t["to_version"]
        ]
        version["task"] = covering[-1]["id"] if covering else None
        version["severity"] = covering[-1]["severity"] if covering else None
    return {
        "source": {
            key: row[key]
            for key in (
                "id",
                "parent_id",
                "lab",
                "title",
                "url",
                "status",
                "consecutive_failures",
                "last_error",
                "last_checked",
                "last_changed",
                "created_at",
                "active",
                "supersedes",
                "lineage_decision",
                "lineage_reason",
                "unlinked_at",
            )
        },
        "lineage": lineage_history(store, source_id),
        "versions": list(reversed(versions)),
        "checks": [
            {
                key: check[key]
                for key in (
                    "started_at",
                    "duration_ms",
                    "http_status",
                    "bytes",
                    "outcome",
                    "error",
                    "warning",
                    "version",
                    "fetcher",
                )
            }
            for check in store.checks(source_id, limit=checks)
        ],
        "children": [
            {"id": child["id"], "title": child["title"], "status": child["status"]}
            for child in store.children(source_id)
        ],
        "tasks": [task_dict(t) for t in reversed(tasks_rows)],
    }


#: (old text, new text) SHA-256 → words added and removed: two texts never change,
#: so neither does their diff; bounded, oldest first out
_WORDS_CHANGED: dict[tuple[str, str], tuple[int, int]] = {}


def _words_changed(store: Store, old: VersionRow | None, new: VersionRow) -> dict[str, int | None]:
    """`words_added` and `words_removed` from `old` to `new` (None for a first
    version): a net count would show an edit of +16/−12 words as +4."""
    if old is None:
        return {"words_added": None, "words_removed": None}
    key = (old.text_sha256, new.text_sha256)
    if key not in _WORDS_CHANGED:
        change = detect.diff(store.version_text(old), store.version_text(new))
        stats = (change.stats.words_added, change.stats.words_removed) if change else (0, 0)
        if len(_WORDS_CHANGED) >= 4096:
            del _WORDS_CHANGED[next(iter(_WORDS_CHANGED))]
        _WORDS_CHANGED[key] = stats
    added, removed = _WORDS_CHANGED[key]
    return {"words_added": added, "words_removed": removed}


def lineage_history(store: Store, source_id: str) -> list[dict[str, Any]]:
    """The lineage `source_id` belongs to as one history, oldest first: each
    version numbered across the whole lineage (`step`, from 1), with its
    source, its file's URL, and the version before it (`previous`, a
    `SOURCE@VERSION` reference, None for the first), whose diff may cross
    files. Empty when the source has no lineage (one document alone)."""
    members = store.lineage(source_id)
    if len(members) < 2:
        return []
    rows = {member: store.require_source(member) for member in members}
    out: list[dict[str, Any]] = []
    previous: VersionRow | None = None
    for step, version in enumerate(lineage_versions(store, source_id), 1):
        row = rows[version.source_id]
        out.append(
            {
                "step": step,
                "source": version.source_id,
                "title": row["title"],
                "url": row["url"],
                "status": "unlinked" if row["unlinked_at"] else row["status"],
                "number": version.number,
                "captured_at": version.captured_at,
                "words": version.words,
                "words_delta": None if previous is None else version.words - previous.words,
                **_words_changed(store, previous, version),
                "ref": f"{version.source_id}@{version.number}",
                "previous": f"{previous.source_id}@{previous.number}" if previous else None,
                "new_file": previous is not None and previous.source_id != version.source_id,
            }
        )
        previous = version
    return out


def version_choices(store: Store, lab: str | None) -> list[dict[str, Any]]:
    """Every version of a lab's sources (every lab's when None), for the compare
    form's pickers: `ref` is `SOURCE@VERSION`, newest version first per source."""
    out = []
    for row in store.sources(include_inactive=True):
        if lab is not None and row["lab"] != lab:
            continue
        for version in reversed(store.versions(row["id"])):
            out.append(
                {
                    "ref": f"{row['id']}@{version.number}",
                    "source": row["id"],
                    "title": row["title"],
                    "number": version.number,
                    "captured_at": version.captured_at,
                }
            )
    return out


def filter_tasks(
    store: Store,
    *,
    status: str | None = None,
    lab: str | None = None,
    source_id: str | None = None,
    severity: str | None = None,
    assignee: str | None = None,
) -> list[dict[str, Any]]:
    """Tasks newest first, with their source's lab and title, filtered."""
    by_id = {row["id"]: row for row in store.sources(include_inactive=True)}
    out = []
    for row in reversed(store.tasks(status or None)):
        source = by_id.get(row["source_id"], {})
        if lab and source.get("lab") != lab:
            continue
        if source_id and row["source_id"] != source_id:
            continue
        if severity and (row["severity"] or "") != severity:
            continue
        if assignee and (row["assignee"] or "") != assignee:
            continue
        data = task_dict(row)
        data["lab"] = source.get("lab", "")
        data["title"] = source.get("title", "")
        out.append(data)
    return out


_FTS_TERM = re.compile(r'"([^"]*)"?|(\S+)')


def fts_query(text: str) -> str:
    """User input → an FTS5 expression that can never be a syntax error.

    Every bare word and every "quoted phrase" becomes an FTS5 string (inner
    quotes doubled), joined by spaces, which FTS5 reads as AND: operators
    (AND, OR, NOT, NEAR), `*`, `^`, `:` and parentheses are searched as text.
    An unclosed quote runs to the end of the input. Returns '' for no terms.
    """
    parts = []
    for match in _FTS_TERM.finditer(text):
        term = match.group(1) if match.group(1) is not None else match.group(2)
        term = " ".join(term.split())
        if term:
            parts.append('"' + term.replace('"', '""') + '"')
    return " ".join(parts)


#: Marks FTS5 puts around matches in snippets; private-use characters that
#: extraction never produces, so they cannot be forged by a page.
SNIPPET_MARKS = ("\ue000", "\ue001")


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """A marked snippet → (text, is_match) pieces, for the caller to escape and wrap."""
    parts: list[tuple[str, bool]] = []
    start, end = SNIPPET_MARKS
    for index, chunk in enumerate(snippet.split(start)):
        if index == 0:
            if chunk:
                parts.append((chunk.replace(end, ""), False))
            continue
        matched, _, rest = chunk.partition(end)
        if matched:
            parts.append((matched, True))
        if rest:
            parts.append((rest, False))
    return parts


def search(
    store: Store,
    text: str,
    *,
    lab: str | None = None,
    source_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Full-text search over every version: per source, where the words first
    and last appeared, whether they are still there, and a snippet from the
    last matching version.

    A lineage (a policy across files) is one result, read as one history:
    `first`, `last` and `gone_in` each name their `source` (`last`'s file is
    where the snippet comes from), `numbers` and `latest` count versions
    across the lineage (its first file's v1 is 1), and `lineage` lists its
    documents, oldest first. A `source_id` filter covers its whole lineage.
    """
    match = fts_query(text)
    if not match:
        return {"query": text, "results": []}
    members = store.lineage(source_id) if source_id else []
    rows = store.search_versions(
        match,
        lab=lab,
        source_id=source_id if len(members) < 2 else None,
        since=since,
        until=until,
    )
    if len(members) > 1:
        rows = [row for row in rows if row["source_id"] in members]
    results: list[dict[str, Any]] = []
    done: set[str] = set()
    for row in rows:
        if row["source_id"] in done:
            continue
        lineage = store.lineage(row["source_id"])
        if len(lineage) > 1:
            done.update(lineage)
            results.append(_lineage_result(store, match, lineage, rows))
            continue
        first = store.version(row["source_id"], row["first"])
        last = store.version(row["source_id"], row["last"])
        gone_in = None
        if row["last"] < row["latest"]:
            gone_in = version_dict(store.version(row["source_id"], row["last"] + 1))
        snippet = store.search_snippet(match, row["source_id"], row["last"], mark=SNIPPET_MARKS)
        numbers = sorted(int(n) for n in str(row["numbers"]).split(","))
        results.append(
            {
                "source": row["source_id"],
                "lab": row["lab"],
                "title": row["title"],
                "lineage": [row["source_id"]],
                "first": {"source": row["source_id"], **version_dict(first)},
                "last": {"source": row["source_id"], **version_dict(last)},
                "latest": row["latest"],
                "still_present": row["last"] == row["latest"],
                "gone_in": {"source": row["source_id"], **gone_in} if gone_in else None,
                "matches": row["matches"],
                "numbers": numbers,
                "snippet": snippet_parts(snippet or ""),
            }
        )
    return {"query": text, "results": results}


def _lineage_result(
    store: Store, match: str, lineage: list[str], rows: list[Row]
) -> dict[str, Any]:
    """One search result for a lineage's matching rows: first and last across its files."""
    history = lineage_versions(store, lineage[0])
    step = {(v.source_id, v.number): index for index, v in enumerate(history)}
    hits = sorted(
        step[(row["source_id"], int(n))]
        for row in rows
        if row["source_id"] in lineage
        for n in str(row["numbers"]).split(",")
    )
    first, last = history[hits[0]], history[hits[-1]]
    gone_in = history[hits[-1] + 1] if hits[-1] + 1 < len(history) else None
    snippet = store.search_snippet(match, last.source_id, last.number, mark=SNIPPET_MARKS)
    newest = store.require_source(history[-1].source_id)

    def shown(version: VersionRow) -> dict[str, Any]:
        return {
            "source": version.source_id,
            "step": step[(version.source_id, version.number)] + 1,
            **version_dict(version),
        }

    return {
        "source": newest["id"],
        "lab": newest["lab"],
        "title": newest["title"],
        "lineage": lineage,
        "first": shown(first),
        "last": shown(last),
        "latest": len(history),
        "still_present": gone_in is None,
        "gone_in": shown(gone_in) if gone_in else None,
        "matches": len(hits),
        "numbers": [hit + 1 for hit in hits],
        "snippet": snippet_parts(snippet or ""),
    }


def feed_entries(
    store: Store, *, lab: str | None = None, source_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest changes (versions after the first, and a superseding file's
    first version), newest first, for feeds. A source's feed covers its
    whole lineage; each entry names the version before it (`previous`:
    source and number, None when there is none).

    Cheap by design (no diff is computed): the word counts and the covering
    task's summary say what changed.
    """
    ids: list[str] | None = None
    if source_id:
        ids = store.lineage(source_id)
    entries = []
    tasks_cache: dict[int, Row] = {}
    covering: dict[tuple[str, int], int] | None = None
    for row in store.changes(lab=lab, source_id=ids, limit=limit):
        task_id = row["task_id"]
        if task_id is None and row["number"] == 1:
            # a superseding file's change goes on its landing page's task
            if covering is None:
                covering = {}
                for with_documents in store.tasks_with_documents():
                    for document in json.loads(with_documents["documents"]):
                        key = (document.get("source"), document.get("version"))
                        if document.get("supersedes") and key not in covering:
                            covering[key] = with_documents["id"]
            task_id = covering.get((row["source_id"], 1))
        task_row = None
        if task_id is not None:
            if task_id not in tasks_cache:
                tasks_cache[task_id] = store.task(task_id)
            task_row = tasks_cache[task_id]
        previous = None
        if row["previous_number"] is not None:
            previous = {"source": row["previous_source"], "number": row["previous_number"]}
        entries.append(
            {
                "source": row["source_id"],
                "lab": row["lab"],
                "title": row["title"],
                "number": row["number"],
                "captured_at": row["captured_at"],
                "words": row["words"],
                "previous": previous,
                "previous_words": row["previous_words"],
                "task": task_dict(task_row) if task_row else None,
            }
        )
    return entries


def lab_criteria(store: Store, lab: str) -> dict[str, Any]:
    """A lab's graded criteria, each with its citations, statuses and counts.

    Raises NotFound when no source (active or not) belongs to `lab`.
    """
    names = {row["lab"] for row in store.sources(include_inactive=True) if row["lab"]}
    matched = [name for name in names if name.casefold() == lab.strip().casefold()]
    if not matched:
        raise NotFound(f"no source belongs to a lab named {lab[:80]!r}")
    items = criteria_store.criteria(store, lab=matched[0])
    counts: dict[str, int] = {}
    for item in items:
        for citation in item["citations"]:
            counts[citation["status"]] = counts.get(citation["status"], 0) + 1
    return {"lab": matched[0], "criteria": items, "counts": counts}


def criterion_names(store: Store, lab: str) -> list[str]:
    """The criteria a lab's citations name, for a form's suggestions."""
    return [item["criterion"] for item in criteria_store.criteria(store, lab=lab)]
