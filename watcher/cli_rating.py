"""The commands of the rating work: lineage fixes, citations and criteria.

Part of the command line (registered on `watcher.cli.main`; they share its
context and helpers from cli_base.py): parse, call one function, print.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from watcher import criteria, escape
from watcher.cli_base import App, _print_json, by_option, pass_app, safe


@click.group()
def lineage() -> None:
    """Correct which followed document supersedes which."""


@lineage.command("link")
@click.argument("old")
@click.argument("new")
@by_option
@pass_app
def lineage_link(app: App, old: str, new: str, by: str) -> None:
    """Record that document NEW is the next version of document OLD.

    The change is analysed again, and the tasks that covered NEW say so in
    their history. Refused when it would make a loop.
    """
    from watcher.succession import link_documents

    config = app.config()
    with app.store() as store:
        fix = link_documents(config, store, old, new, actor=by)
    click.echo(safe(fix.message))
    for task_id in fix.tasks:
        click.echo(f"task #{task_id} updated")


@lineage.command("unlink")
@click.argument("new")
@by_option
@pass_app
def lineage_unlink(app: App, new: str, by: str) -> None:
    """Record that document NEW is no new version of anything: its own lineage."""
    from watcher.succession import unlink_document

    app.config()
    with app.store() as store:
        fix = unlink_document(store, new, actor=by)
    click.echo(safe(fix.message))
    for task_id in fix.tasks:
        click.echo(f"task #{task_id} updated")


@click.group()
def cite() -> None:
    """Record which passages of a policy each graded criterion rests on."""


def _citation_line(item: dict[str, Any]) -> str:
    status = item["status"]
    where = f"{item['source']} v{item['version']}"
    line = f"#{item['id']} {status:8} {item['lab']} — {item['criterion']} ({where}): {escape.quote(item['quote'])}"
    if item.get("new_quote") and status in ("moved", "changed"):
        line += (
            f" → {escape.quote(item['new_quote'])} (v{item['new_version']} of {item['new_source']})"
        )
    return safe(" ".join(line.split()))


@cite.command("add")
@click.argument("source")
@click.option("--criterion", required=True, help="The graded criterion, e.g. 'Risk thresholds'.")
@click.option("--quote", required=True, help="The passage, as it reads in the latest version.")
@click.option("--note", help="Why this passage matters for the grade.")
@click.option("--section", help="Part of a heading, when the quote is found more than once.")
@click.option("--json", "as_json", is_flag=True, help="Print the citation as JSON.")
@by_option
@pass_app
def cite_add(
    app: App,
    source: str,
    criterion: str,
    quote: str,
    note: str | None,
    section: str | None,
    as_json: bool,
    by: str,
) -> None:
    """Cite a passage of SOURCE's latest version for a criterion; prints its id.

    Refused: a quote not in that version (the closest passage is shown), a
    quote found twice (pass --section), a citation already made.
    """
    app.config()
    with app.store() as store:
        row = criteria.add(
            store,
            source,
            criterion=criterion,
            quote=quote,
            note=note,
            section=section,
            actor=by,
        )
        data = criteria.citation_dict(row)
    _print_json(data) if as_json else click.echo(data["id"])


@cite.command("list")
@click.option("--lab", help="Only this lab's citations.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def cite_list(app: App, lab: str | None, as_json: bool) -> None:
    """List citations with their status on the latest version."""
    app.config()
    with app.reader() as store:
        items = [criteria.citation_dict(row) for row in store.citations(lab=lab)]
    if as_json:
        _print_json(items)
        return
    for item in items:
        click.echo(_citation_line(item))
    if not items:
        click.echo("no citations (add one with `watcher cite add`)")


@cite.command("remove")
@click.argument("citation_id", type=int)
@by_option
@pass_app
def cite_remove(app: App, citation_id: int, by: str) -> None:
    """Remove a citation (its history is kept)."""
    app.config()
    with app.store() as store:
        criteria.remove(store, citation_id, actor=by)
    click.echo(f"citation {citation_id} removed")


@cite.command("move")
@click.argument("citation_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the citation as JSON.")
@by_option
@pass_app
def cite_move(app: App, citation_id: int, as_json: bool, by: str) -> None:
    """Move a moved or changed citation to the passage found in the latest version.

    The old quote is kept in the citation's history (`watcher cite history`).
    """
    app.config()
    with app.store() as store:
        data = criteria.citation_dict(criteria.move(store, citation_id, actor=by))
    _print_json(data) if as_json else click.echo(_citation_line(data))


@cite.command("history")
@click.argument("citation_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def cite_history(app: App, citation_id: int, as_json: bool) -> None:
    """Show a citation's history: added, moved (with the old quote), removed."""
    app.config()
    with app.reader() as store:
        events = criteria.history(store, citation_id)
    if as_json:
        _print_json(events)
        return
    for event in events:
        said = f" {escape.quote(event['quote'])}" if event["quote"] else ""
        where = f" ({event['source_id']} v{event['version']})" if event["source_id"] else ""
        note = f" — {event['note']}" if event["note"] else ""
        click.echo(safe(f"{event['at']} {event['actor']} {event['action']}{where}{said}{note}"))


@cite.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@by_option
@pass_app
def cite_import(app: App, path: Path, by: str) -> None:
    """Add the citations of a CSV file (lab, source, criterion, quote, note); all or none.

    Rows already cited are skipped, so importing the same file twice adds nothing.
    """
    app.config()
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    with app.store() as store:
        added = criteria.import_csv(store, text, actor=by)
    click.echo(f"{len(added)} citation{'s' if len(added) != 1 else ''} added")


@cite.command("export")
@click.option("--lab", help="Only this lab's citations.")
@pass_app
def cite_export(app: App, lab: str | None) -> None:
    """Print the citations as CSV (lab, source, criterion, quote, note), for `cite import`."""
    app.config()
    with app.reader() as store:
        click.echo(criteria.export_csv(store, lab=lab), nl=False)


@click.command("criteria")
@click.option("--lab", help="Only this lab's criteria.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def criteria_list(app: App, lab: str | None, as_json: bool) -> None:
    """List graded criteria with their citations' status on the latest versions."""
    app.config()
    with app.reader() as store:
        items = criteria.criteria(store, lab=lab)
    if as_json:
        _print_json(
            [
                {
                    "lab": item["lab"],
                    "criterion": item["criterion"],
                    "citations": [
                        {k: c[k] for k in ("id", "source", "status", "quote", "new_quote")}
                        for c in item["citations"]
                    ],
                }
                for item in items
            ]
        )
        return
    for item in items:
        counts: dict[str, int] = {}
        for c in item["citations"]:
            counts[c["status"]] = counts.get(c["status"], 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        click.echo(safe(f"{item['lab']} — {item['criterion']}: {summary}"))
        for c in item["citations"]:
            click.echo("  " + _citation_line(c))
    if not items:
        click.echo("no criteria cited yet (see `watcher cite add`)")
