"""Citable exports: two versions of a document, ready to paste into a published assessment.

`export(config, store, old, new)` gathers what a citation needs (lab, title,
the URL as configured and as finally fetched, each version's capture time and
the SHA-256 of its snapshot, the signals with their quotes, section and page,
and the redline) as JSON-ready data; `render_md`, `render_csv` and
`render_json` write it out. Scraped text is hostile: the Markdown escapes every
Markdown-active character (`escape.markdown`), the CSV neutralises cells a
spreadsheet would run as a formula.

`compare_versions` is the one analysis of two stored versions, shared with
the report: the same as `watcher diff`'s.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from watcher import detect, escape, queries
from watcher.config import Config
from watcher.errors import NotFound, WatcherError
from watcher.models import (
    SIGNAL_LABELS,
    Analysis,
    Change,
    page_label,
    signal_to_json,
)
from watcher.store import Row, Store, VersionRow

FORMATS = ("md", "csv", "json")


class ExportRefused(WatcherError):
    """Two versions that cannot be exported as a change (the same one, in the wrong order)."""

    transient = False


@dataclass(frozen=True)
class Comparison:
    """Two versions, their diff and its analysis (None when the texts are equal)."""

    old: VersionRow
    new: VersionRow
    old_source: Row
    new_source: Row
    change: Change | None
    analysis: Analysis | None


def compare_versions(
    config: Config, store: Store, old: VersionRow, new: VersionRow, change: Change | None
) -> Comparison:
    """Analyse the change from `old` to `new` as `watcher diff` does (watch terms, pages)."""
    analysis = queries.analyse_versions(config, store, old, new, change) if change else None
    return Comparison(
        old=old,
        new=new,
        old_source=store.require_source(old.source_id),
        new_source=store.require_source(new.source_id),
        change=change,
        analysis=analysis,
    )


# --- which versions --------------------------------------------------------------


def require_source(store: Store, source_id: str) -> Row:
    """The source, or NotFound naming the closest known ids ("did you mean …?")."""
    row = store.source(source_id)
    if row is not None:
        return row
    known = [r["id"] for r in store.sources(include_inactive=True)]
    close = difflib.get_close_matches(source_id, known, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    if not known:
        hint = " (no source has been checked yet: run `watcher check`)"
    raise NotFound(f"unknown source {source_id!r}{hint}")


def _require_version(store: Store, source_id: str, number: int | None) -> None:
    if number is None:
        return
    numbers = [v.number for v in store.versions(source_id)]
    if number not in numbers:
        have = (
            (f"it has v1–v{numbers[-1]}" if len(numbers) > 1 else "it has v1 only")
            if numbers
            else "it has no version yet"
        )
        raise NotFound(f"source {source_id!r} has no version {number} ({have})")


def resolve(
    store: Store,
    sides: tuple[queries.VersionRef, queries.VersionRef] | tuple[str, int | None, int | None],
) -> tuple[VersionRow, VersionRow, Change | None]:
    """The two versions an export compares, and their diff.

    `sides` is what `watcher diff` parses: (source, old, new) numbers of one
    source (default: the latest against the version before it, across files
    of a lineage), or two `SOURCE@VERSION` references. Refused: an unknown
    source or version, the same version twice, and OLD after NEW of one
    source (a redline read backwards would misstate what was added).
    """
    if len(sides) == 3:
        source_id, old, new = sides
        require_source(store, source_id)
        _require_version(store, source_id, old)
        _require_version(store, source_id, new)
        if old is not None and new is None:
            latest = store.latest_version(source_id)
            new = latest.number if latest else None
        if old is not None and new is not None:
            if old == new:
                raise ExportRefused(f"OLD and NEW are both v{old}: nothing to compare")
            if old > new:
                raise ExportRefused(
                    f"OLD (v{old}) is newer than NEW (v{new}): write the older version first "
                    f"(`watcher export {source_id} {new} {old}`)"
                )
        return queries.compare(store, source_id, old, new)
    old_ref, new_ref = sides
    for ref in (old_ref, new_ref):
        require_source(store, ref[0])
        _require_version(store, *ref)
    old_v = queries.resolve_version(store, *old_ref)
    new_v = queries.resolve_version(store, *new_ref)
    if (old_v.source_id, old_v.number) == (new_v.source_id, new_v.number):
        raise ExportRefused(
            f"both sides are v{old_v.number} of {old_v.source_id!r}: nothing to compare"
        )
    if old_v.source_id == new_v.source_id and old_v.number > new_v.number:
        raise ExportRefused(
            f"v{old_v.number} is newer than v{new_v.number}: write the older version first"
        )
    return queries.compare_any(store, old_ref, new_ref)


# --- the data -------------------------------------------------------------------


def when(moment: str) -> str:
    """'2026-03-01 10:00 UTC' from a stored ISO time."""
    return moment.replace("T", " ").removesuffix("Z")[:16] + " UTC"


def snapshot_note(version: VersionRow) -> str | None:
    """Why a version has no SHA-256 of the body as sent, or what its snapshot is."""
    if not version.snapshot_as_sent:
        return (
            "no SHA-256 of the body as sent: this version was recorded before watcher "
            "kept snapshots whole, and its stored snapshot is not known to be that body"
        )
    if version.fetcher == "browser":
        return "the snapshot is the page as a browser rendered it, not the body the server sent"
    return None


def _side(version: VersionRow, source: Row) -> dict[str, Any]:
    return {
        "source": version.source_id,
        "lab": source["lab"],
        "title": source["title"],
        "number": version.number,
        "captured_at": version.captured_at,
        "url": source["url"],
        "final_url": version.url or source["url"],
        "snapshot_sha256": version.snapshot_sha256,
        "snapshot_as_sent": version.snapshot_as_sent,
        "snapshot_note": snapshot_note(version),
        "text_sha256": version.text_sha256,
        "fetcher": version.fetcher,
        "http_status": version.http_status,
    }


def citation(side: dict[str, Any]) -> str:
    """'Anthropic, Responsible Scaling Policy, version captured 2026-03-01 10:00 UTC,
    SHA-256 …, https://…' (plain text: the renderers escape it)."""
    sha = side["snapshot_sha256"]
    digest = f"SHA-256 {sha}" if sha else "SHA-256 not recorded (snapshot_as_sent: false)"
    return (
        f"{side['lab']}, {side['title']}, version captured {when(side['captured_at'])}, "
        f"{digest}, {side['final_url']}"
    )


