"""The webhook and Apprise channels, Slack mentions and email threading, end to end.

A webhook receiver and an Apprise catcher run on 127.0.0.1 (pytest-httpserver);
email goes through aiosmtpd; alerts come from real checks through the outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import Env, Site
from tests.servers import free_port
from tests.test_notify_channels import load_channel
from tests.test_pipeline import SECTIONS, html_source, page
from watcher import clock
from watcher.cli import main
from watcher.errors import ConfigError
from watcher.notify import outbox

pytestmark = pytest.mark.clock

URL_ENV = "WATCHER_TEST_HOOK_URL"
SECRET_ENV = "WATCHER_TEST_HOOK_SECRET"
SECRET = "s3cret-key-for-hmac"
WEAKER = SECTIONS.replace("We commit to the following", "We may consider the following")


class Receiver:
    """A webhook receiver: records each POST's headers and exact body, answers as told."""

    def __init__(self, server: HTTPServer, path: str = "/hook/tok-123") -> None:
        self.path = path
        self.server = server
        self.received: list[tuple[dict[str, str], bytes]] = []  # every request, answered or not
        self.answers: list[tuple[int, dict[str, str]]] = []  # consumed first to last
        self.lock = threading.Lock()
        server.expect_request(path, method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for(self.path)

    def _handle(self, request: Request) -> Response:
        with self.lock:
            self.received.append((dict(request.headers), request.get_data()))
            status, headers = self.answers.pop(0) if self.answers else (200, {})
        return Response("busy" if status != 200 else "ok", status=status, headers=headers)


def setup_change(env: Env, site: Site, channels: dict[str, dict[str, Any]]) -> None:
    """A baseline, then a change that weakens a commitment (a major change) on the site."""
    site.set("/rsp", page())
    env.channels = channels
    env.watcher = {"notify": list(channels), "dashboard_url": "https://watch.example"}
    env.sources = [html_source(site)]
    env.check()
    site.set("/rsp", page(WEAKER))
    env.check()


def deliver(env: Env) -> outbox.DeliveryReport:
    return asyncio.run(outbox.deliver_due(env.write(), env.store))


def at(monkeypatch: pytest.MonkeyPatch, moment: Any) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


# --- webhook -----------------------------------------------------------------------


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    server = HTTPServer(host="127.0.0.1", port=0)  # apart from the watched site's
    server.start()
    hook = Receiver(server)
    monkeypatch.setenv(URL_ENV, hook.url)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    yield hook
    server.clear()
    if server.is_running():
        server.stop()


WEBHOOK = {"hooks": {"type": "webhook", "url_env": URL_ENV, "secret_env": SECRET_ENV}}


def verify(headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, as docs/alerts.md gives it."""
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-Watcher-Signature", ""))


def test_webhook_posts_a_signed_document_with_the_task_as_tasks_json_shows_it(
    env: Env, site: Site, receiver: Receiver
) -> None:
    setup_change(env, site, WEBHOOK)
    assert deliver(env).sent == 1
    [(headers, body)] = receiver.received
    assert verify(headers, body)
    assert not verify(headers, body + b" ")  # the signature covers the exact bytes
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    [row] = env.store.notifications()
    assert headers["X-Watcher-Event"] == "change"
    assert headers["X-Watcher-Delivery"] == str(row["id"])
    document = json.loads(body)
    assert document["version"] == 1 and document["event"] == "change"
    assert document["delivery"] == row["id"]
    assert (document["lab"], document["title"]) == ("Acme", "Policy acme-rsp")
    assert document["severity"] == "major"
    assert document["link"] == f"https://watch.example/tasks/{row['task_id']}"
    assert document["change"]["event"] == "opened"
    assert (document["change"]["old_version"], document["change"]["new_version"]) == (1, 2)
    # the task: exactly the fields `watcher tasks --json` gives
    cli = CliRunner().invoke(main, ["--config", str(env.config_path), "tasks", "--json"])
    [task] = json.loads(cli.stdout)
    assert document["task"] == task
    weakened = [s for s in document["signals"] if s["kind"] == "commitment_weakened"]
    assert weakened, document["signals"]
    signal = weakened[0]
    assert signal["severity"] == "major" and signal["label"] == "commitment weakened"
    assert "commit" in signal["old"] and "may consider" in signal["new"]
    assert signal["section"] == "Responsible Scaling Policy › 2. Security Commitments"
    assert set(signal) == {"kind", "label", "severity", "section", "page", "old", "new", "detail"}
    assert SECRET.encode() not in body


def test_webhook_retries_after_500_and_pauses_after_429_without_doubling(
    env: Env, site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_change(env, site, WEBHOOK)
    [row] = env.store.notifications()
    start = clock.now()
    at(monkeypatch, start)
    receiver.answers = [(500, {}), (429, {"Retry-After": "120"})]
    report = deliver(env)
    assert (report.retrying, report.sent) == (1, 0)
    row = env.store.notification(row["id"])
    assert (row["status"], row["attempts"]) == ("pending", 1) and "HTTP 500" in row["last_error"]
    assert URL_ENV not in row["last_error"] and "tok-123" not in row["last_error"]

    at(monkeypatch, start + timedelta(hours=2))  # the retry is due: the receiver says slow down
    report = deliver(env)
    assert report.throttled == 1 and "hooks" in report.paused
    row = env.store.notification(row["id"])
    assert row["attempts"] == 1  # a throttle spends no attempt
    until = clock.parse_iso(row["next_attempt_at"])
    assert until == start + timedelta(hours=2, seconds=120)
    assert deliver(env).attempted == 0  # paused: nothing is sent before Retry-After

    at(monkeypatch, until + timedelta(seconds=1))
    assert deliver(env).sent == 1
    at(monkeypatch, until + timedelta(hours=5))
    assert deliver(env).attempted == 0  # sent once, never again
    assert env.store.notification(row["id"])["status"] == "sent"
    deliveries = [headers["X-Watcher-Delivery"] for headers, _ in receiver.received]
    assert deliveries == [str(row["id"])] * 3  # the same idempotency key every time
    bodies = {body for _, body in receiver.received}
    assert all(verify(headers, body) for headers, body in receiver.received)
    assert len(bodies) == 1  # the same document each attempt


def test_webhook_test_message_and_missing_secret(
    env: Env, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.channels = WEBHOOK
    env.sources = [{"id": "x", "url": "http://127.0.0.1:9/"}]
    env.write()

    def notify() -> Any:
        return CliRunner().invoke(main, ["--config", str(env.config_path), "notify", "test"])

    ok = notify()
    assert ok.exit_code == 0 and ok.stdout.strip() == "hooks: accepted", ok.output
    [(headers, body)] = receiver.received
    assert verify(headers, body) and headers["X-Watcher-Event"] == "test"
    assert headers["X-Watcher-Delivery"] == "test"
    monkeypatch.delenv(SECRET_ENV)
    unset = notify()
    assert f"hooks: not configured: {SECRET_ENV} is not set" in unset.stdout
    assert len(receiver.received) == 1


# --- config errors -----------------------------------------------------------------


SLACK = {"type": "slack", "webhook_url_env": "HOOK"}
HOOK = {"type": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"}


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (
            {**SLACK, "mention_on_major": ["@channel"]},
            "channels.raters.mention_on_major: '@channel' is not a Slack mention",
        ),
        (
            {**SLACK, "mention_on_major": ["<!channel>"]},
            "channels.raters.mention_on_major: '<!channel>' is not a Slack mention",
        ),
        (
            {**SLACK, "mention_on_major": ["<@U123> <!here>"]},
            "is not a Slack mention",
        ),
        ({**SLACK, "mention_on_major": "<!here>"}, "expected a list"),
        (
            {"type": "webhook", "url_env": "HOOK_URL"},
            "channels.raters.secret_env: required key is missing",
        ),
        ({**HOOK, "secret": "x"}, "channels.raters.secret: unknown key"),
        ({**HOOK, "url": "https://x.example"}, "channels.raters.url: unknown key"),
        (
            {**HOOK, "url_env": "https://hooks.example/abc"},
            "channels.raters.url_env: must be the name of an environment variable",
        ),
        (
            {**HOOK, "secret_env": "hunter 2"},
            "channels.raters.secret_env: must be the name of an environment variable",
        ),
        ({**HOOK, "pace": "1 minute"}, "channels.raters.pace:"),
        ({"type": "apprise"}, "channels.raters.url_env: required key is missing"),
        (
            {"type": "apprise", "url_env": "json://127.0.0.1/x"},
            "channels.raters.url_env: must be the name of an environment variable",
        ),
        ({"type": "apprise", "url_env": "A", "format": "markdown"}, "channels.raters.format"),
    ],
)
def test_channel_key_errors(tmp_path: Path, keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_channel(tmp_path, **keys)
    assert any(problem in line for line in caught.value.problems), caught.value.problems
    assert "https://hooks.example/abc" not in "\n".join(caught.value.problems)


def test_channel_keys_load(tmp_path: Path) -> None:
    mentions = ["<!subteam^S0123ABC>", "<@U0123ABC>", "<!here>"]
    slack = load_channel(tmp_path, **SLACK, mention_on_major=mentions).channels["raters"]
    assert slack.type == "slack" and slack.mention_on_major == tuple(mentions)
    hook = load_channel(tmp_path, **HOOK, batch_over=3).channels["raters"]
    assert hook.type == "webhook" and (hook.pace, hook.batch_over) == (0.0, 3)
    assert hook.secret_missing({"HOOK_URL": "https://x"}) == ["HOOK_SECRET"]
    ap = load_channel(tmp_path, type="apprise", url_env="AP", pace="2s").channels["raters"]
    assert ap.type == "apprise" and ap.pace == 2.0 and ap.secret_missing({}) == ["AP"]
