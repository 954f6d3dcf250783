"""The browser fetcher: Chromium through Playwright, for pages that need scripts.

    async with Browser(BrowserSettings(...)) as browser:
        result = await browser.fetch(url, select=(...), headers={...})

A page whose text only appears after its scripts run, or that answers
scripted clients with a bot challenge, is rendered in the system's Chromium
(`[watcher] browser_path`, else `chromium`, `chromium-browser`,
`google-chrome` on PATH, else the one `playwright install chromium`
downloaded). The result is a `FetchResult` whose content is the rendered DOM
(`page.content()`) as UTF-8 HTML: extraction reads it with the same rules
and the same sanity checks as any page.

One Chromium serves a pass (or a daemon), started on the first browser
fetch; each fetch gets a fresh browser context (no cookies, cache or storage
carried from one page to the next), and at most `concurrency` pages render
at once. A fetch:

- blocks images, fonts and media (the text never needs them), popups,
  downloads and service workers;
- reads the main document's status: 4xx and 5xx fail as in a plain fetch;
- waits for the source's `select` to match an element with text (without one, for the
  network to go quiet, briefly), within the fetch's time limit;
- fails with a one-line reason when the page opens a dialog, tries to
  navigate away, crashes its renderer, takes longer than `timeout`, or
  renders more than `max_bytes`;
- never takes Chromium down with it: a crashed Chromium is started again
  for the next fetch, and a hung one (its context will not close) is killed
  and started again.

The cookies Chromium ends up with are kept (`cookie_header`), so a document
linked from a rendered page (a PDF) can be downloaded by the plain fetcher
with the cookies the site set in the browser.

No exception of Playwright escapes this module: every failure is a
`BrowserError` (or an `HTTPStatusError` for the document's status).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from watcher import escape
from watcher.errors import BrowserError, HTTPStatusError, TooLarge, WatcherError
from watcher.models import FetchResult

if TYPE_CHECKING:
    from playwright.async_api import Browser as PlaywrightBrowser
    from playwright.async_api import BrowserContext, Page, Playwright, Route

log = logging.getLogger(__name__)

# Names of a system Chromium on PATH, in the order they are tried.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless in a container or a systemd unit: no sandbox user namespace, no GPU,
# and none of Chromium's own traffic (updates, sync, safe browsing lists).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
# What a page's text never needs; blocking it also bounds what a page can load.
BLOCKED_RESOURCES = frozenset({"image", "font", "media"})
# Without a `select`, how long to wait for the network to go quiet after the
# document loaded (a page that never goes quiet is read when this runs out).
SETTLE_S = 5.0
# Of the time limit, what is kept for reading the DOM after waiting for `select`.
READ_RESERVE_S = 2.0
# Closing a context or Chromium takes well under a second; longer means it hung.
CLOSE_TIMEOUT_S = 5.0
LAUNCH_TIMEOUT_S = 30.0
# Cookies kept from rendered pages for the plain fetches of their linked documents.
MAX_COOKIES = 1000
# The start of a plain fetch's failure reason that a browser may get past.
BLOCKED_REASONS = ("bot challenge", "JavaScript required")


@dataclass(frozen=True)
class BrowserSettings:
    """How the browser fetcher behaves; the defaults are those of `config.toml`."""

    path: str | None = None  # [watcher] browser_path; None: found on PATH
    concurrency: int = 2  # pages rendering at once
    timeout: float = 30.0  # seconds for a whole fetch, as a plain fetch's `timeout`
    max_bytes: int = 25_000_000  # of the rendered DOM
    user_agent: str | None = None  # None: Chromium's own
    proxy: str | None = None  # a proxy URL, "none", or None: Chromium's default
    proxy_auth: tuple[str, str] | None = None


def blocked_reason(reason: str) -> bool:
    """Whether a failed plain check's reason is one a browser may get past."""
    return reason.startswith(BLOCKED_REASONS)


def find_chromium(path: str | None) -> str | None:
    """The Chromium to launch: `path`, else one on PATH; None: Playwright's own.

    Raises BrowserError when `path` is given but is no executable file.
    """
    if path:
        found = shutil.which(os.path.expanduser(path))
        if found is None:
            raise BrowserError(f"browser_path {path!r} is not an executable file", transient=False)
        return found
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def _one_line(exc: BaseException) -> str:
    """Playwright's message without its call log: the first line, trimmed."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    for prefix in ("Error: ", "Page.goto: ", "Page.content: "):
        line = line.removeprefix(prefix)
    return " ".join(line.split())[:300]


class _Watch:
    """What happened on a page while it rendered, for the fetch's verdict."""

    def __init__(self) -> None:
        self.loaded = False  # the document answered: later navigations are refused
        self.dialog: str | None = None
        self.navigated_to: str | None = None
        self.crashed = False


