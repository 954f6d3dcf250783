"""What a team hears about its tasks: "assigned to you" on the assignee's own
channels, and closed / dismissed / reopened on the channels that asked for
`task_updates`.

End to end: a loopback site checked by the real pipeline opens the task, raters
act through the command line, the write API or `review`, and the outbox
delivers to Slack stand-ins and a webhook receiver on 127.0.0.1 and to aiosmtpd.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer

from tests.conftest import Env, Site
from tests.servers import free_port
from tests.test_notify_webhook import SECRET_ENV, URL_ENV, Inbox, Receiver, verify
from tests.test_outbox import SlackStandIn, deliver
from tests.test_people import api, changed, csrf, run
from watcher import clock, queries, review
from watcher.config import Config, load_config
from watcher.errors import ConfigError
from watcher.notify.alert import Alert
from watcher.notify.email_render import render_email_html
from watcher.notify.render import NOTE_SHOWN
from watcher.notify.slack_render import render_slack
from watcher.notify.webhook_render import render_webhook
from watcher.web import app as web

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.clock  # deliveries and retries read the clock

DASHBOARD = "https://watch.example"
DOCUMENT = "Acme — Policy acme-rsp"


@pytest.fixture
def slacks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], SlackStandIn]]:
    """Slack stand-ins on loopback, one per environment variable asked for."""
    servers: list[HTTPServer] = []

    def make(env_name: str) -> SlackStandIn:
        server = HTTPServer(host="127.0.0.1", port=0)
        server.start()
        servers.append(server)
        stand_in = SlackStandIn(server)
        monkeypatch.setenv(env_name, stand_in.url)
        return stand_in

    yield make
    for server in servers:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    hook = Receiver(server)
    monkeypatch.setenv(URL_ENV, hook.url)
    monkeypatch.setenv(SECRET_ENV, "s3cret-key-for-hmac")
    yield hook
    server.clear()
    if server.is_running():
        server.stop()


def slack(env_name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "slack", "webhook_url_env": env_name, "pace": "0s", **extra}


def team_setup(env: Env, site: Site, channels: dict[str, dict[str, Any]], extra: str) -> Config:
    """The team's channels (`notify` names them: every key of `channels` but the
    raters' own, which end in '-dm'), then a change that opens task 1."""
    env.channels = channels
    env.watcher = {
        "notify": [name for name in channels if not name.endswith("-dm")],
        "dashboard_url": DASHBOARD,
    }
    return changed(env, site, extra)


def kinds(env: Env) -> list[tuple[str, str]]:
    return [(row["kind"], row["channel"]) for row in env.store.notifications()]


# --- "assigned to you" ------------------------------------------------------------


RATERS = '[raters.alice]\nnotify = ["alice-dm"]\n[raters.bob]\nnotify = ["bob-dm"]'


def test_assignment_by_a_colleague_reaches_the_assignees_channel_once(
    env: Env, site: Site, slacks: Callable[[str], SlackStandIn]
) -> None:
    team, alice, bob = slacks("HOOK_TEAM"), slacks("HOOK_ALICE"), slacks("HOOK_BOB")
    team_setup(
        env,
        site,
        {"team": slack("HOOK_TEAM"), "alice-dm": slack("HOOK_ALICE"), "bob-dm": slack("HOOK_BOB")},
        RATERS,
    )
    assert deliver(env).sent == 1 and len(team.posts) == 1  # the change, to the team
    assert run(env, "task", "assign", "1", "alice", "--by", "dana").exit_code == 0
    assert deliver(env).sent == 1
    summary = env.store.task(1)["summary"]
    [post] = alice.posts
    assert post["text"].startswith(f"{DOCUMENT} · assigned to you by dana: ")
    assert summary[:40] in post["text"]
    assert f"<{DASHBOARD}/tasks/1|Details>" in json.dumps(post)
    assert len(team.posts) == 1 and bob.posts == []  # no noise for the team
    # assigned again to the same rater: nothing new to say
    run(env, "task", "assign", "1", "alice", "--by", "erin")
    # bob takes it himself: he knows
    run(env, "task", "assign", "1", "bob", "--by", "bob")
    # carol has no channels of her own: nothing (and never the team's)
    run(env, "task", "assign", "1", "carol", "--by", "dana")
    assert deliver(env).sent == 0
    assert (len(alice.posts), len(bob.posts), len(team.posts)) == (1, 0, 1)
    assert kinds(env) == [("change", "team"), ("assigned", "alice-dm")]


