"""The command line: parse, call one function, print. With the other cli_*.py modules, the only modules that print.

Exit status: 0 success; 1 a check failed or an action was refused;
2 a config or usage error (click's own usage errors are 2 as well).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from watcher import __version__, logs, queries, review
from watcher.cli_base import (
    App,
    WatcherGroup,
    _cell,
    _fail,
    _print_json,
    _signal_line,
    _table,
    by_option,
    pass_app,
    safe,
    terminal_width,
)
from watcher.cli_evidence import archive_cmd, export_cmd, report_cmd
from watcher.cli_rating import cite, criteria_list, lineage
from watcher.cli_versions import diff, history, show, sources_cmd
from watcher.config import default_config_path
from watcher.models import CheckOutcome, Signal
from watcher.notify.outbox import DeliveryReport
from watcher.store import Store
from watcher.wording import plural
from watcher.workers import adopt_script_main

log = logging.getLogger(__name__)


@click.group(cls=WatcherGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The config file (default: $WATCHER_CONFIG, then ./config.toml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="warning",
    show_default=True,
    help="How much to log on stderr.",
)
@click.version_option(__version__, prog_name="watcher")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, log_level: str) -> None:
    """Watch AI labs' safety policies, keep every version, open review tasks on change."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logs.TextFormatter())  # scraped text in a message is escaped
    logging.basicConfig(level=getattr(logging, log_level.upper()), handlers=[handler])
    # httpx logs every request at INFO; one line per check is ours to write
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    adopt_script_main()  # the installed script: workers need not import the CLI again
    ctx.obj = App(config_path or default_config_path(os.environ))


# --- commands -----------------------------------------------------------------


@main.command()
@pass_app
def validate(app: App) -> None:
    """Check the config file; print `ok`, the number of sources and the proxy each goes through."""
    from watcher.transport import proxy_for

    config = app.config(warn=True)
    count = len(config.sources)
    click.echo(f"ok: {count} source{'s' if count != 1 else ''}")
    routes = [
        (source.id, proxy_for(source.url, source.proxy or config.watcher.proxy, os.environ))
        for source in config.sources
    ]
    if any(proxy for _, proxy in routes):
        for source_id, proxy in routes:
            click.echo(f"  {source_id}: " + (f"through {proxy}" if proxy else "direct"))


@main.command()
@click.argument("source_ids", nargs=-1, metavar="[SOURCE_ID]...")
@pass_app
def check(app: App, source_ids: tuple[str, ...]) -> None:
    """Check every source (or the given ones) once now, and report.

    Exit status 0 when every source was checked, 1 when some failed.
    """
    from watcher.pipeline import run_pass

    config = app.config(warn=True)
    started = time.monotonic()
    with app.store() as store:
        progress = _progress()
        try:
            result, report = asyncio.run(
                run_pass(config, store, only=source_ids or None, progress=progress)
            )
        finally:
            if progress is not None:
                progress.finish()
        elapsed = time.monotonic() - started
        click.echo(_pass_summary(result.outcomes, elapsed))
        if report.attempted or report.waiting:
            click.echo(_delivery_summary(report))
        for outcome in result.outcomes:
            if outcome.task_id is not None:
                task = store.task(outcome.task_id)
                click.echo(
                    f"  task {task['id']} for {safe(outcome.source_id)} "
                    f"(v{task['from_version']} → v{task['to_version']}): {safe(task['summary'])}"
                )
        for outcome in result.outcomes:
            if outcome.warning:
                # suspect: why the new text waits; otherwise what a good check warns about
                label = "suspect" if outcome.outcome == "suspect" else "warning"
                click.echo(f"  {label} {safe(outcome.source_id)}: {safe(outcome.warning)}")
        for outcome in result.failed:
            click.echo(f"  failed {safe(outcome.source_id)}: {safe(outcome.error)}")
    if result.failed:
        sys.exit(1)


class ProgressBar:
    """A one-line progress bar: checks done out of the checks the pass has planned.

    The total grows as the pass finds followed documents to check, so the bar
    fills as checks finish and is full only when the last one has.
    """

    width = 30

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.done = 0
        self.total = 0

    def planned(self, count: int) -> None:
        self.total += count

    def checked(self, outcome: CheckOutcome) -> None:
        self.done += 1
        self.write(self.line(outcome.source_id))

    def line(self, source_id: str) -> str:
        total = max(self.total, self.done, 1)
        filled = self.width * self.done // total
        bar = "#" * filled + "-" * (self.width - filled)
        return f"\r[{bar}] {self.done}/{total} {safe(source_id)[:40]}".ljust(90)

    def finish(self) -> None:
        if self.done:
            self.write("\r" + " " * 90 + "\r")