class Browser:
    """Renders pages in one Chromium; use as `async with Browser(settings) as b`.

    Chromium starts on the first `fetch`, not on entering: a pass without a
    browser source never starts it.
    """

    def __init__(self, settings: BrowserSettings) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None
        # An argument Chromium ignores, which names this instance's processes.
        self._marker = f"--watcher-browser={uuid.uuid4().hex}"
        self._cookies: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.launches = 0  # how many times Chromium was started

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close Chromium and Playwright's driver (killing what will not close)."""
        async with self._lock:
            await self._shut_down()

    # -- the processes --

    def pids(self) -> list[int]:
        """This instance's Chromium processes (the browser and its children); Linux only."""
        parents: dict[int, int] = {}
        roots: list[int] = []
        proc = Path("/proc")
        if not proc.is_dir():
            return []
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            pid = int(entry.name)
            parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
            if self._marker.encode() in cmdline:
                roots.append(pid)
        found = set(roots)
        changed = True
        while changed:
            changed = False
            for pid, parent in parents.items():
                if parent in found and pid not in found:
                    found.add(pid)
                    changed = True
        return sorted(found)

    def memory(self) -> tuple[int, int]:
        """Memory of this instance's Chromium processes in bytes: (RSS, PSS), summed (Linux).

        Summed RSS counts the pages the processes share once per process;
        PSS (proportional set size) shares them out, so its sum is what they
        take together.
        """
        page = os.sysconf("SC_PAGE_SIZE")
        rss = pss = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, ValueError, IndexError):
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                        break
        return rss, pss

    async def _ensure(self) -> PlaywrightBrowser:
        """The running Chromium, started (again) when there is none or it died."""
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._browser is not None:
                log.warning("Chromium is gone (crashed or killed): starting it again")
            await self._shut_down()
            return await self._launch()

    async def _launch(self) -> PlaywrightBrowser:
        try:
            from playwright.async_api import Error as PlaywrightError
            from playwright.async_api import async_playwright
        except ImportError:
            raise BrowserError(
                "the browser fetcher needs the playwright package: pip install 'watcher[browser]'",
                transient=False,
            ) from None
        executable = find_chromium(self.settings.path)
        playwright = await async_playwright().start()
        try:
            if executable is None and not Path(playwright.chromium.executable_path).exists():
                raise BrowserError(
                    "no Chromium found: install one (Debian/Ubuntu: apt install chromium; "
                    "or: playwright install chromium) or set [watcher] browser_path",
                    transient=False,
                )
            browser = await playwright.chromium.launch(
                executable_path=executable,
                args=[*CHROMIUM_ARGS, self._marker],
                headless=True,
                timeout=LAUNCH_TIMEOUT_S * 1000,
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
            )
        except PlaywrightError as exc:
            await playwright.stop()
            raise BrowserError(
                f"could not start Chromium ({executable or 'Playwright`s own'}): {_one_line(exc)}",
                transient=False,
            ) from None
        except BaseException:
            await playwright.stop()
            raise
        self._playwright, self._browser = playwright, browser
        self.launches += 1
        log.info("Chromium %s started (%s)", browser.version, executable or "Playwright's own")
        return browser

    async def _shut_down(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        if browser is not None:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await browser.close()
            except Exception as exc:  # a dead or hung Chromium: its processes are ended below
                log.info("Chromium did not close cleanly: %s", _one_line(exc))
        self._kill()
        if playwright is not None:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await playwright.stop()
            except Exception as exc:
                log.info("Playwright's driver did not stop cleanly: %s", _one_line(exc))

    def _kill(self) -> None:
        """End whatever is left of this instance's Chromium (only ours: the marker)."""
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    async def _restart_hung(self) -> None:
        async with self._lock:
            log.warning("Chromium hung: ending it; the next browser fetch starts it again")
            self._kill()
            await self._shut_down()

    # -- cookies for linked documents --

    def _remember(self, cookies: Sequence[Mapping[str, Any]]) -> None:
        for cookie in cookies:
            key = (str(cookie.get("domain", "")), str(cookie.get("path", "/")), str(cookie["name"]))
            self._cookies.pop(key, None)
            self._cookies[key] = dict(cookie)
        while len(self._cookies) > MAX_COOKIES:
            self._cookies.pop(next(iter(self._cookies)))

    def cookie_header(self, url: str) -> str | None:
        """A Cookie header of the cookies rendered pages set that `url` would be sent."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        path = parts.path or "/"
        now = time.time()
        pairs = []
        for (domain, cookie_path, name), cookie in self._cookies.items():
            bare = domain.lstrip(".").lower()
            if not (host == bare or (domain.startswith(".") and host.endswith("." + bare))):
                continue
            if not path.startswith(cookie_path):
                continue
            if cookie.get("secure") and parts.scheme != "https":
                continue
            expires = cookie.get("expires", -1)
            if isinstance(expires, int | float) and 0 < expires < now:
                continue
            pairs.append(f"{name}={cookie.get('value', '')}")
        return "; ".join(pairs) or None

    # -- a fetch --

    async def fetch(
        self,
        url: str,
        *,
        select: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
    ) -> FetchResult:
        """Render `url` and return its DOM; raises a FetchError subclass with a reason.

        `headers` are a source's own (`fetch.request_headers`): a `User-Agent`
        among them becomes the context's, a `Cookie` its cookies for `url`.
        """
        timeout = self.settings.timeout
        async with self._slots:
            t0 = time.monotonic()
            try:
                async with asyncio.timeout(timeout):
                    result = await self._fetch(url, select, dict(headers or {}), proxy, t0)
            except TimeoutError:
                raise BrowserError(
                    f"timed out after {timeout:g}s in the browser "
                    "(the page did not finish loading, or its scripts never settled)"
                ) from None
            except WatcherError:
                raise
            except Exception as exc:
                raise self._error(exc) from None
        return result

    def _error(self, exc: BaseException, watch: _Watch | None = None) -> BrowserError:
        line = _one_line(exc)
        lowered = line.lower()
        if (watch is not None and watch.crashed) or "crash" in lowered:
            return BrowserError("the page crashed Chromium's renderer")
        if self._browser is None or not self._browser.is_connected() or "closed" in lowered:
            return BrowserError(f"Chromium crashed or was closed during the fetch ({line})")
        if "download is starting" in lowered:
            return BrowserError(
                "Chromium downloads this document instead of showing it (a PDF?): "
                "fetch it with browser = false",
                transient=False,
            )
        if "net::err_" in lowered:
            code = lowered.split("net::err_", 1)[1].split()[0].upper()
            return BrowserError(f"the browser could not load the page: ERR_{code}")
        return BrowserError(f"browser error: {line}")

    async def _fetch(
        self,
        url: str,
        select: Sequence[str],
        headers: dict[str, str],
        proxy: str | None,
        t0: float,
    ) -> FetchResult:
        browser = await self._ensure()
        user_agent = _pop(headers, "user-agent") or self.settings.user_agent
        cookie = _pop(headers, "cookie")
        options: dict[str, Any] = {
            "java_script_enabled": True,
            "accept_downloads": False,
            "service_workers": "block",
            "extra_http_headers": headers,
        }
        if user_agent:
            options["user_agent"] = user_agent
        proxy = proxy if proxy is not None else self.settings.proxy
        if proxy and proxy != "none":
            options["proxy"] = {"server": proxy}
            if self.settings.proxy_auth is not None:
                user, password = self.settings.proxy_auth
                options["proxy"].update(username=user, password=password)
        try:
            context = await browser.new_context(**options)
        except Exception as exc:
            raise self._error(exc) from None
        watch = _Watch()
        try:
            if cookie:
                await context.add_cookies(_cookies(cookie, url))
            page = await context.new_page()
            await context.route("**/*", lambda route: _route(route, page, watch))
            context.on("page", _close_popup)
            page.on("dialog", lambda dialog: _dismiss(dialog, watch))
            page.on("crash", lambda _page: setattr(watch, "crashed", True))
            return await self._render(page, context, url, select, watch, t0)
        except WatcherError:
            raise
        except Exception as exc:
            raise self._error(exc, watch) from None
        finally:
            await self._close(context)

    async def _render(
        self,
        page: Page,
        context: BrowserContext,
        url: str,
        select: Sequence[str],
        watch: _Watch,
        t0: float,
    ) -> FetchResult:
        from playwright.async_api import Error as PlaywrightError

        deadline = t0 + self.settings.timeout
        response = await page.goto(
            url, wait_until="domcontentloaded", timeout=self.settings.timeout * 1000
        )
        watch.loaded = True
        if response is None:
            raise BrowserError("the browser got no response for the document")
        status = response.status
        if status >= 400:
            error = HTTPStatusError(status, f"HTTP {status} {response.status_text}".rstrip())
            error.fetcher = "browser"
            raise error
        wait_ms = max(0.0, deadline - time.monotonic() - READ_RESERVE_S) * 1000
        try:
            if select:
                # In the DOM with some text: an app fills its empty <main> later.
                # Visible or not: hidden text (a collapsed section) is text too.
                await page.wait_for_function(
                    _SELECT_HAS_TEXT, arg=list(select), timeout=wait_ms, polling=100
                )
            else:
                await page.wait_for_load_state("networkidle", timeout=min(wait_ms, SETTLE_S * 1000))
        except PlaywrightError as exc:
            # Not there in time (or a selector only our engine reads): the DOM as it
            # is now goes to extraction, which says what `select` matched.
            log.info("%s: read without waiting further: %s", url, _one_line(exc))
        html = await page.content()
        if watch.crashed:
            raise BrowserError("the page crashed Chromium's renderer")
        if watch.dialog is not None:
            raise BrowserError(f"the page opened a dialog ({watch.dialog})", transient=False)
        if watch.navigated_to is not None:
            raise BrowserError(
                f"the page tried to navigate away, to {watch.navigated_to[:200]}", transient=False
            )
        content = html.encode("utf-8")
        if len(content) > self.settings.max_bytes:
            raise TooLarge(f"rendered page over {self.settings.max_bytes:,} bytes (max_bytes)")
        self._remember(await context.cookies())
        return FetchResult(
            url=response.url,
            status=status,
            content=content,
            content_type="text/html",
            charset="utf-8",
            # The validators describe the body as sent, not the DOM: never sent back.
            etag=None,
            last_modified=None,
            duration_ms=round((time.monotonic() - t0) * 1000),
            fetcher="browser",
        )

    async def _close(self, context: BrowserContext) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await context.close()
        except TimeoutError:
            await self._restart_hung()
        except Exception as exc:  # Chromium died: the next fetch starts it again
            log.info("browser context did not close: %s", _one_line(exc))


# True once an element matching one of the selectors holds some text.
_SELECT_HAS_TEXT = """(selectors) => selectors.some((selector) =>
    Array.from(document.querySelectorAll(selector)).some(
        (element) => (element.textContent || "").trim().length > 0))"""


def _pop(headers: dict[str, str], name: str) -> str | None:
    for key in list(headers):
        if key.lower() == name:
            return headers.pop(key)
    return None


def _cookies(header: str, url: str) -> list[Any]:
    """A Cookie header as Playwright cookies for `url`."""
    cookies = []
    for pair in header.split(";"):
        name, sep, value = pair.strip().partition("=")
        if sep and name:
            cookies.append({"name": name, "value": value, "url": url})
    return cookies


async def _route(route: Route, page: Page, watch: _Watch) -> None:
    request = route.request
    try:
        if request.resource_type in BLOCKED_RESOURCES:
            await route.abort("blockedbyclient")
            return
        if watch.loaded and request.is_navigation_request():
            frame = request.frame
            if frame.parent_frame is None and frame.page is page:
                watch.navigated_to = watch.navigated_to or request.url
                await route.abort("aborted")
                return
        await route.continue_()
    except Exception as exc:  # the page or context closed meanwhile
        log.debug("request %s not routed: %s", request.url, _one_line(exc))


async def _dismiss(dialog: Any, watch: _Watch) -> None:
    if watch.dialog is None:
        watch.dialog = f"{dialog.type}: {escape.quote(dialog.message[:100])}"
    with contextlib.suppress(Exception):
        await dialog.dismiss()


async def _close_popup(popup: Page) -> None:
    with contextlib.suppress(Exception):
        await popup.close()


__all__ = [
    "BLOCKED_REASONS",
    "Browser",
    "BrowserSettings",
    "blocked_reason",
    "find_chromium",
]