def test_the_api_and_the_dashboard_queue_notices_as_their_rater(env: Env, site: Site) -> None:
    channels = {"team": slack("HOOK_TEAM", task_updates=True), "alice-dm": slack("HOOK_ALICE")}
    users = '\n[dashboard.users]\nerin = "T_ERIN"\nbob = "T_BOB"'
    config = team_setup(env, site, channels, RATERS.split("\n[raters.bob]")[0] + users)
    tokens = {"T_ERIN": "erin-token-1234", "T_BOB": "bob-token-5678"}
    app = web.create_app(config, environ=tokens)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert api(c, "/api/tasks/1/assign", {"who": "alice"}, tokens["T_ERIN"]).is_success
        assert api(c, "/api/tasks/1/close", {"note": "done"}, tokens["T_ERIN"]).is_success
        token = csrf(c, "/login")
        c.post("/login", data={"csrf_token": token, "token": tokens["T_BOB"], "next": "/"})
        form = {"csrf_token": csrf(c, "/tasks/1")}
        assert c.post("/tasks/1/reopen", data=form, follow_redirects=False).status_code == 303
    queued = [
        (row["kind"], row["channel"], json.loads(row["payload"]))
        for row in env.store.notifications()[1:]
    ]
    assert queued == [
        ("assigned", "alice-dm", {"task_id": 1, "assignee": "alice", "actor": "erin"}),
        ("closed", "team", {"task_id": 1, "actor": "erin", "note": "done"}),
        ("reopened", "team", {"task_id": 1, "actor": "bob", "note": None}),
    ]


def test_a_new_task_tells_its_owner(
    env: Env, site: Site, slacks: Callable[[str], SlackStandIn]
) -> None:
    team, alice = slacks("HOOK_TEAM"), slacks("HOOK_ALICE")
    team_setup(
        env,
        site,
        {"team": slack("HOOK_TEAM"), "alice-dm": slack("HOOK_ALICE")},
        '[labs.Acme]\nowner = "alice"\n[raters.alice]\nnotify = ["alice-dm"]',
    )
    assert env.store.task(1)["assignee"] == "alice"
    # the same transaction as the assignment: queued before the check's own alerts
    assert kinds(env) == [("assigned", "alice-dm"), ("change", "team")]
    assert deliver(env).sent == 2
    [post] = alice.posts
    assert post["text"].startswith(f"{DOCUMENT} · assigned to you as its owner: ")
    assert [p["text"] for p in team.posts if "assigned" in p["text"]] == []


# --- task updates ------------------------------------------------------------------


