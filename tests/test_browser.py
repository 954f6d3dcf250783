"""The dashboard in a real browser: headless Chromium driven by Playwright.

The database is built by the real pipeline (a loopback site, two checks: a
baseline, then a change that opens a task); the dashboard is the real
`serve()` on a free loopback port, run in a thread. The browser opens the
overview, follows the task, closes it with a note, opens the side-by-side
diff and saves a screenshot; the page must log no JavaScript error (the CSP
forbids every script, so an injected one would be reported as a violation).

Uses Debian's `chromium` (/usr/bin/chromium), never a downloaded browser:
skipped when it or the `playwright` package is missing (`.ci/run` installs
chromium when it can).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Env, Site
from tests.servers import free_port
from watcher.config import Config
from watcher.web import app as web

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="the playwright package is not installed (pip install -e '.[test]')",
    ),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)",
    ),
]

HOSTILE = '<img src=x onerror="console.error(1)"> <script>console.error(2)</script>'

BEFORE = """
<h2>1. Capability Thresholds</h2>
<p>We define a capability threshold as a 50% aggregate success rate on the tasks listed in
the appendix. Models that cross it require the ASL-3 safeguards described below.</p>
<h2>2. Security Commitments</h2>
<p>We commit to independent validation of our controls by a third party every year.</p>
<h2>3. Governance</h2>
<p>The board reviews this policy at least once a year. {hostile}</p>
"""
AFTER = (
    BEFORE.replace("a 50% aggregate success rate", "a high level of success")
    .replace("We commit to", "We aim for")
    .replace("once a year", "when it sees fit")
)


def page(sections: str) -> str:
    body = sections.format(hostile=HOSTILE.replace("<", "&lt;"))
    return (
        "<!doctype html><html><head><title>RSP</title></head><body>"
        f"<main><h1>Responsible Scaling Policy</h1>{body}</main></body></html>"
    )


@contextlib.contextmanager
def dashboard(config: Config) -> Iterator[str]:
    """The real `serve()` in a thread on a free loopback port; yields its base URL."""
    port = free_port()
    loop = asyncio.new_event_loop()
    task = loop.create_task(web.serve(config, host="127.0.0.1", port=port))

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, name="dashboard", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if not thread.is_alive():
                raise AssertionError(f"the dashboard did not start: {task.exception()}")
            try:
                httpx.get(base + "/static/style.css", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise AssertionError("the dashboard never answered")
        yield base
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout=10)
        assert not thread.is_alive(), "the dashboard did not stop"
        loop.close()


def test_review_a_change_in_a_real_browser(env: Env, site: Site, tmp_path: Path) -> None:
    from playwright.sync_api import ConsoleMessage, Error, sync_playwright

    env.sources = [
        {"id": "acme-rsp", "url": site.url("/rsp"), "select": "main", "title": "Acme RSP"}
    ]
    site.set("/rsp", page(BEFORE))
    env.check()
    site.set("/rsp", page(AFTER))
    assert env.outcome(env.check(), "acme-rsp").task_id is not None
    config = env.write()
    screenshot = tmp_path / "diff.png"

    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text} ({message.location.get('url')})")

    def on_page_error(error: Error) -> None:
        problems.append(f"page error: {error}")

    with dashboard(config) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.on("console", on_console)
            tab.on("pageerror", on_page_error)
            tab.set_default_timeout(15_000)

            # The overview lists the source with its open task.
            tab.goto(base + "/")
            assert tab.title() == "Sources · watcher"
            row = tab.locator("table.overview tr", has_text="Acme RSP")
            assert "ok" in row.inner_text()

            # Follow the task, close it with a note.
            with tab.expect_navigation(url=base + "/tasks/1"):
                row.get_by_role("link", name="#1").click()
            assert tab.locator("h1").inner_text() == "Task #1: Acme RSP changed"
            assert tab.locator(".meta .badge").first.inner_text() == "open"
            tab.get_by_label("Close with the outcome").fill("Regraded: thresholds now vague.")
            with tab.expect_navigation(url=base + "/tasks/1"):  # POST, then 303 back
                tab.get_by_role("button", name="Close task").click()
            assert tab.locator(".meta .badge").first.inner_text() == "closed"
            assert "Regraded: thresholds now vague." in tab.locator(".summary-box").inner_text()
            assert tab.get_by_role("button", name="Reopen task").is_visible()

            # The side-by-side diff, with word marks on both sides.
            with tab.expect_navigation(url=base + "/sources/acme-rsp/diff?old=1&new=2"):
                tab.get_by_role("link", name="full page").click()
            assert tab.locator("h1").inner_text() == "v1 → v2"
            table = tab.locator("table.side").first
            assert table.is_visible()
            deleted = " ".join(tab.locator("table.side td.old del").all_inner_texts())
            inserted = " ".join(tab.locator("table.side td.new ins").all_inner_texts())
            assert "50% aggregate" in deleted and "commit to" in deleted
            assert "high level of" in inserted and "aim for" in inserted
            assert "aggregate" not in inserted and "high level" not in deleted
            # The hostile text is shown as text, never run.
            assert tab.get_by_text("<script>console.error(2)</script>").count() >= 1
            tab.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000
    assert problems == []


def test_a_lineage_reads_as_one_history_in_a_real_browser(env: Env, site: Site) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_lineage_pipeline import swapped

    old, new = swapped(env, site)
    config = env.write()
    problems: list[str] = []
    with dashboard(config) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.on("console", lambda m: m.type == "error" and problems.append(m.text))
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.set_default_timeout(15_000)

            # The old file's page shows the whole lineage: v1 → v2 across two files.
            tab.goto(f"{base}/sources/{old}")
            rows = tab.locator("table.lineage tbody tr")
            assert rows.count() == 2
            newest, first = rows.nth(0).inner_text(), rows.nth(1).inner_text()
            assert "v2" in newest and site.url("/rsp-v2.2.pdf") in newest
            assert "v1" in first and site.url("/rsp-v2.1.pdf") in first
            assert "new file: v1 → v2" in newest

            # Its link opens the diff across the two files.
            rows.nth(0).get_by_role("link", name="new file: v1 → v2").click()
            tab.wait_for_url(f"{base}/compare?**")
            assert tab.locator("table.side").first.is_visible()
            deleted = " ".join(tab.locator("table.side td.old del").all_inner_texts())
            assert "commit" in deleted
            assert "commitment weakened" in tab.locator("ul.signals").inner_text()

            # A rater unlinks the new file: its page is a lineage of one.
            tab.goto(f"{base}/sources/{new}")
            with tab.expect_navigation(url=f"{base}/sources/{new}"):
                tab.get_by_role("button", name="Unlink").click()
            assert tab.locator("table.lineage").count() == 0
            assert "no new version of another" in tab.locator("#lineage-fix + p").inner_text()
        finally:
            browser.close()
    assert env.store.source(new)["supersedes"] is None  # type: ignore[index]
    assert problems == []


def test_a_rater_signs_in_assigns_a_task_and_checks_a_source_now(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_people import with_extra

    env.sources = [
        {"id": "acme-rsp", "url": site.url("/rsp"), "select": "main", "title": "Acme RSP"}
    ]
    with_extra(env, '[dashboard.users]\nalice = "WATCHER_TOKEN_ALICE"')
    monkeypatch.setenv("WATCHER_TOKEN_ALICE", "alice-browser-token")
    site.set("/rsp", page(BEFORE))
    env.check()
    site.set("/rsp", page(AFTER))
    env.check()
    config = env.write()
    problems: list[str] = []
    with dashboard(config) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.on("console", lambda m: m.type == "error" and problems.append(m.text))
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.set_default_timeout(15_000)

            # Signed out: the task page sends to the sign-in form; alice's token signs her in.
            tab.goto(base + "/tasks/1")
            assert tab.locator("h1").inner_text() == "Sign in"
            tab.get_by_label("Access token").fill("alice-browser-token")
            with tab.expect_navigation(url=base + "/tasks/1"):
                tab.get_by_role("button", name="Sign in").click()
            assert "Signed in as alice" in tab.locator(".signed-in").inner_text()

            tab.locator("#who").fill("bob")
            with tab.expect_navigation(url=base + "/tasks/1"):
                tab.get_by_role("button", name="Assign").click()
            history = tab.locator("li", has_text="assigned").first.inner_text()
            assert "by alice: bob" in history

            # Check now: no change, then a new version, then a failure with its reason.
            tab.goto(base + "/sources/acme-rsp")
            with tab.expect_navigation():
                tab.get_by_role("button", name="Check now").click()
            assert tab.locator("#check-result").inner_text() == "No change since the last version."
            site.set("/rsp", page(AFTER.replace("Governance", "Oversight")))
            with tab.expect_navigation():
                tab.get_by_role("button", name="Check now").click()
            result = tab.locator("#check-result").inner_text()
            assert result == "New version v3; task 1 opened or extended."
            site.set("/rsp", "down for maintenance", status=503)
            with tab.expect_navigation():
                tab.get_by_role("button", name="Check now").click()
            assert tab.locator("#check-result").inner_text().startswith("Failed: ")
            assert "503" in tab.locator("#check-result").inner_text()
        finally:
            browser.close()
    assert problems == []
