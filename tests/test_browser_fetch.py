"""Fetching in a real headless Chromium, and each source's own request settings.

The pages are served on loopback by pytest-httpserver: one writes its policy
with JavaScript, one answers a bot challenge to clients that are not a
browser (by their User-Agent, with status 200, 403 or 503), and hostile ones
that hang, navigate away, open dialogs, load 500 MB of media or lose their
renderer. The browser is Debian's `chromium` (/usr/bin/chromium), never a
downloaded one: those tests skip when it or the playwright package is
missing (`.ci/run` installs chromium when it can).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import Env
from tests.pdfs import make_pdf
from watcher.browser import Browser, BrowserSettings, find_chromium
from watcher.cli import main as cli
from watcher.errors import BrowserError, HTTPStatusError
from watcher.fetch import Fetcher, FetchSettings, request_headers

CHROMIUM = Path("/usr/bin/chromium")


def _skip_without_chromium() -> None:
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")


POLICY = (
    "<h1>Frontier Safety Policy</h1>"
    "<h2>1. Thresholds</h2><p>We commit to pausing training when a model reaches the "
    "critical capability level defined in the appendix, and to publishing our evaluations.</p>"
    "<h2>2. Governance</h2><p>The board reviews this policy at least once a year and "
    "publishes every revision with a summary of what changed and why.</p>"
)
# The policy exists only once the script has run (a little later than load).
JS_PAGE = (
    "<!doctype html><html><head><title>Policy</title></head><body>"
    '<main id="policy"></main><noscript>You need to enable JavaScript to run this app.'
    "</noscript><script>setTimeout(function () {"
    f"document.getElementById('policy').innerHTML = {json.dumps(POLICY)};"
    "}, 200);</script></body></html>"
)
CHALLENGE = (
    "<!doctype html><html><head><title>Just a moment...</title></head><body>"
    '<div id="challenge-form"><p>Checking your browser before accessing the site.</p>'
    "<p>Enable JavaScript and cookies to continue.</p></div></body></html>"
)
STATIC = f"<!doctype html><html><head><title>Policy</title></head><body><main>{POLICY}</main></body></html>"

Handler = Callable[[Request], Response]


class Server:
    """A loopback site of handlers by path, recording each request's path and headers."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.server = httpserver
        self.handlers: dict[str, Handler] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        httpserver.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def html(self, path: str, body: str, status: int = 200) -> None:
        self.handlers[path] = lambda _request: Response(
            body, status=status, content_type="text/html; charset=utf-8"
        )

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]

    def _handle(self, request: Request) -> Response:
        self.requests.append((request.path, dict(request.headers)))
        handler = self.handlers.get(request.path)
        if handler is None:
            return Response("not here", status=404)
        return handler(request)


@pytest.fixture
def server(httpserver: HTTPServer) -> Server:
    return Server(httpserver)


def challenge_to_bots(status: int, content: str = STATIC) -> Handler:
    """The page for a browser (a User-Agent naming Chrome), a challenge for anyone else."""

    def handle(request: Request) -> Response:
        if "Chrome" in request.headers.get("User-Agent", ""):
            return Response(content, content_type="text/html; charset=utf-8")
        return Response(CHALLENGE, status=status, content_type="text/html; charset=utf-8")

    return handle


def browser_env(env: Env, **watcher: object) -> Env:
    env.watcher = {"browser_path": str(CHROMIUM), "timeout": "15s", **watcher}
    return env


def last_check(env: Env, source_id: str) -> dict[str, object]:
    return dict(env.store.checks(source_id, limit=1)[0])


# -- the pipeline with a real Chromium ----------------------------------------


@pytest.mark.slow
def test_a_page_written_by_javascript_is_extracted_in_the_browser(env: Env, server: Server) -> None:
    _skip_without_chromium()
    server.html("/policy", JS_PAGE)
    browser_env(env)
    env.sources = [
        {"id": "plain", "url": server.url("/policy"), "select": "main"},
        {"id": "rendered", "url": server.url("/policy"), "select": "main", "browser": True},
    ]
    result = env.check()
    plain, rendered = env.outcome(result, "plain"), env.outcome(result, "rendered")
    # plain HTTP sees the empty shell and says so, as before
    assert plain.outcome == "failed"
    assert plain.error in ("no text extracted",) or "JavaScript required" in (plain.error or "")
    assert rendered.outcome == "new_version", rendered.error
    text = env.store.version_text(env.store.latest_version("rendered"))
    assert "We commit to pausing training" in text
    assert "# Frontier Safety Policy" in text
    assert last_check(env, "rendered")["fetcher"] == "browser"
    assert last_check(env, "plain")["fetcher"] == "http"
    # the snapshot is the rendered DOM
    snapshot = env.store.get_blob(env.store.latest_version("rendered").raw_sha256)
    assert b"We commit to pausing training" in snapshot
    # scripts can rely on `fetcher` in the history JSON
    env.store.close()
    env._store = None
    out = CliRunner().invoke(
        cli, ["--config", str(env.config_path), "history", "rendered", "--json"]
    )
    assert out.exit_code == 0, out.output
    versions = json.loads(out.output)["versions"]
    assert [v["fetcher"] for v in versions] == ["browser"]
    # the rendered DOM is not what the server sent: no digest claims it is
    assert [(v["snapshot_as_sent"], v["snapshot_sha256"]) for v in versions] == [(False, None)]