def test_task_updates_reach_only_the_channels_that_asked_and_were_alerted(
    env: Env, site: Site, slacks: Callable[[str], SlackStandIn], receiver: Receiver
) -> None:
    team, quiet, elsewhere = slacks("HOOK_TEAM"), slacks("HOOK_QUIET"), slacks("HOOK_ELSE")
    channels = {
        "team": slack("HOOK_TEAM", task_updates=True),
        "quiet": slack("HOOK_QUIET"),  # alerted about the change, but did not ask
        "hooks": {
            "type": "webhook",
            "url_env": URL_ENV,
            "secret_env": SECRET_ENV,
            "task_updates": True,
        },
        "else-dm": slack("HOOK_ELSE", task_updates=True),  # asked, never alerted of the task
    }
    config = team_setup(env, site, channels, "")
    assert deliver(env).sent == 3
    note = "reassessed, grade unchanged"
    assert run(env, "task", "close", "1", "--note", note, "--by", "dana").exit_code == 0
    assert deliver(env).sent == 2
    assert team.texts()[-1] == f"{DOCUMENT} · closed by dana: {note}"
    assert "*Note:* reassessed, grade unchanged" in json.dumps(team.posts[-1])
    headers, body = receiver.received[-1]
    assert verify(headers, body)
    document = json.loads(body)
    assert document["event"] == "closed"
    assert (document["actor"], document["note"]) == ("dana", note)
    assert document["task"] == queries.listed_task(env.store, 1)
    assert document["task"]["status"] == "closed"
    assert document["link"] == f"{DASHBOARD}/tasks/1"
    assert headers["X-Watcher-Delivery"] == str(document["delivery"])
    review.reopen(env.store, 1, actor="erin", config=config)
    review.dismiss(env.store, 1, "wording only", actor="frank", config=config)
    assert deliver(env).sent == 4
    assert team.texts()[-2:] == [
        f"{DOCUMENT} · reopened by erin",
        f"{DOCUMENT} · dismissed by frank: wording only",
    ]
    events = [json.loads(body)["event"] for _, body in receiver.received]
    assert events == ["change", "closed", "reopened", "dismissed"]
    assert len(quiet.posts) == 1 and elsewhere.posts == []  # the change alert only; nothing
    assert {channel for kind, channel in kinds(env) if kind != "change"} == {"team", "hooks"}


def test_a_hostile_note_and_name_are_inert_and_bounded(
    env: Env, site: Site, slacks: Callable[[str], SlackStandIn], receiver: Receiver
) -> None:
    team = slacks("HOOK_TEAM")
    channels = {
        "team": slack("HOOK_TEAM", task_updates=True),
        "hooks": {
            "type": "webhook",
            "url_env": URL_ENV,
            "secret_env": SECRET_ENV,
            "task_updates": True,
        },
    }
    config = team_setup(env, site, channels, "")
    deliver(env)
    note = "<!channel> see <https://evil.example|the docs> & \x1b[31mred\n" + "x" * 5000
    review.close(env.store, 1, note, actor="<!here>", config=config)
    assert deliver(env).sent == 2
    post = team.posts[-1]
    payload = json.dumps(post)
    for raw in ("<!channel>", "<!here>", "<https://evil", "\x1b", "\\u001b"):
        assert raw not in payload
    assert post["text"].startswith(f"{DOCUMENT} · closed by &lt;!here&gt;: &lt;!channel&gt; ")
    assert len(post["text"]) < 1000  # the note is cut in the headline
    section = post["blocks"][1]["text"]["text"]
    assert "x" * NOTE_SHOWN not in section and "x" * (NOTE_SHOWN - 100) in section
    # the webhook's values are data: the note as written, for the tracker to escape
    assert json.loads(receiver.received[-1][1])["note"] == note


