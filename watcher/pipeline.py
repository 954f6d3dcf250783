"""The story of a check: fetch → extract → store → detect → analyse → review → outbox.

`check_all()` runs one pass over the configured sources (and the documents
their `follow` rules found), concurrently within the fetcher's limits;
`check_source()` checks one source and its followed documents, for the
daemon, which holds the fetcher, the workers and the synced sources. Each
check ends in exactly one transaction that writes its `checks` row, and when
the text changed, the version, the task and the outbox rows together.
A failing source is a row with its reason, never an exception out of here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from watcher import analysis, clock, criteria, detect, escape, lineage, review
from watcher.browser import Browser, BrowserSettings, blocked_reason
from watcher.compare import Comparison, compare_texts
from watcher.config import Config, SourceConfig
from watcher.errors import (
    FetchError,
    HTTPStatusError,
    NotFound,
    StorageError,
    StoreError,
    SuspiciousExtraction,
    WatcherError,
)
from watcher.fetch import Fetcher, FetchSettings, request_headers
from watcher.interstitial import interstitial
from watcher.models import (
    SUSPECT_WORDS,
    CheckOutcome,
    DocumentKind,
    Extracted,
    ExtractRules,
    FetchResult,
    Link,
    Outcome,
    Processed,
    Source,
    signal_to_json,
)
from watcher.notify.outbox import (
    ALERT_SIGNALS,
    DeliveryReport,
    deliver_due,
    housekeeping,
    should_hold,
)
from watcher.review import highest
from watcher.store import Row, Store, VersionRow, encode_pages, sha256
from watcher.succession import Lineages, sketch_json
from watcher.wording import plural
from watcher.workers import WorkerPool

log = logging.getLogger(__name__)

# How long a page's fingerprint may stand in for a full extraction.
FINGERPRINT_TRUST_S = 24 * 3600.0
# A new text that keeps less than this share of the latest version's words and
# is shorter than SUSPECT_WORDS is `suspect`: a version only when the next
# check sees the same text again (a consent page, a login wall, a half-served
# page come and go; a real cut stays).
SUSPECT_KEEP = 0.3


# --- sources: configured and followed ---------------------------------------


def configured_source(cfg: SourceConfig) -> Source:
    return Source(
        id=cfg.id,
        url=cfg.url,
        lab=cfg.lab,
        title=cfg.title,
        rules=cfg.rules,
        notify=cfg.notify,
        expected=None if cfg.kind == "auto" else cfg.kind,
        watch_terms=cfg.watch_terms,
        proxy=cfg.proxy,
        browser=cfg.browser,
        headers=cfg.headers,
        cookies_env=cfg.cookies_env,
        user_agent=cfg.user_agent,
    )


def child_id(parent_id: str, url: str) -> str:
    """A stable id for a followed document: parent id, a slug of the link, a short hash."""
    path = urlsplit(url).path.rstrip("/")
    last = path.rsplit("/", 1)[-1] or urlsplit(url).hostname or "doc"
    last = re.sub(r"\.(pdf|html?)$", "", last, flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")[:40].strip("-") or "doc"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:6]
    return f"{parent_id}--{slug}-{digest}"


def child_source(parent: Source, row: Row) -> Source:
    """A followed document inherits its parent's lab, channels and `ignore` rules."""
    rules = ExtractRules(ignore=parent.rules.ignore)
    return Source(
        id=row["id"],
        url=row["url"],
        lab=parent.lab,
        title=row["title"],
        rules=rules,
        notify=parent.notify,
        parent_id=parent.id,
        watch_terms=parent.watch_terms,
        proxy=parent.proxy,
        # A linked document (a PDF) is downloaded plainly, with the cookies the
        # parent's browser got; the browser is its fallback when it is blocked.
        browser="auto" if parent.browser else False,
        headers=parent.headers,
        cookies_env=parent.cookies_env,
        user_agent=parent.user_agent,
    )


def _child_title(parent: Source, link: Link) -> str:
    text = " ".join(link.text.split())[:120]
    return f"{parent.title}: {text}" if text else f"{parent.title}: {link.url}"


# --- results -----------------------------------------------------------------


@dataclass
class PassResult:
    """All outcomes of one pass, in completion order."""

    outcomes: list[CheckOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckOutcome]:
        return [item for item in self.outcomes if item.outcome == "failed"]

    @property
    def tasks(self) -> list[CheckOutcome]:
        return [item for item in self.outcomes if item.task_id is not None]


