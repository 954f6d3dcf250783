"""The faults watcher survives, one named test each, with the outcome it guarantees.

Read top to bottom, this module is the list: what goes wrong in the field,
and what watcher does about it. Everything is real (loopback HTTP and SMTP
servers, SQLite files, processes that are really killed); only time is
virtual where the fault plays out over minutes or a day, so the suite stays fast.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import Env, Site
from tests.servers import free_port
from tests.test_pipeline import SECTIONS, html_source, page
from watcher import clock
from watcher.config import Config
from watcher.notify import outbox
from watcher.store import Store

# --- alerts ---
#
# Alerts are what this tool exists for: none may be lost, none sent twice.
# Channels here are a loopback Slack webhook that rate-limits like Slack
# (about one message a second after a short burst, 429 with Retry-After
# beyond it) and an aiosmtpd server that throttles with 4xx replies.

HOOK_ENV = "WATCHER_TEST_FAULT_HOOK"


class VirtualTime:
    """A clock for watcher, the outbox's pacing and the stand-in servers at once."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.elapsed = 0.0
        self.lock = threading.Lock()

    def monotonic(self) -> float:
        return self.elapsed

    def now(self) -> datetime:
        return (self.start + timedelta(seconds=self.elapsed)).replace(microsecond=0)

    async def sleep(self, seconds: float) -> None:
        with self.lock:
            self.elapsed += seconds
        await asyncio.sleep(0)

    def advance_to(self, iso: str) -> None:
        self.elapsed = max(self.elapsed, (clock.parse_iso(iso) - self.start).total_seconds())


class RateLimitedHook:
    """A webhook like Slack's: a token bucket of `burst`, refilled at `rate` per second."""

    def __init__(
        self, server: HTTPServer, time: VirtualTime, *, rate: float = 1.0, burst: int = 3
    ) -> None:
        self.time, self.rate, self.burst = time, rate, burst
        self.tokens = float(burst)
        self.refilled = time.monotonic()
        self.posts: list[dict[str, Any]] = []
        self.refused = 0
        self.always_429 = False
        self.lock = threading.Lock()
        server.expect_request("/hook/secret").respond_with_handler(self._handle)
        self.url = server.url_for("/hook/secret")

    def _handle(self, request: Request) -> Response:
        with self.lock:
            now = self.time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
            self.refilled = now
            if self.always_429 or self.tokens < 1:
                self.refused += 1
                wait = 3600 if self.always_429 else math.ceil((1 - self.tokens) / self.rate)
                return Response("rate_limited", status=429, headers={"Retry-After": str(wait)})
            self.tokens -= 1
            self.posts.append(json.loads(request.get_data()))
            return Response("ok")


@dataclass
class ThrottlingRelay:
    """An aiosmtpd handler answering 421/451 ("try later") to the first `refuse` messages."""

    refuse: int = 0
    answered: int = 0
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.answered += 1
        if self.answered <= self.refuse:
            return "421 4.7.0 Too many messages" if self.answered % 2 else "451 4.7.1 Try later"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def pages() -> Iterator[Site]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield Site(server)
    server.clear()
    server.stop()


