"""The dashboard over a real SQLite file, through HTTP (Starlette's TestClient)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import re
import socket
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote as quote_url

import httpx
import pytest

from tests.conftest import Env, Site, write_config
from tests.test_lineage_pipeline import EXPECT, swapped
from tests.test_pipeline import SECTIONS, html_source
from tests.test_pipeline import page as policy_page
from watcher import criteria, queries, review
from watcher.config import Config, load_config
from watcher.detect import diff
from watcher.errors import ConfigError
from watcher.store import Store
from watcher.web import app as web
from watcher.web import diffview

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 fork; plain httpx works the same here.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

HOSTILE = '"><img src=x onerror=alert(1)> <script>alert(2)</script>'
TITLE = "Acme <script>alert(3)</script> policy"
LAB = "Acme <b>Labs</b>"

TEXTS = [
    "# Policy\nWe commit to third-party audits every year.\n## Thresholds\n"
    f"We will pause at 10^26 FLOP.\n{HOSTILE}",
    "# Policy\nWe commit to third-party audits every year.\n## Thresholds\n"
    f"We may pause at a high level.\n{HOSTILE} and more",
    "# Policy\nWe aim to commission audits.\n## Thresholds\n"
    f"We may pause at a high level.\n{HOSTILE} and more",
]


def add_version(
    store: Store, source_id: str, number: int, text: str, day: int, **response: Any
) -> None:
    stamp = f"2025-03-{day:02d}T10:00:00Z"
    raw = store.put_blob(f"<html><body>{text}</body></html>".encode())
    store.add_version(
        source_id=source_id,
        number=number,
        captured_at=stamp,
        raw_sha256=raw,
        text_sha256=store.put_text(text),
        kind="html",
        chars=len(text),
        words=len(text.split()),
        url="https://acme.example/policy",
        content_type="text/html",
        **response,
    )
    store.add_check(
        source_id=source_id,
        started_at=stamp,
        duration_ms=150,
        http_status=200,
        bytes=len(text),
        outcome="new_version",
        raw_sha256=raw,
        version=number,
    )
    store.update_source(source_id, status="ok", last_checked=stamp, last_changed=stamp)


def build(config: Config) -> None:
    """Two sources: one with three hostile versions and a task, one failing."""
    with Store.open(config.watcher.state_dir) as store:
        with store.transaction():
            store.upsert_source("acme", url="javascript:alert(4)", lab=LAB, title=TITLE)
            store.upsert_source("other", url="https://other.example/", lab="Other", title="Other")
            # the response headers as a hostile server sent them
            responses: list[dict[str, Any]] = [
                {"http_status": 200, "charset": "windows-1252", "etag": HOSTILE},
                {"http_status": 200, "last_modified": HOSTILE},
                {"charset": "utf-8\r\nx-evil: 1", "snapshot_as_sent": 0},
            ]
            for number, (text, response) in enumerate(zip(TEXTS, responses, strict=True), 1):
                add_version(store, "acme", number, text, number, **response)
            store.update_source(
                "other", status="failing", consecutive_failures=3, last_error=f"boom {HOSTILE}"
            )
            store.add_check(
                source_id="other",
                started_at="2025-03-03T10:00:00Z",
                outcome="failed",
                error=f"boom {HOSTILE}",
            )
        review.record_change(
            store,
            "acme",
            from_version=1,
            to_version=2,
            summary=f"s {HOSTILE}",
            severity="major",
            config=None,
        )
        review.record_change(
            store,
            "acme",
            from_version=1,
            to_version=3,
            summary=f"s {HOSTILE}",
            severity="major",
            config=None,
        )
        review.assign(store, 1, f"rater {HOSTILE}", config=None)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    write_config(tmp_path / "config.toml", [{"id": "acme", "url": "https://acme.example/"}])
    loaded = load_config(tmp_path / "config.toml")
    build(loaded)
    return loaded


@pytest.fixture
def client(config: Config) -> Iterator[TestClient]:
    with TestClient(web.create_app(config, environ={}), base_url="http://127.0.0.1") as c:
        yield c


def csrf(client: TestClient, page: str = "/tasks/1") -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(page).text)
    assert match
    return match.group(1)


HTML_PAGES = [
    "/",
    "/?lab=Other&status=failing",
    "/sources/acme",
    "/sources/other",
    "/sources/acme/diff",
    "/sources/acme/diff?old=1&new=3",
    "/sources/acme/diff?old=1&new=3&view=inline",
    "/sources/acme/diff?old=2&new=2",
    "/tasks",
    "/tasks?status=all&lab=Other",
    "/tasks/1",
    "/sources/acme/versions/3",  # hostile text, title and lab around the cite form
    "/sources/acme/versions/3?quote=%3Cscript%3Ealert(6)%3C%2Fscript%3E",
    f"/labs/{LAB}/criteria",
    "/search",
    "/search?q=audits",
    "/search?q=audits&lab=Other&since=2025-01-01&until=2026-01-01",
    "/search?q=script",
]
FEEDS = ["/feed.atom", f"/labs/{LAB}/feed.atom", "/sources/acme/feed.atom"]
API = [
    "/api/sources",
    "/api/sources/acme/versions/3",
    "/api/sources/acme/diff?old=1&new=3",
    "/api/tasks?status=all",
    "/api/tasks/1",
    "/api/search?q=script",
]


@pytest.mark.parametrize("page", HTML_PAGES)
def test_pages_render_escaped_with_safety_headers(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]  # no scripts at all
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.text
    assert "<script" not in body.lower()
    assert "<img" not in body.lower()
    assert "<b>Labs" not in body
    assert 'href="javascript:' not in body  # a scraped URL never becomes a link


def test_hostile_text_shows_as_text(client: TestClient) -> None:
    body = client.get("/sources/acme/diff?old=1&new=3").text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in body
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in body
    assert "Acme &lt;script&gt;alert(3)&lt;/script&gt; policy" in body


@pytest.mark.parametrize("page", FEEDS)
def test_feeds_are_valid_atom_with_hostile_text_as_text(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert b"<script" not in response.content
    feed = ET.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns) for e in entries] == [
        f"{LAB}: {TITLE} changed (v2 → v3)",
        f"{LAB}: {TITLE} changed (v1 → v2)",
    ]
    link = entries[0].find("a:link", ns)
    assert link is not None
    assert link.get("href") == "http://127.0.0.1/sources/acme/diff?old=2&new=3"
    assert HOSTILE in (entries[0].findtext("a:summary", namespaces=ns) or "")


@pytest.mark.parametrize("page", API)
def test_api_escapes_markup_and_keeps_the_text(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert b"<" not in response.content and b">" not in response.content
    assert "\\u003cscript\\u003e" in response.text
    assert "<script>" in json.dumps(response.json(), ensure_ascii=False)


def test_api_shapes(client: TestClient) -> None:
    sources = client.get("/api/sources").json()["sources"]
    assert {s["id"] for s in sources} == {"acme", "other"}
    acme = next(s for s in sources if s["id"] == "acme")
    assert acme["versions"] == 3 and acme["open_task"] == 1 and acme["lab"] == LAB

    history = client.get("/api/sources/acme/versions").json()
    assert [v["number"] for v in history["versions"]] == [1, 2, 3]
    assert set(history["versions"][0]) >= {"number", "captured_at", "words", "text_sha256"}

    version = client.get("/api/sources/acme/versions/1").json()
    assert version["text"] == TEXTS[0] and version["content_type"] == "text/html"

    tasks = client.get("/api/tasks").json()["tasks"]
    assert [(t["id"], t["status"], t["severity"], t["lab"]) for t in tasks] == [
        (1, "open", "major", LAB)
    ]
    task = client.get("/api/tasks/1").json()
    assert (task["from_version"], task["to_version"]) == (1, 3)
    assert [e["action"] for e in task["events"]] == ["opened", "extended", "assigned"]

    data = client.get("/api/sources/acme/diff?old=1&new=3").json()
    assert (data["old"]["number"], data["new"]["number"]) == (1, 3)
    assert data["change"]["hunks"][0]["heading_path"] == ["Policy"]
    assert data["summary"].startswith("+")
    same = client.get("/api/sources/acme/diff?old=2&new=2").json()
    assert same["change"] is None


def test_raw_snapshot_is_a_sandboxed_download(client: TestClient) -> None:
    response = client.get("/sources/acme/versions/1/raw")
    assert response.status_code == 200
    # with the charset the server named, so the download reads as the check read it
    assert response.headers["content-type"] == "text/html; charset=windows-1252"
    bad = client.get("/sources/acme/versions/3/raw")  # a charset that is not a plain token
    assert bad.headers["content-type"] == "text/html; charset=utf-8"
    assert "x-evil" not in bad.headers
    assert response.headers["content-disposition"] == 'attachment; filename="acme-v1.html"'
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content.startswith(b"<html><body># Policy")

    text = client.get("/sources/acme/versions/1/text")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["content-security-policy"].startswith("sandbox")
    assert text.text == TEXTS[0]


def test_source_page_shows_each_snapshot_response_escaped(client: TestClient) -> None:
    html = client.get("/sources/acme").text
    escaped = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt; &lt;script&gt;alert(2)&lt;/script&gt;"
    assert f"HTTP 200 · text/html; charset=windows-1252 · ETag {escaped}" in html
    assert f"Last-Modified {escaped}" in html
    assert "<img src=x" not in html
    raw = hashlib.sha256(f"<html><body>{TEXTS[0]}</body></html>".encode()).hexdigest()
    assert f"sha256 {raw[:12]}" in html
    assert "snapshot not verified as sent (older record)" in html


@pytest.mark.parametrize(
    ("page", "status"),
    [
        ("/nowhere", 404),
        ("/sources/nope", 404),
        ("/sources/nope/diff", 404),
        ("/sources/acme/diff?old=1&new=9", 404),
        ("/sources/acme/diff?old=x", 400),
        ("/search?q=a&since=yesterday", 400),
        ("/sources/acme/versions/9/raw", 404),
        ("/tasks/99", 404),
        ("/tasks/abc", 404),
        ("/labs/Nobody/feed.atom", 404),
        ("/sources/nope/feed.atom", 404),
    ],
)
def test_errors_are_plain_pages(client: TestClient, page: str, status: int) -> None:
    response = client.get(page)
    assert response.status_code == status
    assert "Traceback" not in response.text
    assert "<h1>" in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("page", ["/api/tasks/99", "/api/sources/nope/versions", "/api/nothing"])
def test_api_errors_are_json(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_server_error_has_no_stack_trace(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(queries, "overview", broken)
    app = web.create_app(config, environ={})
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        response = c.get("/")
    assert response.status_code == 500
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]


# --- task actions ---------------------------------------------------------------


def test_close_with_note_and_csrf(client: TestClient, config: Config) -> None:
    token = csrf(client)
    response = client.post(
        "/tasks/1/close",
        data={"csrf_token": token, "note": "grade 2.2 → 1.9"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/tasks/1"
    with Store.open(config.watcher.state_dir) as store:
        task = store.task(1)
        assert (task["status"], task["note"]) == ("closed", "grade 2.2 → 1.9")
        assert store.events(1)[-1]["actor"] == "dashboard"
    page = client.get("/tasks/1").text
    assert "grade 2.2 → 1.9" in page and "Reopen task" in page


@pytest.mark.parametrize("action", ["close", "dismiss"])
def test_close_and_dismiss_need_a_note(client: TestClient, config: Config, action: str) -> None:
    response = client.post(f"/tasks/1/{action}", data={"csrf_token": csrf(client), "note": "  "})
    assert response.status_code == 409
    assert "a note is required" in response.text
    with Store.open(config.watcher.state_dir) as store:
        assert store.task(1)["status"] == "open"


def test_assign_dismiss_reopen(client: TestClient, config: Config) -> None:
    token = csrf(client)
    assert (
        client.post("/tasks/1/assign", data={"csrf_token": token, "who": "ana"}).status_code == 200
    )
    assert (
        client.post("/tasks/1/dismiss", data={"csrf_token": token, "note": "typo fix"}).status_code
        == 200
    )
    assert client.post("/tasks/1/reopen", data={"csrf_token": token}).status_code == 200
    with Store.open(config.watcher.state_dir) as store:
        task = store.task(1)
        assert (task["status"], task["assignee"]) == ("open", "ana")
        assert [e["action"] for e in store.events(1)][-3:] == ["assigned", "dismissed", "reopened"]


def test_reopen_refused_while_another_task_is_open(client: TestClient, config: Config) -> None:
    token = csrf(client)
    client.post("/tasks/1/close", data={"csrf_token": token, "note": "done"})
    with Store.open(config.watcher.state_dir) as store:
        add_version(store, "acme", 4, TEXTS[0], 4)
        review.record_change(
            store, "acme", from_version=3, to_version=4, summary="back", config=None
        )
    response = client.post("/tasks/1/reopen", data={"csrf_token": token})
    assert response.status_code == 409
    assert "already has open task 2" in response.text


@pytest.mark.parametrize(
    "token",
    [None, "", "0" * 64, "not-hex"],
    ids=["missing", "empty", "wrong", "garbage"],
)
def test_actions_refused_without_a_valid_csrf_token(
    client: TestClient, config: Config, token: str | None
) -> None:
    csrf(client)  # the browser has its cookie, but the form does not carry its token
    data = {"note": "closing"} | ({"csrf_token": token} if token is not None else {})
    response = client.post("/tasks/1/close", data=data)
    assert response.status_code == 403
    with Store.open(config.watcher.state_dir) as store:
        assert store.task(1)["status"] == "open"


def test_token_from_another_browser_is_refused(config: Config) -> None:
    app = web.create_app(config, environ={})
    with (
        TestClient(app, base_url="http://127.0.0.1") as alice,
        TestClient(app, base_url="http://127.0.0.1") as mallory,
    ):
        stolen = csrf(mallory)
        csrf(alice)
        response = alice.post("/tasks/1/close", data={"csrf_token": stolen, "note": "x"})
    assert response.status_code == 403


def test_cross_origin_post_is_refused(client: TestClient) -> None:
    response = client.post(
        "/tasks/1/close",
        data={"csrf_token": csrf(client), "note": "x"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("action", ["assign", "close", "dismiss", "reopen"])
def test_actions_refuse_get(client: TestClient, action: str) -> None:
    response = client.get(f"/tasks/1/{action}?note=x&who=x")
    assert response.status_code == 405


# --- search ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ['"', "AND OR", "*", "NEAR(", "a:b", "^x", "(", "-x", 'a"b', "NOT", "' OR 1=1 --"]
)
def test_search_survives_fts_syntax(client: TestClient, query: str) -> None:
    assert client.get("/search", params={"q": query}).status_code == 200
    assert client.get("/api/search", params={"q": query}).status_code == 200


def test_search_says_when_a_phrase_appeared_and_disappeared(client: TestClient) -> None:
    data = client.get("/api/search", params={"q": '"third-party audits"'}).json()
    [result] = data["results"]
    assert result["source"] == "acme"
    assert (result["first"]["number"], result["last"]["number"]) == (1, 2)
    assert result["gone_in"]["number"] == 3 and not result["still_present"]
    assert result["numbers"] == [1, 2]
    assert {"text": "third-party audits", "match": True} in result["snippet"]

    page = client.get("/search", params={"q": '"third-party audits"'}).text
    assert "Gone since" in page and "/sources/acme/diff?old=2&amp;new=3" in page
    assert "<mark>third-party audits</mark>" in page

    hostile = client.get("/search", params={"q": "script"}).text
    assert "<mark>script</mark>" in hostile and "&lt;<mark>script</mark>&gt;" in hostile


@pytest.mark.parametrize(
    ("params", "sources"),
    [
        ({"q": "audits"}, ["acme"]),
        ({"q": "audits", "lab": "Other"}, []),
        ({"q": "audits", "source": "acme"}, ["acme"]),
        ({"q": "audits", "since": "2025-03-03"}, ["acme"]),
        ({"q": "audits", "until": "2025-03-01"}, []),
        ({"q": "nothing-like-this"}, []),
    ],
)
def test_search_filters(client: TestClient, params: dict[str, str], sources: list[str]) -> None:
    results = client.get("/api/search", params=params).json()["results"]
    assert [r["source"] for r in results] == sources


def test_index_catches_up_with_new_versions(config: Config) -> None:
    with Store.open(config.watcher.state_dir) as store:
        assert store.index_versions() == 3
        assert store.index_versions() == 0
        add_version(store, "acme", 4, TEXTS[2] + "\nIndependent oversight board.", 4)
        assert store.index_versions() == 1
        assert store.search_versions('"oversight board"')[0]["first"] == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("audits", '"audits"'),
        ("third-party audits", '"third-party" "audits"'),
        ('"third-party audits"', '"third-party audits"'),
        ('say "hi', '"say" "hi"'),
        ("AND OR", '"AND" "OR"'),
        ('a"b', '"a""b"'),
        ("   ", ""),
        ('""', ""),
    ],
)
def test_fts_query_quotes_everything(text: str, expected: str) -> None:
    assert queries.fts_query(text) == expected


def test_snippet_parts() -> None:
    start, end = queries.SNIPPET_MARKS
    assert queries.snippet_parts(f"a {start}b{end} c {start}d{end}") == [
        ("a ", False),
        ("b", True),
        (" c ", False),
        ("d", True),
    ]


# --- the diff view --------------------------------------------------------------


def test_side_by_side_rows_split_word_marks_per_side() -> None:
    old = "# T\nkeep\nWe commit to audits.\nafter"
    new = "# T\nkeep\nWe expect audits.\nafter"
    change = diff(old, new)
    assert change is not None
    view = diffview.build(change, new)
    [hunk] = view.hunks
    rows = [(r.kind, r.old_number, r.new_number) for r in hunk.rows]
    assert rows == [("context", 1, 1), ("context", 2, 2), ("change", 3, 3), ("context", 4, 4)]
    changed = hunk.rows[2]
    assert changed.old is not None and changed.new is not None
    assert [(p.op, p.text) for p in changed.old] == [
        ("equal", "We "),
        ("delete", "commit to"),
        ("equal", " "),
        ("equal", "audits."),
    ]
    assert [(p.op, p.text) for p in changed.new] == [
        ("equal", "We "),
        ("insert", "expect"),
        ("equal", " "),
        ("equal", "audits."),
    ]
    assert [line.mark for line in hunk.inline] == [" ", " ", "~", " "]
    assert view.sections[0].path == "T"


def test_long_diffs_are_paged(client: TestClient, config: Config) -> None:
    old = "\n".join(f"line {n} stays" for n in range(300))
    new = "\n".join(f"line {n} {'stays' if n % 2 else 'moved away'}" for n in range(300))
    change = diff(old, new)
    assert change is not None
    first = diffview.build(change, new, per_page=100)
    last = diffview.build(change, new, page=99, per_page=100)
    assert (first.pages, last.page, first.total_hunks) == (2, 2, 150)
    assert last.hunks[0].anchor == "h101" and last.first_number == 101


def test_control_and_bidi_characters_are_shown_not_obeyed(config: Config) -> None:
    with Store.open(config.watcher.state_dir) as store, store.transaction():
        store.upsert_source("bidi", url="https://bidi.example/", lab="Lab", title="Rule\u202eevil")
        add_version(store, "bidi", 1, "# Head\u2066x\nOld line.", 1)
        add_version(store, "bidi", 2, "# Head\u2066x\nNew \x1b[2J line\u202e.", 2)
    with TestClient(web.create_app(config, environ={}), base_url="http://127.0.0.1") as client:
        for page in ("/", "/sources/bidi", "/sources/bidi/diff", "/sources/bidi/diff?view=inline"):
            body = client.get(page).text
            assert "Rule\\u202eevil" in body, page
            assert not re.search("[\x1b\u202e\u2066]", body), page
        diff_page = client.get("/sources/bidi/diff").text
        assert "Head\\u2066x" in diff_page and "\\x1b[2J" in diff_page
        feed = client.get("/sources/bidi/feed.atom").text
        assert "Rule\\u202eevil" in feed and "\u202e" not in feed


# --- safety: hosts and authentication -------------------------------------------


def test_loopback_refuses_foreign_host_headers(client: TestClient) -> None:
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8765"}).status_code == 200


def test_binding_beyond_loopback_needs_a_token(config: Config) -> None:
    with pytest.raises(ConfigError, match="auth_token_env"):
        web.create_app(config, host="0.0.0.0", environ={})


def _with_token(tmp_path: Path) -> Config:
    write_config(tmp_path / "config.toml", [{"id": "acme", "url": "https://acme.example/"}])
    text = (tmp_path / "config.toml").read_text()
    (tmp_path / "config.toml").write_text(
        text + '\n[dashboard]\nhost = "0.0.0.0"\nauth_token_env = "DASH_TOKEN"\n'
    )
    loaded = load_config(tmp_path / "config.toml")
    build(loaded)
    return loaded


def test_configured_token_must_be_set(tmp_path: Path) -> None:
    config = _with_token(tmp_path)
    with pytest.raises(ConfigError, match="DASH_TOKEN"):
        web.create_app(config, environ={"DASH_TOKEN": ""})


def test_auth_by_bearer_basic_or_login(tmp_path: Path) -> None:
    config = _with_token(tmp_path)
    app = web.create_app(config, environ={"DASH_TOKEN": "s3cret"})
    with TestClient(app, base_url="http://dash.example") as c:
        assert c.get("/api/sources").status_code == 401
        assert c.get("/feed.atom").status_code == 401
        assert c.post("/tasks/1/close", data={"note": "x"}).status_code == 401
        page = c.get("/tasks/1", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/tasks/1"
        assert c.get("/static/style.css").status_code == 200

        bearer = {"authorization": "Bearer s3cret"}
        assert c.get("/api/sources", headers=bearer).status_code == 200
        wrong = {"authorization": "Bearer nope"}
        assert c.get("/api/sources", headers=wrong).status_code == 401
        basic = {"authorization": "Basic " + base64.b64encode(b"reader:s3cret").decode()}
        assert c.get("/feed.atom", headers=basic).status_code == 200

        token = csrf(c, "/login")
        refused = c.post("/login", data={"csrf_token": token, "token": "nope", "next": "/"})
        assert refused.status_code == 401
        login = c.post(
            "/login",
            data={"csrf_token": token, "token": "s3cret", "next": "/tasks/1"},
            follow_redirects=False,
        )
        assert login.status_code == 303 and login.headers["location"] == "/tasks/1"
        assert "s3cret" not in login.headers["set-cookie"]
        assert "httponly" in login.headers["set-cookie"].lower()
        assert c.get("/tasks/1").status_code == 200


def test_login_never_redirects_elsewhere(tmp_path: Path) -> None:
    config = _with_token(tmp_path)
    app = web.create_app(config, environ={"DASH_TOKEN": "s3cret"})
    with TestClient(app, base_url="http://dash.example") as c:
        token = csrf(c, "/login")
        login = c.post(
            "/login",
            data={"csrf_token": token, "token": "s3cret", "next": "//evil.example/"},
            follow_redirects=False,
        )
        assert login.headers["location"] == "/"


# --- serving for real -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_on_loopback_and_stops_when_cancelled(config: Config) -> None:
    port = _free_port()

    async def scenario() -> tuple[int, str]:
        task = asyncio.create_task(web.serve(config, host="127.0.0.1", port=port))
        try:
            async with httpx.AsyncClient() as http:
                for _ in range(100):
                    try:
                        response = await http.get(f"http://127.0.0.1:{port}/tasks/1")
                        break
                    except httpx.ConnectError:
                        await asyncio.sleep(0.05)
                else:
                    raise AssertionError("the dashboard never answered")
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return response.status_code, response.text

    status, body = asyncio.run(scenario())
    assert status == 200 and "Task #1" in body
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))


def test_serve_reports_a_busy_port(config: Config) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(Exception, match=f"cannot listen on 127.0.0.1:{port}"):
            asyncio.run(web.serve(config, host="127.0.0.1", port=port))


# --- a lineage: one policy across files ------------------------------------------------


@pytest.fixture
def lineage_client(env: Env, site: Site) -> Iterator[tuple[TestClient, str, str]]:
    """The dashboard over a real check: v2.1.pdf swapped for v2.2.pdf on a landing page."""
    old, new = swapped(env, site)
    with TestClient(web.create_app(env.write(), environ={}), base_url="http://127.0.0.1") as c:
        yield c, old, new


def test_a_lineage_reads_as_one_history_on_each_source_page(
    lineage_client: tuple[TestClient, str, str], site: Site
) -> None:
    client, old, new = lineage_client
    for member in (old, new):
        page = client.get(f"/sources/{member}")
        assert page.status_code == 200
        section = page.text.split('id="lineage"', 1)[1].split("</table>", 1)[0]
        assert "2 files: 2 versions" in section
        # newest first: v2 (the new file, with its URL) then v1
        assert section.index(site.url("/rsp-v2.2.pdf")) < section.index(site.url("/rsp-v2.1.pdf"))
        assert f"({new} v1)" in section and f"({old} v1)" in section
        link = f'/compare?old={old}%401&amp;new={new}%401"'
        assert link in section and "new file: v1 → v2" in section
    # a source alone has no lineage section
    assert 'id="lineage"' not in client.get("/sources/acme-rsp").text


def test_compare_across_sources_page_and_json(
    lineage_client: tuple[TestClient, str, str],
) -> None:
    client, old, new = lineage_client
    page = client.get(f"/compare?old={old}@1&new={new}@1")
    assert page.status_code == 200
    assert "commitment weakened" in page.text and "<del>" in page.text
    # both pickers list every version of the lab's sources, the two sides selected
    assert f'<option value="{old}@1" selected>' in page.text
    assert f'<option value="{new}@1" selected>' in page.text
    assert page.text.count('<option value="acme-rsp@1"') == 2
    inline = client.get(f"/compare?old={old}@1&new={new}@1&view=inline")
    assert inline.status_code == 200 and 'class="lines"' in inline.text

    data = client.get(f"/api/compare?old={old}@1&new={new}@1").json()
    assert (data["old"]["source"], data["new"]["source"]) == (old, new)
    assert data["change"]["hunks"]
    # the form alone, with a lab picked
    assert "Pick versions" in client.get("/compare").text
    assert f'value="{new}@1"' in client.get("/compare?lab=Acme").text


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("old=acme-rsp@x&new=acme-rsp@1", 400, "the version after @ must be a number"),
        ("old=acme-rsp@1", 400, "compare two sides"),
        ("old=nope@1&new=acme-rsp@1", 404, "nope"),
        ("old=acme-rsp@9&new=acme-rsp@1", 404, ""),
    ],
)
def test_compare_refuses_bad_sides_clearly(
    lineage_client: tuple[TestClient, str, str], query: str, status: int, message: str
) -> None:
    client, _, _ = lineage_client
    page = client.get(f"/compare?{query}")
    assert page.status_code == status and message in page.text
    assert "Traceback" not in page.text
    api = client.get(f"/api/compare?{query}")
    assert api.status_code == status and api.json()["status"] == status


def test_the_task_page_shows_the_superseding_files_diff(
    lineage_client: tuple[TestClient, str, str], env: Env
) -> None:
    client, old, new = lineage_client
    [task] = env.store.tasks()
    page = client.get(f"/tasks/{task['id']}")
    assert page.status_code == 200
    across = page.text.split("supersedes", 1)[1]
    assert f"/compare?old={old}@1&amp;new={new}@1&amp;view=side" in page.text
    assert "commitment weakened" in across and "<del>" in across


def test_a_rater_unlinks_and_links_from_the_dashboard(
    lineage_client: tuple[TestClient, str, str], env: Env
) -> None:
    client, old, new = lineage_client
    [task] = env.store.tasks()
    token = csrf(client, f"/sources/{new}")
    refused = client.post(f"/sources/{new}/unlink", data={"csrf_token": "x"})
    assert refused.status_code == 403 and env.store.source(new)["supersedes"] == old  # type: ignore[index]

    done = client.post(f"/sources/{new}/unlink", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/sources/{new}"
    assert env.store.source(new)["supersedes"] is None  # type: ignore[index]
    assert 'id="lineage"' not in client.get(f"/sources/{new}").text
    shown = queries.task(env.store, task["id"])
    assert shown["events"][-1]["actor"] == "dashboard"
    assert f"not a new version of {old}" in shown["summary"]
    # nothing left to unlink: the page again with the reason, nothing changed
    again = client.post(f"/sources/{new}/unlink", data={"csrf_token": token})
    assert again.status_code == 409 and "supersedes nothing" in again.text

    linked = client.post(
        f"/sources/{new}/link", data={"csrf_token": token, "old": old}, follow_redirects=False
    )
    assert linked.status_code == 303
    assert env.store.source(new)["lineage_decision"] == "rater"  # type: ignore[index]
    assert "commitment_weakened" in {
        s["kind"] for s in queries.task(env.store, task["id"])["signals"]
    }
    # a loop is refused with the loop named; an unknown document too
    loop = client.post(f"/sources/{old}/link", data={"csrf_token": token, "old": new})
    assert loop.status_code == 409 and "would make a loop" in loop.text
    unknown = client.post(f"/sources/{new}/link", data={"csrf_token": token, "old": "nope"})
    assert unknown.status_code == 409 and "nope" in unknown.text
    empty = client.post(f"/sources/{new}/link", data={"csrf_token": token, "old": ""})
    assert empty.status_code == 409 and "pick the document" in empty.text
    assert client.post("/sources/nope/unlink", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/sources/{new}/unlink").status_code == 405


def test_search_reads_a_lineage_as_one_history(
    lineage_client: tuple[TestClient, str, str],
) -> None:
    client, old, new = lineage_client
    # the old file's commitment is gone since the new file
    [gone] = client.get("/api/search", params={"q": '"We commit to pause training"'}).json()[
        "results"
    ]
    assert gone["lineage"] == [old, new] and gone["source"] == new
    assert (gone["first"]["source"], gone["first"]["step"]) == (old, 1)
    assert (gone["last"]["source"], gone["last"]["step"]) == (old, 1)
    assert (gone["gone_in"]["source"], gone["gone_in"]["step"]) == (new, 2)
    assert not gone["still_present"] and gone["numbers"] == [1] and gone["latest"] == 2
    page = client.get("/search", params={"q": '"We commit to pause training"'}).text
    assert "Gone since" in page and f"v2 ({new} v1)" in page
    assert f"/compare?old={old}%401&amp;new={new}%401" in page

    # the new file's wording first appeared in it, and is still there
    [new_words] = client.get("/api/search", params={"q": f'"{EXPECT}"'}).json()["results"]
    assert new_words["first"]["source"] == new and new_words["still_present"]
    assert new_words["gone_in"] is None and new_words["numbers"] == [2]

    # words in both files: one result for the policy, not one per file
    results = client.get("/api/search", params={"q": "Responsible Scaling"}).json()["results"]
    policy = [r for r in results if r["lineage"] == [old, new]]
    assert len(policy) == 1 and policy[0]["numbers"] == [1, 2] and policy[0]["still_present"]
    assert all(r["source"] != old for r in results)
    # a source filter covers its lineage
    [only] = client.get("/api/search", params={"q": f'"{EXPECT}"', "source": old}).json()["results"]
    assert only["source"] == new


def test_feeds_read_a_lineage_as_one_history(
    lineage_client: tuple[TestClient, str, str], env: Env
) -> None:
    client, old, new = lineage_client
    [task] = env.store.tasks()
    atom = "{http://www.w3.org/2005/Atom}"
    for page in (f"/sources/{old}/feed.atom", f"/sources/{new}/feed.atom", "/feed.atom"):
        feed = ET.fromstring(client.get(page).content)
        entries = feed.findall(f"{atom}entry")
        [entry] = [e for e in entries if f":{new}:1" in (e.findtext(f"{atom}id") or "")]
        assert f"new file, after {old} v1" in (entry.findtext(f"{atom}title") or "")
        link = entry.find(f"{atom}link")
        assert link is not None and f"/compare?old={old}@1&new={new}@1" in link.get("href", "")
        summary = entry.findtext(f"{atom}summary") or ""
        assert f"Task #{task['id']}" in summary and "→" in summary


# --- citations: criteria on the task page, per lab, and the cite form ---------------------

THRESHOLD = "a 50% aggregate success rate on the tasks listed in the appendix"
REVIEW = "independent validation of our controls by a third party every year"
EVIL = "<script>alert(5)</script>"


@pytest.fixture
def cited_client(env: Env, site: Site) -> Iterator[tuple[TestClient, Env, Site]]:
    """A real pass over a page, two citations (one hostile), then a change that touches them."""
    hostile = SECTIONS.replace("The board reviews", f"The {html.escape(EVIL)} board reviews")
    site.set("/rsp", policy_page(hostile))
    env.sources = [html_source(site)]
    env.check()
    criteria.add(env.store, "acme-rsp", criterion="Risk thresholds", quote=THRESHOLD)
    criteria.add(env.store, "acme-rsp", criterion="External review", quote=REVIEW)
    criteria.add(
        env.store,
        "acme-rsp",
        criterion=f"Governance {EVIL}",
        quote=f"The {EVIL} board reviews this policy",
        note=f"note {EVIL}",
    )
    changed = hostile.replace("a 50% aggregate success rate", "a meaningful uplift").replace(
        ", and\nindependent validation of our controls by a third party every year", ""
    )
    site.set("/rsp", policy_page(changed))
    env.check()
    with TestClient(web.create_app(env.write(), environ={}), base_url="http://127.0.0.1") as c:
        yield c, env, site


def test_the_task_page_lists_the_affected_criteria(
    cited_client: tuple[TestClient, Env, Site],
) -> None:
    client, env, _ = cited_client
    [task] = env.store.tasks("open")
    body = client.get(f"/tasks/{task['id']}").text
    section = body.split('id="criteria"', 1)[1].split("</table>", 1)[0]
    assert "Affects 2 graded criteria" in section
    rows = section.split("<tr>")[2:]
    assert "External review" in rows[0] and "cite-gone" in rows[0]
    assert "Risk thresholds" in rows[1] and "cite-changed" in rows[1]
    # the old quote, then the new passage
    assert rows[1].index("50% aggregate success rate") < rows[1].index("meaningful uplift")
    assert "Governance" not in section  # untouched: not listed
    assert EVIL not in body


def test_the_lab_criteria_page_shows_each_citation_with_its_evidence(
    cited_client: tuple[TestClient, Env, Site],
) -> None:
    client, env, _ = cited_client
    lab = env.store.require_source("acme-rsp")["lab"]
    overview = client.get("/").text
    assert f'href="/labs/{lab}/criteria"' in overview
    response = client.get(f"/labs/{lab.upper()}/criteria")  # a lab's name in any case
    assert response.status_code == 200
    body = response.text
    assert EVIL not in body and html.escape(EVIL) in body  # criterion, quote and note
    groups = body.split("<tbody>")[1:]
    assert [g.split("</th>", 1)[0].rsplit(">", 1)[1] for g in groups] == [
        "External review",
        f"Governance {html.escape(EVIL)}",
        "Risk thresholds",
    ]
    risk = groups[2]
    assert "cite-changed" in risk and "meaningful uplift" in risk
    assert '/sources/acme-rsp/diff?old=1&amp;new=2"' in risk
    # intact in v2: one quote, no new passage
    assert "cite-intact" in groups[1] and "→ <q" not in groups[1] and "→ <q" in risk
    assert "1 <span" in body.split("</p>", 2)[1]  # counts per status
    missing = client.get("/labs/No%20such%20lab/criteria")
    assert missing.status_code == 404 and "No such lab" in missing.text


def test_a_lab_without_citations_says_how_to_cite(client: TestClient) -> None:
    body = client.get("/labs/Other/criteria").text
    assert "No citations for this lab yet" in body


def _cite(client: TestClient, page: str, **fields: str) -> httpx.Response:
    token = csrf(client, page)
    action = page.split("?", 1)[0].split("#", 1)[0] + "/cite"
    return client.post(action, data={"csrf_token": token, **fields}, follow_redirects=False)


def test_a_rater_cites_a_passage_from_the_version_page(
    cited_client: tuple[TestClient, Env, Site],
) -> None:
    client, env, _ = cited_client
    lab = env.store.require_source("acme-rsp")["lab"]
    prefill = f"</textarea>{EVIL}"
    page = client.get(f"/sources/acme-rsp/versions/2?quote={quote_url(prefill)}")
    assert page.status_code == 200
    body = page.text
    assert EVIL not in body and "Two-party control for model weights." in body  # the text
    assert f'name="quote" required>{html.escape(prefill, quote=False)}</textarea>' in body.replace(
        "&#34;", '"'
    ).replace("&#39;", "'")
    assert '<option value="Risk thresholds">' in body  # the lab's criteria, suggested
    quote = "Two-party control for model weights"
    sent = _cite(
        client, "/sources/acme-rsp/versions/2", quote=quote, criterion="Security", note="grade 3"
    )
    assert sent.status_code == 303
    citation = env.store.citations(lab=lab)[-1]
    assert sent.headers["location"].endswith(f"/criteria#citation-{citation['id']}")
    assert (citation["criterion"], citation["version"], citation["note"]) == (
        "Security",
        2,
        "grade 3",
    )
    [event] = env.store.citation_events(citation["id"])
    assert event["actor"] == "dashboard"
    listed = client.get(sent.headers["location"]).text
    assert f'id="citation-{citation["id"]}"' in listed and quote in listed
    # each link of the criteria page leads somewhere
    for link in set(re.findall(r'href="(/sources/[^"#]+)"', listed)):
        assert client.get(html.unescape(link)).status_code == 200, link
    # an older version's page points to the latest for citing
    old = client.get("/sources/acme-rsp/versions/1").text
    assert 'action="/sources/acme-rsp/versions/1/cite"' not in old
    assert 'href="/sources/acme-rsp/versions/2#cite"' in old


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"quote": f"we will never {EVIL} deploy anything", "criterion": "X"}, "quote not found"),
        ({"quote": THRESHOLD.replace("50%", "40%"), "criterion": "X"}, "quote not found"),
        ({"quote": "The board reviews this policy", "criterion": ""}, "needs a criterion"),
        (
            {
                "quote": "Two-party control for model weights",
                "criterion": "Governance <script>alert(5)</script>",
            },
            None,
        ),
    ],
)
def test_a_refused_citation_shows_the_form_again_with_the_reason(
    cited_client: tuple[TestClient, Env, Site], fields: dict[str, str], expected: str | None
) -> None:
    client, env, _ = cited_client
    before = len(env.store.citations())
    page = "/sources/acme-rsp/versions/2"
    sent = _cite(client, page, note=f"n {EVIL}", **fields)
    if expected is None:  # first time accepted; the same again is a duplicate
        assert sent.status_code == 303
        before += 1
        sent = _cite(client, page, note=f"n {EVIL}", **fields)
        expected = "already cited"
    assert sent.status_code == 409
    box = sent.text.split('role="alert">', 1)[1].split("</p>", 1)[0]
    assert expected in box
    assert EVIL not in sent.text
    # the rater's input is kept, escaped
    assert f"n {html.escape(EVIL)}</textarea>" in sent.text
    assert len(env.store.citations()) == before


def test_a_quote_found_twice_asks_for_the_section(env: Env, site: Site) -> None:
    twice = SECTIONS.replace(
        "<h2>3. Governance</h2>",
        "<p>Insider risk programme for all staff.</p><h2>3. Governance</h2>",
    ).replace(
        "publishes the outcome.</p>",
        "publishes the outcome.</p><p>Insider risk programme for all staff.</p>",
    )
    site.set("/rsp", policy_page(twice))
    env.sources = [html_source(site)]
    env.check()
    with TestClient(web.create_app(env.write(), environ={}), base_url="http://127.0.0.1") as client:
        page = "/sources/acme-rsp/versions/1"
        fields = {"quote": "Insider risk programme for all staff", "criterion": "Insiders"}
        refused = _cite(client, page, **fields)
        assert refused.status_code == 409
        assert "found 2 times" in refused.text and "the Section field" in refused.text
        assert _cite(client, page, section="Governance", **fields).status_code == 303
        assert env.store.citations()[0]["criterion"] == "Insiders"


def test_citing_needs_a_csrf_token_and_the_latest_version(
    cited_client: tuple[TestClient, Env, Site],
) -> None:
    client, env, _ = cited_client
    fields = {"quote": "Two-party control for model weights", "criterion": "Security"}
    csrf(client, "/sources/acme-rsp/versions/2")  # the browser has its cookie
    for token in ({}, {"csrf_token": "0" * 64}):
        refused = client.post("/sources/acme-rsp/versions/2/cite", data={**fields, **token})
        assert refused.status_code == 403
    assert client.get("/sources/acme-rsp/versions/2/cite").status_code == 405
    token = csrf(client, "/sources/acme-rsp/versions/2")
    stale = client.post(  # a page left open while a new version came
        "/sources/acme-rsp/versions/1/cite", data={"csrf_token": token, **fields}
    )
    assert stale.status_code == 409 and "no longer the latest" in stale.text
    missing = client.post("/sources/acme-rsp/versions/9/cite", data={"csrf_token": token, **fields})
    assert missing.status_code == 404
    assert client.get("/sources/nope/versions/1").status_code == 404
    assert len(env.store.citations()) == 3


def test_a_version_shows_the_words_it_added_and_removed_not_a_net_count(
    tmp_path: Path, lineage_client: tuple[TestClient, str, str]
) -> None:
    """An edit of +16/−12 words is not "+4 words"."""
    write_config(tmp_path / "config.toml", [{"id": "edit", "url": "https://acme.example/"}])
    config = load_config(tmp_path / "config.toml")
    head, tail = "We review the policy every year.\n", "\nWe publish the results."
    before = head + " ".join(f"old{i}" for i in range(12)) + tail
    after = head + " ".join(f"new{i}" for i in range(16)) + tail
    with Store.open(config.watcher.state_dir) as store, store.transaction():
        store.upsert_source("edit", url="https://acme.example/", lab="Acme", title="Edit")
        add_version(store, "edit", 1, before, 1)
        add_version(store, "edit", 2, after, 2)
    with TestClient(web.create_app(config, environ={}), base_url="http://127.0.0.1") as client:
        page = client.get("/sources/edit").text
        assert "+16 −12 words" in page and "+4 words" not in page
    with Store.open(config.watcher.state_dir) as store:
        [v2, v1] = queries.source_detail(store, "edit")["versions"]
        assert (v2["words_added"], v2["words_removed"], v2["words_delta"]) == (16, 12, 4)
        assert v1["words_added"] is None and v1["words_removed"] is None
    # across the files of a lineage too
    lineage, _, new = lineage_client
    section = lineage.get(f"/sources/{new}").text.split('id="lineage"', 1)[1]
    assert re.search(r"new file: v1 → v2, \+\d+ −\d+ words</a>", section)


def test_a_one_word_version_reads_one_word_in_the_feed_and_pages(config: Config) -> None:
    with Store.open(config.watcher.state_dir) as store:
        store.upsert_source("one", url="https://one.example/", lab="One", title="One")
        add_version(store, "one", 1, "Policy rewritten", 4)
        add_version(store, "one", 2, "Policy", 5)
    with TestClient(web.create_app(config, environ={}), base_url="http://127.0.0.1") as c:
        feed = ET.fromstring(c.get("/sources/one/feed.atom").content)
        ns = {"a": "http://www.w3.org/2005/Atom"}
        summaries = [e.findtext("a:summary", namespaces=ns) for e in feed.findall("a:entry", ns)]
        assert summaries == ["2 → 1 word."]
        page = c.get("/sources/one/versions/2").text
        assert "1 word<" in page and "1 words" not in page