class ProgressHook(Protocol):
    """Told how many checks a pass plans, as it learns them, and each check's end.

    A pass first plans the sources it was asked to check; each followed
    document adds one more check once its parent's check has found it, so the
    planned total grows during the pass and is never below the checks done.
    """

    def planned(self, count: int) -> None: ...

    def checked(self, outcome: CheckOutcome) -> None: ...


# --- the pass ----------------------------------------------------------------


def fetch_settings(config: Config) -> FetchSettings:
    w = config.watcher
    return FetchSettings(
        user_agent=w.user_agent,
        timeout=w.timeout,
        max_bytes=w.max_bytes,
        concurrency=w.concurrency,
        per_host=w.per_host,
        max_redirects=w.max_redirects,
        retries=w.retries,
        allow_downgrade=w.allow_downgrade,
        proxy=w.proxy,
        proxy_auth=w.proxy_auth(os.environ),
    )


def browser_settings(config: Config) -> BrowserSettings:
    w = config.watcher
    return BrowserSettings(
        path=w.browser_path,
        concurrency=w.browser_concurrency,
        timeout=w.timeout,
        max_bytes=w.max_bytes,
        # Chromium's own user agent (a source's `user_agent` replaces it): a
        # browser that calls itself a bot is challenged like one.
        user_agent=None,
        proxy=w.proxy,
        proxy_auth=w.proxy_auth(os.environ),
    )


def sync_sources(config: Config, store: Store) -> None:
    """Make the `sources` table agree with the config (children keep their rows)."""
    with store.transaction():
        for cfg in config.sources:
            store.upsert_source(cfg.id, url=cfg.url, lab=cfg.lab, title=cfg.title)
        store.set_active_sources({cfg.id for cfg in config.sources if cfg.enabled})


def select_sources(config: Config, store: Store, only: Sequence[str] | None) -> list[Source]:
    """The configured sources to check, in config order; `only` narrows to ids.

    An id in `only` may also name a followed child, which is then checked alone.
    """
    configured = [configured_source(cfg) for cfg in config.sources if cfg.enabled]
    if not only:
        return configured
    by_id = {source.id: source for source in configured}
    chosen: list[Source] = []
    for wanted in dict.fromkeys(only):
        if wanted in by_id:
            chosen.append(by_id[wanted])
            continue
        row = store.source(wanted)
        parent = by_id.get(row["parent_id"]) if row and row["parent_id"] else None
        if row is None or parent is None:
            raise NotFound(f"unknown source {wanted!r} (see `watcher sources`)")
        chosen.append(child_source(parent, row))
    return chosen


async def check_all(
    config: Config,
    store: Store,
    *,
    only: Sequence[str] | None = None,
    workers: WorkerPool | None = None,
    progress: ProgressHook | None = None,
) -> PassResult:
    """One pass: check every selected source (and its followed documents) once."""
    sync_sources(config, store)
    sources = select_sources(config, store, only)
    async with contextlib.AsyncExitStack() as owned:
        if workers is None:
            workers = WorkerPool()
            owned.callback(workers.close)
        workers.start()  # their start-up overlaps the first requests
        fetcher = await owned.enter_async_context(Fetcher(fetch_settings(config)))
        return await _checked(config, store, fetcher, workers, progress, None, sources)


async def check_source(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    workers: WorkerPool,
    source: Source,
    browser: Browser | None = None,
) -> PassResult:
    """One scheduled check: `source`, then the documents its `follow` rule tracks.

    The daemon's entry point. Unlike `check_all`, it sets up nothing and
    syncs no other source: the caller keeps the fetcher and the workers
    running, and has synced the `sources` table with `config` (at start and
    on each reload), so the cost of a check does not grow with the number of
    sources configured.
    """
    return await _checked(config, store, fetcher, workers, None, browser, [source])


async def _checked(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    workers: WorkerPool,
    progress: ProgressHook | None,
    browser: Browser | None,
    sources: Sequence[Source],
) -> PassResult:
    """Check `sources` and their followed documents; Chromium, unless given, starts
    on the first page that needs it and ends with the call."""
    result = PassResult()
    async with contextlib.AsyncExitStack() as owned:
        if browser is None:
            browser = await owned.enter_async_context(Browser(browser_settings(config)))
        await Checker(config, store, fetcher, workers, result, progress, browser).run(sources)
    return result


