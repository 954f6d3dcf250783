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
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import Env, Site
from tests.servers import RawRequest, RawServer, free_port, http_response
from tests.test_pipeline import SECTIONS, html_source, page
from tests.test_store import undo_citations_migration
from watcher import clock
from watcher.cli import main
from watcher.cli import main as cli_main
from watcher.config import Config
from watcher.errors import ConfigError, StorageError
from watcher.interstitial import interstitial
from watcher.notify import outbox
from watcher.store import DB_NAME, SCHEMA_VERSION, Store

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
        self.messages.append(message_from_bytes(envelope.content, policy=email_policy.default))
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


# --- documents ---


def policy(annexes: int) -> str:
    """A policy page; with few annexes a banner is more than a fifth of its text,
    so only the interstitial test stands between them (not the collapse check)."""
    return "\n".join(
        [
            "<h2>1. Capability thresholds</h2>",
            "<p>We define a capability threshold as a 50% aggregate success rate on the tasks in"
            " the appendix; models that cross it require the safeguards described below.</p>",
            "<h2>2. Security commitments</h2>",
            "<p>We commit to access control, monitoring and independent validation of our"
            " controls by a third party every year, and to two-party control of weights.</p>",
            "<h2>3. Governance</h2>",
            "<p>The board reviews this policy at least once a year and publishes the outcome,"
            " together with the evaluations that informed each decision.</p>",
        ]
        + [
            f"<h3>Annex {n}</h3><p>Evaluation {n} measures uplift on task family {n} with"
            f" held-out questions written by external experts, repeated for every new model"
            f" and reported to the board within thirty days of its completion.</p>"
            for n in range(1, annexes + 1)
        ]
    )


# Interstitials as different sites word them: none is the example the detector was built on.
INTERSTITIALS = {
    "consent, banner style": (
        "<h2>We value your privacy</h2><p>We and our partners use cookies and similar"
        " technologies to store and/or access information on a device, for personalised ads"
        " and content, ad and content measurement and audience research.</p>"
        "<p>You can accept or reject these purposes at any time.</p>"
        "<p><button>Accept all</button></p><p><button>Reject all</button></p>"
        "<p><button>Manage preferences</button></p>",
        "consent page",
    ),
    "consent, without the word cookie": (
        "<h1>Before you continue</h1><p>We use data to deliver and maintain services, like"
        " tracking outages and protecting against spam, fraud and abuse.</p><p>If you choose"
        " to accept all, we will also use data to develop new services and show personalized"
        " advertising depending on your settings.</p><p>Reject all</p><p>Accept all</p>"
        "<p>More options</p>",
        "consent page",
    ),
    "login wall": (
        "<h1>Sign in to continue</h1><form><p>Email address</p><p>Password</p>"
        "<p><a href='/reset'>Forgot your password?</a></p><p><button>Sign in</button></p>"
        "<p>Don't have an account? <a href='/join'>Create an account</a></p></form>"
        "<p><a href='/privacy'>Privacy policy</a></p><p><a href='/terms'>Terms of use</a></p>",
        "login page",
    ),
    "paywall": (
        "<h1>Subscribe to keep reading</h1><p>You have read all your free articles this"
        " month.</p><p>Already a subscriber? <a href='/in'>Log in</a></p><p>Start your"
        " free trial for $1 per week. Cancel anytime.</p><p><a href='/s'>Subscribe now</a></p>",
        "paywall",
    ),
    "age gate": (
        "<h1>Are you 18 or older?</h1><p>You must be of legal age to view this site.</p>"
        "<p>Please enter your date of birth.</p><p><button>Yes</button></p>"
        "<p><button>No</button></p><p>This site is about wine and spirits.</p>",
        "age gate",
    ),
}

# Short real pages that only mention the words of a gate.
SHORT_POLICIES = {
    "cookie footer": """# Acceptable Use Policy
This policy describes what you may not do with our models and services.
- Do not use the service to develop weapons capable of mass casualties.
- Do not use the service to generate child sexual abuse material.
- Do not use the service to attack critical infrastructure or to run disinformation campaigns.
We review reports of misuse and may suspend accounts that break this policy.
Last updated: 1 March 2025.
This site uses cookies. See our cookie policy.
Privacy policy""",
    "account security": """# Account security policy
Each account belongs to one person. Do not share your password with anyone, including our staff.
Sign in only from devices you control, and enable two-factor authentication where offered.
We will never ask for your password by email.
If you think your account is compromised, contact security@example.org within 24 hours.
We may lock an account that shows signs of compromise until its owner confirms who they are.""",
    "age policy": """# Minimum age
Our services are for people who are at least 18 years old.
We do not knowingly collect data from anyone under the age of 18.
Parents who believe their child uses the service can ask us to delete the account.
Organisations that deploy our models to minors must add safeguards appropriate to their age.
Yes, this applies to education products as well.""",
    "subscription terms": """# Subscription terms
A subscription renews each month until you cancel it.
Prices are shown per month and include taxes where required.
You can cancel anytime from your account settings; the subscription then ends at the close of
the billing period, and we do not refund partial months.
We give thirty days' notice of any change in price.""",
}