def export(
    config: Config, store: Store, old: VersionRow, new: VersionRow, change: Change | None
) -> dict[str, Any]:
    """An export's data, JSON-ready (the fields `docs/commands.md` lists)."""
    if change is None:
        raise ExportRefused(
            f"v{old.number} of {old.source_id!r} and v{new.number} of {new.source_id!r} "
            "have the same text: nothing to export"
        )
    comparison = compare_versions(config, store, old, new, change)
    analysis = comparison.analysis
    assert analysis is not None
    old_side = _side(old, comparison.old_source)
    new_side = _side(new, comparison.new_source)
    return {
        "source": new.source_id,
        "lab": new_side["lab"],
        "title": new_side["title"],
        "citation": citation(new_side),
        "old": old_side,
        "new": new_side,
        "severity": analysis.severity,
        "summary": detect.summary(change),
        "signals": [
            {"label": SIGNAL_LABELS.get(s.kind, s.kind.replace("_", " ")), **signal_to_json(s)}
            for s in analysis.signals
        ],
        "truncated": analysis.truncated,
        "redline": detect.change_to_json(change),
    }


# --- Markdown ---------------------------------------------------------------------

_URL_UNSAFE = re.compile(f"[\\s<>\"'`\\\\{escape.DANGEROUS}]")


def md_link(url: str) -> str:
    """An http(s) URL as a Markdown autolink `<url>`; anything else as escaped text."""
    if re.match(r"https?://[^/]", url, re.IGNORECASE) and not _URL_UNSAFE.search(url):
        return f"<{url}>"
    return escape.markdown(url)


def _md_piece(text: str) -> str:
    """Escaped inline text keeping one space at either end where it had any."""
    core = escape.markdown(text)
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() and core else ""
    return lead + core + trail


def _md_marked(text: str, mark: str) -> str:
    """`~~text~~` or `**text**`, the marks hugging the words (Markdown needs that)."""
    core = escape.markdown(text)
    if not core:
        return " " if text and text.isspace() else ""
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() else ""
    return f"{lead}{mark}{core}{mark}{trail}"


def _md_citation_line(side: dict[str, Any]) -> str:
    sha = side["snapshot_sha256"]
    digest = f"SHA-256 `{sha}`" if sha else "SHA-256 not recorded (`snapshot_as_sent: false`)"
    return (
        f"{escape.markdown(side['lab'])}, *{escape.markdown(side['title'])}*, "
        f"version captured {when(side['captured_at'])} (v{side['number']}), {digest}, "
        f"{md_link(side['final_url'])}"
    )


def _md_quote(text: str | None, marks: list[list[int]], mark: str) -> str:
    if not text:
        return "(none)"
    out, at = [], 0
    for start, end in marks:
        out.append(_md_piece(text[at:start]))
        out.append(_md_marked(text[start:end], mark))
        at = end
    out.append(_md_piece(text[at:]))
    return "".join(out).strip()


