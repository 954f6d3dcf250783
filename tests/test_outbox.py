"""The outbox end to end: real checks, a Slack stand-in and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import Env, Site
from tests.servers import free_port
from tests.test_pipeline import SECTIONS, html_source, page
from watcher import clock
from watcher.notify import outbox
from watcher.store import Store

# Digests, reminders, retries and leases all read the clock: .ci/run re-runs
# this module at several times of day.
pytestmark = pytest.mark.clock

HOOK_ENV = "WATCHER_TEST_SLACK_HOOK"


class SlackStandIn:
    """A webhook endpoint that records posts and answers as told."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.posts: list[dict[str, Any]] = []
        self.answers: list[tuple[int, str, dict[str, str]]] = []  # consumed first to last
        self.delay = 0.0
        self.lock = threading.Lock()
        server.expect_request("/hook/secret-token").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/hook/secret-token")

    def _handle(self, request: Request) -> Response:
        time.sleep(self.delay)
        with self.lock:
            status, body, headers = self.answers.pop(0) if self.answers else (200, "ok", {})
            if status == 200:
                self.posts.append(json.loads(request.get_data()))
        return Response(body, status=status, headers=headers)

    def texts(self) -> list[str]:
        return [post["text"] for post in self.posts]


@pytest.fixture
def slack(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> SlackStandIn:
    stand_in = SlackStandIn(httpserver)
    monkeypatch.setenv(HOOK_ENV, stand_in.url)
    return stand_in


@pytest.fixture
def other_site() -> Iterator[Site]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield Site(server)
    server.clear()
    if server.is_running():
        server.stop()


def with_slack(env: Env, site: Site, **watcher: Any) -> None:
    site.set("/rsp", page())
    env.channels = {"raters": {"type": "slack", "webhook_url_env": HOOK_ENV}}
    env.watcher = {"notify": ["raters"], **watcher}
    env.sources = [html_source(site)]


def change(site: Site, old: str = "once a year", new: str = "every two years") -> None:
    site.set("/rsp", page(SECTIONS.replace(old, new)))


def deliver(env: Env) -> outbox.DeliveryReport:
    return asyncio.run(outbox.deliver_due(env.write(), env.store))


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


def test_one_alert_per_change_per_channel(env: Env, other_site: Site, slack: SlackStandIn) -> None:
    with_slack(env, other_site)
    env.check()
    assert deliver(env).sent == 0  # the baseline alerts nobody
    change(other_site)
    env.check()
    report = deliver(env)
    assert (report.sent, report.failed) == (1, 0)
    assert len(slack.posts) == 1 and "Acme" in slack.posts[0]["text"]
    assert deliver(env).attempted == 0  # never sent again
    [row] = env.store.notifications()
    assert (row["status"], row["attempts"]) == ("sent", 1) and row["sent_at"]


def test_outage_is_retried_and_delivered_exactly_once(
    env: Env, other_site: Site, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_slack(env, other_site)
    env.check()
    change(other_site)
    env.check()
    slack.answers = [(500, "oops", {}), (503, "down", {})]
    start = clock.now()
    for minutes in (0, 0):  # the retry is not due yet on the second run
        at(monkeypatch, start + timedelta(minutes=minutes))
        deliver(env)
    [row] = env.store.notifications()
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "500" in row["last_error"] and clock.parse_iso(row["next_attempt_at"]) > start
    at(monkeypatch, start + timedelta(hours=2))
    deliver(env)
    assert env.store.notifications()[0]["attempts"] == 2
    at(monkeypatch, start + timedelta(hours=4))
    report = deliver(env)
    assert report.sent == 1 and len(slack.posts) == 1
    at(monkeypatch, start + timedelta(hours=8))
    assert deliver(env).attempted == 0 and len(slack.posts) == 1


def test_slack_retry_after_is_honoured(
    env: Env, other_site: Site, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_slack(env, other_site)
    env.check()
    change(other_site)
    env.check()
    start = clock.now()
    at(monkeypatch, start)
    slack.answers = [(429, "rate_limited", {"Retry-After": "120"})]
    deliver(env)
    [row] = env.store.notifications()
    assert clock.parse_iso(row["next_attempt_at"]) == start + timedelta(seconds=120)


def test_permanent_failure_is_marked_and_can_be_retried(
    env: Env, other_site: Site, slack: SlackStandIn
) -> None:
    with_slack(env, other_site)
    env.check()
    change(other_site)
    env.check()
    slack.answers = [(404, "no_service", {})]
    report = deliver(env)
    assert report.failed == 1
    [row] = env.store.notifications()
    assert row["status"] == "failed" and "no_service" in row["last_error"]
    assert "secret-token" not in row["last_error"]  # the webhook URL is a secret
    assert env.store.source_overview()[0]["failed_alerts"] == 1
    outbox.retry(env.store, row["id"])
    assert deliver(env).sent == 1 and len(slack.posts) == 1


def test_unconfigured_channel_waits_until_its_secret_is_set(
    env: Env, other_site: Site, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_slack(env, other_site)
    env.check()
    change(other_site)
    monkeypatch.delenv(HOOK_ENV)
    env.check()
    report = deliver(env)
    assert report.waiting == {"raters": [HOOK_ENV]} and report.attempted == 0
    assert env.store.notifications()[0]["status"] == "pending"
    monkeypatch.setenv(HOOK_ENV, slack.url)
    assert deliver(env).sent == 1


def test_concurrent_deliverers_never_send_a_row_twice(
    env: Env, other_site: Site, slack: SlackStandIn
) -> None:
    with_slack(env, other_site)
    env.check()
    for n in range(6):
        change(other_site, "once a year", f"{n + 2} times a year")
        env.check()
        # close the task so that each change opens a new one: six alerts
        from watcher import review

        review.close(env.store, env.store.tasks("open")[0]["id"], "seen", config=None)
    assert len(env.store.notifications("pending")) == 6
    config = env.write()
    slack.delay = 0.05
    reports: list[outbox.DeliveryReport] = []

    def worker() -> None:
        store = Store.open(env.tmp / "state")
        try:
            reports.append(asyncio.run(outbox.deliver_due(config, store)))
        finally:
            store.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in reports) == 6
    assert len(slack.posts) == 6
    assert {n["status"] for n in env.store.notifications()} == {"sent"}


def test_a_claim_left_by_a_dead_deliverer_is_taken_over(
    env: Env, other_site: Site, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_slack(env, other_site)
    env.check()
    change(other_site)
    env.check()
    start = clock.now()
    [row] = env.store.claim_notifications(
        ["raters"], now=clock.iso(start), stale_before=clock.iso(start), token="dead", limit=10
    )
    assert deliver(env).attempted == 0  # freshly claimed by someone else
    at(monkeypatch, start + timedelta(seconds=outbox.LEASE_S + 1))
    assert deliver(env).sent == 1
    assert not env.store.finish_notification(row["id"], "dead", status="failed")


def test_reminders_fire_once_per_period(
    env: Env, other_site: Site, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_slack(env, other_site, remind_after="3d", remind_every="2d")
    env.check()
    change(other_site)
    env.check()
    deliver(env)
    config = env.write()
    opened = clock.parse_iso(env.store.tasks()[0]["opened_at"])
    counts = []
    for hours in (71, 73, 74, 100, 73 + 48, 73 + 49):
        counts.append(outbox.enqueue_reminders(config, env.store, opened + timedelta(hours=hours)))
    assert counts == [0, 1, 0, 0, 1, 0]
    at(monkeypatch, opened + timedelta(hours=200))
    deliver(env)
    reminders = [p for p in slack.posts if "remind" in json.dumps(p).lower()]
    assert len(reminders) == 2
    # a closed task is not reminded
    from watcher import review

    review.close(env.store, env.store.tasks()[0]["id"], "done", config=None)
    assert outbox.enqueue_reminders(config, env.store, opened + timedelta(days=30)) == 0


def test_failing_and_recovered_alerts_once_per_episode(
    env: Env, other_site: Site, slack: SlackStandIn
) -> None:
    with_slack(env, other_site, failure_alert_after=2)
    other_site.set("/rsp", "down", status=503)
    for _ in range(5):
        env.check()
    deliver(env)
    other_site.set("/rsp", page())
    env.check()
    env.check()
    deliver(env)
    kinds = [n["kind"] for n in env.store.notifications()]
    assert kinds == ["failing", "recovered"]
    assert len(slack.posts) == 2 and "HTTP 503" in json.dumps(slack.posts[0])


def test_digest_lists_held_changes_once_a_day(
    env: Env, other_site: Site, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_slack(env, other_site, digest_at="09:00")
    env.check()
    change(other_site)
    env.check()
    config = env.write()
    # hold the change as if it were below alert_min_severity
    [row] = env.store.notifications()
    env.store.update_notification(row["id"], status="held")
    day = clock.now().replace(hour=10, minute=0, second=0)  # after 09:00
    assert outbox.make_digests(config, env.store, day) == 1
    [digest] = env.store.notifications("pending")
    assert digest["kind"] == "digest" and json.loads(digest["payload"]) == {"items": [row["id"]]}
    assert env.store.notification(row["id"])["status"] == "digested"
    # later the same day: nothing more; the next day with nothing held: no digest
    assert outbox.make_digests(config, env.store, day + timedelta(hours=5)) == 0
    assert outbox.make_digests(config, env.store, day + timedelta(days=1)) == 0
    assert len(env.store.notifications("pending")) == 1
    at(monkeypatch, day + timedelta(hours=3))
    deliver(env)
    [post] = slack.posts
    assert "digest" in post["text"] and "Policy acme-rsp" in json.dumps(post)


def test_should_hold_follows_the_threshold() -> None:
    assert not outbox.should_hold(None, "major")
    assert outbox.should_hold("minor", "substantive")
    assert not outbox.should_hold("major", "substantive")
    assert not outbox.should_hold("minor", "minor")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


def test_change_alert_by_email_end_to_end(env: Env, other_site: Site) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        other_site.set("/rsp", page())
        env.channels = {
            "mail": {
                "type": "email",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "security": "none",
                "from": "watcher@example.org",
                "to": ["raters@example.org"],
            }
        }
        env.sources = [html_source(other_site, notify=["mail"])]
        env.check()
        change(other_site)
        env.check()
        assert deliver(env).sent == 1
    finally:
        controller.stop()
    [message] = inbox.messages
    assert message["Subject"].startswith("[watcher] ")
    assert " — Acme — Policy acme-rsp: " in message["Subject"]
    assert message["To"] == "raters@example.org"


def test_notify_test_reports_each_channel(
    env: Env, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from watcher.cli import main

    env.channels = {
        "raters": {"type": "slack", "webhook_url_env": HOOK_ENV},
        "unset": {"type": "slack", "webhook_url_env": "WATCHER_TEST_NOT_SET"},
    }
    env.sources = [{"id": "x", "url": "http://127.0.0.1:9/"}]
    env.write()

    def notify(*args: str) -> Any:
        return CliRunner().invoke(main, ["--config", str(env.config_path), "notify", "test", *args])

    ok = notify("raters")
    assert ok.exit_code == 0 and ok.stdout.strip() == "raters: accepted"
    assert "test message" in json.dumps(slack.posts[0])
    both = notify()
    assert both.exit_code == 1
    assert "unset: not configured: WATCHER_TEST_NOT_SET is not set" in both.stdout
    slack.answers = [(404, "no_service", {})]
    refused = notify("raters")
    assert refused.exit_code == 1 and "refused" in refused.stdout and "no_service" in refused.stdout
    assert "secret-token" not in refused.stdout
    unknown = notify("nope")
    assert unknown.exit_code == 2 and "unknown channel 'nope'" in unknown.stderr
    assert env.store.notifications() == []  # tests go straight to the channel, not the outbox


def test_notifications_command_lists_and_retries(
    env: Env, other_site: Site, slack: SlackStandIn
) -> None:
    from click.testing import CliRunner

    from watcher.cli import main

    with_slack(env, other_site)
    env.check()
    change(other_site)
    env.check()
    slack.answers = [(400, "invalid_payload", {})]
    deliver(env)

    def cli(*args: str) -> Any:
        return CliRunner().invoke(main, ["--config", str(env.config_path), *args])

    [row] = json.loads(cli("notifications", "--status", "failed", "--json").stdout)
    assert row["kind"] == "change" and "invalid_payload" in row["last_error"]
    assert "failed" in cli("notifications").stdout
    retried = cli("notifications", "retry", str(row["id"]))
    assert retried.exit_code == 0 and "pending again" in retried.stdout
    assert cli("notifications", "retry", str(row["id"])).exit_code == 1  # pending, not failed
    assert cli("notifications", "retry", "999").exit_code == 2
    assert deliver(env).sent == 1
    assert (
        json.loads(cli("notifications", "--status", "sent", "--json").stdout)[0]["id"] == row["id"]
    )


def test_a_placeholder_smtp_host_holds_alerts_until_edited(env: Env, other_site: Site) -> None:
    """The shipped config's smtp.example.org does not exist: its alerts wait in
    the outbox, as for an unset secret, instead of failing against it."""
    other_site.set("/rsp", page())
    mail = {
        "type": "email",
        "smtp_host": "smtp.example.org",
        "security": "none",
        "from": "watcher@example.org",
        "to": ["raters@example.org"],
    }
    env.channels = {"mail": mail}
    env.sources = [html_source(other_site, notify=["mail"])]
    env.check()
    change(other_site)
    env.check()
    report = deliver(env)
    assert report.attempted == 0 and report.waiting_alerts == {"mail": 1}
    assert report.waiting == {"mail": ["a real smtp_host (not smtp.example.org)"]}
    [row] = env.store.notifications()
    assert row["status"] == "pending" and row["attempts"] == 0
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env.channels = {"mail": {**mail, "smtp_host": "127.0.0.1", "smtp_port": port}}
        assert deliver(env).sent == 1
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_notify_test_says_a_placeholder_smtp_host_is_not_configured(env: Env) -> None:
    from click.testing import CliRunner

    from watcher.cli import main

    env.channels = {
        "mail": {"type": "email", "smtp_host": "smtp.example.org", "from": "w@example.org",
                 "to": ["r@example.org"]},
    }  # fmt: skip
    env.sources = [{"id": "x", "url": "http://127.0.0.1:9/"}]
    env.write()
    result = CliRunner().invoke(main, ["--config", str(env.config_path), "notify", "test"])
    assert result.exit_code == 1
    assert result.stdout.strip() == (
        "mail: not configured: waiting for a real smtp_host (not smtp.example.org)"
    )
