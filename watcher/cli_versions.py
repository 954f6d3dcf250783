"""The commands that read what was recorded: the sources, a source's versions,
a version's text, and what changed between two versions.

Part of the command line (registered on `watcher.cli.main`; they share its
context and helpers from cli_base.py): parse, call one function, print.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from watcher import detect, queries
from watcher.cli_base import App, _fail, _print_json, _signal_line, _table, pass_app, safe
from watcher.errors import StorageError
from watcher.models import signal_to_json
from watcher.store import Store


@click.command("sources")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def sources_cmd(app: App, as_json: bool) -> None:
    """List sources with their status, last check and last change."""
    from watcher.pipeline import sync_sources

    config = app.config()
    try:
        with app.store() as store:
            sync_sources(config, store)
            rows = queries.sources(store)
    except StorageError as exc:
        if exc.cause not in ("readonly", "cantopen"):
            raise
        # a read-only state folder: list the sources as the database has them
        with app.reader() as store:
            rows = queries.sources(store)
        click.echo(
            f"warning: {safe(store.path)} is read-only: sources added to the config "
            "since the last check are not listed",
            err=True,
        )
    if as_json:
        _print_json(rows)
        return
    click.echo(
        _table(
            rows,
            [
                "id",
                "lab",
                "status",
                "consecutive_failures",
                "last_checked",
                "last_changed",
                "versions",
                "open_task",
                "failed_alerts",
            ],
        )
    )
    failing = [row for row in rows if row["last_error"]]
    for row in failing:
        label = "suspect: " if row["status"] == "suspect" else ""
        click.echo(f"  {safe(row['id'])}: {label}{safe(row['last_error'])}")


@click.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def history(app: App, source: str, as_json: bool) -> None:
    """A source's versions, oldest first (and silent re-uploads).

    A followed document that supersedes another (or is superseded) lists its
    whole lineage: every document's versions, each with its source.
    """
    app.config()
    with app.reader() as store:
        data = queries.history(store, source)
    if as_json:
        _print_json(data)
        return
    rows = [
        {
            **v,
            "text_sha256": v["text_sha256"][:12],
            "snapshot_sha256": (v["snapshot_sha256"] or "-")[:12],
            "status": v["response"]["status"],
            "content_type": _content_type(v["response"]),
            "etag": v["response"]["etag"],
            "last_modified": v["response"]["last_modified"],
            "note": _version_note(v, v["url"]),
        }
        for v in data["versions"]
    ]
    columns = ["number", "captured_at", "text_sha256", "words", "snapshot_sha256", "status"]
    if len(data["lineage"]) > 1:
        columns.insert(0, "source")
    columns += ["content_type", "etag", "last_modified", "note"]
    click.echo(_table(rows, columns))
    for item in data["reuploads"]:
        click.echo(
            f"  re-upload of {safe(item['source'])} at {item['at']}: "
            f"new bytes {item['raw_sha256'][:12]}, "
            f"same text as v{item['version']}"
        )


def _content_type(response: dict[str, Any]) -> str | None:
    media, charset = response["content_type"], response["charset"]
    return f"{media}; charset={charset}" if media and charset else media


def _version_note(version: dict[str, Any], source_url: str) -> str:
    notes = []
    if version["reextracted"]:
        notes.append("re-extracted with new rules")
    elif version["returned_to"]:
        notes.append(f"same text as v{version['returned_to']}")
    if not version["snapshot_as_sent"]:
        notes.append("snapshot not verified as sent (older record)")
    final = version["response"]["url"]
    if final and final != source_url:
        notes.append(f"from {final}")
    return "; ".join(notes)


@click.command()
@click.argument("source")
@click.argument("version", type=int, required=False)
@click.option(
    "--pages",
    "with_pages",
    is_flag=True,
    help="Mark where each page of a PDF starts with a [[page N]] line.",
)
@pass_app
def show(app: App, source: str, version: int | None, with_pages: bool) -> None:
    """Print the extracted text of a version (the latest by default)."""
    app.config()
    with app.reader() as store:
        row, text = queries.text(store, source, version)
    if with_pages:
        pages = Store.version_pages(row, text)
        if pages is None:
            why = (
                "it was recorded before watcher kept the pages of PDFs"
                if row.kind == "pdf"
                else f"it is {'an HTML page' if row.kind == 'html' else 'plain text'}, not a PDF"
            )
            _fail(f"v{row.number} of {source} has no pages: {why}", 1)
        text = queries.paged_text(text, pages)
    click.echo(safe(text))


def _diff_sides(
    first: str, second: str | None, third: str | None
) -> tuple[queries.VersionRef, queries.VersionRef] | tuple[str, int | None, int | None]:
    """The arguments of `watcher diff`: today's `SOURCE [OLD [NEW]]` (numbers) as
    (source, old, new), or two `SOURCE[@VERSION]` sides as two references."""

    def number(text: str) -> bool:
        return text.isascii() and text.isdigit()

    try:
        if "@" not in first and (second is None or number(second)):
            if third is not None and not number(third):
                raise ValueError(f"{third!r}: NEW must be a version number")
            return first, int(second) if second else None, int(third) if third else None
        if third is not None:
            raise ValueError("compare two sides: watcher diff A[@VERSION] B[@VERSION]")
        old = queries.parse_version_ref(first)
        # one side alone (`A@3`) is compared with its source's latest, as `A 3` is
        new = queries.parse_version_ref(second) if second is not None else (old[0], None)
        return old, new
    except ValueError as exc:
        _fail(str(exc), 2)


@click.command()
@click.argument("source", metavar="A[@VERSION]")
@click.argument("old", metavar="[OLD|B[@VERSION]]", required=False)
@click.argument("new", metavar="[NEW]", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="text for a terminal, json for tools, html for a self-contained page.",
)
@pass_app
def diff(app: App, source: str, old: str | None, new: str | None, fmt: str) -> None:
    """Show what changed between two versions (default: the last change).

    `watcher diff SOURCE [OLD [NEW]]` compares versions of one source;
    `watcher diff A[@VERSION] B[@VERSION]` any version of any source with any
    other (a source without @VERSION is its latest).
    """
    config = app.config()
    sides = _diff_sides(source, old, new)
    with app.reader() as store:
        if len(sides) == 3:
            old_v, new_v, change = queries.compare(store, sides[0], sides[1], sides[2])
        else:
            old_v, new_v, change = queries.compare_any(store, sides[0], sides[1])
        old_row = store.require_source(old_v.source_id)
        new_row = store.require_source(new_v.source_id)
        result = queries.analyse_versions(config, store, old_v, new_v, change)
    one_source = old_v.source_id == new_v.source_id
    label_old = f"v{old_v.number} ({old_v.captured_at})"
    label_new = f"v{new_v.number} ({new_v.captured_at})"
    if not one_source:
        label_old = f"{old_v.source_id} {label_old}"
        label_new = f"{new_v.source_id} {label_new}"
    if fmt == "json":
        _print_json(
            {
                # the source whose change this is: the newer side's
                "source": new_v.source_id,
                "old": {"source": old_v.source_id, **queries.version_dict(old_v)},
                "new": {"source": new_v.source_id, **queries.version_dict(new_v)},
                "severity": result.severity if change else None,
                "signals": [signal_to_json(signal) for signal in result.signals],
                # signals found but left out by the analysis's limit (0: all are listed)
                "truncated": result.truncated,
                "change": detect.change_to_json(change) if change else None,
            }
        )
    elif fmt == "html":
        if change is None:
            _fail(f"{label_old} and {label_new} have the same text", 1)
        title = f"{new_row['lab']} — {new_row['title']}"
        if not one_source:
            title = f"{old_row['lab']} — {old_row['title']} → {new_row['lab']} — {new_row['title']}"
        click.echo(
            detect.render_html(change, title=title, old_label=label_old, new_label=label_new)
        )
    else:
        prefix = f"{safe(new_v.source_id)}: " if one_source else ""
        if change is None:
            click.echo(f"{prefix}{safe(label_old)} and {safe(label_new)} have the same text")
        else:
            click.echo(
                f"{prefix}{safe(label_old)} → {safe(label_new)}: {safe(detect.summary(change))}"
            )
            click.echo(safe(result.headline()))
            for signal in result.signals:
                click.echo(f"  - {safe(_signal_line(signal))}")
            click.echo(detect.render_text(change, color=sys.stdout.isatty()))