def render_md(data: dict[str, Any]) -> str:
    """The export as Markdown: a citation block, the signals, the redline."""
    old, new = data["old"], data["new"]
    lines = [
        f"> {_md_citation_line(new)}",
        ">",
        f"> Compared with: {_md_citation_line(old)}",
    ]
    if new["url"] != new["final_url"]:
        lines.append(f"> Watched at {md_link(new['url'])}")
    for side in (old, new):
        if side["snapshot_note"]:
            lines.append(f"> Note on v{side['number']}: {escape.markdown(side['snapshot_note'])}")
    lines += [
        "",
        f"**Severity:** {escape.markdown(data['severity'])} — {escape.markdown(data['summary'])}",
        "",
    ]
    if data["signals"]:
        lines.append(f"**Signals** ({len(data['signals'])}):")
        lines.append("")
        for index, signal in enumerate(data["signals"], 1):
            where = []
            if signal["section"]:
                where.append(f"§ {escape.markdown(signal['section'])}")
            if signal["page"] is not None:
                where.append(page_label((signal["page"],)))
            head = f"{index}. **{escape.markdown(signal['label'])}**"
            if where:
                head += " — " + ", ".join(where)
            if signal["detail"]:
                head += f": {escape.markdown(signal['detail'])}"
            lines.append(head)
            if signal["old"] or signal["new"]:
                lines.append(
                    f"   - Before: “{_md_quote(signal['old'], signal['old_marks'], '~~')}”"
                )
                lines.append(f"   - After: “{_md_quote(signal['new'], signal['new_marks'], '**')}”")
        lines.append("")
    lines.append("**Redline** (~~removed~~, **added**):")
    for hunk in data["redline"]["hunks"]:
        path = detect.PATH_SEPARATOR.join(hunk["heading_path"]) or "(before the first heading)"
        pages = page_label(hunk["pages"]) if hunk["pages"] else ""
        lines += ["", f"*{escape.markdown(path)}*" + (f" ({pages})" if pages else ""), ""]
        lines += _md_hunk(hunk)
    return "\n".join(lines) + "\n"


def _md_hunk(hunk: dict[str, Any]) -> list[str]:
    """A hunk's lines as Markdown paragraphs (a blank line between them)."""
    out: list[str] = []
    if hunk["words"]:
        lines: list[list[tuple[str, str]]] = [[]]
        for op in hunk["words"]:
            for index, part in enumerate(op["text"].split("\n")):
                if index:
                    lines.append([])
                if part:
                    lines[-1].append((op["op"], part))
        for pieces in lines:
            text = "".join(
                _md_piece(t) if op == "equal" else _md_marked(t, "~~" if op == "delete" else "**")
                for op, t in pieces
            ).strip()
            if text:
                out += [text, ""]
    else:
        out += [f"~~{escape.markdown(line)}~~" for line in hunk["old_lines"] if line.strip()]
        out += [f"**{escape.markdown(line)}**" for line in hunk["new_lines"] if line.strip()]
        out = [line for item in out for line in (item, "")]
    return out[:-1] if out and out[-1] == "" else out


# --- CSV and JSON -------------------------------------------------------------------

CSV_COLUMNS = (
    "lab",
    "title",
    "source",
    "old_version",
    "old_captured_at",
    "old_snapshot_sha256",
    "new_version",
    "new_captured_at",
    "new_snapshot_sha256",
    "url",
    "final_url",
    "severity",
    "signal",
    "section",
    "page",
    "old_quote",
    "new_quote",
    "detail",
)

# A spreadsheet runs a cell starting with these as a formula (=HYPERLINK(...)).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell no spreadsheet runs: text starting like a formula gets a leading `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(data: dict[str, Any]) -> str:
    """One row per signal (one row with empty signal columns when there is none)."""
    old, new = data["old"], data["new"]
    common = {
        "lab": data["lab"],
        "title": data["title"],
        "source": data["source"],
        "old_version": f"{old['source']}@{old['number']}",
        "old_captured_at": old["captured_at"],
        "old_snapshot_sha256": old["snapshot_sha256"] or "not recorded",
        "new_version": f"{new['source']}@{new['number']}",
        "new_captured_at": new["captured_at"],
        "new_snapshot_sha256": new["snapshot_sha256"] or "not recorded",
        "url": new["url"],
        "final_url": new["final_url"],
        "severity": data["severity"],
    }
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    signals = data["signals"] or [None]
    for signal in signals:
        row = dict(common)
        if signal is not None:
            row.update(
                signal=signal["label"],
                section=signal["section"],
                page=signal["page"],
                old_quote=signal["old"],
                new_quote=signal["new"],
                detail=signal["detail"],
            )
        writer.writerow(
            [csv_cell(escape.one_line(str(row.get(c) or ""), 5000)) for c in CSV_COLUMNS]
        )
    return buffer.getvalue()


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"md": render_md, "csv": render_csv, "json": render_json}
