"""A channel's scheduled report (`report = "weekly Mon 08:00"`): queued once per period
through the outbox, across daemon passes and processes, delivered to a loopback Slack
stand-in and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from tests.conftest import Env, Site, write_config
from tests.servers import free_port
from tests.test_outbox import HOOK_ENV, Inbox, SlackStandIn, at, other_site, slack  # noqa: F401  (fixtures)
from tests.test_pipeline import SECTIONS, html_source, page
from watcher.cli import main
from watcher.config_values import parse_schedule
from watcher.notify import outbox

# Due times are read from the clock: .ci/run re-runs this module at several times of day.
pytestmark = pytest.mark.clock

ROOT = Path(__file__).resolve().parent.parent
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOSTILE = "<!channel> *[x](javascript:alert(1))* <https://evil.example|click>"


def reports(env: Env) -> list[dict[str, object]]:
    return [row for row in env.store.notifications() if row["kind"] == "report"]


def with_report(env: Env, site: Site, schedule: str = "weekly Mon 08:00") -> None:
    site.set("/rsp", page())
    env.channels = {"raters": {"type": "slack", "webhook_url_env": HOOK_ENV, "report": schedule}}
    env.watcher = {"notify": ["raters"]}
    env.sources = [html_source(site, title=f"Policy {HOSTILE}")]


@pytest.mark.parametrize(
    ("text", "moment", "due"),
    [
        ("weekly Mon 08:00", MONDAY + timedelta(minutes=1), MONDAY),
        ("weekly Mon 08:00", MONDAY - timedelta(minutes=1), MONDAY - timedelta(days=7)),
        ("weekly monday 8:00", MONDAY + timedelta(days=6, hours=23), MONDAY),
        ("daily 08:00", MONDAY + timedelta(hours=3), MONDAY),
        ("daily 08:00", MONDAY - timedelta(seconds=1), MONDAY - timedelta(days=1)),
    ],
)
def test_schedule_due_times(text: str, moment: datetime, due: datetime) -> None:
    assert parse_schedule(text).due_at(moment) == due


@pytest.mark.parametrize("bad", ["weekly Mox 08:00", "daily 25:00", "hourly", "weekly 08:00", 3])
def test_a_bad_report_schedule_is_a_one_line_config_error(
    env: Env, site: Site, bad: object
) -> None:
    with_report(env, site)
    env.channels["raters"]["report"] = bad
    write_config(env.config_path, env.sources, watcher=env.watcher, channels=env.channels)
    result = CliRunner().invoke(main, ["--config", str(env.config_path), "validate"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert "channels.raters.report" in line


def test_a_report_is_queued_once_per_period_and_sent_to_slack(
    env: Env,
    other_site: Site,  # noqa: F811
    slack: SlackStandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = other_site
    with_report(env, site)
    at(monkeypatch, MONDAY - timedelta(days=3))
    env.check()
    site.set("/rsp", page(SECTIONS.replace("We commit to", "We expect to")))
    at(monkeypatch, MONDAY - timedelta(days=1))
    env.check()
    config = env.write()
    # a daemon's housekeeping every minute, and a restart, on Monday morning
    for minutes in (1, 2, 30):
        outbox.housekeeping(config, env.store, MONDAY + timedelta(minutes=minutes))
    [row] = reports(env)
    payload = json.loads(str(row["payload"]))
    assert payload.pop("report")["changes"] == 1  # built once, when queued
    assert payload == {
        "schedule": "weekly Mon 08:00",
        "since": "2026-02-23T08:00:00Z",
        "until": "2026-03-02T08:00:00Z",
    }
    at(monkeypatch, MONDAY + timedelta(minutes=31))
    asyncio.run(outbox.deliver_due(config, env.store))
    report_posts = [p for p in slack.posts if "watcher report" in p["text"]]
    assert len(report_posts) == 1
    body = json.dumps(report_posts[0])
    assert "1 change, 1 open task, 0 failing sources" in body and "commitment weakened" in body
    assert "<!channel>" not in body and "<https://evil" not in body and "&lt;!channel&gt;" in body
    # the next week's report, once
    for days in (7, 8):
        outbox.housekeeping(config, env.store, MONDAY + timedelta(days=days, minutes=5))
    assert len(reports(env)) == 2


def test_a_report_by_email_is_the_whole_report(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        site.set("/rsp", page())
        env.channels = {
            "mail": {
                "type": "email",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "security": "none",
                "from": "watcher@example.org",
                "to": ["raters@example.org"],
                "report": "daily 07:30",
            }
        }
        env.watcher = {"notify": ["mail"]}
        env.sources = [html_source(site, title=f"Policy {HOSTILE}")]
        at(monkeypatch, MONDAY - timedelta(days=2))
        env.check()
        site.set("/rsp", page(SECTIONS.replace("We commit to", "We expect to")))
        at(monkeypatch, MONDAY - timedelta(hours=12))
        env.check()
        at(monkeypatch, MONDAY)
        config = env.write()
        outbox.housekeeping(config, env.store)
        outbox.housekeeping(config, env.store)
        asyncio.run(outbox.deliver_due(config, env.store))
    finally:
        controller.stop()
    [message] = [m for m in inbox.messages if "Report" in str(m["Subject"])]
    assert message["Subject"] == "[watcher] Report: 1 change, 1 open task, 0 failing sources"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("# watcher report, 2026-03-01 07:30 UTC to 2026-03-02 07:30 UTC")
    assert r"\*\[x\](javascript:alert(1))\*" in text
    assert not re.search(r"(?<!\\)\]\(javascript", text)  # no bracket left to close a link
    assert "<!channel>" not in html and "&lt;!channel&gt;" in html
    assert "1 change, 1 open task, 0 failing sources." in html


def test_two_processes_and_two_daemon_passes_queue_one_report(
    env: Env,
    other_site: Site,  # noqa: F811
    slack: SlackStandIn,  # noqa: F811
) -> None:
    """`watcher check` twice at once, then the daemon twice: one report for the period.

    Real processes, so the real clock: a daily report is due at its latest time of
    day at or before now, whatever the hour the test runs at."""
    with_report(env, other_site, "daily 00:00")
    env.write()
    environ = {**os.environ, "PYTHONPATH": str(ROOT), HOOK_ENV: slack.url}
    command = [sys.executable, "-m", "watcher", "--config", str(env.config_path)]
    checks = [
        subprocess.Popen([*command, "check"], env=environ, cwd=ROOT, stdout=subprocess.DEVNULL)
        for _ in range(2)
    ]
    assert [proc.wait(timeout=60) for proc in checks] == [0, 0]
    for _ in range(2):
        daemon = subprocess.run(
            [*command, "run", "--once"],
            env=environ,
            cwd=ROOT,
            timeout=60,
            stderr=subprocess.DEVNULL,
        )
        assert daemon.returncode == 0
    assert len(reports(env)) == 1
    assert [row["status"] for row in reports(env)] == ["sent"]
    assert len([p for p in slack.posts if "watcher report" in p["text"]]) == 1


def test_the_daemon_builds_a_report_off_its_event_loop_once(
    env: Env,
    other_site: Site,  # noqa: F811
    slack: SlackStandIn,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A week of many versions: while the daemon's housekeeping builds the report, the
    loop keeps running other tasks; the report is built once, at queue time, and a
    retried delivery sends the same data without analysing again."""
    from watcher import report
    from watcher.daemon import Daemon
    from watcher.workers import WorkerPool

    site = other_site
    with_report(env, site)
    env.watcher = {"notify": []}  # the channel gets the report only
    for day in range(8):
        site.set("/rsp", page(SECTIONS.replace("We commit to", f"We commit ({day}) to")))
        at(monkeypatch, MONDAY - timedelta(days=7, hours=-1) + timedelta(hours=20 * day))
        env.check()
    config = env.write()
    at(monkeypatch, MONDAY + timedelta(minutes=1))

    real_build = report.build
    building, ticked = threading.Event(), threading.Event()
    loop_ran_during_build: list[bool] = []

    def build(*args: Any, **kwargs: Any) -> dict[str, Any]:
        building.set()
        # On the loop's own thread this wait could never see the ticker's tick.
        loop_ran_during_build.append(ticked.wait(timeout=10))
        return real_build(*args, **kwargs)

    monkeypatch.setattr(report, "build", build)

    async def ticker(done: asyncio.Event) -> int:
        ticks = 0
        while not done.is_set():
            ticks += 1
            if building.is_set():
                ticked.set()
            await asyncio.sleep(0.001)
        return ticks

    async def housekeeping_beside_a_ticker() -> None:
        workers = WorkerPool()
        try:
            daemon = Daemon(config, env.store, workers)
            done = asyncio.Event()
            ticks = asyncio.create_task(ticker(done))
            await daemon._housekeeping()
            done.set()
            assert await ticks > 0
        finally:
            workers.close()

    asyncio.run(housekeeping_beside_a_ticker())
    assert loop_ran_during_build == [True]
    [row] = reports(env)
    payload = json.loads(str(row["payload"]))
    assert payload["report"]["changes"] == 7 and payload["until"] == "2026-03-02T08:00:00Z"

    # the first delivery fails, the retry sends the data built at queue time
    slack.answers.append((500, "oops", {}))
    asyncio.run(outbox.deliver_due(config, env.store))
    assert not [p for p in slack.posts if "watcher report" in p["text"]]
    at(monkeypatch, MONDAY + timedelta(hours=2))
    asyncio.run(outbox.deliver_due(config, env.store))
    [post] = [p for p in slack.posts if "watcher report" in p["text"]]
    assert "7 changes" in json.dumps(post)
    assert len(loop_ran_during_build) == 1