def html(body: str, title: str = "Responsible Scaling Policy") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def unselected(env: Env, site: Site, *, annexes: int = 0, **extra: Any) -> None:
    """A source without `select`: nothing but the detector stands between a banner and a version."""
    site.set("/rsp", html(f"<main><h1>Responsible Scaling Policy</h1>{policy(annexes)}</main>"))
    env.sources = [{"id": "acme-rsp", "url": site.url("/rsp"), **extra}]


@pytest.mark.parametrize("name", list(INTERSTITIALS))
def test_an_interstitial_is_a_failed_check_and_the_real_page_is_nothing_new(
    env: Env, site: Site, name: str
) -> None:
    body, kind = INTERSTITIALS[name]
    unselected(env, site, notify=["team"])
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.check()
    real = site.pages["/rsp"]

    site.set("/rsp", html(body, title="Example"))
    gated = env.outcome(env.check(), "acme-rsp")
    assert gated.outcome == "failed" and gated.http_status == 200
    assert gated.error.startswith(f"{kind} instead of the document (")
    assert [v.number for v in env.store.versions("acme-rsp")] == [1]

    site.pages["/rsp"] = real
    back = env.outcome(env.check(), "acme-rsp")
    assert back.outcome == "unchanged"
    assert [v.number for v in env.store.versions("acme-rsp")] == [1]
    assert env.store.tasks() == [] and env.store.notifications() == []


def test_an_interstitial_is_not_a_baseline(env: Env, site: Site) -> None:
    site.set("/rsp", html(INTERSTITIALS["login wall"][0]))
    env.sources = [{"id": "acme-rsp", "url": site.url("/rsp")}]
    outcome = env.outcome(env.check(), "acme-rsp")
    assert outcome.outcome == "failed" and outcome.error.startswith("login page instead of")
    assert env.store.versions("acme-rsp") == []


@pytest.mark.parametrize("name", list(SHORT_POLICIES))
def test_short_policies_that_mention_gate_words_are_not_interstitials(name: str) -> None:
    text = SHORT_POLICIES[name]
    assert interstitial(text, None) is None
    assert interstitial(text, text.replace("1 March", "2 March")) is None


@pytest.mark.parametrize("name", list(INTERSTITIALS))
def test_an_interstitial_the_previous_version_mostly_was_is_that_document(name: str) -> None:
    # A watched page that is itself short gate language (a login help page)
    # and changes a word keeps its previous text: a version, not a failure.
    text = "\n".join(
        ["# Sign in", "Email address", "Password", "Sign in", "Forgot your password?"]
        if name == "login wall"
        else ["# Cookies", "We use cookies to keep you signed in.", "Accept all", "Reject all"]
    )
    assert interstitial(text, None) is not None
    assert interstitial(text + "\nHelp", text) is None


def test_a_short_policy_with_a_cookie_footer_is_recorded(env: Env, site: Site) -> None:
    body = "".join(f"<p>{line}</p>" for line in SHORT_POLICIES["cookie footer"].splitlines()[1:])
    site.set("/aup", html(f"<h1>Acceptable Use Policy</h1>{body}"))
    env.sources = [{"id": "acme-aup", "url": site.url("/aup")}]
    first = env.outcome(env.check(), "acme-aup")
    assert first.outcome == "new_version" and first.version == 1
    site.set("/aup", html(f"<h1>Acceptable Use Policy</h1>{body.replace('1 March', '9 May')}"))
    second = env.outcome(env.check(), "acme-aup")
    assert second.outcome == "new_version" and second.version == 2 and second.task_id


