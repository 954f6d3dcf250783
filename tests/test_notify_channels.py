"""Slack and email senders against real servers on 127.0.0.1.

Slack: a webhook stand-in (pytest-httpserver for answers, tests/servers.py
RawServer for a server that hangs or drips). Email: aiosmtpd, plain, with
STARTTLS and with implicit TLS, certificates from trustme.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.servers import RawRequest, RawServer, free_port, http_response
from watcher.config import Config, EmailChannel, SlackChannel, load_config
from watcher.detect import diff
from watcher.errors import ConfigError, DeliveryError
from watcher.notify import EmailSender, SlackSender, email_render, make_sender, render, slack_render
from watcher.notify.alert import Alert
from watcher.notify.outbox import Pacer

pytestmark = pytest.mark.anyio

SECRET = "T0001/B0002/XsecretTOKENx"
PASSWORD = "hunter2-secret-pw"

ALERT = Alert(
    kind="change",
    source_id="acme-rsp",
    lab="Acme",
    title="Responsible Scaling Policy",
    url="https://acme.example/rsp",
    link="https://acme.example/rsp",
    event="opened",
    task_id=1,
    from_version=1,
    old_version=1,
    new_version=2,
    change=diff("# Policy\nWe commit to safety.", "# Policy\nWe expect to be safe."),
)


# --- Slack ------------------------------------------------------------------------


@dataclass
class Webhook:
    """A Slack incoming-webhook stand-in: answers with `status`/`body`, records JSON payloads."""

    server: HTTPServer
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    payloads: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server.expect_request(f"/services/{SECRET}", method="POST").respond_with_handler(
            self._handle
        )

    @property
    def url(self) -> str:
        return self.server.url_for(f"/services/{SECRET}")

    def _handle(self, request: Request) -> Response:
        assert request.headers["Content-Type"].startswith("application/json")
        self.payloads.append(json.loads(request.get_data()))
        return Response(self.body, status=self.status, headers=self.headers)


@pytest.fixture
def webhook(httpserver: HTTPServer) -> Webhook:
    return Webhook(httpserver)


SLACK = SlackChannel(name="raters", webhook_url_env="SLACK_WEBHOOK_URL")


async def slack_send(url: str, alert: Alert = ALERT, timeout: float = 2.0) -> None:
    sender = SlackSender(SLACK, url, timeout=timeout)
    try:
        await sender.send(alert)
    finally:
        await sender.aclose()


def our_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line but the test server's own (werkzeug logs the path it serves)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))


def assert_secret_absent(error: DeliveryError, caplog: pytest.LogCaptureFixture) -> None:
    for text in (str(error), error.reason, repr(error), our_log(caplog)):
        assert "secret" not in text.lower(), text
    assert "\n" not in str(error)


async def test_slack_delivers_the_payload(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await slack_send(webhook.url)
    (payload,) = webhook.payloads
    assert set(payload) == {"text", "blocks"}
    assert payload["text"] == "Acme — Responsible Scaling Policy · changed (v1 → v2)"
    header, first = payload["blocks"][:2]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": payload["text"], "emoji": False},
    }
    assert first["text"]["text"].startswith("Changed · *Acme — Responsible Scaling Policy* v1 → v2")
    assert any(
        "± We ~commit~ *expect* to ~safety~ *be safe*." in block["text"]["text"]
        for block in payload["blocks"]
        if "text" in block
    )
    assert our_log(caplog)  # httpcore logged at DEBUG...
    assert SECRET not in our_log(caplog)  # ...but nothing holds the URL (httpx's INFO line would)


async def test_slack_test_message_names_the_channel(webhook: Webhook) -> None:
    await slack_send(webhook.url, Alert(kind="test"))
    assert "raters" in webhook.payloads[0]["blocks"][0]["text"]["text"]


@pytest.mark.parametrize(
    ("status", "body", "headers", "transient", "retry_after", "reason"),
    [
        (500, "internal error", {}, True, None, "HTTP 500: internal error"),
        (503, "", {}, True, None, "HTTP 503"),
        # "slow down": throttled, which the outbox does not count as an attempt
        (429, "rate_limited", {"Retry-After": "7"}, "throttled", 7.0, "HTTP 429: rate_limited"),
        (429, "rate_limited", {}, "throttled", None, "HTTP 429: rate_limited"),
        (503, "busy", {"Retry-After": "30"}, "throttled", 30.0, "HTTP 503: busy"),
        (400, "invalid_payload", {}, False, None, "HTTP 400: invalid_payload"),
        (403, "invalid_token", {}, False, None, "HTTP 403: invalid_token"),
        (404, "no_service", {}, False, None, "HTTP 404: no_service"),
        (410, "channel_is_archived", {}, False, None, "HTTP 410: channel_is_archived"),
        # Slack's text is cut, and a body echoing the URL does not leak it.
        (400, "x" * 5000, {}, False, None, "HTTP 400: " + "x" * 117 + "..."),
        (400, f"bad /services/{SECRET}\r\n<!channel>", {}, False, None, "[webhook URL]"),
    ],
)
async def test_slack_answers_are_classified(
    webhook: Webhook,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: str,
    headers: dict[str, str],
    transient: bool | str,
    retry_after: float | None,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    webhook.status, webhook.body, webhook.headers = status, body, headers
    with pytest.raises(DeliveryError) as info:
        await slack_send(webhook.url)
    assert info.value.throttled is (transient == "throttled")
    assert info.value.transient is bool(transient)
    assert info.value.retry_after == retry_after
    assert reason in str(info.value)
    assert str(info.value).startswith("Slack channel 'raters': ")
    assert len(webhook.payloads) == 1
    assert_secret_absent(info.value, caplog)


async def test_slack_connection_refused_is_transient(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryError) as info:
        await slack_send(f"http://127.0.0.1:{free_port()}/services/{SECRET}")
    assert info.value.transient
    assert "connection failed" in str(info.value)
    assert_secret_absent(info.value, caplog)


@pytest.mark.parametrize("mode", ["hang", "drip"])
async def test_slack_server_that_never_finishes_times_out(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: RawRequest, conn: socket.socket) -> None:
        if mode == "hang":
            server.wait(10)
            return
        # Headers at once, then a byte every 0.1 s: no single read ever times out.
        conn.sendall(http_response(200, b"o" * 100)[:-100])
        while not server.wait(0.1):
            conn.sendall(b"o")

    caplog.set_level(logging.DEBUG)
    with RawServer(handler) as server:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as info:
            await slack_send(server.url(f"/services/{SECRET}"), timeout=0.5)
        elapsed = time.monotonic() - started
    assert info.value.transient
    assert "no answer within 0.5 s" in str(info.value)
    assert elapsed < 2
    assert_secret_absent(info.value, caplog)


async def test_slack_webhook_url_must_be_http() -> None:
    with pytest.raises(DeliveryError) as info:
        await slack_send(f"hooks.slack.example/{SECRET}")
    assert not info.value.transient
    assert "$SLACK_WEBHOOK_URL is not an http(s) URL" in str(info.value)
    assert "secret" not in str(info.value).lower()


# --- email ------------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd handler that records messages, or refuses them with set answers."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    rcpt_answer: str | None = None
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    data_answer: str | None = None
    logins: list[bytes] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_answer:
            return self.rcpt_answer
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_answer:
            return self.data_answer
        assert isinstance(envelope.content, bytes) and envelope.mail_from
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == (b"watcher", PASSWORD.encode())
        if ok:
            self.logins.append(auth_data.login)
        return AuthResult(success=ok, handled=False)


@dataclass(frozen=True)
class TLS:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls() -> TLS:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return TLS(server, client)


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest, tls: TLS) -> Iterator[tuple[Mailbox, int]]:
    """aiosmtpd on a free port; `request.param` picks: none, starttls, starttls+auth, ssl."""
    mode: str = getattr(request, "param", "none")
    mailbox = Mailbox()
    port = free_port()  # Controller(port=0) does not work (STACK.md)
    kwargs: dict[str, Any] = {}
    if mode.startswith("starttls"):
        kwargs["tls_context"] = tls.server
    if mode.endswith("auth"):
        kwargs["authenticator"] = mailbox.authenticate
        kwargs["auth_required"] = True
    if mode == "ssl":
        kwargs["ssl_context"] = tls.server
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs
    )
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def email_channel(port: int, security: str = "none", **overrides: Any) -> EmailChannel:
    values: dict[str, Any] = {
        "name": "raters-mail",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": security,
        "username_env": None,
        "password_env": None,
        "from_addr": "watcher@example.org",
        "to": ("a@example.org", "b@example.org"),
    }
    values.update(overrides)
    return EmailChannel(**values)


async def email_send(
    channel: EmailChannel,
    *,
    tls: TLS | None = None,
    username: str | None = None,
    password: str | None = None,
    alert: Alert = ALERT,
    context: ssl.SSLContext | None = None,
) -> None:
    sender = EmailSender(
        channel,
        username=username,
        password=password,
        timeout=1.0,
        ssl_context=context or (tls.client if tls else None),
    )
    try:
        await sender.send(alert)
    finally:
        await sender.aclose()


def check_received(mailbox: Mailbox) -> EmailMessage:
    ((mail_from, rcpt_tos, content),) = mailbox.messages
    assert mail_from == "watcher@example.org"
    assert rcpt_tos == ["a@example.org", "b@example.org"]
    message = message_from_bytes(content, policy=default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "[watcher] Acme — Responsible Scaling Policy changed (v1 → v2)"
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert [part.get_content_type() for part in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    text, page = (part.get_content() for part in alternative.iter_parts())
    assert "~ We [-commit-] {+expect+}" in text
    assert '<del style="' in page and '<ins style="' in page
    assert attachment.get_filename() == "diff-acme-rsp-v1-v2.html"
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_content().startswith("<!DOCTYPE html>")
    return message


@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
async def test_email_plain(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    await email_send(email_channel(port))
    check_received(mailbox)


@pytest.mark.parametrize("smtp_server", ["starttls"], indirect=True)
async def test_email_starttls(smtp_server: tuple[Mailbox, int], tls: TLS) -> None:
    mailbox, port = smtp_server
    await email_send(email_channel(port, "starttls"), tls=tls)
    check_received(mailbox)


@pytest.mark.parametrize("smtp_server", ["ssl"], indirect=True)
async def test_email_implicit_tls(smtp_server: tuple[Mailbox, int], tls: TLS) -> None:
    mailbox, port = smtp_server
    await email_send(email_channel(port, "ssl"), tls=tls, alert=Alert(kind="test"))
    ((_, _, content),) = mailbox.messages
    message = message_from_bytes(content, policy=default)
    assert message["Subject"] == "[watcher] Test message from channel raters-mail"


@pytest.mark.parametrize("smtp_server", ["starttls+auth"], indirect=True)
async def test_email_login_over_starttls(smtp_server: tuple[Mailbox, int], tls: TLS) -> None:
    mailbox, port = smtp_server
    await email_send(
        email_channel(port, "starttls"), tls=tls, username="watcher", password=PASSWORD
    )
    assert mailbox.logins == [b"watcher"]
    check_received(mailbox)


@pytest.mark.parametrize("smtp_server", ["starttls+auth"], indirect=True)
async def test_email_wrong_password_is_permanent(
    smtp_server: tuple[Mailbox, int], tls: TLS
) -> None:
    mailbox, port = smtp_server
    with pytest.raises(DeliveryError) as info:
        await email_send(
            email_channel(port, "starttls"),
            tls=tls,
            username="watcher",
            password="wrong-" + PASSWORD,
        )
    assert not info.value.transient
    assert "login failed: 535" in str(info.value)
    assert PASSWORD not in str(info.value)
    assert mailbox.messages == []


@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
async def test_email_starttls_not_offered_sends_nothing(
    smtp_server: tuple[Mailbox, int], tls: TLS
) -> None:
    mailbox, port = smtp_server
    with pytest.raises(DeliveryError) as info:
        await email_send(email_channel(port, "starttls"), tls=tls)
    assert not info.value.transient
    assert "does not offer STARTTLS" in str(info.value)
    assert mailbox.messages == []


@pytest.mark.parametrize("smtp_server", ["ssl"], indirect=True)
async def test_email_untrusted_certificate_is_permanent(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    with pytest.raises(DeliveryError) as info:
        await email_send(email_channel(port, "ssl"), context=ssl.create_default_context())
    assert not info.value.transient
    assert "certificate not trusted" in str(info.value)
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("rcpt_answer", "data_answer", "transient", "reason"),
    [
        (
            "550 5.1.1 No such user",
            None,
            False,
            "recipients refused: a@example.org (550 5.1.1 No such user)",
        ),
        # 4xx: the server throttles ("try later"), which costs the alert no attempt
        ("451 4.3.0 Try again later", None, "throttled", "(451 4.3.0 Try again later)"),
        (None, "554 5.6.0 Message rejected", False, "message refused: 554 5.6.0 Message rejected"),
        (None, "452 4.3.1 Insufficient storage", "throttled", "message refused: 452"),
        (None, "421 4.7.0 Too many messages, slow down", "throttled", "message refused: 421"),
    ],
)
@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
async def test_email_smtp_answers_are_classified(
    smtp_server: tuple[Mailbox, int],
    rcpt_answer: str | None,
    data_answer: str | None,
    transient: bool | str,
    reason: str,
) -> None:
    mailbox, port = smtp_server
    mailbox.rcpt_answer, mailbox.data_answer = rcpt_answer, data_answer
    with pytest.raises(DeliveryError) as info:
        await email_send(email_channel(port))
    assert info.value.throttled is (transient == "throttled")
    assert info.value.transient is bool(transient)
    assert reason in str(info.value)
    assert str(info.value).startswith("email channel 'raters-mail' (127.0.0.1:")
    assert mailbox.messages == []


@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
async def test_email_one_refused_recipient_is_logged_not_retried(
    smtp_server: tuple[Mailbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    # The other recipient has the message: a retry would send it twice.
    mailbox, port = smtp_server
    mailbox.refuse = {"b@example.org"}
    await email_send(email_channel(port))
    ((_, rcpt_tos, _),) = mailbox.messages
    assert rcpt_tos == ["a@example.org"]
    assert "1 of 2 recipients refused: b@example.org (550)" in caplog.text


async def test_email_connection_refused_is_transient() -> None:
    with pytest.raises(DeliveryError) as info:
        await email_send(email_channel(free_port()))
    assert info.value.transient
    assert "connection refused" in str(info.value)


async def test_email_server_that_never_greets_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # the connection is made but nobody answers
        started = time.monotonic()
        with pytest.raises(DeliveryError) as info:
            await email_send(email_channel(listener.getsockname()[1]))
    assert info.value.transient
    assert "timed out" in str(info.value)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
async def test_tls_against_a_plain_server_is_permanent(
    smtp_server: tuple[Mailbox, int], tls: TLS
) -> None:
    mailbox, port = smtp_server
    with pytest.raises(DeliveryError) as info:
        await email_send(email_channel(port, "ssl"), tls=tls)
    assert mailbox.messages == []
    assert "TLS" in str(info.value)


# --- registry ---------------------------------------------------------------------


def test_make_sender_needs_the_secret_variables() -> None:
    assert make_sender(SLACK, {}) is None
    assert make_sender(SLACK, {"SLACK_WEBHOOK_URL": ""}) is None
    sender = make_sender(
        SLACK, {"SLACK_WEBHOOK_URL": f"https://hooks.slack.example/services/{SECRET}"}
    )
    assert isinstance(sender, SlackSender)
    assert SECRET not in repr(sender)

    plain = email_channel(25)
    assert isinstance(make_sender(plain, {}), EmailSender)
    with_login = email_channel(
        587, "starttls", username_env="SMTP_USER", password_env="SMTP_PASSWORD"
    )
    assert make_sender(with_login, {"SMTP_USER": "watcher"}) is None
    mail = make_sender(with_login, {"SMTP_USER": "watcher", "SMTP_PASSWORD": PASSWORD})
    assert isinstance(mail, EmailSender)
    assert PASSWORD not in repr(mail)


# --- pacing, summaries and their settings ------------------------------------------


def load_channel(tmp_path: Path, **keys: Any) -> Config:
    lines = ['[watcher]\nstate_dir = "state"\nnotify = ["raters"]\n', "[channels.raters]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    lines.append(
        '\n[[sources]]\nid = "x"\nlab = "Acme"\ntitle = "P"\nurl = "https://acme.example/"'
    )
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)


SLACK_KEYS = {"type": "slack", "webhook_url_env": "HOOK"}


def test_channel_pace_and_batch_over_defaults_and_values(tmp_path: Path) -> None:
    slack = load_channel(tmp_path, **SLACK_KEYS).channels["raters"]
    assert (slack.pace, slack.batch_over) == (1.0, 10)
    tuned = load_channel(tmp_path, **SLACK_KEYS, pace="2.5s", batch_over=3).channels["raters"]
    assert (tuned.pace, tuned.batch_over) == (2.5, 3)
    assert load_channel(tmp_path, **SLACK_KEYS, pace="0s").channels["raters"].pace == 0.0
    mail = {"type": "email", "smtp_host": "relay", "from": "w@example.org", "to": "r@example.org"}
    email = load_channel(tmp_path, **mail).channels["raters"]
    assert (email.pace, email.batch_over) == (0.0, 10)
    assert load_channel(tmp_path, **mail, pace="1m").channels["raters"].pace == 60.0


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"pace": 1}, "channels.raters.pace: 1 is not a duration: give a unit"),
        ({"pace": "fast"}, "channels.raters.pace: 'fast' is not a duration"),
        ({"pace": "2h"}, "channels.raters.pace: '2h' is too long a pace"),
        ({"batch_over": 0}, "channels.raters.batch_over: must be at least 1, got 0"),
        ({"batch_over": "10"}, "channels.raters.batch_over: expected an integer"),
        (
            {"batch_size": 10},
            "channels.raters.batch_size: unknown key (did you mean 'batch_over'?)",
        ),
        ({"paces": "1s"}, "channels.raters.paces: unknown key (did you mean 'pace'?)"),
    ],
)
def test_channel_pace_and_batch_over_errors(
    tmp_path: Path, keys: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_channel(tmp_path, **SLACK_KEYS, **keys)
    assert any(problem in line for line in caught.value.problems), caught.value.problems


async def test_pacer_spaces_messages_per_channel_on_an_injected_clock() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(sleep=sleep, monotonic=lambda: now[0])
    await pacer.wait("a", 1.0)  # the first message never waits
    pacer.sent("a")
    now[0] += 0.25
    await pacer.wait("b", 1.0)  # another channel has its own pace
    pacer.sent("b")
    await pacer.wait("a", 1.0)
    assert slept == [0.75]
    pacer.sent("a")
    await pacer.wait("a", 0.0)  # no pacing
    assert slept == [0.75]


HOSTILE = Alert(
    kind="change",
    source_id="evil",
    lab="<!channel> & co",
    title="<b>T</b>\r\nBcc: x@evil.example",
    url="https://evil.example/p",
    link="https://evil.example/p",
    old_version=1,
    new_version=2,
    severity="major",
)


def test_a_summary_lists_every_alert_escaped_in_each_format() -> None:
    items = (
        ALERT,
        HOSTILE,
        Alert(kind="failing", lab="Acme", title="Down", url="https://a.example/"),
    )
    summary = Alert(kind="batch", items=items)
    assert render.subject(summary) == "[watcher] 3 alerts at once"
    slack = json.dumps(slack_render.render_slack(summary), ensure_ascii=False)
    assert "&lt;!channel&gt; &amp; co" in slack and "<!channel>" not in slack
    assert "[major]" in slack and "changed (v1 → v2)" in slack
    assert "Acme — Down: source failing <https://a.example/|source>" in slack
    html_part = email_render.render_email_html(summary)
    assert "&lt;b&gt;T&lt;/b&gt;" in html_part and "<b>T</b>" not in html_part
    plain = render.render_plain(summary)
    assert plain.count("\n- ") == 3 and "\r" not in plain
    assert slack_render.fits_slack(summary) and email_render.fits_email(summary)
    many = Alert(kind="batch", items=(HOSTILE,) * 61)
    assert not slack_render.fits_slack(many)  # the outbox sends fewer per message instead
