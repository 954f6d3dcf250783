"""The commands that publish evidence: the report, citable exports and WARC archives.

Part of the command line (registered on `watcher.cli.main`; they share its
context and helpers from cli_base.py): parse, call one function, print.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from watcher import clock
from watcher.cli_base import App, _fail, pass_app, safe
from watcher.cli_versions import _diff_sides
from watcher.config import parse_duration


@click.command("report")
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="How far back the changes go (a duration: 90s, 30m, 6h, 1d, 2w).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json"]),
    default="md",
    show_default=True,
    help="md to paste, html for a standalone page, json for tools.",
)
@pass_app
def report_cmd(app: App, since: str, fmt: str) -> None:
    """Changes by lab over a period, open tasks with their age, failing sources."""
    from watcher import report

    try:
        seconds = parse_duration(since)
    except ValueError as exc:
        _fail(f"--since: {exc}", 2)
    config = app.config()
    until = clock.now()
    with app.reader() as store:
        data = report.build(config, store, since=until - timedelta(seconds=seconds), until=until)
    # the renderers escaped every scraped string for their format
    click.echo(report.RENDERERS[fmt](data), nl=False)


@click.command("export")
@click.argument("source", metavar="SOURCE[@VERSION]")
@click.argument("old", metavar="[OLD|B[@VERSION]]", required=False)
@click.argument("new", metavar="[NEW]", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "csv", "json"]),
    default="md",
    show_default=True,
    help="md: a citation block with signals and redline; csv: one row per signal; json.",
)
@pass_app
def export_cmd(app: App, source: str, old: str | None, new: str | None, fmt: str) -> None:
    """Export a change, ready to cite: versions, SHA-256s, URLs, signals, redline.

    Default: the latest version against the one before it. OLD and NEW are
    version numbers as `watcher history` lists them (OLD before NEW), or two
    `SOURCE@VERSION` sides as `watcher diff` takes them.
    """
    from watcher import export

    config = app.config()
    sides = _diff_sides(source, old, new)
    with app.reader() as store:
        old_v, new_v, change = export.resolve(store, sides)
        data = export.export(config, store, old_v, new_v, change)
    click.echo(export.RENDERERS[fmt](data), nl=False)


@click.command("archive")
@click.argument("source")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The WARC file to write (default: SOURCE.warc.gz).",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@pass_app
def archive_cmd(app: App, source: str, out: Path | None, force: bool) -> None:
    """Write every stored snapshot of SOURCE (and of its lineage) to a WARC file."""
    from watcher.archive import write_archive
    from watcher.export import require_source

    app.config()
    with app.reader() as store:
        require_source(store, source)
        summary = write_archive(store, source, out or Path(f"{source}.warc.gz"), force=force)
    click.echo(
        f"{safe(summary.path)}: {summary.responses} response and {summary.resources} "
        f"resource record{'s' if summary.resources != 1 else ''} "
        f"from {len(summary.sources)} document{'s' if len(summary.sources) != 1 else ''}"
    )