@pytest.mark.slow
@pytest.mark.parametrize("status", [200, 403, 503])
def test_auto_retries_a_bot_challenge_in_the_browser(env: Env, server: Server, status: int) -> None:
    _skip_without_chromium()
    server.handlers["/terms"] = challenge_to_bots(status)
    browser_env(env)
    env.sources = [
        {"id": "auto", "url": server.url("/terms"), "select": "main", "browser": "auto"},
        {"id": "plain", "url": server.url("/terms"), "select": "main"},
    ]
    result = env.check()
    auto = env.outcome(result, "auto")
    assert auto.outcome == "new_version", auto.error
    assert "critical capability level" in env.store.version_text(env.store.latest_version("auto"))
    assert last_check(env, "auto")["fetcher"] == "browser"
    # plain first (the watcher's user agent), then Chromium's own
    agents = [h.get("User-Agent", "") for h in server.hits("/terms")]
    assert any(a.startswith("watcher-tests") for a in agents)
    assert any("Chrome" in a for a in agents)
    # without the browser the source is as blind as before, and says why
    plain = env.outcome(result, "plain")
    assert plain.outcome == "failed"
    assert "bot challenge" in (plain.error or "") or f"HTTP {status}" in (plain.error or "")


@pytest.mark.slow
def test_auto_renders_a_javascript_shell_and_a_plain_page_stays_plain(
    env: Env, server: Server
) -> None:
    _skip_without_chromium()
    server.html("/app", JS_PAGE)
    server.html("/static", STATIC)
    browser_env(env, browser="auto")  # the default for sources that set none
    env.sources = [
        {"id": "app", "url": server.url("/app")},
        {"id": "static", "url": server.url("/static"), "select": "main"},
    ]
    result = env.check()
    assert env.outcome(result, "app").outcome == "new_version", env.outcome(result, "app").error
    assert last_check(env, "app")["fetcher"] == "browser"
    assert env.outcome(result, "static").outcome == "new_version"
    assert last_check(env, "static")["fetcher"] == "http"
    assert all("Chrome" not in h.get("User-Agent", "") for h in server.hits("/static"))


@pytest.mark.slow
def test_a_403_in_the_browser_is_a_failed_check(env: Env, server: Server) -> None:
    _skip_without_chromium()
    server.html("/gone", "<html><body><main>Forbidden</main></body></html>", status=403)
    browser_env(env)
    env.sources = [{"id": "gone", "url": server.url("/gone"), "browser": True}]
    outcome = env.outcome(env.check(), "gone")
    assert outcome.outcome == "failed"
    assert outcome.http_status == 403
    assert (outcome.error or "").startswith("HTTP 403")
    assert last_check(env, "gone")["fetcher"] == "browser"


@pytest.mark.slow
def test_a_pdf_linked_from_a_rendered_page_is_downloaded_plainly_with_its_cookies(
    env: Env, server: Server
) -> None:
    _skip_without_chromium()
    pdf = make_pdf([["Frontier Safety Framework version 2.", "We commit to evaluations."]])
    # the landing page writes its link, and a cookie the PDF's server wants, with JavaScript
    link = POLICY + '<p><a href="/files/fsf.pdf">Framework (PDF)</a></p>'
    landing = (
        "<!doctype html><html><head><title>Framework</title></head><body><main></main>"
        "<script>document.cookie = 'consent=yes; path=/';"
        f"document.querySelector('main').innerHTML = {json.dumps(link)};"
        "</script></body></html>"
    )
    server.html("/framework", landing)

    def pdf_with_cookie(request: Request) -> Response:
        if request.cookies.get("consent") != "yes":
            return Response("no consent cookie", status=403)
        return Response(pdf, content_type="application/pdf")

    server.handlers["/files/fsf.pdf"] = pdf_with_cookie
    browser_env(env)
    env.sources = [
        {
            "id": "fsf",
            "url": server.url("/framework"),
            "select": "main",
            "follow": "a[href$='.pdf']",
            "browser": True,
        }
    ]
    result = env.check()  # the landing page, then the PDF it links, as a followed document
    children = [o for o in result.outcomes if o.source_id.startswith("fsf--")]
    assert [o.outcome for o in children] == ["new_version"], children
    child = children[0].source_id
    assert env.store.latest_version(child).kind == "pdf"
    assert last_check(env, child)["fetcher"] == "http"
    (headers,) = server.hits("/files/fsf.pdf")
    assert headers["User-Agent"].startswith("watcher-tests")  # the plain fetcher
    assert "consent=yes" in headers.get("Cookie", "")


