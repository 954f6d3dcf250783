"""Snapshots as evidence: every stored snapshot of a source as a WARC file.

`write_archive(store, source_id, path)` writes a gzipped WARC 1.1 file
(warcio): a `warcinfo` record, then one record per version of the source and
of the documents of its lineage, oldest first:

- a `response` record when the snapshot is the body exactly as the server
  sent it: the HTTP status and the response headers watcher keeps
  (Content-Type with its charset, ETag, Last-Modified) as fetched, the body as
  stored. watcher does not keep the other response headers, so none is
  written (none is invented either; no Content-Length or Content-Encoding:
  the body is stored after content decoding);
- a `resource` record (the stored bytes with their content type, no HTTP
  headers) when the snapshot is not known to be that body: a version recorded
  before snapshots were kept whole (`snapshot_as_sent: false`), a page
  rendered by a browser (the DOM Chromium built), or a version without a
  recorded status. Such a record does not pretend to be the server's answer.

`WARC-Date` is the capture time, `WARC-Target-URI` the URL the snapshot was
finally fetched from (after redirects). A re-extraction (new rules, same
bytes) adds no record: its snapshot is the one before it. The file is written
to a temporary file beside the target and renamed, so a reader never sees
half an archive, and an existing file is only replaced when asked.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from watcher import __version__, clock
from watcher.errors import WatcherError
from watcher.store import Store, VersionRow


class ArchiveError(WatcherError):
    """The archive cannot be written (the file exists, the folder is not writable)."""

    transient = False


@dataclass(frozen=True)
class ArchiveSummary:
    path: Path
    responses: int  # `response` records
    resources: int  # `resource` records
    sources: tuple[str, ...]


_BREAKS = re.compile(r"[\x00-\x1f\x7f]+")


def _field(value: str) -> str:
    """A header value on one line: a stored value can never start a header of its own."""
    return _BREAKS.sub(" ", value).strip()


def _warc_date(iso: str) -> str:
    return clock.iso(clock.parse_iso(iso))


def _as_sent(version: VersionRow) -> bool:
    return (
        version.snapshot_as_sent and version.fetcher == "http" and version.http_status is not None
    )


def _content_type(version: VersionRow) -> str | None:
    if not version.content_type:
        return None
    media = _field(version.content_type)
    return f"{media}; charset={_field(version.charset)}" if version.charset else media


def _http_headers(version: VersionRow) -> StatusAndHeaders:
    status = int(version.http_status or 0)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    headers: list[tuple[str, str]] = []
    content_type = _content_type(version)
    if content_type:
        headers.append(("Content-Type", content_type))
    if version.etag:
        headers.append(("ETag", _field(version.etag)))
    if version.last_modified:
        headers.append(("Last-Modified", _field(version.last_modified)))
    return StatusAndHeaders(f"{status} {phrase}".strip(), headers, protocol="HTTP/1.1")


def write_archive(
    store: Store, source_id: str, path: Path, *, force: bool = False
) -> ArchiveSummary:
    """Write every stored snapshot of `source_id` (and of its lineage) to `path` as WARC."""
    store.require_source(source_id)
    members = tuple(store.lineage(source_id))
    if path.exists() and not force:
        raise ArchiveError(f"{path} exists: pass --force to replace it")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ArchiveError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    temp = Path(temp_name)
    responses = resources = 0
    try:
        with os.fdopen(handle, "wb") as out:
            writer = WARCWriter(out, gzip=True, warc_version="1.1")
            writer.write_record(_warcinfo(writer, path.name, members))
            for member in members:
                url = store.require_source(member)["url"]
                seen: set[str] = set()
                for version in store.versions(member):
                    if version.reextracted and version.raw_sha256 in seen:
                        continue  # the same bytes re-read with new rules: already written
                    seen.add(version.raw_sha256)
                    body = store.get_blob(version.raw_sha256)
                    record = _record(writer, member, url, version, body)
                    writer.write_record(record)
                    if record.rec_type == "response":
                        responses += 1
                    else:
                        resources += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise ArchiveError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return ArchiveSummary(path, responses, resources, members)


def _warcinfo(writer: WARCWriter, filename: str, members: tuple[str, ...]) -> Any:
    fields = {
        "software": f"watcher/{__version__}",
        "format": "WARC File Format 1.1",
        "description": (
            "Snapshots of " + ", ".join(members) + " as watcher stored them. response "
            "records hold the status and the headers watcher keeps (Content-Type, ETag, "
            "Last-Modified), not every header the server sent; resource records hold "
            "snapshots not known to be the body as sent (older records, browser-rendered pages)."
        ),
    }
    payload = "".join(f"{name}: {_field(value)}\r\n" for name, value in fields.items())
    data = payload.encode("utf-8")
    return writer.create_warc_record(
        "",
        "warcinfo",
        payload=io.BytesIO(data),
        length=len(data),
        warc_content_type="application/warc-fields",
        warc_headers_dict={
            "WARC-Date": clock.iso(clock.now()),
            "WARC-Filename": _field(filename),
        },
    )


def _record(writer: WARCWriter, member: str, url: str, version: VersionRow, body: bytes) -> Any:
    target = _field(version.url or url)
    extra = {
        "WARC-Date": _warc_date(version.captured_at),
        # which version of which source the record is (WARC allows named extension fields)
        "WARC-Watcher-Source": _field(member),
        "WARC-Watcher-Version": str(version.number),
    }
    if _as_sent(version):
        return writer.create_warc_record(
            target,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=_http_headers(version),
            warc_headers_dict=extra,
        )
    why = (
        "rendered by a browser"
        if version.fetcher == "browser"
        else "not known to be the body as sent"
    )
    extra["WARC-Watcher-Note"] = f"snapshot {why}"
    return writer.create_warc_record(
        target,
        "resource",
        payload=io.BytesIO(body),
        length=len(body),
        warc_content_type=_content_type(version) or "application/octet-stream",
        warc_headers_dict=extra,
    )