def _progress() -> ProgressBar | None:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        return None
    return ProgressBar(lambda line: click.echo(line, nl=False, err=True))


def _pass_summary(outcomes: Sequence[CheckOutcome], elapsed: float) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    words = {
        "new_version": "new version",
        "unchanged": "unchanged",
        "not_modified": "not modified",
        "suspect": "suspect",
        "failed": "failed",
    }
    parts = [
        plural(counts[key], label) if key == "new_version" else f"{counts[key]} {label}"
        for key, label in words.items()
        if counts.get(key)
    ]
    tasks = sum(1 for outcome in outcomes if outcome.task_id is not None)
    if tasks:
        parts.append(f"{plural(tasks, 'task')} opened or extended")
    n = len(outcomes)
    return f"checked {n} source{'s' if n != 1 else ''} in {elapsed:.1f}s: " + (
        ", ".join(parts) or "nothing to do"
    )


def _delivery_summary(report: DeliveryReport) -> str:
    parts = [
        f"{count} {label}"
        for count, label in (
            (report.sent, "sent"),
            (report.retrying, "to retry"),
            (report.failed, "failed"),
        )
        if count
    ]
    for channel, missing in report.waiting.items():
        count = report.waiting_alerts.get(channel, 0)
        parts.append(f"{count} for {channel} waiting for {', '.join(missing)}")
    return "alerts: " + ", ".join(parts)