# -- hostile pages: each a failed check, Chromium fine for the next ------------


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def settings(**kwargs: object) -> BrowserSettings:
    return BrowserSettings(path=str(CHROMIUM), **{"timeout": 8.0, **kwargs})  # type: ignore[arg-type]


@pytest.mark.slow
def test_hostile_pages_fail_one_check_each(server: Server) -> None:
    _skip_without_chromium()
    server.html("/ok", STATIC)
    server.html("/hang", "<html><body><p>x</p><script>while (true) {}</script></body></html>")
    server.html(
        "/away",
        "<html><body><main>Policy</main><script>setTimeout(() => "
        "location.href = '/elsewhere', 50)</script></body></html>",
    )
    server.html("/elsewhere", STATIC)
    server.html(
        "/dialog", "<html><body><main>Policy</main><script>alert('hello')</script></body></html>"
    )
    server.html(
        "/media",
        f"<html><body><main>{POLICY}</main><img src='/big.png'><video src='/big.mp4' autoplay>"
        "</video><audio src='/big.mp3' autoplay></audio>"
        "<style>@font-face{font-family:x;src:url(/big.woff)} main{font-family:x}</style>"
        "</body></html>",
    )
    for big in ("/big.png", "/big.mp4", "/big.mp3", "/big.woff"):
        server.handlers[big] = lambda _r: Response(b"\0" * 500_000_000)

    async def scenario() -> dict[str, str]:
        reasons: dict[str, str] = {}
        async with Browser(settings(timeout=6.0)) as browser:
            for path in ("/hang", "/away", "/dialog"):
                t0 = time.monotonic()
                with pytest.raises(BrowserError) as caught:
                    await browser.fetch(server.url(path))
                assert time.monotonic() - t0 < 6.0 + 6.0  # the limit, and a bounded clean-up
                reasons[path] = caught.value.reason
                # nothing else disturbed: the next page renders
                ok = await browser.fetch(server.url("/ok"), select=("main",))
                assert b"critical capability level" in ok.content
            media = await browser.fetch(server.url("/media"), select=("main",))
            assert b"critical capability level" in media.content
            assert browser.launches == 1
        return reasons

    reasons = run(scenario())
    assert isinstance(reasons, dict)
    assert "timed out after 6s in the browser" in reasons["/hang"]
    assert "navigate away" in reasons["/away"] and "/elsewhere" in reasons["/away"]
    assert "dialog" in reasons["/dialog"] and "hello" in reasons["/dialog"]
    assert server.hits("/elsewhere") == []
    for big in ("/big.png", "/big.mp4", "/big.mp3", "/big.woff"):
        assert server.hits(big) == [], big
    for reason in reasons.values():
        assert "\n" not in reason


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["browser", "renderer"])
def test_a_killed_chromium_fails_that_check_and_is_restarted(server: Server, victim: str) -> None:
    _skip_without_chromium()
    server.html("/ok", STATIC)
    server.html("/slow", JS_PAGE.replace("}, 200)", "}, 60000)"))

    async def scenario() -> tuple[str, int]:
        async with Browser(settings(timeout=10.0)) as browser:
            await browser.fetch(server.url("/ok"))
            fetch = asyncio.ensure_future(browser.fetch(server.url("/slow"), select=("main h2",)))
            await asyncio.sleep(1.0)  # rendering, waiting for its selector
            pids = browser.pids()
            assert pids
            if victim == "browser":
                # the browser process itself: the root of the tree (not the lowest
                # pid: pids wrap around, at 32768 on some machines)
                targets = [p for p in pids if _parent(p) not in pids]
            else:
                targets = [p for p in pids if b"--type=renderer" in _cmdline(p)]
            assert targets
            for pid in targets:
                os.kill(pid, signal.SIGKILL)
            with pytest.raises(BrowserError) as caught:
                await fetch
            ok = await browser.fetch(server.url("/ok"), select=("main",))
            assert b"critical capability level" in ok.content
            return caught.value.reason, browser.launches
        raise AssertionError("unreachable")

    reason, launches = run(scenario())  # type: ignore[misc]
    assert "crash" in reason or "closed" in reason, reason
    assert launches == (2 if victim == "browser" else 1)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.slow
