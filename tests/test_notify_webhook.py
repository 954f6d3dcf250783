"""The webhook and Apprise channels, Slack mentions and email threading, end to end.

A webhook receiver and an Apprise catcher run on 127.0.0.1 (pytest-httpserver);
email goes through aiosmtpd; alerts come from real checks through the outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
from watcher.config import SlackChannel
from watcher.detect import diff
from watcher.errors import ConfigError
from watcher.models import Signal
from watcher.notify import SlackSender, outbox
from watcher.notify.alert import Alert
from watcher.notify.render import slack_marks_fit
from watcher.notify.slack_render import render_slack

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


# --- Slack: mentions and word marks -------------------------------------------------


MENTIONS = ("<!subteam^S0123ABC>", "<@U0123ABC>", "<!here>")


def major(**overrides: Any) -> Alert:
    values: dict[str, Any] = {
        "kind": "change",
        "source_id": "gdm-fsf",
        "lab": "Google DeepMind",
        "title": "Frontier Safety Framework",
        "url": "https://deepmind.example/fsf.pdf",
        "link": "https://deepmind.example/fsf.pdf",
        "event": "opened",
        "task_id": 3,
        "old_version": 1,
        "new_version": 2,
        "severity": "major",
        "signals": (
            Signal(
                "commitment_weakened",
                "3. Security",
                "We commit to audits.",
                "We may do audits.",
                old_marks=((3, 9),),
                new_marks=((3, 9),),
            ),
        ),
        "change": diff("# Security\nWe commit to audits.", "# Security\nWe may do audits."),
    }
    values.update(overrides)
    return Alert(**values)


def test_slack_mentions_only_on_major_changes_and_only_from_config() -> None:
    payload = render_slack(major(), MENTIONS)
    assert payload["text"] == (
        "Google DeepMind — Frontier Safety Framework · major: commitment weakened "
        "<!subteam^S0123ABC> <@U0123ABC> <!here>"
    )
    assert payload["blocks"][0]["text"]["text"] == (
        "Google DeepMind — Frontier Safety Framework · major: commitment weakened"
    )
    first = payload["blocks"][1]["text"]["text"]
    assert "<!subteam^S0123ABC> <@U0123ABC> <!here>" in first
    for severity in ("substantive", "minor", None):
        calm = json.dumps(render_slack(major(severity=severity), MENTIONS))
        assert "subteam" not in calm and "<@U0123ABC>" not in calm and "<!here>" not in calm
    reminder = Alert(kind="reminder", lab="G42", title="FAIS", task_id=3, severity="major")
    assert "<!here>" not in json.dumps(render_slack(reminder, MENTIONS))
    summary = Alert(kind="batch", items=(major(severity="minor"), major()))
    assert render_slack(summary, MENTIONS)["text"].endswith("<!here>")


@pytest.mark.parametrize(
    "bad", ["<!channel>", "<!here>", "<@U999>", "<!subteam^S1>", "&lt;!here&gt;"]
)
def test_scraped_text_never_makes_a_mention(bad: str) -> None:
    alert = major(
        lab=f"Lab {bad}",
        title=f"Doc {bad}",
        signals=(Signal("commitment_weakened", bad, f"We commit {bad}.", f"We may {bad}."),),
        change=diff(f"# S\nWe commit {bad}.", f"# S\nWe may {bad}."),
    )
    for mentions in ((), MENTIONS):
        payload = json.dumps(render_slack(alert, mentions), ensure_ascii=False)
        found = re.findall(r"<[!@][^>]*>", payload)
        assert found == list(mentions) * 2, found  # in the text and the first section
        assert "lt;" in payload  # the page's text is there, escaped


HOSTILE_MARKS = ["~x~", "*y*", "_z_", "`c`", "```", "<!channel>"]


@pytest.mark.parametrize("bad", HOSTILE_MARKS)
def test_slack_marks_fall_back_when_the_text_could_break_them(bad: str) -> None:
    alert = major(
        signals=(
            Signal(
                "commitment_weakened",
                "S",
                f"We commit {bad} to audits.",
                f"We may {bad} do audits.",
                old_marks=((3, 9),),
                new_marks=((3, 6),),
            ),
        ),
        change=diff(f"# S\nWe commit {bad} to audits.", f"# S\nWe may {bad} do audits."),
    )
    texts = [b["text"]["text"] for b in render_slack(alert)["blocks"] if "text" in b]
    joined = "\n".join(texts)
    assert "<!channel>" not in joined
    if bad == "<!channel>":  # nothing that pairs with ~ or *: Slack's own marks
        assert "~commit~" in joined and "*may*" in joined
        assert "± We ~commit~ *may* &lt;!channel&gt;" in joined
        return
    # the evidence quote shows the text form; the excerpt a code block
    assert "[-commit-]" in joined and "{+may+}" in joined
    assert "~commit~" not in joined and "*may*" not in joined
    code = [t for t in texts if t.startswith("```")]
    assert code and all(t.count("```") == 2 for t in code)


def test_slack_marks_need_whole_words() -> None:
    change = diff("# S\nWe recommit to audits.", "# S\nWe recommitted to audits.")
    shown = "\n".join(
        b["text"]["text"] for b in render_slack(major(change=change))["blocks"] if "text" in b
    )
    if "recommit" in shown and "[-" not in shown:  # a whole-word edit: marks fit
        assert "~recommit~ *recommitted*" in shown
    assert "re~" not in shown and "~ed" not in shown
    assert slack_marks_fit("re-commit", [(3, 9)])
    assert not slack_marks_fit("recommit", [(2, 8)])
    assert not slack_marks_fit("a *b* commit", [(6, 12)])


def test_slack_header_is_plain_text_cut_at_150() -> None:
    payload = render_slack(major(title="Frontier Safety Framework " * 20))
    header = payload["blocks"][0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    text = header["text"]["text"]
    assert len(text) <= 150 and text.startswith("Google DeepMind — Frontier Safety Framework")
    assert text.endswith("· major: commitment weakened")  # the document is cut, not the news
    assert payload["text"].endswith("· major: commitment weakened")


async def _slack_send(url: str, mentions: tuple[str, ...], alert: Alert) -> None:
    channel = SlackChannel(name="raters", webhook_url_env="X", mention_on_major=mentions)
    sender = SlackSender(channel, url, timeout=2.0)
    try:
        await sender.send(alert)
    finally:
        await sender.aclose()


def test_slack_sender_posts_the_configured_mentions(httpserver: HTTPServer) -> None:
    posts: list[Any] = []

    def handle(request: Request) -> Response:
        posts.append(json.loads(request.get_data()))
        return Response("ok")

    httpserver.expect_request("/services/T/B/x", method="POST").respond_with_handler(handle)
    url = httpserver.url_for("/services/T/B/x")
    asyncio.run(_slack_send(url, MENTIONS, major()))
    asyncio.run(_slack_send(url, MENTIONS, major(severity="minor")))
    assert posts[0]["text"].startswith("Google DeepMind — Frontier Safety Framework · major")
    assert posts[0]["text"].endswith("<!here>")
    assert posts[1]["text"] == (
        "Google DeepMind — Frontier Safety Framework · minor: commitment weakened"
    )


# --- email: subject and threading ----------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        return "250 OK"


def test_email_subject_and_threading_of_one_task(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail = {
            "mail": {
                "type": "email",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "security": "none",
                "from": "Policy watch <watcher@alerts.example.org>",
                "to": ["raters@example.org"],
            }
        }
        site.set("/rsp", page())
        env.channels = mail
        env.watcher = {"notify": ["mail"], "remind_after": "1d", "remind_every": "1d"}
        env.sources = [html_source(site, lab="Zürich Labs")]
        env.check()
        site.set("/rsp", page(WEAKER))
        env.check()  # opens the task
        assert deliver(env).sent == 1
        site.set("/rsp", page(WEAKER.replace("every year", "every other year")))
        env.check()  # extends it
        assert deliver(env).sent == 1
        later = clock.now() + timedelta(days=2)
        at(monkeypatch, later)
        assert outbox.enqueue_reminders(env.write(), env.store, later) == 1
        assert deliver(env).sent == 1
    finally:
        controller.stop()
    messages = [message_from_bytes(raw, policy=policy.default) for raw in inbox.raw]
    assert all(isinstance(m, EmailMessage) for m in messages)
    opened, extended, reminder = messages
    task = env.store.tasks()[0]["id"]
    rows = [r["id"] for r in env.store.notifications()]
    assert (
        opened["Message-ID"] == f"<watcher.task-{task}.notification-{rows[0]}@alerts.example.org>"
    )
    assert (
        extended["Message-ID"] == f"<watcher.task-{task}.notification-{rows[1]}@alerts.example.org>"
    )
    assert "In-Reply-To" not in opened and "References" not in opened
    for later_message in (extended, reminder):
        assert later_message["In-Reply-To"] == opened["Message-ID"]
        assert later_message["References"] == opened["Message-ID"]
    # the subject: severity, lab, document, top signal; non-ASCII encoded by the library
    assert opened["Subject"].startswith("[watcher] major — Zürich Labs — Policy acme-rsp: ")
    assert reminder["Subject"].startswith("[watcher] reminder — Zürich Labs — Policy acme-rsp: ")
    head = inbox.raw[0].split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head
    # the HTML body: the title before the signals
    html_part = opened.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    body = html_part.get_content()
    assert body.index("<h2>") < body.index("<ul>")


def test_email_subject_cannot_carry_a_header(tmp_path: Path) -> None:
    from watcher.notify.email_render import render_email

    alert = major(lab="Evil\r\nBcc: victim@evil.example", title="Ünïcode " * 60)
    message = render_email(alert, sender="w@example.org", recipients=["a@example.org"])
    raw = message.as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert "Bcc" not in parsed
    assert "\n" not in str(parsed["Subject"]) and len(str(parsed["Subject"])) <= 200
    assert str(parsed["Subject"]).endswith(": commitment weakened")
    assert parsed["Message-ID"].startswith("<")  # no notification id: a fresh one


# --- Apprise ---------------------------------------------------------------------------


class Catcher:
    """What Apprise's json:// posts: a JSON object with title and message."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        server.expect_request("/notify", method="POST").respond_with_handler(self._handle)

    def url(self, query: str = "") -> str:
        return f"json://127.0.0.1:{self.server.port}/notify{query}"

    def _handle(self, request: Request) -> Response:
        self.posts.append(json.loads(request.get_data()))
        return Response("{}", status=self.status, content_type="application/json")


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield Catcher(server)
    server.clear()
    if server.is_running():
        server.stop()