async def run_pass(
    config: Config,
    store: Store,
    *,
    only: Sequence[str] | None = None,
    progress: ProgressHook | None = None,
) -> tuple[PassResult, DeliveryReport]:
    """What `watcher check` does: one pass, then reminders, digests and due alerts."""
    result = await check_all(config, store, only=only, progress=progress)
    housekeeping(config, store)
    report = await deliver_due(config, store)
    return result, report


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


class Checker:
    """Checks sources within one pass; holds what the checks share."""

    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher,
        workers: WorkerPool,
        result: PassResult,
        progress: ProgressHook | None,
        browser: Browser | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.browser = browser or Browser(browser_settings(config))
        self.workers = workers
        self.result = result
        self.progress = progress
        # Backpressure: a fetch slot is freed as soon as the body is read, so
        # without this bound a CPU-bound pass would download every document
        # ahead of extraction and hold them all in memory (1000 pages: 250 MB).
        self.slots = asyncio.Semaphore(config.watcher.concurrency)
        # per parent checked in this pass: the URLs its `follow` rule matched
        self.followed: dict[str, tuple[str, ...]] = {}

    async def run(self, sources: Sequence[Source]) -> None:
        if self.progress is not None:
            self.progress.planned(len(sources))
        await _all_or_none(self.check_tree(source) for source in sources)

    async def check_tree(self, source: Source) -> None:
        """Check a source, then the documents its `follow` rule tracks, then
        decide the lineage of the documents read for the first time."""
        follows = source.parent_id is None and bool(source.rules.follow)
        # a parent's check is reported once its documents are planned, so the
        # progress never looks complete while they are still to be checked
        checked = await self.check(source, report=not follows)
        if follows:
            rows = self.store.children(source.id)
            if source.id in self.followed and checked.version != 1:
                Lineages(self, source).links_changed(
                    rows, self.followed.pop(source.id), new_version=checked.outcome == "new_version"
                )
                rows = self.store.children(source.id)
            # a document no longer linked is checked once a day, not on the parent's schedule
            due = [row for row in rows if not row["unlinked_at"] or _day_old(row["last_checked"])]
            children = [child_source(source, row) for row in due]
            if self.progress is not None:
                self.progress.planned(len(children))
                self.progress.checked(checked)
            await _all_or_none(self.check(child) for child in children)
            # the parent's first version is the baseline: its documents' past
            # versions become history, without a task
            baseline = checked.outcome == "new_version" and checked.version == 1
            await Lineages(self, source).decide(baseline=baseline)

    async def check(self, source: Source, *, report: bool = True) -> CheckOutcome:
        async with self.slots:
            outcome = await self._check_in_slot(source)
        if report and self.progress is not None:
            self.progress.checked(outcome)
        return outcome

    async def _check_in_slot(self, source: Source) -> CheckOutcome:
        """Run the check; an error becomes a failed check, logged and reported."""
        started = clock.now()
        t0 = time.monotonic()
        try:
            outcome = await self._check(source, started, t0)
        except StorageError:
            # The database itself failed (disk full, locked, damaged): no
            # check can be recorded, so the pass stops; the check's
            # transaction was rolled back, and the next pass starts over.
            raise
        except WatcherError as exc:
            status = exc.status if isinstance(exc, HTTPStatusError) else None
            fetcher = exc.fetcher if isinstance(exc, FetchError) else None
            outcome = self._record_failure(
                source, exc.reason, started, t0, http_status=status, fetcher=fetcher
            )
        except Exception as exc:  # a bug must cost one check, not the pass
            log.exception("unexpected error while checking %s", source.id)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            outcome = self._record_failure(source, reason, started, t0)
        log.info(
            "check %s outcome=%s status=%s duration_ms=%d bytes=%d%s",
            source.id,
            outcome.outcome,
            outcome.http_status if outcome.http_status is not None else "-",
            outcome.duration_ms,
            outcome.bytes,
            f" error={escape.quote(outcome.error)}" if outcome.error else "",
        )
        self.result.outcomes.append(outcome)
        return outcome

    async def _check(self, source: Source, started: datetime, t0: float) -> CheckOutcome:
        """The story of one check; each step is a method below, in this order."""
        state = self.store.require_source(source.id)
        latest = await self._reextract_if_rules_changed(source, state)
        fetched = await self._fetch(source, state, latest)
        seen = Observation(source, state, latest, started, t0, fetched)
        if fetched.not_modified:
            return self._record_unchanged(seen)
        seen = replace(seen, raw_sha256=sha256(fetched.content))
        if latest is not None and seen.raw_sha256 == state["last_raw_sha256"]:
            return self._record_unchanged(seen)  # the same bytes make the same text
        try:
            processed = await self._process(seen)
        except WatcherError as exc:  # an answer, but not a document: keep its HTTP status
            if source.browser == "auto" and fetched.fetcher == "http" and _blocked(exc):
                log.info("%s: %s; retrying in the browser", source.id, exc.reason)
                return await self._check(replace(source, browser=True), started, t0)
            return self._record_failure(source, exc.reason, started, t0, fetched=fetched)
        extracted = processed.extracted
        if extracted is None:  # new bytes, but nothing that makes text changed (dynamic pages)
            return self._record_unchanged(seen)
        new_links = self._new_links(source, extracted.links)
        if source.rules.follow:
            self.followed[source.id] = tuple(link.url for link in extracted.links)
        seen = replace(
            seen, extracted=extracted, fingerprint=processed.fingerprint, new_links=new_links
        )
        if not seen.text_changed and not new_links:
            return self._record_unchanged(seen)
        old_text = self.store.version_text(latest) if latest is not None else None
        if seen.text_changed:
            if reason := interstitial(extracted.text, old_text):
                return self._record_failure(source, reason, started, t0, fetched=fetched)
            if note := self._unconfirmed_shrink(seen):
                return self._record_suspect(seen, note)
        comparisons = await self._compare_with_past(seen, old_text)
        if source.parent_id is not None and seen.text_changed:
            seen = replace(seen, sketch=await self._sketch(source, extracted.text))
        return self._record_version(seen, comparisons)

    # -- steps, in the order of the story --

    async def _reextract_if_rules_changed(self, source: Source, state: Row) -> VersionRow | None:
        """New select/remove/ignore rules or a new extractor: re-extract the stored
        snapshot, no task.

        Returns the source's latest version, the re-extracted one if any. The
        snapshot is read as the check that fetched it read it (same media
        type, charset and URL); the new version keeps that snapshot and its
        response headers.
        """
        latest = self.store.latest_version(source.id)
        if state["config_hash"] == source.rules.hash or latest is None:
            # Nothing extracted yet: the first version records the rules it was
            # extracted with, in the check's own transaction.
            return latest
        raw = self.store.get_blob(latest.raw_sha256)
        try:
            extracted: Extracted = await self.workers.run(
                f"re-extraction of {source.id}",
                "watcher.extract:extract",
                raw,
                content_type=latest.content_type or "",
                charset=latest.charset,
                url=latest.url or source.url,
                rules=source.rules,
                expected=self._expected_kind(source, latest),
                previous_chars=None,
            )
        except WatcherError as exc:
            raise type(exc)(f"with the new extraction rules: {exc.reason}") from exc
        digest = extracted.sha256
        with self.store.transaction():
            if digest != latest.text_sha256:
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
                log.info(
                    "re-extracted %s with new rules or extractor as v%d",
                    source.id,
                    latest.number + 1,
                )
            self.store.update_source(source.id, config_hash=source.rules.hash)
        return self.store.latest_version(source.id)

    async def _fetch(self, source: Source, state: Row, latest: VersionRow | None) -> FetchResult:
        """The source's document, from the fetcher it asks for; conditionally once
        it has a version to fall back on.

        `browser = true`: rendered in Chromium. Otherwise a plain GET; with
        `browser = "auto"`, a 403/429/503 whose page is a bot challenge is
        rendered in Chromium instead (a challenge served with status 200 is
        found by extraction, and `_check` retries it).
        """
        headers = request_headers(
            source.user_agent, dict(source.headers), dict(source.cookies_env), os.environ
        )
        if source.browser is True:
            return await self.browser.fetch(
                source.url, select=source.rules.select, headers=headers, proxy=source.proxy
            )
        # a document linked from a rendered page may need the cookies it set
        cookie = self.browser.cookie_header(source.url) if source.parent_id else None
        if cookie and "Cookie" not in headers:
            headers["Cookie"] = cookie
        try:
            return await self.fetcher.fetch(
                source.url,
                etag=state["etag"] if latest else None,
                last_modified=state["last_modified"] if latest else None,
                proxy=source.proxy,
                headers=headers,
            )
        except HTTPStatusError as exc:
            if source.browser != "auto" or not await self._challenge(source, exc):
                raise
            log.info("%s: %s with a bot challenge; retrying in the browser", source.id, exc.reason)
            return await self._fetch(replace(source, browser=True), state, latest)

    async def _challenge(self, source: Source, exc: HTTPStatusError) -> bool:
        """Whether the error page of a plain fetch is a bot challenge (or a JavaScript shell)."""
        if not exc.body.strip():
            return False
        try:
            await self.workers.run(
                f"challenge check of {source.id}",
                "watcher.extract:extract",
                exc.body,
                content_type=exc.content_type or "text/html",
                charset=None,
                url=source.url,
                rules=ExtractRules(),
            )
        except WatcherError as error:
            return _blocked(error)
        return False

    async def _process(self, seen: Observation) -> Processed:
        """Fingerprint and extract in one worker job.

        Extraction is skipped when the page's fingerprint shows nothing
        changed. The fingerprint is trusted for at most FINGERPRINT_TRUST_S
        after the last full extraction: a bounded safety net should the
        fingerprint ever miss a difference the text would show.
        """
        source, state, latest, fetched = seen.source, seen.state, seen.latest, seen.fetched
        known = None
        if latest is not None and state["fingerprint"] and state["fingerprint_at"]:
            age = (clock.now() - clock.parse_iso(state["fingerprint_at"])).total_seconds()
            if age < FINGERPRINT_TRUST_S:
                known = state["fingerprint"]
        return await self.workers.run(
            f"extraction of {source.id}",
            "watcher.extract:process",
            fetched.content,
            content_type=fetched.content_type,
            charset=fetched.charset,
            url=fetched.url,
            rules=source.rules,
            expected=self._expected_kind(source, latest),
            previous_chars=latest.chars if latest else None,
            known_fingerprint=known,
        )

    def _expected_kind(self, source: Source, latest: VersionRow | None) -> DocumentKind | None:
        if source.expected is not None:
            return source.expected
        if latest is not None and latest.kind == "pdf":
            return "pdf"
        if urlsplit(source.url).path.lower().endswith(".pdf"):
            return "pdf"
        return None

    def _new_links(self, source: Source, links: Sequence[Link]) -> tuple[Link, ...]:
        """Links the `follow` rule matched that are not tracked yet."""
        if not source.rules.follow:
            return ()
        # a linked document that is itself a configured source is watched already
        configured = self.config.source_urls
        # the same file with another query string or fragment is not a new document
        # (compared only with those of the same path: a research index links hundreds)
        known: dict[str, list[str]] = {}
        for row in self.store.children(source.id):
            known.setdefault(_path_of(row["url"]), []).append(row["url"])
        found: list[Link] = []
        for link in links:
            same_path = known.setdefault(_path_of(link.url), [])
            if (
                link.url != source.url
                and link.url not in configured
                and self.store.source(child_id(source.id, link.url)) is None
                and not any(lineage.same_document_url(link.url, url) for url in same_path)
            ):
                found.append(link)
                same_path.append(link.url)
        return tuple(found)

    def _unconfirmed_shrink(self, seen: Observation) -> str | None:
        """Why a new text must wait for a second sighting, or None.

        A text that shrank to a short page is recorded only when the check
        after the one that first saw it (failed checks aside) sees the same text.
        """
        latest, extracted = seen.latest, seen.extracted
        assert extracted is not None
        if latest is None:
            return None
        words = extracted.words
        if words >= SUSPECT_WORDS or words >= SUSPECT_KEEP * latest.words:
            return None
        previous = self.store.last_answer(seen.source.id)
        if (
            previous is not None
            and previous["outcome"] == "suspect"
            and previous["text_sha256"] == extracted.sha256
        ):
            log.info("%s: the shrunken text was seen again, recording it", seen.source.id)
            return None
        shrink = 1 - words / latest.words
        return (
            f"text shrank by {shrink:.0%} to {plural(words, 'word')} (from {latest.words:,} in "
            f"v{latest.number}): recorded only if the next check sees it again"
        )

    async def _compare_with_past(
        self, seen: Observation, old_text: str | None
    ) -> Comparisons | None:
        """Diff and analyse the new text against the latest version and, when
        the open task starts earlier, against the task's first version too.
        None for a first version: the baseline opens no task."""
        source, latest = seen.source, seen.latest
        if latest is None:
            return None
        assert old_text is not None
        change = await self._compare(seen, old_text, self.store.version_pages(latest, old_text))
        task = self.store.open_task(source.id)
        if task is None or task["from_version"] == latest.number:
            return Comparisons(change=change, whole=change)
        first = self.store.version(source.id, task["from_version"])
        base = self.store.version_text(first)
        whole = await self._compare(seen, base, self.store.version_pages(first, base))
        return Comparisons(change=change, whole=whole)

    async def _compare(
        self, seen: Observation, old: str, old_pages: tuple[int, ...] | None
    ) -> Comparison:
        assert seen.extracted is not None
        settings = self.config.analysis
        return await self.workers.run(
            f"analysis of {seen.source.id}",
            compare_texts,
            old,
            seen.extracted.text,
            watch_terms=tuple(dict.fromkeys((*seen.source.watch_terms, *settings.watch_terms))),
            settings=settings,
            new_documents=seen.new_links,
            old_pages=old_pages,
            new_pages=seen.extracted.line_pages,
        )

    async def _sketch(self, source: Source, text: str) -> str:
        """A followed document's lineage sketch, as stored beside its version."""
        sketched: lineage.Sketch = await self.workers.run(
            f"lineage sketch of {source.id}", "watcher.sketch:sketch", text
        )
        return sketch_json(sketched, text)

    # -- writes: one transaction per check --

    def _record_unchanged(self, seen: Observation) -> CheckOutcome:
        """Nothing new: a 304, the same bytes, or the latest version's text again."""
        source, fetched = seen.source, seen.fetched
        outcome: Outcome = "not_modified" if fetched.not_modified else "unchanged"
        duration = _ms_since(seen.t0)
        with self.store.transaction():
            checked = self._add_check(seen, outcome, duration, warning=seen.warning)
            self.store.update_source(source.id, **self._success_state(seen))
            self._recovered(source, seen.state)
        return checked

    def _record_suspect(self, seen: Observation, note: str) -> CheckOutcome:
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

    def _record_version(self, seen: Observation, comparisons: Comparisons | None) -> CheckOutcome:
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
                return self._record_unchanged(seen)
            if seen.text_changed:
                number = self._add_version(seen)
            children = tuple(self._add_child(source, link) for link in seen.new_links)
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

    def _add_child(self, source: Source, link: Link) -> str:
        """Track a newly linked document as a child source; returns its id."""
        cid = child_id(source.id, link.url)
        self.store.upsert_source(
            cid,
            url=link.url,
            lab=source.lab,
            title=_child_title(source, link),
            parent_id=source.id,
            link_text=link.text,
        )
        return cid

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
            config=self.config,  # the owner hears of it on their own channels
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
        severity = change.analysis.severity
        if touched is not None and touched.line:
            payload["criteria_line"] = touched.line
            severity = payload["severity"] = highest(severity, touched.severity)
        # changes below the alerting threshold wait for the daily digest
        held = should_hold(severity, self.config.analysis.alert_min_severity)
        for channel in source.notify:
            self.store.enqueue(
                kind="change",
                channel=channel,
                payload=payload,
                task_id=task.task_id,
                source_id=source.id,
                status="held" if held else "pending",
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

    def _record_failure(
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


async def _all_or_none(coros: Iterable[Coroutine[Any, Any, Any]]) -> None:
    """Await every coroutine concurrently; when one fails, cancel the others
    (none is inside a transaction while it awaits) and raise its error."""
    tasks = [asyncio.ensure_future(coro) for coro in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _blocked(exc: WatcherError) -> bool:
    """A plain fetch's failure that a browser may get past: a bot challenge, a JavaScript shell."""
    return isinstance(exc, SuspiciousExtraction) and blocked_reason(exc.reason)


def _downgrade_warning(fetched: FetchResult) -> str | None:
    if fetched.downgrade is None:
        return None
    return f"redirected from https to http ({fetched.downgrade})"


def _day_old(moment: str | None) -> bool:
    """Whether `moment` (ISO) is a day or more ago, or never."""
    return moment is None or (clock.now() - clock.parse_iso(moment)).total_seconds() >= 86_400


def _path_of(url: str) -> str:
    return unquote(urlsplit(url).path).rstrip("/")


def _ms_since(t0: float) -> int:
    return int((time.monotonic() - t0) * 1000)
