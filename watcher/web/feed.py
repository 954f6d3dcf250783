"""Atom feeds of policy changes: all of them, one lab's, one source's.

Built with ElementTree (which escapes the markup); every scraped text goes
through `watcher.escape.xml`, so a control character can neither break the
feed nor act in a reader.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from watcher import clock, escape, queries
from watcher.errors import NotFound
from watcher.web.dashboard import dashboard_of
from watcher.wording import plural

FEED_ENTRIES = 50


def _base_url(request: Request) -> str:
    configured = dashboard_of(request).config.watcher.dashboard_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def _atom(request: Request, title: str, feed_id: str, entries: list[dict[str, Any]]) -> Response:
    base = _base_url(request)
    ns = "http://www.w3.org/2005/Atom"
    feed = ET.Element("feed", xmlns=ns)
    ET.SubElement(feed, "title").text = escape.xml(title)
    ET.SubElement(feed, "id").text = f"urn:watcher:feed:{quote(feed_id, safe=':')}"
    updated = entries[0]["captured_at"] if entries else clock.iso(clock.now())
    ET.SubElement(feed, "updated").text = updated
    ET.SubElement(feed, "link", rel="self", href=base + request.url.path)
    ET.SubElement(feed, "link", rel="alternate", href=base + "/")
    author = ET.SubElement(feed, "author")
    ET.SubElement(author, "name").text = "watcher"
    for entry in entries:
        number, previous = entry["number"], entry["previous"]
        source = quote(entry["source"])
        if previous is None or previous["source"] == entry["source"]:
            old = previous["number"] if previous else number - 1
            link = f"{base}/sources/{source}/diff?old={old}&new={number}"
            change = f"v{old} → v{number}"
        else:
            # a new file superseding another: the diff across the two files
            before = quote(f"{previous['source']}@{previous['number']}", safe="@")
            link = f"{base}/compare?old={before}&new={quote(entry['source'])}@{number}"
            change = f"new file, after {previous['source']} v{previous['number']}"
        item = ET.SubElement(feed, "entry")
        ET.SubElement(item, "title").text = escape.xml(
            f"{entry['lab']}: {entry['title']} changed ({change})"
        )
        ET.SubElement(item, "id").text = f"urn:watcher:version:{quote(entry['source'])}:{number}"
        ET.SubElement(item, "updated").text = entry["captured_at"]
        ET.SubElement(item, "link", rel="alternate", href=link)
        ET.SubElement(item, "category", term=escape.xml(entry["lab"]))
        words = entry["words"]
        previous = entry["previous_words"]
        counted = plural(words, "word")
        lines = [f"{previous:,} → {counted}." if previous is not None else f"{counted}."]
        task = entry["task"]
        if task:
            severity = f" ({task['severity']})" if task["severity"] else ""
            lines.append(f"Task #{task['id']}{severity}, {task['status']}: {task['summary']}")
        ET.SubElement(item, "summary", type="text").text = escape.xml(" ".join(lines))
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


def feed_all(request: Request) -> Response:
    entries = queries.feed_entries(dashboard_of(request).store, limit=FEED_ENTRIES)
    return _atom(request, "watcher: policy changes", "all", entries)


def feed_lab(request: Request) -> Response:
    lab = request.path_params["lab"]
    store = dashboard_of(request).store
    if lab not in {row["lab"] for row in store.sources(include_inactive=True)}:
        raise NotFound(f"no lab {lab!r}")
    entries = queries.feed_entries(store, lab=lab, limit=FEED_ENTRIES)
    return _atom(request, f"watcher: {lab} policy changes", f"lab:{lab}", entries)


def feed_source(request: Request) -> Response:
    source_id = request.path_params["source_id"]
    store = dashboard_of(request).store
    source = store.require_source(source_id)
    entries = queries.feed_entries(store, source_id=source_id, limit=FEED_ENTRIES)
    return _atom(request, f"watcher: {source['title']}", f"source:{source_id}", entries)