def test_a_retried_notice_is_sent_once_with_one_delivery_id(
    env: Env, site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = {"type": "webhook", "url_env": URL_ENV, "secret_env": SECRET_ENV}
    config = team_setup(env, site, {"hooks": {**hooks, "task_updates": True}}, "")
    deliver(env)
    review.close(env.store, 1, "grade kept", actor="dana", config=config)
    receiver.answers.append((503, {}))
    report = deliver(env)
    assert (report.sent, report.retrying) == (0, 1)
    later = clock.now() + timedelta(hours=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert deliver(env).sent == 1
    assert deliver(env).sent == 0  # nothing twice
    tries = [h["X-Watcher-Delivery"] for h, body in receiver.received[1:]]
    assert len(tries) == 2 and tries[0] == tries[1]
    assert [json.loads(body)["event"] for _, body in receiver.received] == [
        "change",
        "closed",
        "closed",
    ]


def test_email_threads_the_update_and_the_assignment_with_the_task(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    mail = {
        "type": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from": "watcher@alerts.example.org",
    }
    try:
        config = team_setup(
            env,
            site,
            {
                "mail": {**mail, "to": ["team@example.org"], "task_updates": True},
                "alice-dm": {**mail, "to": ["alice@example.org"]},
            },
            '[raters.alice]\nnotify = ["alice-dm"]',
        )
        assert deliver(env).sent == 1
        review.assign(env.store, 1, "alice", actor="dana", config=config)
        review.close(env.store, 1, "<b>grade</b> kept", actor="alice", config=config)
        assert deliver(env).sent == 2
    finally:
        controller.stop()
    messages = [message_from_bytes(raw, policy=policy.default) for raw in inbox.raw]
    assert all(isinstance(m, EmailMessage) for m in messages)
    change, assigned, closed = sorted(messages, key=lambda m: str(m["Message-ID"]))
    assert closed["To"] == "team@example.org" and assigned["To"] == "alice@example.org"
    assert closed["In-Reply-To"] == change["Message-ID"] == closed["References"]
    assert closed["Subject"] == f"[watcher] {DOCUMENT} · closed by alice"
    # the rater's own channel had no message about the task before: a thread of its own
    assert "In-Reply-To" not in assigned
    assert assigned["Subject"] == f"[watcher] {DOCUMENT} · assigned to you by dana"
    html_part = closed.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    html = html_part.get_content()
    assert "&lt;b&gt;grade&lt;/b&gt; kept" in html and "<b>grade" not in html
    text_part = closed.get_body(("plain",))
    assert isinstance(text_part, EmailMessage)
    assert "Note: <b>grade</b> kept" in text_part.get_content()
    assert f"Details: {DASHBOARD}/tasks/1" in text_part.get_content()


def test_a_summary_lists_each_notice_escaped() -> None:
    notices = tuple(
        Alert(
            kind=kind,  # type: ignore[arg-type]
            source_id="acme-rsp",
            lab="Acme",
            title="Policy <!channel>",
            task_id=index,
            actor="dana",
            assignee="alice",
            note="<@U123> done " + "y" * 400,
            summary="threshold now qualitative",
            notification_id=index,
        )
        for index, kind in enumerate(("assigned", "closed", "dismissed", "reopened"), 1)
    )
    batch = Alert(kind="batch", items=notices)
    slack_text = json.dumps(render_slack(batch))
    assert "<!channel>" not in slack_text and "<@U123>" not in slack_text
    assert "assigned to you by dana: threshold now qualitative" in slack_text
    assert "closed by dana: &lt;@U123&gt; done yyy" in slack_text
    assert "reopened by dana" in slack_text and "y" * 200 not in slack_text
    html = render_email_html(batch)
    assert "&lt;@U123&gt; done" in html and "<@U123>" not in html
    document = json.loads(render_webhook(batch))
    assert [a["event"] for a in document["alerts"]] == [
        "assigned",
        "closed",
        "dismissed",
        "reopened",
    ]
    assert document["alerts"][1]["note"] == notices[1].note


# --- config -------------------------------------------------------------------------


def load_with(tmp_path: Path, line: str) -> Config | list[str]:
    """A config whose Slack channel has `line` besides its webhook: loaded, or its problems."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[watcher]\nstate_dir = "state"\nnotify = ["team"]\n'
        f'[channels.team]\ntype = "slack"\nwebhook_url_env = "HOOK"\n{line}\n'
        '[[sources]]\nid = "a"\nlab = "Acme"\ntitle = "A"\nurl = "https://a.example/"\n',
        encoding="utf-8",
    )
    try:
        return load_config(path)
    except ConfigError as exc:
        return exc.problems


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('task_updates = "yes"', "channels.team.task_updates: expected true or false, got string"),
        ("task_updates = 1", "channels.team.task_updates: expected true or false, got integer"),
        ("task_update = true", "channels.team.task_update: unknown key (did you mean"),
    ],
)
def test_task_updates_is_validated_in_one_line(tmp_path: Path, line: str, problem: str) -> None:
    problems = load_with(tmp_path, line)
    assert isinstance(problems, list) and len(problems) == 1, problems
    assert problem in problems[0] and "\n" not in problems[0]


def test_task_updates_is_off_unless_asked(tmp_path: Path) -> None:
    plain, asked = load_with(tmp_path, ""), load_with(tmp_path, "task_updates = true")
    assert isinstance(plain, Config) and isinstance(asked, Config)
    assert (plain.channels["team"].task_updates, asked.channels["team"].task_updates) == (
        False,
        True,
    )