# A real cut of the page: policy text, short, far less than before.
SHRUNK = (
    "<main><h1>Responsible Scaling Policy</h1><h2>1. Capability thresholds</h2>"
    "<p>We define a capability threshold as a 50% aggregate success rate on the tasks in"
    " the appendix; models that cross it require the safeguards described below.</p>"
    "<h2>2. Security commitments</h2><p>We commit to access control, monitoring and"
    " independent validation of our controls by a third party every year.</p>"
    "<h2>3. Governance</h2><p>The board reviews this policy at least once a year and"
    " publishes the outcome, together with the evaluations that informed each decision.</p>"
    "<h3>Annex 1</h3><p>Evaluation 1 measures uplift on task family 1 with held-out"
    " questions written by external experts, repeated for every new model.</p></main>"
)


def shrunk_site(env: Env, site: Site) -> Any:
    # 27% of the text stays: under the 30% of a suspect, over the 20% of a collapse
    unselected(env, site, annexes=9, notify=["team"])
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.check()
    real = site.pages["/rsp"]
    site.set("/rsp", html(SHRUNK))
    return real


def test_a_shrunken_text_is_suspect_then_a_version_when_seen_again(env: Env, site: Site) -> None:
    shrunk_site(env, site)
    first = env.outcome(env.check(), "acme-rsp")
    assert first.outcome == "suspect" and first.task_id is None and first.version is None
    assert first.warning.startswith("text shrank by ")
    assert "recorded only if the next check sees it again" in first.warning
    assert [v.number for v in env.store.versions("acme-rsp")] == [1]
    assert env.store.tasks() == [] and env.store.notifications() == []
    state = env.store.require_source("acme-rsp")
    assert (state["status"], state["consecutive_failures"]) == ("suspect", 0)
    [check] = env.store.checks("acme-rsp", limit=1)
    assert check["outcome"] == "suspect" and check["text_sha256"] and check["version"] is None

    second = env.outcome(env.check(), "acme-rsp")
    assert second.outcome == "new_version" and second.version == 2 and second.task_id
    [task] = env.store.tasks()
    assert (task["from_version"], task["to_version"]) == (1, 2)
    [note] = env.store.notifications()
    assert json.loads(note["payload"])["old_version"] == 1
    assert env.store.require_source("acme-rsp")["status"] == "ok"


def test_a_short_text_under_a_fifth_of_the_old_is_suspect_not_collapsed(
    env: Env, site: Site
) -> None:
    # 40 annexes: SHRUNK keeps about a tenth of the text. Long texts that lose
    # that much are a failed check ("collapsed"); a short one is a real cut as
    # often as a broken page, so it is held and recorded when seen again.
    unselected(env, site, annexes=40, notify=["team"])
    env.channels = {"team": {"type": "slack", "webhook_url_env": "WATCHER_TEST_UNSET_HOOK"}}
    env.check()
    site.set("/rsp", html(SHRUNK))
    first = env.outcome(env.check(), "acme-rsp")
    assert first.outcome == "suspect" and first.version is None
    assert env.store.require_source("acme-rsp")["consecutive_failures"] == 0
    second = env.outcome(env.check(), "acme-rsp")
    assert second.outcome == "new_version" and second.version == 2 and second.task_id


def test_the_real_page_back_after_a_suspect_means_nothing_happened(env: Env, site: Site) -> None:
    real = shrunk_site(env, site)
    assert env.outcome(env.check(), "acme-rsp").outcome == "suspect"
    site.pages["/rsp"] = real
    back = env.outcome(env.check(), "acme-rsp")
    assert back.outcome == "unchanged" and back.warning is None
    assert [v.number for v in env.store.versions("acme-rsp")] == [1]
    assert env.store.tasks() == [] and env.store.notifications() == []
    state = env.store.require_source("acme-rsp")
    assert (state["status"], state["last_error"]) == ("ok", None)
    # and the shrunken text seen once more is a first sighting again, not a confirmation
    site.set("/rsp", html(SHRUNK))
    assert env.outcome(env.check(), "acme-rsp").outcome == "suspect"


def test_a_different_text_after_a_suspect_is_handled_on_its_own(env: Env, site: Site) -> None:
    shrunk_site(env, site)
    assert env.outcome(env.check(), "acme-rsp").outcome == "suspect"
    # another short text: its own first sighting
    site.set("/rsp", html(SHRUNK.replace("once a year", "twice a year")))
    assert env.outcome(env.check(), "acme-rsp").outcome == "suspect"
    # a full text that changed: a version at once, against v1
    changed = policy(9).replace("once a year", "twice a year")
    site.set("/rsp", html(f"<main><h1>Responsible Scaling Policy</h1>{changed}</main>"))
    outcome = env.outcome(env.check(), "acme-rsp")
    assert outcome.outcome == "new_version" and outcome.version == 2 and outcome.task_id
    [task] = env.store.tasks()
    assert (task["from_version"], task["to_version"]) == (1, 2)


