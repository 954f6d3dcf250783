"""Sources, configured and followed: what a pass checks, and the documents it finds.

A configured source comes from `config.toml`; a followed document (a child)
is a link its parent's `follow` rule matched, tracked with an id of its own
and inheriting its parent's lab, channels and `ignore` rules. Also here: the
fetcher's and the browser's settings from the config, and the `sources` table
kept in agreement with the config.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from watcher import clock, lineage
from watcher.browser import BrowserSettings
from watcher.config import Config, SourceConfig
from watcher.errors import NotFound
from watcher.fetch import FetchSettings
from watcher.models import ExtractRules, Link, Source
from watcher.store import Row, Store

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


def untracked_links(
    config: Config, store: Store, source: Source, links: Sequence[Link]
) -> tuple[Link, ...]:
    """Links the `follow` rule matched that are not tracked yet."""
    if not source.rules.follow:
        return ()
    # a linked document that is itself a configured source is watched already
    configured = config.source_urls
    # the same file with another query string or fragment is not a new document
    # (compared only with those of the same path: a research index links hundreds)
    known: dict[str, list[str]] = {}
    for row in store.children(source.id):
        known.setdefault(_path_of(row["url"]), []).append(row["url"])
    found: list[Link] = []
    for link in links:
        same_path = known.setdefault(_path_of(link.url), [])
        if (
            link.url != source.url
            and link.url not in configured
            and store.source(child_id(source.id, link.url)) is None
            and not any(lineage.same_document_url(link.url, url) for url in same_path)
        ):
            found.append(link)
            same_path.append(link.url)
    return tuple(found)


def add_child(store: Store, parent: Source, link: Link) -> str:
    """Track a newly linked document as a child source; returns its id."""
    cid = child_id(parent.id, link.url)
    store.upsert_source(
        cid,
        url=link.url,
        lab=parent.lab,
        title=_child_title(parent, link),
        parent_id=parent.id,
        link_text=link.text,
    )
    return cid


def due_children(parent: Source, rows: Sequence[Row]) -> list[Source]:
    """The followed documents to check with their parent: a document no longer
    linked is checked once a day, not on the parent's schedule."""
    due = [row for row in rows if not row["unlinked_at"] or _day_old(row["last_checked"])]
    return [child_source(parent, row) for row in due]


# --- the pass's settings and sources ------------------------------------------


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


def _day_old(moment: str | None) -> bool:
    """Whether `moment` (ISO) is a day or more ago, or never."""
    return moment is None or (clock.now() - clock.parse_iso(moment)).total_seconds() >= 86_400


def _path_of(url: str) -> str:
    return unquote(urlsplit(url).path).rstrip("/")