def test_the_browser_sends_the_sources_headers_and_cookies(server: Server) -> None:
    _skip_without_chromium()
    server.html("/ok", STATIC)
    headers = request_headers(
        "PolicyReader/2.0 Chrome/130",
        {"Accept-Language": "en-US"},
        {"session": "LAB_SESSION"},
        {"LAB_SESSION": "s3cret"},
    )

    async def scenario() -> None:
        async with Browser(settings()) as browser:
            await browser.fetch(server.url("/ok"), headers=headers)

    run(scenario())
    (sent,) = server.hits("/ok")
    assert sent["User-Agent"] == "PolicyReader/2.0 Chrome/130"
    assert sent["Accept-Language"] == "en-US"
    assert "session=s3cret" in sent["Cookie"]


@pytest.mark.slow
def test_at_most_browser_concurrency_pages_at_once(server: Server) -> None:
    _skip_without_chromium()
    server.html("/ok", STATIC)

    async def scenario() -> int:
        async with Browser(settings(concurrency=2)) as browser:
            peak = 0
            original = browser._fetch

            async def counting(*args: object) -> object:
                nonlocal peak
                peak = max(peak, 2 - browser._slots._value)
                return await original(*args)  # type: ignore[arg-type]

            browser._fetch = counting  # type: ignore[method-assign]
            await asyncio.gather(*(browser.fetch(server.url("/ok")) for _ in range(5)))
            return peak

    assert run(scenario()) == 2


def test_a_missing_browser_path_is_a_clear_reason() -> None:
    with pytest.raises(BrowserError, match="browser_path '/nowhere/chromium' is not an executable"):
        find_chromium("/nowhere/chromium")


# -- per-source request settings (plain HTTP) ----------------------------------


def test_request_headers_user_agent_and_cookies_from_the_environment() -> None:
    headers = request_headers(
        "Reader/1.0",
        {"Accept-Language": "en-US"},
        {"a": "COOKIE_A", "b": "COOKIE_B", "c": "COOKIE_UNSET"},
        {"COOKIE_A": "1", "COOKIE_B": "two", "COOKIE_UNSET": ""},
    )
    assert headers == {
        "Accept-Language": "en-US",
        "User-Agent": "Reader/1.0",
        "Cookie": "a=1; b=two",
    }
    assert request_headers(None, {}, {"a": "UNSET"}, {}) == {}


def test_a_sources_headers_cookies_and_user_agent_are_sent(
    env: Env, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_SESSION", "abc123")
    server.html("/p", STATIC)
    server.handlers["/moved"] = lambda _r: Response("", status=302, headers={"Location": "/p"})
    env.sources = [
        {
            "id": "own",
            "url": server.url("/moved"),
            "select": "main",
            "headers": {"Accept-Language": "en-US"},
            "cookies_env": {"session": "ACME_SESSION"},
            "user_agent": "Mozilla/5.0 (policy reader)",
        },
        {"id": "default", "url": server.url("/p"), "select": "main"},
    ]
    result = env.check()
    assert env.outcome(result, "own").outcome == "new_version"
    moved, *_ = server.hits("/moved")
    own, default = server.hits("/p")
    if default.get("User-Agent") == "Mozilla/5.0 (policy reader)":
        own, default = default, own
    for sent in (moved, own):  # the cookie follows a redirect on the same host
        assert sent["User-Agent"] == "Mozilla/5.0 (policy reader)"
        assert sent["Accept-Language"] == "en-US"
        assert sent["Cookie"] == "session=abc123"
    assert default["User-Agent"] == "watcher-tests/1.0"
    assert "Cookie" not in default and "Accept-Language" not in default


def test_a_challenge_behind_an_error_status_keeps_its_page(server: Server) -> None:
    server.html("/wall", CHALLENGE, status=403)

    async def scenario() -> HTTPStatusError:
        async with Fetcher(FetchSettings(user_agent="t", retries=0)) as fetcher:
            with pytest.raises(HTTPStatusError) as caught:
                await fetcher.fetch(server.url("/wall"))
            return caught.value

    error = asyncio.run(scenario())
    assert error.status == 403
    assert error.body.decode() == CHALLENGE
    assert error.content_type == "text/html"


def test_browser_false_on_a_challenge_fails_without_starting_chromium(
    env: Env, server: Server
) -> None:
    server.handlers["/terms"] = challenge_to_bots(403)
    env.sources = [{"id": "terms", "url": server.url("/terms"), "browser": False}]
    outcome = env.outcome(env.check(), "terms")
    assert outcome.outcome == "failed"
    assert outcome.http_status == 403
    assert len(server.hits("/terms")) == 1