def test_a_failed_check_between_two_sightings_does_not_reset_the_count(
    env: Env, site: Site
) -> None:
    shrunk_site(env, site)
    assert env.outcome(env.check(), "acme-rsp").outcome == "suspect"
    site.set("/rsp", "down", status=503, content_type="text/plain")
    assert env.outcome(env.check(), "acme-rsp").outcome == "failed"
    site.set("/rsp", html(SHRUNK))
    assert env.outcome(env.check(), "acme-rsp").outcome == "new_version"


def test_a_baseline_is_never_suspect(env: Env, site: Site) -> None:
    site.set("/rsp", html(SHRUNK))
    env.sources = [{"id": "acme-rsp", "url": site.url("/rsp")}]
    outcome = env.outcome(env.check(), "acme-rsp")
    assert outcome.outcome == "new_version" and outcome.version == 1


def test_a_suspect_check_is_not_a_failure_and_keeps_a_failing_source_failing(
    env: Env, site: Site
) -> None:
    real = shrunk_site(env, site)
    env.watcher = {"failure_alert_after": 2}
    site.set("/rsp", "down", status=503, content_type="text/plain")
    env.check()
    env.check()
    assert env.store.require_source("acme-rsp")["status"] == "failing"
    site.set("/rsp", html(SHRUNK))
    result = env.check()
    assert result.failed == [] and env.outcome(result, "acme-rsp").outcome == "suspect"
    state = env.store.require_source("acme-rsp")
    assert (state["status"], state["consecutive_failures"]) == ("failing", 2)
    assert state["last_error"] == "HTTP 503 SERVICE UNAVAILABLE"
    site.pages["/rsp"] = real
    assert env.outcome(env.check(), "acme-rsp").outcome == "unchanged"
    kinds = [n["kind"] for n in env.store.notifications()]
    assert kinds == ["failing", "recovered"]


def cli(env: Env, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--config", str(env.config_path), *args], catch_exceptions=False
    )


def test_check_and_sources_show_a_suspect_as_neither_news_nor_failure(env: Env, site: Site) -> None:
    shrunk_site(env, site)
    env.write()
    result = cli(env, "check")
    assert result.exit_code == 0, result.output
    assert ": 1 suspect" in result.stdout and "failed" not in result.stdout
    assert "  suspect acme-rsp: text shrank by " in result.stdout
    listing = cli(env, "sources")
    assert "suspect" in listing.stdout
    assert "  acme-rsp: suspect: text shrank by " in listing.stdout
    rows = json.loads(cli(env, "sources", "--json").stdout)
    assert (rows[0]["status"], rows[0]["versions"]) == ("suspect", 1)


# --- answers that are not what they claim -------------------------------------


def test_a_304_with_nothing_stored_is_a_failed_check(env: Env, site: Site) -> None:
    site.set("/rsp", b"", status=304)
    env.sources = [{"id": "acme-rsp", "url": site.url("/rsp")}]
    outcome = env.outcome(env.check(), "acme-rsp")
    assert (outcome.outcome, outcome.http_status) == ("failed", 304)
    assert outcome.error == "304 without a conditional request"
    state = env.store.require_source("acme-rsp")
    assert state["status"] != "ok" and state["consecutive_failures"] == 1
    assert env.store.versions("acme-rsp") == []


@pytest.fixture
def trusted_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    return context


def test_an_https_to_http_redirect_is_recorded_and_warned_about(
    env: Env, site: Site, trusted_tls: ssl.SSLContext
) -> None:
    site.set("/rsp", html(f"<main><h1>Responsible Scaling Policy</h1>{policy(2)}</main>"))
    target = site.url("/rsp")

    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(301, headers={"Location": target}, reason="Moved"))

    with RawServer(handler, ssl_context=trusted_tls) as server:
        env.sources = [{"id": "acme-rsp", "url": server.url("/rsp")}]
        env.write()
        result = cli(env, "check")
        assert result.exit_code == 0, result.output
        expected = f"redirected from https to http ({server.url('/rsp')} → {target})"
        assert f"  warning acme-rsp: {expected}" in result.stdout
        [check] = env.store.checks("acme-rsp")
        assert (check["outcome"], check["warning"]) == ("new_version", expected)

        env.watcher = {"allow_downgrade": False}
        env.write()
        refused = cli(env, "check")
    assert refused.exit_code == 1
    assert "refused by allow_downgrade = false" in refused.stdout
    last = env.store.checks("acme-rsp", limit=1)[0]
    assert last["outcome"] == "failed" and "https to http" in last["error"]
    assert site.hits("/rsp") == 1  # the refused redirect was never followed


