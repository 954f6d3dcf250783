"""The story of a check: fetch → extract → store → detect → analyse → review → outbox.

`check_all()` runs one pass over the configured sources (and the documents
their `follow` rules found), concurrently within the fetcher's limits;
`check_source()` checks one source and its followed documents, for the
daemon, which holds the fetcher, the workers and the synced sources. Each
check ends in exactly one transaction that writes its `checks` row, and when
the text changed, the version, the task and the outbox rows together.
A failing source is a row with its reason, never an exception out of here.

The `Checker` tells the story and reads the store; its `Recorder`
(`watcher.recording`) writes each outcome. What a source is and which
documents a parent follows is `watcher.sources`; which followed file
supersedes which, after a parent's documents are checked, `watcher.succession`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from watcher import clock, escape
from watcher.browser import Browser, blocked_reason
from watcher.compare import Comparison, compare_texts, watch_terms_for
from watcher.config import Config
from watcher.errors import (
    FetchError,
    HTTPStatusError,
    StorageError,
    SuspiciousExtraction,
    WatcherError,
)
from watcher.fetch import Fetcher, request_headers
from watcher.interstitial import interstitial
from watcher.models import (
    SUSPECT_WORDS,
    CheckOutcome,
    DocumentKind,
    Extracted,
    ExtractRules,
    FetchResult,
    Processed,
    Source,
)
from watcher.notify.outbox import (
    DeliveryReport,
    deliver_due,
    housekeeping,
)
from watcher.recording import Comparisons, Observation, Recorder
from watcher.sources import (
    browser_settings,
    configured_source,  # noqa: F401  (public here too)
    due_children,
    fetch_settings,
    select_sources,
    sync_sources,
    untracked_links,
)
from watcher.store import Row, Store, VersionRow, sha256
from watcher.succession import Lineages, sketch_version
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
        self.record = Recorder(config, store)
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
            children = due_children(source, rows)
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
            outcome = self.record.failure(
                source, exc.reason, started, t0, http_status=status, fetcher=fetcher
            )
        except Exception as exc:  # a bug must cost one check, not the pass
            log.exception("unexpected error while checking %s", source.id)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            outcome = self.record.failure(source, reason, started, t0)
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
        """The story of one check; each step is a method below, in this order,
        and each outcome is written by the Recorder (`self.record`)."""
        state = self.store.require_source(source.id)
        latest = await self._reextract_if_rules_changed(source, state)
        fetched = await self._fetch(source, state, latest)
        seen = Observation(source, state, latest, started, t0, fetched)
        if fetched.not_modified:
            return self.record.unchanged(seen)
        seen = replace(seen, raw_sha256=sha256(fetched.content))
        if latest is not None and seen.raw_sha256 == state["last_raw_sha256"]:
            return self.record.unchanged(seen)  # the same bytes make the same text
        try:
            processed = await self._process(seen)
        except WatcherError as exc:  # an answer, but not a document: keep its HTTP status
            if source.browser == "auto" and fetched.fetcher == "http" and _blocked(exc):
                log.info("%s: %s; retrying in the browser", source.id, exc.reason)
                return await self._check(replace(source, browser=True), started, t0)
            return self.record.failure(source, exc.reason, started, t0, fetched=fetched)
        extracted = processed.extracted
        if extracted is None:  # new bytes, but nothing that makes text changed (dynamic pages)
            return self.record.unchanged(seen)
        new_links = untracked_links(self.config, self.store, source, extracted.links)
        if source.rules.follow:
            self.followed[source.id] = tuple(link.url for link in extracted.links)
        seen = replace(
            seen, extracted=extracted, fingerprint=processed.fingerprint, new_links=new_links
        )
        if not seen.text_changed and not new_links:
            return self.record.unchanged(seen)
        old_text = self.store.version_text(latest) if latest is not None else None
        if seen.text_changed:
            if reason := interstitial(extracted.text, old_text):
                return self.record.failure(source, reason, started, t0, fetched=fetched)
            if note := self._unconfirmed_shrink(seen):
                return self.record.suspect(seen, note)
        comparisons = await self._compare_with_past(seen, old_text)
        if source.parent_id is not None and seen.text_changed:
            sketch = await sketch_version(self.workers, source.id, extracted.text)
            seen = replace(seen, sketch=sketch)
        return self.record.version(seen, comparisons)

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
        if self.record.reextraction(source, latest, extracted):
            log.info(
                "re-extracted %s with new rules or extractor as v%d", source.id, latest.number + 1
            )
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
            watch_terms=watch_terms_for(seen.source.watch_terms, settings),
            settings=settings,
            new_documents=seen.new_links,
            old_pages=old_pages,
            new_pages=seen.extracted.line_pages,
        )


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