@pytest.fixture
def vtime(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    time = VirtualTime(clock.now())
    monkeypatch.setattr(clock, "now", time.now)
    return time


@pytest.fixture
def hook(
    httpserver: HTTPServer, vtime: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> RateLimitedHook:
    stand_in = RateLimitedHook(httpserver, vtime)
    monkeypatch.setenv(HOOK_ENV, stand_in.url)
    return stand_in


@pytest.fixture
def relay() -> Iterator[tuple[ThrottlingRelay, int]]:
    handler = ThrottlingRelay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def slack_channel(**keys: Any) -> dict[str, Any]:
    return {"type": "slack", "webhook_url_env": HOOK_ENV, **keys}


def mail_channel(port: int, **keys: Any) -> dict[str, Any]:
    return {
        "type": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from": "watcher@example.org",
        "to": ["raters@example.org"],
        **keys,
    }


def queue_changes(
    env: Env, pages: Site, channels: dict[str, dict[str, Any]], count: int, **titles: str
) -> list[int]:
    """One real change, its alert cloned to `count` alerts per channel (one pass, many changes)."""
    env.channels = channels
    env.watcher = {"notify": sorted(channels)}
    pages.set("/rsp", page())
    env.sources = [html_source(pages)]
    env.check()
    pages.set("/rsp", page(SECTIONS.replace("once a year", "every two years")))
    env.check()
    first = env.store.notifications()
    with env.store.transaction():
        for row in first:
            payload = json.loads(row["payload"])
            for n in range(1, count):
                title = titles.get(str(n), f"Policy {n}")
                env.store.enqueue(
                    kind="change",
                    channel=row["channel"],
                    payload={**payload, "title": title},
                    task_id=row["task_id"],
                    source_id=row["source_id"],
                )
    return [row["id"] for row in env.store.notifications()]


def deliver(env: Env, time: VirtualTime, config: Config | None = None) -> outbox.DeliveryReport:
    pacer = outbox.Pacer(sleep=time.sleep, monotonic=time.monotonic)
    return asyncio.run(outbox.deliver_due(config or env.write(), env.store, pacer=pacer))


def statuses(store: Store) -> dict[str, int]:
    return store.notification_counts()


@pytest.mark.clock
def test_a_burst_of_100_slack_alerts_is_paced_and_all_delivered(
    env: Env, pages: Site, hook: RateLimitedHook, vtime: VirtualTime
) -> None:
    """A webhook taking 1 message/s after a burst of 3: every alert is posted, none fails."""
    queue_changes(env, pages, {"raters": slack_channel(batch_over=1000)}, 100)
    report = deliver(env, vtime)
    assert (report.sent, report.failed, report.throttled) == (100, 0, 0)
    assert len(hook.posts) == 100 and hook.refused <= 3
    assert statuses(env.store) == {"sent": 100}
    # paced at one a second: the burst took about 100 s of (virtual) time
    assert 98 <= vtime.elapsed <= 110


@pytest.mark.clock
def test_a_burst_of_100_slack_alerts_goes_as_a_few_summaries_listing_each(
    env: Env, pages: Site, hook: RateLimitedHook, vtime: VirtualTime
) -> None:
    """More than `batch_over` due at once: summary messages, every alert listed and sent."""
    hostile = "<!channel> & <https://evil.example|click>"
    queue_changes(env, pages, {"raters": slack_channel()}, 100, **{"7": hostile})
    report = deliver(env, vtime)
    assert (report.sent, report.failed) == (100, 0)
    assert 2 <= report.messages == len(hook.posts) <= 3 and hook.refused == 0
    assert statuses(env.store) == {"sent": 100}
    text = "\n".join(
        block["text"]["text"] for post in hook.posts for block in post["blocks"] if "text" in block
    )
    listed = [line for line in text.splitlines() if line.startswith("• ")]
    assert len(listed) == 100  # each alert once, none left out to fit
    assert all("Acme" in line and "changed (v1 → v2)" in line for line in listed)
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text
    assert "<!channel>" not in json.dumps(hook.posts)


@pytest.mark.clock
def test_slack_answering_429_does_not_spend_attempts_and_pauses_only_that_channel(
    env: Env,
    pages: Site,
    hook: RateLimitedHook,
    vtime: VirtualTime,
    relay: tuple[ThrottlingRelay, int],
) -> None:
    """429 with Retry-After: Slack waits that long, email goes on; nothing counts as an attempt."""
    handler, port = relay
    queue_changes(env, pages, {"raters": slack_channel(), "mail": mail_channel(port)}, 5)
    hook.tokens = 0  # the burst is used up
    report = deliver(env, vtime)
    assert report.throttled == 1 and "raters" in report.paused
    assert len(handler.messages) == 5  # the other channel was not held up
    slack_rows = [n for n in env.store.notifications() if n["channel"] == "raters"]
    assert {(n["status"], n["attempts"]) for n in slack_rows} == {("pending", 0)}
    assert deliver(env, vtime).attempted == 0  # still paused: not even a post
    vtime.advance_to(report.paused["raters"])
    report = deliver(env, vtime)
    assert (report.sent, report.failed) == (5, 0) and len(hook.posts) == 5


@pytest.mark.clock
def test_slack_answering_429_forever_fails_after_a_day_with_a_clear_reason(
    env: Env,
    pages: Site,
    hook: RateLimitedHook,
    vtime: VirtualTime,
    relay: tuple[ThrottlingRelay, int],
) -> None:
    """A webhook that never takes a message: its alerts end `failed` after a day, saying why."""
    handler, port = relay
    queue_changes(env, pages, {"raters": slack_channel(), "mail": mail_channel(port)}, 3)
    hook.always_429 = True
    config = env.write()
    for _ in range(500):
        report = deliver(env, vtime, config)
        if "raters" not in report.paused:
            break
        vtime.advance_to(report.paused["raters"])
    slack_rows = [n for n in env.store.notifications() if n["channel"] == "raters"]
    assert {n["status"] for n in slack_rows} == {"failed"}
    assert 24 * 3600 <= vtime.elapsed <= 25 * 3600
    for row in slack_rows:
        assert "HTTP 429" in row["last_error"] and "gave up after 24 hours" in row["last_error"]
        assert "refused every message as rate limited" in row["last_error"]
        assert "secret" not in row["last_error"]
    assert hook.refused <= 24 + 2  # one post per Retry-After (an hour), no hammering
    assert len(handler.messages) == 3  # email delivered at once all along
    # the channel works again: a retried alert goes out
    hook.always_429 = False
    outbox.retry(env.store, slack_rows[0]["id"])
    assert deliver(env, vtime).sent == 1


@pytest.mark.clock
def test_a_throttling_smtp_server_gets_every_alert_later(
    env: Env, pages: Site, vtime: VirtualTime, relay: tuple[ThrottlingRelay, int]
) -> None:
    """421/451 for longer than the alerts' attempts would last: delivered later, none failed."""
    handler, port = relay
    handler.refuse = outbox.MAX_ATTEMPTS + 4
    queue_changes(env, pages, {"mail": mail_channel(port)}, 4)
    for _ in range(100):
        report = deliver(env, vtime)
        assert report.failed == 0
        if "mail" not in report.paused:
            break
        vtime.advance_to(report.paused["mail"])
    assert statuses(env.store) == {"sent": 4} and len(handler.messages) == 4
    assert {n["attempts"] for n in env.store.notifications()} == {1}


def test_a_delivery_killed_mid_send_is_taken_over_at_once(
    env: Env, pages: Site, hook: RateLimitedHook, vtime: VirtualTime
) -> None:
    """kill -9 of a deliverer holding claims: the next delivery sends them, without the lease."""
    ids = queue_changes(env, pages, {"raters": slack_channel()}, 2)
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from watcher.store import Store\n"
        "store = Store.open(Path(sys.argv[1]))\n"
        "rows = store.claim_notifications(['raters'], now=sys.argv[2], stale_before=sys.argv[2],"
        " token='doomed', limit=10)\n"
        "print(len(rows), flush=True)\n"
        "time.sleep(120)\n"
    )
    state = env.tmp / "state"
    now = clock.iso(clock.now())
    with subprocess.Popen(
        [sys.executable, "-c", script, str(state), now],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    ) as deliverer:
        assert deliverer.stdout is not None
        assert deliverer.stdout.readline().strip() == "2"
        claims = env.store.claims()
        assert [(c["id"], c["claimed_pid"]) for c in claims] == [(i, deliverer.pid) for i in ids]
        assert deliver(env, vtime).attempted == 0  # alive: its claims are its own
        os.kill(deliverer.pid, signal.SIGKILL)
        deliverer.wait(10)
    report = deliver(env, vtime)  # no time has passed: not the lease, the dead pid
    assert (report.sent, report.failed) == (2, 0) and len(hook.posts) == 2
    assert statuses(env.store) == {"sent": 2}


def test_the_daemon_start_takes_over_claims_of_a_dead_process(
    env: Env, pages: Site, hook: RateLimitedHook, vtime: VirtualTime
) -> None:
    """Claims under a gone pid, or our own pid from a previous life, are queued again at start."""
    ids = queue_changes(env, pages, {"raters": slack_channel()}, 3)
    stamp = clock.iso(clock.now())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    here = socket.gethostname()
    claims = [(int(gone.stdout), here), (os.getpid(), here), (os.getppid(), here)]
    for notification_id, (pid, host) in zip(ids, claims, strict=True):
        env.store.update_notification(
            notification_id,
            status="sending",
            claimed_at=stamp,
            claim_token=f"t{pid}",
            claimed_pid=pid,
            claimed_host=host,
        )
    assert outbox.reclaim_dead_claims(env.store) == 1  # the dead pid only
    assert outbox.reclaim_dead_claims(env.store, starting=True) == 1  # and our own, at start
    [left] = env.store.claims()
    assert left["claimed_pid"] == os.getppid()  # alive: waits out the lease
    vtime.advance_to(clock.iso(vtime.now() + timedelta(seconds=outbox.LEASE_S + 1)))
    assert deliver(env, vtime).sent == 3