def apprise_send(url: str, alert: Alert) -> None:
    from watcher.config import AppriseChannel
    from watcher.notify.apprise import AppriseSender

    sender = AppriseSender(AppriseChannel(name="team", url_env="AP"), url, timeout=10)
    asyncio.run(sender.send(alert))


def test_apprise_through_the_outbox(
    env: Env, site: Site, catcher: Catcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHER_TEST_APPRISE", catcher.url())
    setup_change(env, site, {"team": {"type": "apprise", "url_env": "WATCHER_TEST_APPRISE"}})
    catcher.status = 500
    assert deliver(env).retrying == 1  # Apprise's "not sent" is transient
    [row] = env.store.notifications()
    assert row["status"] == "pending" and "could not deliver" in row["last_error"]
    catcher.status = 200
    at(monkeypatch, clock.now() + timedelta(hours=2))
    assert deliver(env).sent == 1
    post = catcher.posts[-1]
    assert post["title"].startswith("Acme — Policy acme-rsp · major: ")
    assert post["message"].startswith(post["title"])
    assert "Review task #1 opened." in post["message"]
    assert len(catcher.posts) == 2


@pytest.mark.parametrize("query", ["", "?format=markdown", "?format=html"])
def test_apprise_body_is_plain_text_that_cannot_become_markup(catcher: Catcher, query: str) -> None:
    bad = "[click](https://evil.example) <b>x</b> @everyone *bold*"
    apprise_send(catcher.url(query), major(title=bad))
    [post] = catcher.posts
    message = post["message"]
    if not query:  # text as text
        assert bad in post["title"] and bad in message
    elif query == "?format=markdown":  # Apprise escapes text for a Markdown service
        assert "\\[click\\]\\(https://evil\\.example\\)" in message and "\\*bold\\*" in message
    else:  # and for an HTML one
        assert "&lt;b&gt;x&lt;/b&gt;" in message and "<b>" not in message


def test_apprise_missing_is_one_line_and_alerts_wait(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHER_TEST_APPRISE", "json://127.0.0.1:9/x")
    setup_change(env, site, {"team": {"type": "apprise", "url_env": "WATCHER_TEST_APPRISE"}})
    monkeypatch.setitem(sys.modules, "apprise", None)  # as if not installed: import fails
    result = CliRunner().invoke(main, ["--config", str(env.config_path), "validate"])
    lines = [line for line in result.stderr.splitlines() if "Apprise" in line]
    assert lines == [
        f"warning: {env.config_path}: channels.team: Apprise is not installed "
        "(pip install -e '.[apprise]'); alerts for this channel wait in the outbox until it is"
    ], result.output
    report = deliver(env)
    assert report.attempted == 0
    assert report.waiting == {"team": ["the Apprise package (pip install -e '.[apprise]')"]}
    [row] = env.store.notifications()
    assert (row["status"], row["attempts"]) == ("pending", 0)
    checked = CliRunner().invoke(main, ["--config", str(env.config_path), "check"])
    assert (
        "alerts: 1 for team waiting for the Apprise package (pip install -e '.[apprise]')"
        in checked.stdout
    ), checked.output


# --- scheduled reports through the new channels ----------------------------------------


def test_a_scheduled_report_reaches_a_webhook_and_an_apprise_channel_once(
    env: Env, site: Site, receiver: Receiver, catcher: Catcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHER_TEST_APPRISE", catcher.url())
    channels = {
        "hooks": {**WEBHOOK["hooks"], "report": "daily 08:00"},
        "team": {"type": "apprise", "url_env": "WATCHER_TEST_APPRISE", "report": "daily 08:00"},
    }
    monday = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    at(monkeypatch, monday - timedelta(hours=20))
    setup_change(env, site, channels)
    deliver(env)  # the change's alerts
    changes = len(receiver.received), len(catcher.posts)
    config = env.write()
    at(monkeypatch, monday + timedelta(minutes=1))
    for minutes in (1, 2):
        outbox.housekeeping(config, env.store, monday + timedelta(minutes=minutes))
    deliver(env)
    deliver(env)
    reports = receiver.received[changes[0] :]
    [(headers, body)] = reports
    assert verify(headers, body) and headers["X-Watcher-Event"] == "report"
    document = json.loads(body)
    assert document["event"] == "report"
    report = document["report"]
    assert report["changes"] == 1 and report["until"] == "2026-03-02T08:00:00Z"
    [lab] = report["labs"]
    assert lab["lab"] == "Acme" and lab["changes"][0]["severity"] == "major"
    [post] = catcher.posts[changes[1] :]
    assert post["title"].startswith("Report: 1 change, 1 open task, 0 failing sources")
    message = post["message"]
    assert "1 change, 1 open task, 0 failing sources" in message
    assert "Acme — Policy acme-rsp v2: major" in message
    assert "*" not in message and "<" not in message  # plain text, no Slack markup