def test_allow_downgrade_must_be_a_boolean(env: Env) -> None:
    env.watcher = {"allow_downgrade": "no"}
    with pytest.raises(ConfigError) as caught:
        env.write()
    assert caught.value.problems == [
        f"{env.config_path}: watcher.allow_downgrade: expected true or false, got string 'no'"
    ]


def test_a_database_of_the_previous_schema_gains_the_check_columns(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store.open(state) as store:
        store.upsert_source("a", url="https://example.org/", lab="L", title="T")
        store.add_check(source_id="a", started_at="2026-01-01T00:00:00Z", outcome="unchanged")
    # as a watcher of schema 2 left it: without the columns later migrations add
    conn = sqlite3.connect(state / "watcher.db")
    _undo_lineage_migration(conn)
    conn.execute("ALTER TABLE checks DROP COLUMN text_sha256")
    conn.execute("ALTER TABLE checks DROP COLUMN warning")
    conn.execute("ALTER TABLE notifications DROP COLUMN claimed_pid")
    conn.execute("ALTER TABLE notifications DROP COLUMN claimed_host")
    conn.execute("ALTER TABLE checks DROP COLUMN fetcher")
    for column in ("http_status", "charset", "snapshot_as_sent", "fetcher", "pages"):
        conn.execute(f"ALTER TABLE versions DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with Store.open(state) as store:
        assert store.schema_version == SCHEMA_VERSION
        [check] = store.checks("a")
        assert (check["outcome"], check["text_sha256"], check["warning"]) == (
            "unchanged",
            None,
            None,
        )
        assert check["fetcher"] == "http"  # every check before the browser was plain HTTP


def test_the_dashboard_shows_a_suspect_source_and_its_reason(env: Env, site: Site) -> None:
    import warnings

    from watcher.web import app as web

    with warnings.catch_warnings():
        # as in test_web: Starlette prefers the httpx2 fork; plain httpx works the same here
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    shrunk_site(env, site)
    env.check()
    config = env.write()
    with TestClient(web.create_app(config, environ={}), base_url="http://127.0.0.1") as client:
        overview = client.get("/")
        detail = client.get("/sources/acme-rsp")
    assert overview.status_code == 200 and detail.status_code == 200
    assert 'class="badge st-suspect">suspect<' in overview.text
    assert "text shrank by " in overview.text
    assert "Suspect, not recorded yet: text shrank by " in detail.text
    assert "recorded only if the next check sees it again" in detail.text


# --- storage ---
# The database file failing under watcher: full, locked, damaged, read-only,
# opened by several processes at once; and pages whose text is tiny. Commands
# run as real processes (their whole stderr is what a user sees); a full disk
# is SQLite's own SQLITE_FULL, made real by `PRAGMA max_page_count`.

_BOOT = """
import sys
import watcher.store as store
{patch}
from watcher.cli import main
main(prog_name="watcher")
"""

# Every Store.open'ed database may not grow by one page: the disk is full.
_FULL_DISK = """
_open = store.Store.open
def _full(state_dir):
    opened = _open(state_dir)
    pages = opened.conn.execute("PRAGMA page_count").fetchone()[0]
    opened.conn.execute(f"PRAGMA max_page_count = {pages}")
    return opened
store.Store.open = staticmethod(_full)
"""


def _watcher(
    config: Path, *args: str, patch: str = "", timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """`watcher --config CONFIG ARGS...` as its own process, after `patch` ran in it."""
    return subprocess.run(
        [sys.executable, "-c", _BOOT.format(patch=patch), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line on stderr, which must be an error naming the database."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: database "), lines
    return lines[0]


def _counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("sources", "checks", "blobs", "versions", "tasks", "notifications")
        }
    finally:
        conn.close()


def _big_page(seed: int) -> str:
    # text that compresses badly, so its version needs many new pages
    words = [f"w{(seed * 7919 + i * 104729) % 1000003:x}" for i in range(6000)]
    return page(SECTIONS + "<p>" + " ".join(words) + "</p>")


@pytest.fixture
def watched(env: Env, site: Site) -> Env:
    """Three sources with a first version each, recorded by `watcher check`."""
    for n in range(3):
        site.set(f"/p{n}", page(SECTIONS.replace("We commit to", f"We (n{n}) commit to")))
    env.sources = [html_source(site, f"/p{n}", f"doc-{n}") for n in range(3)]
    env.write()
    first = _watcher(env.config_path, "check")
    assert first.returncode == 0, first.stderr
    return env


def test_a_full_disk_ends_check_with_one_line_and_writes_nothing(watched: Env, site: Site) -> None:
    db = watched.tmp / "state" / DB_NAME
    for n in range(3):
        site.set(f"/p{n}", _big_page(n))
    before = _counts(db)

    full = _watcher(watched.config_path, "check", patch=_FULL_DISK)

    assert full.returncode == 1, full.stderr
    line = _one_error_line(full)
    assert str(db) in line and "the disk is full; free space" in line
    assert "[database or disk is full]" in line
    assert _counts(db) == before  # no check row, no blob, no version, no task
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # space again: the next check records what the failed one could not
    again = _watcher(watched.config_path, "check")
    assert again.returncode == 0, again.stderr
    assert "3 new version" in again.stdout and "3 tasks opened" in again.stdout
    after = _counts(db)
    assert after["versions"] == before["versions"] + 3 and after["tasks"] == 3


def test_a_full_disk_fails_a_pass_in_the_store_as_well(watched: Env, site: Site) -> None:
    # the same, one level down: the pass raises one StorageError and the
    # transaction of the check that hit it leaves nothing behind
    site.set("/p0", _big_page(9))
    config = watched.write()
    store = watched.store
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    before = _counts(store.path)
    with pytest.raises(StorageError) as caught:
        watched.check("doc-0")
    assert caught.value.cause == "full" and not caught.value.opening
    assert caught.value.path == store.path
    assert _counts(store.path) == before
    assert config.sources[0].id == "doc-0"


def test_a_database_locked_past_the_busy_timeout_is_one_line(watched: Env) -> None:
    db = watched.tmp / "state" / DB_NAME
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        locked = _watcher(watched.config_path, "check", patch="store.BUSY_TIMEOUT_S = 0.3")
        assert time.monotonic() - started < 30
        assert locked.returncode == 1, locked.stderr
        line = _one_error_line(locked)
        assert str(db) in line and "another process held it locked" in line
        # readers are not held up by a writer
        tasks = _watcher(watched.config_path, "tasks", patch="store.BUSY_TIMEOUT_S = 0.3")
        assert tasks.returncode == 0 and tasks.stdout.strip() == "no open tasks", tasks.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _watcher(watched.config_path, "check").returncode == 0


@pytest.mark.parametrize("command", [["check"], ["tasks"], ["history", "doc-0"], ["sources"]])
def test_a_file_that_is_not_a_database_is_refused_with_exit_2(
    watched: Env, command: list[str]
) -> None:
    db = watched.tmp / "state" / DB_NAME
    db.write_bytes(os.urandom(64 * 1024))
    result = _watcher(watched.config_path, *command)
    assert result.returncode == 2, result.stderr
    line = _one_error_line(result)
    assert str(db) in line and "it is damaged; stop watcher and restore it from a backup" in line
    assert f'sqlite3 {db} ".backup' in line


def test_serve_refuses_a_damaged_database_before_listening(watched: Env) -> None:
    db = watched.tmp / "state" / DB_NAME
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(8 * 1024))
    served = _watcher(watched.config_path, "serve", "--port", "0", timeout=30)
    assert served.returncode == 2
    line = _one_error_line(served)
    assert "it is damaged" in line and "dashboard on" not in served.stderr


def test_serve_refuses_damaged_pages_inside_a_valid_file(watched: Env, site: Site) -> None:
    site.set("/p1", _big_page(1))
    assert _watcher(watched.config_path, "check").returncode == 0
    db = watched.tmp / "state" / DB_NAME
    data = bytearray(db.read_bytes())
    assert not (db.parent / f"{DB_NAME}-wal").exists()  # all of it is in the file
    middle = len(data) // 2
    data[middle : middle + 16 * 1024] = os.urandom(16 * 1024)
    db.write_bytes(bytes(data))
    served = _watcher(watched.config_path, "serve", "--port", "0", timeout=30)
    assert served.returncode == 2
    assert "it is damaged" in _one_error_line(served)


def test_serve_starts_on_a_sound_database(watched: Env) -> None:
    # the start-up check must not refuse a healthy file
    from tests.servers import free_port

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _BOOT.format(patch=""),
            "--config",
            str(watched.config_path),
            "serve",
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stderr is not None
        assert server.stderr.readline().startswith(f"dashboard on http://127.0.0.1:{port}/")
    finally:
        server.terminate()
        server.wait(timeout=20)
        if server.stderr is not None:
            server.stderr.close()


# -- a read-only state folder --


def _read_only(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run `command` with `folder` mounted read-only over itself (a private mount)."""
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(folder), *command],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.fixture(scope="module")
def read_only_mounts() -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    folder = Path(tempfile.mkdtemp())
    try:
        probe = _read_only(folder, "sh", "-c", f'! touch "{folder}/x"')
        if probe.returncode != 0:
            pytest.skip(f"cannot mount a read-only folder here: {probe.stderr.strip()}")
    finally:
        shutil.rmtree(folder)


def _reviewed(env: Env, site: Site) -> Env:
    """A source with two versions and an open task."""
    site.set("/rsp", page())
    env.sources = [html_source(site)]
    env.write()
    run = CliRunner().invoke
    assert run(cli_main, ["--config", str(env.config_path), "check"]).exit_code == 0
    site.set("/rsp", page(SECTIONS.replace("We commit to", "We expect to")))
    assert run(cli_main, ["--config", str(env.config_path), "check"]).exit_code == 0
    return env


@pytest.fixture
def reviewed(env: Env, site: Site) -> Env:
    return _reviewed(env, site)


def _watcher_in_read_only(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return _read_only(
        env.tmp, sys.executable, "-m", "watcher", "--config", str(env.config_path), *args
    )


def _reading_commands_work(env: Env, *, warned: bool) -> None:
    sources = _watcher_in_read_only(env, "sources", "--json")
    assert sources.returncode == 0, sources.stderr
    assert '"acme-rsp"' in sources.stdout and "Traceback" not in sources.stderr
    # when the config cannot be synced into it, it says so
    assert ("is read-only: sources added" in sources.stderr) is warned, sources.stderr
    history = _watcher_in_read_only(env, "history", "acme-rsp")
    assert history.returncode == 0 and history.stdout.count("\n") == 3, history.stderr
    diff = _watcher_in_read_only(env, "diff", "acme-rsp")
    assert diff.returncode == 0 and "v1" in diff.stdout and "v2" in diff.stdout, diff.stderr
    tasks = _watcher_in_read_only(env, "tasks")
    assert tasks.returncode == 0 and "acme-rsp" in tasks.stdout, tasks.stderr
    show = _watcher_in_read_only(env, "show", "acme-rsp")
    assert show.returncode == 0 and "We expect to" in show.stdout, show.stderr


def test_reading_commands_work_in_a_read_only_state_folder(
    read_only_mounts: None, reviewed: Env
) -> None:
    reviewed.close()  # a clean close leaves no -wal or -shm file behind
    state = reviewed.tmp / "state"
    assert not (state / f"{DB_NAME}-shm").exists()
    before = sorted(p.name for p in state.iterdir())
    _reading_commands_work(reviewed, warned=True)
    assert sorted(p.name for p in state.iterdir()) == before

    # a writing command says so in one line, and exits 2: it cannot open the state
    check = _watcher_in_read_only(reviewed, "check")
    assert check.returncode == 2, check.stderr
    line = _one_error_line(check)
    assert str(state / DB_NAME) in line
    assert "user running watcher may read and write it" in line or "read-only" in line


def test_reading_commands_work_beside_a_writer_in_a_read_only_view(
    read_only_mounts: None, env: Env, site: Site
) -> None:
    # the daemon (another user, say) holds the database open: its -wal and
    # -shm files exist, and the recent writes are only in the -wal
    reviewed = _reviewed(env, site)
    writer = Store.open(reviewed.tmp / "state")
    try:
        with writer.transaction():
            writer.set_meta("probe", "1")
        assert (reviewed.tmp / "state" / f"{DB_NAME}-wal").stat().st_size > 0
        # nothing to sync: SQLite lets an empty write transaction through
        _reading_commands_work(reviewed, warned=False)
    finally:
        writer.close()


def test_a_read_only_store_refuses_writes_with_one_clear_error(reviewed: Env) -> None:
    reviewed.close()
    store = Store.open_for_reading(reviewed.tmp / "state")
    try:
        assert store.readonly and store.latest_version("acme-rsp") is not None
        with pytest.raises(StorageError) as caught, store.transaction():
            store.set_meta("x", "y")
        assert caught.value.cause == "readonly" and "write permission" in str(caught.value)
    finally:
        store.close()


def test_an_outdated_database_is_migrated_even_by_a_reading_command(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Store.open(state).close()
    conn = sqlite3.connect(state / DB_NAME)  # as schema 1 left it
    conn.execute("DROP TABLE version_search")
    _undo_lineage_migration(conn)
    for table, column in [
        ("checks", "text_sha256"),
        ("checks", "warning"),
        ("notifications", "claimed_pid"),
        ("notifications", "claimed_host"),
        ("versions", "http_status"),
        ("versions", "charset"),
        ("versions", "snapshot_as_sent"),
        ("checks", "fetcher"),
        ("versions", "fetcher"),
        ("versions", "pages"),
    ]:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError) as caught:
        Store.open_readonly(state)
    assert caught.value.cause == "outdated" and caught.value.opening
    store = Store.open_for_reading(state)
    try:
        assert store.schema_version == SCHEMA_VERSION and not store.readonly
        assert store.search_versions('"x"') == []
    finally:
        store.close()


def test_a_missing_state_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(StorageError) as caught:
        Store.open(blocker / "state")
    assert caught.value.opening and caught.value.cause == "cantopen"
    assert str(blocker / "state") in str(caught.value)


# -- several processes on one new state folder --

_OPENER = """
import sys, time
from pathlib import Path
from watcher.store import Store
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
store = Store.open(Path(sys.argv[1]))
print(store.schema_version)
store.close()
"""


@pytest.fixture
def new_state_folders() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp())
    yield folder
    shutil.rmtree(folder)


def test_processes_opening_a_new_state_folder_together_all_succeed(
    new_state_folders: Path,
) -> None:
    # Before: most rounds had processes die on "table sources already exists".
    for round_ in range(6):
        state = new_state_folders / f"state-{round_}"
        go = new_state_folders / f"go-{round_}"
        openers = [
            subprocess.Popen(
                [sys.executable, "-c", _OPENER, str(state), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        time.sleep(0.8)  # every process imported and waiting
        go.touch()
        for opener in openers:
            out, err = opener.communicate(timeout=60)
            assert opener.returncode == 0, err
            assert out.strip() == str(SCHEMA_VERSION)
        conn = sqlite3.connect(state / DB_NAME)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        conn.close()
        assert tables.count("sources") == 1


# -- tiny pages --


def test_a_page_of_a_few_bytes_is_recorded_and_its_changes_alert(env: Env, site: Site) -> None:
    texts = ["a", "ab", "abc", "é", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh", "abcdefghi"]
    env.sources = []
    for n, text in enumerate(texts):
        site.set(f"/tiny{n}", f"<html><body><main><p>{text}</p></main></body></html>")
        env.sources.append(html_source(site, f"/tiny{n}", f"tiny-{n}"))
    first = env.check()
    assert {o.outcome for o in first.outcomes} == {"new_version"}, first.failed
    for n, text in enumerate(texts):
        site.set(f"/tiny{n}", f"<html><body><main><p>{text}!</p></main></body></html>")
    second = env.check()
    assert {o.outcome for o in second.outcomes} == {"new_version"}, second.failed
    assert all(o.task_id is not None for o in second.outcomes)
    for n, text in enumerate(texts):
        latest = env.store.latest_version(f"tiny-{n}")
        assert latest is not None and env.store.version_text(latest) == f"{text}!"
        raw = env.store.get_blob(latest.raw_sha256).decode("utf-8")
        assert f"<p>{text}!</p>" in raw


def test_an_empty_page_is_a_failed_check_with_a_reason_not_an_internal_error(
    env: Env, site: Site
) -> None:
    site.set("/empty", "<html><body><main><p> </p></main></body></html>")
    env.sources = [html_source(site, "/empty", "empty")]
    [outcome] = env.check().outcomes
    assert outcome.outcome == "failed" and outcome.error == "no text extracted"


def _undo_lineage_migration(conn: sqlite3.Connection) -> None:
    """Drop what migrations 9 (citations) and 7 (lineage) added, for a database of an older schema."""
    undo_citations_migration(conn)
    conn.execute("DROP INDEX sources_supersedes")
    for table, column in [
        ("sources", "supersedes"),
        ("sources", "lineage_decision"),
        ("sources", "lineage_reason"),
        ("sources", "unlinked_at"),
        ("versions", "sketch"),
        ("tasks", "documents"),
    ]:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