@main.command("tasks")
@click.option(
    "--status",
    type=click.Choice(["open", "closed", "dismissed", "all"]),
    default="open",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--mine", is_flag=True, help="Only the tasks assigned to you (--by, or the default).")
@by_option
@pass_app
def tasks_cmd(app: App, status: str, as_json: bool, mine: bool, by: str) -> None:
    """List review tasks."""
    app.config()
    with app.reader() as store:
        rows = queries.tasks(store, None if status == "all" else status)
    if mine:
        rows = [row for row in rows if row["assignee"] == by]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo(f"no {status if status != 'all' else ''} tasks".replace("  ", " "))
        return
    click.echo(_tasks_table(rows, terminal_width()))


#: the columns of `watcher tasks`; when the terminal is narrower than the table,
#: the free-text ones give way, in this order and down to these widths, and
#: then the columns `watcher task show` has too are left out
TASK_COLUMNS = (
    "id", "lab", "source", "status", "severity", "versions",
    "opened_at", "updated_at", "assignee", "summary",
)  # fmt: skip
TASK_SHRINK = (("summary", 20), ("source", 12), ("assignee", 8), ("lab", 8), ("summary", 10))
TASK_DROP = ("updated_at", "opened_at", "versions", "assignee")


def _tasks_table(rows: list[dict[str, Any]], width: int) -> str:
    """The tasks as a table fitted to `width`: long text is cut with an ellipsis,
    never wrapped, and the id is never cut."""
    for row in rows:
        row["versions"] = f"v{row['from_version']}→v{row['to_version']}"
    return _table(rows, TASK_COLUMNS, width=200, fit=width, shrink=TASK_SHRINK, drop=TASK_DROP)


@main.group()
def task() -> None:
    """Show and work one review task."""


def _show_task(data: dict[str, Any]) -> None:
    for key in (
        "id",
        "source",
        "status",
        "from_version",
        "to_version",
        "severity",
        "assignee",
        "opened_at",
        "updated_at",
        "closed_at",
        "summary",
        "note",
    ):
        click.echo(f"{key + ':':14} {_cell(data.get(key))}")
    if data.get("criteria_line"):
        click.echo(f"{'criteria:':14} {_cell(data['criteria_line'])}")
    if data.get("signals"):
        click.echo("signals:")
        for item in data["signals"]:
            click.echo(f"  - {safe(_signal_line(Signal(**item)))}")
    if data.get("events"):
        click.echo("history:")
        for event in data["events"]:
            note = f" — {_cell(event['note'])}" if event["note"] else ""
            click.echo(f"  {event['at']} {_cell(event['actor'])} {event['action']}{note}")


@task.command("show")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def task_show(app: App, task_id: int, as_json: bool) -> None:
    """Show one task with its history."""
    app.config()
    with app.reader() as store:
        data = queries.task(store, task_id)
    _print_json(data) if as_json else _show_task(data)


def _task_action(app: App, action: Callable[[Store], Any], task_id: int, as_json: bool) -> None:
    app.config()
    with app.store() as store:
        action(store)
        data = queries.task(store, task_id)
    if as_json:
        _print_json(data)
    else:
        click.echo(
            f"task {task_id}: {data['status']}"
            + (f", assigned to {_cell(data['assignee'])}" if data["assignee"] else "")
        )


@task.command("assign")
@click.argument("task_id", type=int)
@click.argument("who")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@by_option
@pass_app
def task_assign(app: App, task_id: int, who: str, as_json: bool, by: str) -> None:
    """Assign a task to a rater."""
    _task_action(
        app,
        lambda store: review.assign(store, task_id, who, actor=by, config=app.config()),
        task_id,
        as_json,
    )


@task.command("close")
@click.argument("task_id", type=int)
@click.option("--note", required=True, help="The reassessment's outcome, e.g. 'grade 2.2 → 1.9'.")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@by_option
@pass_app
def task_close(app: App, task_id: int, note: str, as_json: bool, by: str) -> None:
    """Close a task with the outcome of the reassessment."""
    _task_action(
        app,
        lambda store: review.close(store, task_id, note, actor=by, config=app.config()),
        task_id,
        as_json,
    )


@task.command("dismiss")
@click.argument("task_id", type=int)
@click.option("--note", required=True, help="Why no reassessment is needed.")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@by_option
@pass_app
def task_dismiss(app: App, task_id: int, note: str, as_json: bool, by: str) -> None:
    """Dismiss a task that needs no reassessment."""
    _task_action(
        app,
        lambda store: review.dismiss(store, task_id, note, actor=by, config=app.config()),
        task_id,
        as_json,
    )


@task.command("reopen")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@by_option
@pass_app
def task_reopen(app: App, task_id: int, as_json: bool, by: str) -> None:
    """Reopen a closed or dismissed task."""
    _task_action(
        app,
        lambda store: review.reopen(store, task_id, actor=by, config=app.config()),
        task_id,
        as_json,
    )


@task.command("note")
@click.argument("task_id", type=int)
@click.option("--note", required=True, help="What to add to the task's history.")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@by_option
@pass_app
def task_note(app: App, task_id: int, note: str, as_json: bool, by: str) -> None:
    """Add a note to a task's history, without changing its status."""
    _task_action(
        app, lambda store: review.add_note(store, task_id, note, actor=by), task_id, as_json
    )


@main.command()
@click.option("--once", is_flag=True, help="Run one pass of due sources and exit.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json (one object per line) for log shippers.",
)
@click.pass_context
def run(ctx: click.Context, once: bool, log_format: str) -> None:
    """Watch continuously: check each source on its schedule until stopped.

    Logs one line per check and per alert on stderr (at info level unless
    --log-level says otherwise). Exit status 2 when another watcher runs on
    the same state folder.
    """
    from click.core import ParameterSource

    from watcher.daemon import AlreadyRunning, run_daemon

    app = ctx.find_object(App)
    assert app is not None
    logs.use_format("json" if log_format == "json" else "text")
    parent = ctx.parent
    if parent is not None and parent.get_parameter_source("log_level") == ParameterSource.DEFAULT:
        logging.getLogger().setLevel(logging.INFO)  # a daemon's log is its record of checks
    config = app.config()  # the daemon logs the config's warnings itself
    try:
        code = run_daemon(config, once=once)
    except AlreadyRunning as exc:
        _fail(str(exc), 2)
    except KeyboardInterrupt:
        # Ctrl-C before the daemon took over the signal (starting up) or after it
        # let go (closing): as clean a stop as a later one, not click's "Aborted!"
        _stopped()
    sys.exit(code)


@main.group(invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "failed", "held", "all"]),
    default="all",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def notifications(ctx: click.Context, status: str, as_json: bool) -> None:
    """List the alert outbox (`notifications retry ID` re-queues a failed alert)."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    app.config()
    with app.reader() as store:
        rows = queries.notifications(store, None if status == "all" else status)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("the outbox is empty" if status == "all" else f"no {status} alerts")
        return
    click.echo(
        _table(
            rows,
            [
                "id",
                "kind",
                "channel",
                "source",
                "task",
                "status",
                "attempts",
                "created_at",
                "sent_at",
                "last_error",
            ],
        )
    )


@notifications.command("retry")
@click.argument("notification_id", type=int)
@pass_app
def notifications_retry(app: App, notification_id: int) -> None:
    """Re-queue a failed alert; it is sent by the next check or the daemon."""
    from watcher.notify.outbox import retry

    app.config()
    with app.store() as store:
        row = retry(store, notification_id)
    click.echo(f"notification {row['id']}: pending again (channel {safe(row['channel'])})")


@main.group()
def notify() -> None:
    """Alert channels."""


@notify.command("test")
@click.argument("channel", required=False)
@pass_app
def notify_test(app: App, channel: str | None) -> None:
    """Send a test message through every channel (or one) and say if it was accepted."""
    from watcher.notify import send_test

    config = app.config(warn=True)
    if channel is not None and channel not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none"
        _fail(f"unknown channel {channel!r} (known: {known})", 2)
    names = [channel] if channel else sorted(config.channels)
    if not names:
        _fail("no channels are configured", 2)
    results = asyncio.run(send_test(config, names, os.environ))
    failed = False
    for name, error in results.items():
        if error is None:
            click.echo(f"{safe(name)}: accepted")
        else:
            failed = True
            click.echo(f"{safe(name)}: {safe(error)}")
    if failed:
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Is a daemon running and well? Its heartbeat, the schedule, failing sources, the outbox.

    Exit status 1 when no daemon runs on the state folder or its heartbeat is
    stale (for cron jobs and monitoring checks), 0 otherwise.
    """
    from watcher.daemon import daemon_status, format_duration

    config = app.config()
    with app.store() as store:
        data = daemon_status(config, store)
    if as_json:
        _print_json(data)
    else:
        daemon = data["daemon"]
        if daemon["running"]:
            age = daemon["heartbeat_age_s"]
            beat = (
                "no heartbeat" if age is None else f"heartbeat {format_duration(max(age, 0))} ago"
            )
            click.echo(f"daemon: running, pid {daemon['pid']}, started {daemon['started_at']}")
            click.echo(f"  {beat}")
        else:
            last = f" (last heartbeat {daemon['heartbeat_at']})" if daemon["heartbeat_at"] else ""
            click.echo(f"daemon: not running on {daemon['state_dir']}{last}")
        for problem in data["problems"]:
            click.echo(f"problem: {safe(problem)}")
        rows = [
            {**row, "next_check": "due now" if row["overdue"] else row["next_check"]}
            for row in data["sources"]
        ]
        click.echo(_table(rows, ["id", "schedule", "status", "last_checked", "next_check"]))
        for row in data["failing"]:
            click.echo(
                f"failing: {safe(row['id'])} ({row['consecutive_failures']} in a row): "
                f"{safe(row['last_error'])}"
            )
        outbox = data["outbox"]
        click.echo(
            f"outbox: {outbox['pending']} pending, {outbox['sending']} sending, "
            f"{outbox['failed']} failed, {outbox['held']} held for the digest"
        )
    if not data["healthy"]:
        sys.exit(1)


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: [dashboard] host).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port (default: [dashboard] port)."
)
@pass_app
def serve(app: App, host: str | None, port: int | None) -> None:
    """Serve the reviewers' dashboard (read pages, feeds, JSON API, task actions).

    Listens on 127.0.0.1:8765 unless [dashboard] or --host/--port say
    otherwise; any non-loopback address needs [dashboard] auth_token_env.
    Stops on Ctrl-C or SIGTERM.
    """
    from watcher.web.app import serve as serve_dashboard

    config = app.config(warn=True)
    host = host or config.dashboard.host
    port = config.dashboard.port if port is None else port
    # a database that cannot be opened, or is damaged, is refused now with
    # one line, not page by page as HTTP 500s
    with app.store() as store:
        store.verify()

    def listening(url: str) -> None:  # said once it listens, never before a refusal
        click.echo(f"dashboard on {url} (Ctrl-C to stop)", err=True)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the server took the signal
        asyncio.run(
            serve_dashboard(
                config, host=host, port=port, handle_signals=True, on_listening=listening
            )
        )
    _stopped()


def _stopped() -> None:
    """A daemon stopped by Ctrl-C or SIGTERM: one line, exit status 0 (a requested stop)."""
    click.echo("stopped", err=True)
    sys.exit(0)


main.add_command(sources_cmd)
main.add_command(history)
main.add_command(show)
main.add_command(diff)
main.add_command(lineage)
main.add_command(cite)
main.add_command(criteria_list)
main.add_command(report_cmd)
main.add_command(export_cmd)
main.add_command(archive_cmd)
