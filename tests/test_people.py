"""Who did what: --by on the command line, owners, raters' reminder channels,
a token (or a proxy's header) per rater on the dashboard, and the write API.

Real parts throughout: a loopback site checked by the real pipeline, a real
SQLite file, a Slack stand-in on 127.0.0.1, the dashboard through Starlette's
TestClient and, for concurrent checks, the real server on a loopback port.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import re
import threading
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from tests.conftest import Env, Site
from tests.test_browser import dashboard
from tests.test_outbox import HOOK_ENV, SlackStandIn, deliver
from tests.test_pipeline import SECTIONS, html_source, page
from watcher import clock, review
from watcher.cli import main
from watcher.config import Config, load_config
from watcher.errors import ConfigError
from watcher.notify import outbox
from watcher.web import app as web

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.clock  # reminders read the clock


def run(env: Env, *args: str, **environ: str) -> Result:
    return CliRunner(env={"WATCHER_USER": None, **environ}).invoke(
        main, ["--config", str(env.config_path), *args], catch_exceptions=False
    )


def with_extra(env: Env, extra: str) -> None:
    """Every config `env` writes gets `extra` (tables Env does not write) at its end."""
    plain = Env.write

    def write() -> Config:
        plain(env)
        with env.config_path.open("a", encoding="utf-8") as out:
            out.write("\n" + extra + "\n")
        return load_config(env.config_path)

    env.write = write  # type: ignore[method-assign]


def changed(env: Env, site: Site, extra: str = "", **source: Any) -> Config:
    """A source with two versions: its task opened by the second check."""
    site.set("/rsp", page())
    env.sources = [html_source(site, **source)]
    with_extra(env, extra)
    env.check()
    site.set("/rsp", page(SECTIONS.replace("We commit to", "We expect to")))
    env.check()
    return env.write()


def events(env: Env, *args: str) -> list[dict[str, Any]]:
    result = run(env, "task", "show", "1", "--json", *args)
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.stdout)["events"]
    return data


# --- the command line ---------------------------------------------------------------


def test_by_names_the_actor_of_every_task_action(env: Env, site: Site) -> None:
    changed(env, site)
    assert run(env, "task", "assign", "1", "bob", "--by", "alice").exit_code == 0
    assert run(env, "task", "note", "1", "--note", "asked the lab", "--by", "bob").exit_code == 0
    assert run(env, "task", "close", "1", "--note", "grade kept", "--by", "carol").exit_code == 0
    assert run(env, "task", "reopen", "1", "--by", "dana").exit_code == 0
    assert run(env, "task", "dismiss", "1", "--note", "wording", "--by", "eve").exit_code == 0
    got = [(e["actor"], e["action"], e["note"]) for e in events(env)]
    assert got == [
        ("watcher", "opened", got[0][2]),
        ("alice", "assigned", "bob"),
        ("bob", "noted", "asked the lab"),
        ("carol", "closed", "grade kept"),
        ("dana", "reopened", None),
        ("eve", "dismissed", "wording"),
    ]
    shown = run(env, "task", "show", "1").output
    assert "carol closed — grade kept" in shown


def test_by_defaults_to_watcher_user_then_the_login(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed(env, site)
    login = getpass.getuser()
    run(env, "task", "assign", "1", "bob", WATCHER_USER="frank")
    run(env, "task", "assign", "1", "bob")
    # no login name either (a container's uid without a passwd entry): "cli"
    monkeypatch.setattr(getpass, "getuser", _no_login)
    run(env, "task", "assign", "1", "bob")
    actors = [e["actor"] for e in events(env) if e["action"] == "assigned"]
    assert actors == ["frank", login, "cli"]


def _no_login() -> str:
    raise OSError("no login name")


@pytest.mark.parametrize(
    ("args", "environ", "message"),
    [
        (["--by", ""], {}, "--by: a rater's name cannot be empty"),
        (["--by", "al\x1b[31mice"], {}, "--by: a rater's name cannot hold control"),
        (["--by", "a" * 65], {}, "--by: a rater's name is at most 64 characters, got 65"),
        ([], {"WATCHER_USER": "x\u202ey"}, "$WATCHER_USER (or the login name): a rater's name"),
    ],
)
def test_bad_names_are_refused_in_one_line(
    env: Env, site: Site, args: list[str], environ: dict[str, str], message: str
) -> None:
    changed(env, site)
    result = run(env, "task", "close", "1", "--note", "x", *args, **environ)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {message}")
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert [e["action"] for e in events(env)] == ["opened"]  # nothing recorded


def test_a_bad_assignee_is_refused(env: Env, site: Site) -> None:
    changed(env, site)
    result = run(env, "task", "assign", "1", "ev\x07e")
    assert result.exit_code == 1 and "the assignee: a rater's name cannot hold" in result.stderr


def test_an_actor_from_an_older_record_is_shown_escaped(env: Env, site: Site) -> None:
    changed(env, site)
    with env.store.transaction():
        env.store.add_event(1, actor="evil\x1b]0;owned\x07", action="noted", note="n")
    shown = run(env, "task", "show", "1").output
    assert "\x1b" not in shown and "\x07" not in shown and "evil" in shown


def test_lineage_and_cite_record_the_rater(env: Env, site: Site) -> None:
    changed(env, site)
    quote = "Two-party control for model weights."
    added = run(
        env, "cite", "add", "acme-rsp", "--criterion", "Security", "--quote", quote, "--by", "gina"
    )
    assert added.exit_code == 0, added.output
    citation = added.stdout.strip()
    history = run(env, "cite", "history", citation, "--json")
    assert history.exit_code == 0, history.output
    assert [e["actor"] for e in json.loads(history.stdout)] == ["gina"]
    assert run(env, "cite", "remove", citation, "--by", "hal").exit_code == 0
    removed = env.store.citation_events(int(citation))
    assert [(e["actor"], e["action"]) for e in removed] == [("gina", "added"), ("hal", "removed")]
    refused = run(env, "lineage", "unlink", "acme-rsp", "--by", "")
    assert refused.exit_code == 2 and "--by: a rater's name cannot be empty" in refused.stderr


# --- owners -------------------------------------------------------------------------


def test_a_new_task_goes_to_the_sources_owner_over_the_labs(env: Env, site: Site) -> None:
    changed(env, site, '[labs.Acme]\nowner = "dana"', owner="sam")
    task = env.store.tasks()[0]
    assert task["assignee"] == "sam"
    assigned = [e for e in events(env) if e["action"] == "assigned"]
    assert [(e["actor"], e["note"]) for e in assigned] == [(review.SYSTEM_ACTOR, "sam")]


def test_a_new_task_goes_to_the_labs_owner(env: Env, site: Site) -> None:
    changed(env, site, '[labs.Acme]\nowner = "dana"')
    assert env.store.tasks()[0]["assignee"] == "dana"
    mine = run(env, "tasks", "--mine", "--json", WATCHER_USER="dana")
    assert [t["id"] for t in json.loads(mine.stdout)] == [1]
    theirs = run(env, "tasks", "--mine", "--by", "sam", "--json")
    assert json.loads(theirs.stdout) == []
    assert "dana" in run(env, "tasks", "--mine", "--by", "dana").output


def test_without_owners_a_task_is_unassigned(env: Env, site: Site) -> None:
    changed(env, site)
    assert env.store.tasks()[0]["assignee"] is None
    assert [e["action"] for e in events(env)] == ["opened"]


# --- reminders to the assignee's channels --------------------------------------------


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandIn]:
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    stand_in = SlackStandIn(server)
    monkeypatch.setenv(HOOK_ENV, stand_in.url)
    yield stand_in
    server.clear()
    server.stop()


def test_a_reminder_goes_to_the_assignees_channel_not_the_sources(
    env: Env, site: Site, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.channels = {
        "team": {
            "type": "email",
            "smtp_host": "127.0.0.1",
            "smtp_port": 1,
            "from": "w@example.org",
            "to": ["team@example.org"],
        },
        "alice-dm": {"type": "slack", "webhook_url_env": HOOK_ENV},
    }
    env.watcher = {"notify": ["team"], "remind_after": "1d", "remind_every": "1d"}
    changed(env, site, '[raters.alice]\nnotify = ["alice-dm"]')
    config = env.write()
    opened = clock.parse_iso(env.store.tasks()[0]["opened_at"])
    # unassigned: the source's channel, as before
    assert outbox.enqueue_reminders(config, env.store, opened + timedelta(days=1)) == 1
    review.assign(env.store, 1, "alice", config=None)
    assert outbox.enqueue_reminders(config, env.store, opened + timedelta(days=2)) == 1
    reminders = [r for r in env.store.notifications() if r["kind"] == "reminder"]
    assert [r["channel"] for r in reminders] == ["team", "alice-dm"]
    monkeypatch.setattr(clock, "now", lambda: opened + timedelta(days=2, minutes=1))
    deliver(env)
    assert any("remind" in json.dumps(p).lower() for p in slack.posts)
    # a rater without [raters] entry: the source's channels again
    review.assign(env.store, 1, "bob", config=None)
    outbox.enqueue_reminders(config, env.store, opened + timedelta(days=3))
    reminders = [r for r in env.store.notifications() if r["kind"] == "reminder"]
    assert [r["channel"] for r in reminders][-1] == "team"


# --- config -------------------------------------------------------------------------


def config_with(tmp_path: Path, extra: str, source: str = "") -> str | Config:
    text = (
        '[watcher]\nstate_dir = "state"\n[channels.team]\ntype = "slack"\n'
        'webhook_url_env = "HOOK"\n'
        f'[[sources]]\nid = "a"\nlab = "Google DeepMind"\ntitle = "A"\n'
        f'url = "https://a.example/"\n{source}\n{extra}\n'
    )
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    try:
        return load_config(path)
    except ConfigError as exc:
        assert len(exc.problems) == 1, exc.problems
        return exc.problems[0]


@pytest.mark.parametrize(
    ("extra", "source", "problem"),
    [
        ("", 'owner = ""', "sources[0] (a).owner: a rater's name cannot be empty"),
        (
            '[labs."Google Deepmind"]\nowner = "dana"',
            "",
            "labs.\"Google Deepmind\": unknown lab (did you mean 'Google DeepMind'?)",
        ),
        (
            '[labs."Google DeepMind"]\nowners = "dana"',
            "",
            "labs.\"Google DeepMind\".owners: unknown key (did you mean 'owner'?)",
        ),
        ('[labs."Google DeepMind"]\nowner = 3', "", "owner: expected a string, got integer"),
        (
            '[raters.alice]\nnotify = ["dm"]',
            "",
            "raters.alice.notify: unknown channel 'dm' (known: team)",
        ),
        (
            '[raters.alice]\nnotfy = ["team"]',
            "",
            "raters.alice.notfy: unknown key (did you mean 'notify'?)",
        ),
        ('[raters."a\\u0007b"]\nnotify = ["team"]', "", "a rater's name cannot hold control"),
        (
            '[dashboard.users]\nalice = "s3cret token"',
            "",
            "dashboard.users: alice: must be the name of an environment variable",
        ),
        (
            "[dashboard.users]\nalice = 3",
            "",
            "dashboard.users: alice: expected the name of an environment variable, got integer",
        ),
        (
            '[dashboard]\ntrusted_header = "Remote-User"\n[dashboard.users]\nalice = "T_A"',
            "",
            "dashboard.trusted_header: set either dashboard.users",
        ),
        (
            '[dashboard]\nhost = "0.0.0.0"\nauth_token_env = "T"\ntrusted_header = "Remote-User"',
            "",
            "dashboard.trusted_header: needs a loopback host",
        ),
        (
            '[dashboard]\ntrusted_header = "Remote User"',
            "",
            "dashboard.trusted_header: must be an HTTP header name",
        ),
        (
            '[dashboard]\ntrusted_header = "Authorization"',
            "",
            "dashboard.trusted_header: 'Authorization' is not a header a proxy sets",
        ),
    ],
)
def test_new_keys_are_validated_in_one_line(
    tmp_path: Path, extra: str, source: str, problem: str
) -> None:
    got = config_with(tmp_path, extra, source)
    assert isinstance(got, str), got
    assert problem in got and "\n" not in got


def test_new_keys_load(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        '[labs."Google DeepMind"]\nowner = "dana"\n[raters.alice]\nnotify = ["team"]\n'
        '[dashboard]\nhost = "0.0.0.0"\n[dashboard.users]\nalice = "T_ALICE"\nbob = "T_BOB"',
    )
    assert isinstance(config, Config)
    assert config.owner_of("a") == "dana" and config.owner_of("nope") is None
    assert config.raters["alice"].notify == ("team",)
    assert config.dashboard.users == (("alice", "T_ALICE"), ("bob", "T_BOB"))
    warned = config.warnings({"HOOK": "x", "T_ALICE": "t"})
    assert warned == [
        f"{config.label}: dashboard.users.bob: T_BOB is not set; "
        "bob cannot sign in to the dashboard or use the API"
    ]


# --- the dashboard: a token per rater, or a proxy's header ----------------------------


USERS = '[dashboard.users]\nalice = "T_ALICE"\nbob = "T_BOB"'
TOKENS = {"T_ALICE": "alice-token-1234", "T_BOB": "bob-token-5678"}


def csrf(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(path).text)
    assert match, path
    return match.group(1)


def test_a_rater_signs_in_with_their_token_and_acts_as_themselves(env: Env, site: Site) -> None:
    config = changed(env, site, USERS)
    app = web.create_app(config, environ=TOKENS)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/tasks/1", follow_redirects=False).status_code == 303
        token = csrf(c, "/login")
        wrong = c.post("/login", data={"csrf_token": token, "token": "nope", "next": "/"})
        assert wrong.status_code == 401
        c.post("/login", data={"csrf_token": token, "token": TOKENS["T_BOB"], "next": "/"})
        assert "Signed in as <strong>bob</strong>" in c.get("/tasks/1").text
        form = {"csrf_token": csrf(c, "/tasks/1"), "who": "alice"}
        assert c.post("/tasks/1/assign", data=form, follow_redirects=False).status_code == 303
        # without the CSRF token the same rater is refused
        assert c.post("/tasks/1/close", data={"note": "x"}).status_code == 403
    assigned = [e for e in events(env) if e["action"] == "assigned"]
    assert [(e["actor"], e["note"]) for e in assigned] == [("bob", "alice")]


def test_a_rater_with_an_unset_token_cannot_sign_in(env: Env, site: Site) -> None:
    config = changed(env, site, USERS)
    app = web.create_app(config, environ={"T_ALICE": TOKENS["T_ALICE"]})
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/api/tasks", headers={"authorization": "Bearer "}).status_code == 401
        ok = c.get("/api/tasks", headers={"authorization": f"Bearer {TOKENS['T_ALICE']}"})
        assert ok.status_code == 200
    assert any("T_BOB is not set" in line for line in config.warnings({}))
    with pytest.raises(ConfigError, match="none of the raters' token variables is set"):
        web.create_app(config, host="0.0.0.0", environ={})


def test_the_shared_token_still_acts_as_the_dashboard(env: Env, site: Site) -> None:
    config = changed(env, site, '[dashboard]\nauth_token_env = "T_SHARED"\n' + USERS)
    app = web.create_app(config, environ={**TOKENS, "T_SHARED": "shared-token-99"})
    with TestClient(app, base_url="http://127.0.0.1") as c:
        token = csrf(c, "/login")
        c.post("/login", data={"csrf_token": token, "token": "shared-token-99", "next": "/"})
        page = c.get("/tasks/1").text
        assert "Signed in as" not in page
        c.post("/tasks/1/assign", data={"csrf_token": csrf(c, "/tasks/1"), "who": "zed"})
    assert [e["actor"] for e in events(env) if e["action"] == "assigned"] == ["dashboard"]


def test_a_trusted_header_names_the_rater_only_when_configured(env: Env, site: Site) -> None:
    config = changed(env, site, '[dashboard]\ntrusted_header = "Remote-User"')
    with TestClient(web.create_app(config, environ={}), base_url="http://127.0.0.1") as c:
        assert c.get("/tasks/1", follow_redirects=False).status_code == 303  # no header
        hostile = c.get("/tasks/1", headers={"remote-user": "x\x1by"}, follow_redirects=False)
        assert hostile.status_code == 303
        headers = {"remote-user": "dana <b>"}
        page = c.get("/tasks/1", headers=headers).text
        assert "Signed in as <strong>dana &lt;b&gt;</strong>" in page
        form = {"csrf_token": csrf(c, "/login"), "who": "sam"}
        c.post("/tasks/1/assign", data=form, headers=headers)
    assert [e["actor"] for e in events(env) if e["action"] == "assigned"] == ["dana <b>"]
    # not configured: the header means nothing, and a loopback dashboard stays "dashboard"
    plain = changed_config(env, "")
    with TestClient(web.create_app(plain, environ={}), base_url="http://127.0.0.1") as c:
        page = c.get("/tasks/1", headers={"remote-user": "mallory"}).text
        assert "mallory" not in page
        form = {"csrf_token": csrf(c, "/tasks/1"), "who": "sam"}
        c.post("/tasks/1/assign", data=form, headers={"remote-user": "mallory"})
    assert [e["actor"] for e in events(env) if e["action"] == "assigned"][-1] == "dashboard"
    with pytest.raises(ConfigError, match="trusted_header needs a loopback host"):
        web.create_app(config, host="0.0.0.0", environ={})


def changed_config(env: Env, extra: str) -> Config:
    with_extra(env, extra)
    return env.write()


# --- the write API ----------------------------------------------------------------


def api(
    c: TestClient, path: str, body: Any = None, token: str | None = None, raw: bytes | None = None
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    content = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return c.post(path, content=content, headers=headers)


@pytest.fixture
def api_client(env: Env, site: Site) -> Iterator[TestClient]:
    config = changed(env, site, '[dashboard]\nauth_token_env = "T_SHARED"\n' + USERS)
    app = web.create_app(config, environ={**TOKENS, "T_SHARED": "shared-token-99"})
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def test_api_task_actions_record_the_token_holder(api_client: TestClient, env: Env) -> None:
    c, alice = api_client, TOKENS["T_ALICE"]
    assigned = api(c, "/api/tasks/1/assign", {"who": "bob"}, alice)
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "bob"
    closed = api(c, "/api/tasks/1/close", {"note": "grade kept"}, "shared-token-99")
    assert closed.json()["status"] == "closed"
    assert api(c, "/api/tasks/1/reopen", {}, alice).json()["status"] == "open"
    assert api(c, "/api/tasks/1/reopen", None, alice).status_code == 409  # already open
    dismissed = api(c, "/api/tasks/1/dismiss", {"note": "wording only"}, TOKENS["T_BOB"])
    assert dismissed.status_code == 200
    actors = [(e["actor"], e["action"]) for e in dismissed.json()["events"]][1:]
    assert actors == [
        ("alice", "assigned"),
        ("api", "closed"),
        ("alice", "reopened"),
        ("bob", "dismissed"),
    ]


@pytest.mark.parametrize(
    ("path", "body", "raw", "status", "message"),
    [
        ("/api/tasks/1/close", None, b"{not json", 400, "the body is not JSON"),
        ("/api/tasks/1/close", None, b"\xff\xfe", 400, "the body is not JSON"),
        ("/api/tasks/1/close", ["note"], None, 400, "the body must be a JSON object"),
        ("/api/tasks/1/close", {"note": 3}, None, 400, "'note' must be a string, got a int"),
        ("/api/tasks/1/close", {}, None, 400, "'note' must be a string, got missing"),
        ("/api/tasks/1/close", {"note": "x", "by": "me"}, None, 400, "unknown field 'by'"),
        ("/api/tasks/1/close", {"note": "  "}, None, 409, "a note is required"),
        ("/api/tasks/1/assign", {"who": "a\x00b"}, None, 409, "the assignee: a rater's name"),
        ("/api/tasks/99/close", {"note": "x"}, None, 404, "no task 99"),
        ("/api/tasks/99/reopen", {}, None, 404, "no task 99"),
        ("/api/sources/nope/check", {}, None, 404, "unknown source 'nope'"),
        ("/api/sources/acme-rsp/check", {"now": True}, None, 400, "unknown field 'now'"),
    ],
)
def test_api_refuses_bad_input_with_a_json_error(
    api_client: TestClient, path: str, body: Any, raw: bytes | None, status: int, message: str
) -> None:
    response = api(api_client, path, body, TOKENS["T_ALICE"], raw)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"] and "Traceback" not in response.text


def test_api_closing_a_closed_task_is_a_conflict(api_client: TestClient) -> None:
    alice = TOKENS["T_ALICE"]
    assert api(api_client, "/api/tasks/1/close", {"note": "done"}, alice).status_code == 200
    again = api(api_client, "/api/tasks/1/close", {"note": "done"}, alice)
    assert again.status_code == 409 and again.json()["error"] == "task 1 is closed, not open"


def test_api_needs_a_bearer_token(api_client: TestClient) -> None:
    c = api_client
    assert api(c, "/api/tasks/1/close", {"note": "x"}).status_code == 401
    assert api(c, "/api/tasks/1/close", {"note": "x"}, "wrong").status_code == 401
    # signed in with a cookie is not enough for the API
    token = csrf(c, "/login")
    c.post("/login", data={"csrf_token": token, "token": TOKENS["T_ALICE"], "next": "/"})
    assert c.get("/api/tasks").status_code == 200
    cookie_only = api(c, "/api/tasks/1/close", {"note": "x"})
    assert cookie_only.status_code == 401 and "Bearer" in cookie_only.json()["error"]
    assert c.get("/api/tasks/1").json()["status"] == "open"


def test_api_is_refused_when_no_token_is_configured(env: Env, site: Site) -> None:
    config = changed(env, site)
    with TestClient(web.create_app(config, environ={}), base_url="http://127.0.0.1") as c:
        refused = api(c, "/api/tasks/1/close", {"note": "x"}, "anything")
        assert refused.status_code == 403
        assert "auth_token_env" in refused.json()["error"]
        assert "dashboard.users" in refused.json()["error"]
        assert api(c, "/api/sources/acme-rsp/check", {}).status_code == 403


def test_api_check_now_runs_the_check(api_client: TestClient, site: Site, env: Env) -> None:
    alice = TOKENS["T_ALICE"]
    same = api(api_client, "/api/sources/acme-rsp/check", None, alice)
    assert same.status_code == 200
    assert same.json()["outcome"] == "unchanged" and same.json()["version"] is None
    site.set("/rsp", page(SECTIONS.replace("once a year", "when it sees fit")))
    new = api(api_client, "/api/sources/acme-rsp/check", {}, alice).json()
    assert (new["outcome"], new["version"], new["task"]) == ("new_version", 3, 1)
    assert new["message"] == "New version v3; task 1 opened or extended."
    site.set("/rsp", "gone", status=500)
    failed = api(api_client, "/api/sources/acme-rsp/check", {}, alice).json()
    assert failed["outcome"] == "failed" and "500" in failed["error"]


def test_a_second_check_of_the_same_source_is_refused_while_one_runs(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = changed(env, site, USERS)
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    site.set("/rsp", page(SECTIONS.replace("We commit to", "We expect to")), delay=2.0)
    headers = {"authorization": f"Bearer {TOKENS['T_BOB']}"}
    with dashboard(config) as base:
        first: list[httpx.Response] = []
        slow = threading.Thread(
            target=lambda: first.append(
                httpx.post(base + "/api/sources/acme-rsp/check", headers=headers, timeout=30)
            )
        )
        slow.start()
        for _ in range(100):  # wait until the first check reaches the site
            if site.hits("/rsp") >= 3:
                break
            asyncio.run(asyncio.sleep(0.02))
        # the server still answers other requests while the check runs
        assert httpx.get(base + "/api/tasks", headers=headers, timeout=5).status_code == 200
        second = httpx.post(base + "/api/sources/acme-rsp/check", headers=headers, timeout=5)
        slow.join(timeout=30)
    assert second.status_code == 409 and "already running" in second.json()["error"]
    assert first[0].status_code == 200 and first[0].json()["outcome"] == "unchanged"


def test_a_signed_in_rater_filters_their_own_tasks_and_the_overview_shows_each_load(
    env: Env, site: Site
) -> None:
    site.set("/other", page())
    config = changed(env, site, '[dashboard]\ntrusted_header = "Remote-User"')
    env.sources = [*env.sources, html_source(site, "/other", "other-rsp")]
    env.check()
    site.set("/other", page(SECTIONS.replace("We commit to", "We may")))
    env.check()
    config = env.write()
    assert run(env, "task", "assign", "1", "dana", "--by", "sam").exit_code == 0
    assert run(env, "task", "assign", "2", "sam", "--by", "sam").exit_code == 0
    with TestClient(web.create_app(config, environ={}), base_url="http://127.0.0.1") as c:
        dana = {"remote-user": "dana"}
        every = c.get("/tasks", headers=dana).text
        assert 'name="mine"' in every and "/tasks/1" in every and "/tasks/2" in every
        assert "<th>Lab</th>" in every and '<td data-label="Lab">Acme</td>' in every
        mine = c.get("/tasks?mine=1", headers=dana).text
        assert "/tasks/1" in mine and "/tasks/2" not in mine
        overview = c.get("/", headers=dana).text
        assert "Open tasks by assignee" in overview
        assert ">dana</a>: 1 open task<" in overview and ">sam</a>: 1 open task<" in overview
    # nobody signed in (an open loopback dashboard): no "Mine", and ?mine=1 filters nothing
    plain = changed_config(env, "")
    with TestClient(web.create_app(plain, environ={}), base_url="http://127.0.0.1") as c:
        page_ = c.get("/tasks?mine=1").text
        assert 'name="mine"' not in page_ and "/tasks/1" in page_ and "/tasks/2" in page_
