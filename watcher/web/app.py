"""The reviewers' dashboard: a server-rendered Starlette app over the watcher database.

Read pages, Atom feeds and a JSON API, plus the task actions (assign, close,
dismiss, reopen) as POST forms with CSRF tokens. Checks stay the daemon's job.

Safety, since every page shows text scraped from the web:
- templates autoescape everything, and control/bidi characters are shown as
  `\\xNN`/`\\uNNNN` (`watcher.escape`); JSON escapes `<`, `>` and `&`; raw snapshots are downloads only;
- a strict Content-Security-Policy (no scripts at all) on every response;
- state changes only by POST, each with an HMAC-signed double-submit token;
- on a loopback address only loopback Host headers are served (DNS rebinding);
  any other address needs `[dashboard] auth_token_env` (bearer token, HTTP
  Basic password for feed readers, or a login form that sets a cookie), and
  the app refuses to start without it;
- no stack traces: errors are plain pages (or JSON under /api/).

Public entry points: `create_app(config, host=...)` for tests and embedding,
`make_server(...)` and `async serve(config, host=..., port=...)` to run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watcher import analysis, clock, detect, escape, models, queries, review
from watcher.config import AnalysisSettings, Config
from watcher.errors import ConfigError, NotFound, StoreError, TaskStateError, WatcherError
from watcher.store import Store, VersionRow
from watcher.web import diffview

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSRF_COOKIE = "watcher_csrf"
SESSION_COOKIE = "watcher_session"
CSRF_FIELD = "csrf_token"
FEED_ENTRIES = 50

# No scripts at all; styles and images from this origin only; forms post here only.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# For scraped bytes and texts served as they are.
CSP_SANDBOX = "sandbox; default-src 'none'"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    # Not "no-referrer": with it browsers send `Origin: null` on form posts,
    # and `csrf_ok` refuses them. Other sites still get no Referer.
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")

# A content type as stored from a server's header: kept only when it is a plain token pair.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_EXTENSIONS = {"application/pdf": ".pdf", "text/html": ".html", "text/plain": ".txt"}


# --- starting ---------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def auth_token(config: Config, host: str, environ: Mapping[str, str]) -> str | None:
    """The token requests must carry, or None on loopback without `auth_token_env`.

    Raises ConfigError when binding beyond loopback without a token, or when
    the configured variable is unset or empty: the dashboard never runs open
    to the network by accident.
    """
    name = config.dashboard.auth_token_env
    if name:
        token = environ.get(name, "")
        if not token:
            raise ConfigError(
                [f"dashboard: environment variable {name} (auth_token_env) is unset or empty"]
            )
        return token
    if not is_loopback(host):
        raise ConfigError(
            [
                f"dashboard: binding to {host} needs [dashboard] auth_token_env "
                "(the name of an environment variable holding the access token)"
            ]
        )
    return None


# --- the database, one connection per worker thread -------------------------------


class _Stores:
    """A Store per thread: sync endpoints run in a thread pool, and a SQLite
    connection must not run two transactions at once."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[Store] = []

    def get(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store.open(self.state_dir)
            self._local.store = store
            with self._lock:
                self._opened.append(store)
        return store

    def close(self) -> None:
        with self._lock:
            for store in self._opened:
                with contextlib.suppress(Exception):
                    store.close()
            self._opened.clear()
        self._local = threading.local()


# --- templates and filters --------------------------------------------------------


def _date(value: str | None, with_time: bool = True) -> str:
    if not value:
        return "—"
    try:
        moment = clock.parse_iso(value)
    except ValueError:
        return escape.visible(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def _signed(value: int | None) -> str:
    if value is None:
        return ""
    return f"+{value:,}" if value > 0 else (f"−{-value:,}" if value < 0 else "±0")


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] → 'v1–v3, v7, v9–v10'."""
    out: list[str] = []
    start = prev = None
    for n in [*numbers, None]:
        if n is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"v{start}" if start == prev else f"v{start}–v{prev}")
        start = prev = n
    return ", ".join(out)


def _http_url(value: str | None) -> str | None:
    """The URL when it is http(s), else None (a scraped `javascript:` link stays text)."""
    if value and urlsplit(value).scheme in ("http", "https"):
        return value
    return None


def _severity_class(value: str | None) -> str:
    return f"sev-{value}" if value in ("minor", "substantive", "major") else "sev-none"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        vis=escape.visible,
        date=_date,
        day=lambda v: _date(v, with_time=False),
        signed=_signed,
        ranges=_ranges,
        http_url=_http_url,
        sev=_severity_class,
        pct=lambda v: "<0.1%" if 0 < v * 100 < 0.05 else f"{v * 100:.1f}%",
        thousands=lambda v: "—" if v is None else f"{v:,}",
    )
    return env


# --- the application state --------------------------------------------------------


@dataclass
class Dashboard:
    """Everything the endpoints share."""

    config: Config
    token: str | None
    allowed_hosts: tuple[str, ...] | None  # None: any Host header
    stores: _Stores
    env: jinja2.Environment = field(default_factory=_environment)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @property
    def store(self) -> Store:
        return self.stores.get()

    # -- CSRF: a random cookie per browser, forms carry HMAC(secret, cookie) --

    def csrf_for(self, cookie: str) -> str:
        return hmac.new(self.secret, b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, request: Request, form: FormData) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = form.get(CSRF_FIELD)
        if not cookie or not isinstance(sent, str):
            return False
        if not hmac.compare_digest(self.csrf_for(cookie), sent):
            return False
        origin = request.headers.get("origin")
        # Browsers send Origin on POST; when present it must be this site.
        return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")

    # -- login sessions: the cookie holds a MAC of the token, never the token --

    def session_value(self) -> str:
        assert self.token is not None
        return hmac.new(self.token.encode(), b"watcher-session-v1", hashlib.sha256).hexdigest()

    def authorised(self, request: Request) -> bool:
        if self.token is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.token.encode()
        ):
            return True
        if scheme.lower() == "basic":
            # Feed readers speak Basic: any user name, the token as password.
            import base64
            import binascii

            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                _, _, password = base64.b64decode(value.strip()).decode().partition(":")
                if hmac.compare_digest(password.encode(), self.token.encode()):
                    return True
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, self.session_value())

    # -- rendering --

    def render(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        """A page from a template, with a CSRF token for its forms."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        fresh = not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", cookie)
        if fresh:
            cookie = secrets.token_urlsafe(24)
        html = self.env.get_template(name).render(
            request=request,
            csrf_token=self.csrf_for(cookie),
            auth=self.token is not None,
            nav=name.split(".")[0],
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if fresh:
            response.set_cookie(
                CSRF_COOKIE,
                cookie,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response


def _dash(request: Request) -> Dashboard:
    dash: Dashboard = request.app.state.dashboard
    return dash


def _q(request: Request, name: str) -> str | None:
    """A query parameter, stripped, or None when absent or empty."""
    value = request.query_params.get(name, "").strip()
    return value or None


def _int_param(request: Request, name: str) -> int | None:
    value = _q(request, name)
    if value is None:
        return None
    if not value.isdigit():
        raise HTTPException(400, f"{name} must be a version number, not {value[:20]!r}")
    return int(value)


def _date_param(request: Request, name: str) -> str | None:
    value = _q(request, name)
    if value is None:
        return None
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise HTTPException(400, f"{name} must be a date like 2025-03-01") from None
    return value


class SafeJSONResponse(JSONResponse):
    """JSON with `<`, `>` and `&` escaped, so it stays inert even if pasted into HTML."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        return (
            text.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
            .encode("utf-8")
        )


# --- analysis ---------------------------------------------------------------------


#: Signals are worked out for diffs of up to this many hunks: analysis costs
#: ~2-4 ms a hunk (v1 → v200 of a 50,000-word text: over a second), and every
#: page must answer in well under 200 ms.
ANALYSIS_MAX_HUNKS = 25


@functools.lru_cache(maxsize=32)
def _analysis(
    old_text: str, new_text: str, settings: AnalysisSettings, terms: tuple[str, ...]
) -> dict[str, Any] | None:
    """Severity and signals of a diff, shaped for the templates (cached by texts).

    A failing analysis must never break a page: any error is logged and the
    page shows the diff without signals.
    """
    try:
        result = analysis.analyse_with(
            settings,
            old_text,
            new_text,
            change=cached_diff(old_text, new_text),
            watch_terms=terms,
        )
    except Exception:  # a side channel: never fail the page
        log.warning("analysis failed; showing the diff without signals", exc_info=True)
        return None
    return {
        "severity": result.severity,
        "signals": [
            {
                **models.signal_to_json(s),
                "label": models.SIGNAL_LABELS.get(s.kind, s.kind.replace("_", " ")),
            }
            for s in result.signals
        ],
    }


#: The last diffs computed, by their two texts: a long diff (v1 → v200 of a
#: 50,000-word text) costs ~130 ms, and its pages, the task page and the JSON
#: API ask for the same one.
cached_diff = functools.lru_cache(maxsize=16)(detect.diff)


def _diff_context(
    store: Store,
    source_id: str,
    old: int | None,
    new: int | None,
    *,
    page: int = 1,
    config: Config | None = None,
    mode: diffview.Mode | None = None,
) -> dict[str, Any]:
    """Both versions, one page of the view of their diff (in `mode`, or both
    views), the analysis, the version pickers."""
    texts: list[str] = []

    def differ(old_text: str, new_text: str) -> models.Change | None:
        texts[:] = [old_text, new_text]  # kept: reading a long text again costs
        return cached_diff(old_text, new_text)

    old_v, new_v, change = queries.compare(store, source_id, old, new, differ=differ)
    old_text, new_text = texts
    view = diffview.build(change, new_text, page=page, mode=mode) if change else None
    analysis = None
    too_long = False
    if change is not None:
        if len(change.hunks) > ANALYSIS_MAX_HUNKS:
            too_long = True
        else:
            settings = config.analysis if config else AnalysisSettings()
            terms = queries.watch_terms(config, store, source_id) if config else ()
            analysis = _analysis(old_text, new_text, settings, terms)
        if analysis and view:
            analysis = copy.deepcopy(analysis)  # the cached one stays as it was
            where = {section.path: section for section in view.sections}
            for signal in analysis["signals"]:
                section = where.get(signal["section"])
                signal["page"] = section.page if section else None
                signal["anchor"] = section.anchor if section else None
    return {
        "old": queries.version_dict(old_v),
        "new": queries.version_dict(new_v),
        "change": change,
        "view": view,
        "summary": detect.summary(change) if change else "",
        "analysis": analysis,
        "analysis_skipped": too_long,
        "analysis_max_hunks": ANALYSIS_MAX_HUNKS,
        "numbers": [v.number for v in store.versions(source_id)],
    }


# --- pages ------------------------------------------------------------------------


def overview_page(request: Request) -> Response:
    dash = _dash(request)
    data = queries.overview(dash.store, lab=_q(request, "lab"), status=_q(request, "status"))
    return dash.render(
        request,
        "overview.html",
        {**data, "lab": _q(request, "lab") or "", "status": _q(request, "status") or ""},
    )


def source_page(request: Request) -> Response:
    dash = _dash(request)
    data = queries.source_detail(dash.store, request.path_params["source_id"])
    return dash.render(request, "source.html", data)


def diff_page(request: Request) -> Response:
    dash = _dash(request)
    mode: diffview.Mode = "inline" if request.query_params.get("view") == "inline" else "side"
    source_id = request.path_params["source_id"]
    source = dash.store.require_source(source_id)
    data = _diff_context(
        dash.store,
        source_id,
        _int_param(request, "old"),
        _int_param(request, "new"),
        page=_int_param(request, "page") or 1,
        config=dash.config,
        mode=mode,
    )
    link = f"?old={data['old']['number']}&new={data['new']['number']}&view={mode}&"
    return dash.render(request, "diff.html", {**data, "source": source, "mode": mode, "link": link})


def version_raw(request: Request) -> Response:
    """The stored raw snapshot, as a download that can never run in our origin."""
    dash = _dash(request)
    source_id = request.path_params["source_id"]
    version = _version(dash.store, source_id, request.path_params["number"])
    data = dash.store.get_blob(version.raw_sha256)
    media = (version.content_type or "").split(";")[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(media):
        media = "application/octet-stream"
    name = f"{source_id}-v{version.number}{_EXTENSIONS.get(media, '.bin')}"
    return Response(
        data,
        media_type=media,
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "content-security-policy": CSP_SANDBOX,
        },
    )


def version_text(request: Request) -> Response:
    dash = _dash(request)
    version = _version(dash.store, request.path_params["source_id"], request.path_params["number"])
    return PlainTextResponse(
        dash.store.version_text(version), headers={"content-security-policy": CSP_SANDBOX}
    )


def _version(store: Store, source_id: str, number: int) -> VersionRow:
    store.require_source(source_id)
    return store.version(source_id, number)


TASK_STATUSES = ("open", "closed", "dismissed")


def tasks_page(request: Request) -> Response:
    dash = _dash(request)
    status = request.query_params.get("status", "open")
    filters = {
        "status": status if status in TASK_STATUSES else None,
        "lab": _q(request, "lab"),
        "source_id": _q(request, "source"),
        "severity": _q(request, "severity"),
        "assignee": _q(request, "assignee"),
    }
    rows = queries.filter_tasks(dash.store, **filters)
    labs = sorted({row["lab"] for row in dash.store.sources(include_inactive=True)})
    return dash.render(
        request,
        "tasks.html",
        {
            "tasks": rows,
            "labs": labs,
            "filters": {**filters, "status": filters["status"] or "all"},
            "statuses": TASK_STATUSES,
        },
    )


def _task_context(
    store: Store, task_id: int, page: int = 1, config: Config | None = None
) -> dict[str, Any]:
    task = queries.task(store, task_id)
    source = store.require_source(task["source"])
    diff: dict[str, Any] | None
    try:
        diff = _diff_context(
            store,
            task["source"],
            task["from_version"],
            task["to_version"],
            page=page,
            config=config,
            mode="side",  # the task page shows the side-by-side view
        )
    except NotFound:
        diff = None
    return {"task": task, "source": source, "diff": diff, "error": None, "form": {}, "link": "?"}


def task_page(request: Request) -> Response:
    dash = _dash(request)
    page = _int_param(request, "page") or 1
    return dash.render(
        request,
        "task.html",
        _task_context(dash.store, request.path_params["task_id"], page, dash.config),
    )


def _task_action(name: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        dash = _dash(request)
        task_id: int = request.path_params["task_id"]
        form = await request.form()
        if not dash.csrf_ok(request, form):
            raise HTTPException(
                403,
                "This form has expired or did not come from this dashboard: "
                "reload the page and try again.",
            )
        fields = {key: str(form.get(key, "")) for key in ("who", "note")}

        def act() -> Response:
            store = dash.store
            try:
                if name == "assign":
                    review.assign(store, task_id, fields["who"], actor="dashboard")
                elif name == "close":
                    review.close(store, task_id, fields["note"], actor="dashboard")
                elif name == "dismiss":
                    review.dismiss(store, task_id, fields["note"], actor="dashboard")
                else:
                    review.reopen(store, task_id, actor="dashboard")
            except TaskStateError as exc:
                context = _task_context(store, task_id, config=dash.config)
                context.update(error=str(exc), form={"action": name, **fields})
                return dash.render(request, "task.html", context, status=409)
            return RedirectResponse(f"/tasks/{task_id}", status_code=303)

        return await run_in_threadpool(act)

    return endpoint


def search_page(request: Request) -> Response:
    dash = _dash(request)
    store = dash.store
    text = request.query_params.get("q", "").strip()[:500]
    filters = {
        "lab": _q(request, "lab"),
        "source_id": _q(request, "source"),
        "since": _date_param(request, "since"),
        "until": _date_param(request, "until"),
    }
    results: dict[str, Any] = {"query": text, "results": []}
    if text:
        store.index_versions()
        results = queries.search(store, text, **filters)
    overview = queries.sources(store)
    return dash.render(
        request,
        "search.html",
        {
            **results,
            "filters": {k: v or "" for k, v in filters.items()},
            "labs": sorted({row["lab"] for row in overview}),
            "all_sources": [(row["id"], row["title"]) for row in overview],
        },
    )


def login_page(request: Request) -> Response:
    dash = _dash(request)
    return dash.render(request, "login.html", {"error": None, "next": _next(request)})


def _next(request: Request) -> str:
    target = request.query_params.get("next", "/")
    # Only local paths: a login form must not redirect to another site.
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def login_submit(request: Request) -> Response:
    dash = _dash(request)
    form = await request.form()
    if not dash.csrf_ok(request, form):
        raise HTTPException(403, "This form has expired: reload the page and try again.")
    sent = str(form.get("token", ""))
    target = str(form.get("next", "/"))
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    if dash.token is None or not hmac.compare_digest(sent.encode(), dash.token.encode()):
        return dash.render(
            request, "login.html", {"error": "That token is not right.", "next": target}, 401
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        dash.session_value(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=30 * 24 * 3600,
    )
    return response


# --- feeds ------------------------------------------------------------------------


def _base_url(request: Request) -> str:
    configured = _dash(request).config.watcher.dashboard_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def _atom(request: Request, title: str, feed_id: str, entries: list[dict[str, Any]]) -> Response:
    base = _base_url(request)
    ns = "http://www.w3.org/2005/Atom"
    feed = ET.Element("feed", xmlns=ns)
    ET.SubElement(feed, "title").text = escape.xml(title)
    ET.SubElement(feed, "id").text = f"urn:watcher:feed:{quote(feed_id, safe=':')}"
    updated = entries[0]["captured_at"] if entries else clock.iso(clock.now())
    ET.SubElement(feed, "updated").text = updated
    ET.SubElement(feed, "link", rel="self", href=base + request.url.path)
    ET.SubElement(feed, "link", rel="alternate", href=base + "/")
    author = ET.SubElement(feed, "author")
    ET.SubElement(author, "name").text = "watcher"
    for entry in entries:
        number = entry["number"]
        link = f"{base}/sources/{quote(entry['source'])}/diff?old={number - 1}&new={number}"
        item = ET.SubElement(feed, "entry")
        ET.SubElement(item, "title").text = escape.xml(
            f"{entry['lab']}: {entry['title']} changed (v{number - 1} → v{number})"
        )
        ET.SubElement(item, "id").text = f"urn:watcher:version:{quote(entry['source'])}:{number}"
        ET.SubElement(item, "updated").text = entry["captured_at"]
        ET.SubElement(item, "link", rel="alternate", href=link)
        ET.SubElement(item, "category", term=escape.xml(entry["lab"]))
        words = entry["words"]
        previous = entry["previous_words"]
        lines = [f"{previous:,} → {words:,} words." if previous is not None else f"{words} words."]
        task = entry["task"]
        if task:
            severity = f" ({task['severity']})" if task["severity"] else ""
            lines.append(f"Task #{task['id']}{severity}, {task['status']}: {task['summary']}")
        ET.SubElement(item, "summary", type="text").text = escape.xml(" ".join(lines))
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


def feed_all(request: Request) -> Response:
    entries = queries.feed_entries(_dash(request).store, limit=FEED_ENTRIES)
    return _atom(request, "watcher: policy changes", "all", entries)


def feed_lab(request: Request) -> Response:
    lab = request.path_params["lab"]
    store = _dash(request).store
    if lab not in {row["lab"] for row in store.sources(include_inactive=True)}:
        raise NotFound(f"no lab {lab!r}")
    entries = queries.feed_entries(store, lab=lab, limit=FEED_ENTRIES)
    return _atom(request, f"watcher: {lab} policy changes", f"lab:{lab}", entries)


def feed_source(request: Request) -> Response:
    source_id = request.path_params["source_id"]
    store = _dash(request).store
    source = store.require_source(source_id)
    entries = queries.feed_entries(store, source_id=source_id, limit=FEED_ENTRIES)
    return _atom(request, f"watcher: {source['title']}", f"source:{source_id}", entries)


# --- JSON API ---------------------------------------------------------------------


def api_sources(request: Request) -> Response:
    return SafeJSONResponse({"sources": queries.sources(_dash(request).store)})


def api_versions(request: Request) -> Response:
    return SafeJSONResponse(queries.history(_dash(request).store, request.path_params["source_id"]))


def api_version(request: Request) -> Response:
    store = _dash(request).store
    version = _version(store, request.path_params["source_id"], request.path_params["number"])
    return SafeJSONResponse(
        {
            "source": version.source_id,
            **queries.version_dict(version),
            "url": version.url,
            "content_type": version.content_type,
            "text": store.version_text(version),
        }
    )


def api_tasks(request: Request) -> Response:
    status = _q(request, "status")
    rows = queries.filter_tasks(
        _dash(request).store,
        status=status if status in TASK_STATUSES else None,
        lab=_q(request, "lab"),
        source_id=_q(request, "source"),
        severity=_q(request, "severity"),
        assignee=_q(request, "assignee"),
    )
    return SafeJSONResponse({"tasks": rows})


def api_task(request: Request) -> Response:
    return SafeJSONResponse(queries.task(_dash(request).store, request.path_params["task_id"]))


def api_diff(request: Request) -> Response:
    store = _dash(request).store
    source_id = request.path_params["source_id"]
    old_v, new_v, change = queries.compare(
        store, source_id, _int_param(request, "old"), _int_param(request, "new"), differ=cached_diff
    )
    return SafeJSONResponse(
        {
            "source": source_id,
            "old": queries.version_dict(old_v),
            "new": queries.version_dict(new_v),
            "summary": detect.summary(change) if change else "no change",
            "change": detect.change_to_json(change) if change else None,
        }
    )


def api_search(request: Request) -> Response:
    store = _dash(request).store
    text = request.query_params.get("q", "").strip()[:500]
    if text:
        store.index_versions()
    data = queries.search(
        store,
        text,
        lab=_q(request, "lab"),
        source_id=_q(request, "source"),
        since=_date_param(request, "since"),
        until=_date_param(request, "until"),
    )
    for result in data["results"]:
        result["snippet"] = [{"text": text, "match": match} for text, match in result["snippet"]]
    return SafeJSONResponse(data)


# --- errors -----------------------------------------------------------------------

_TITLES = {
    400: "Bad request",
    401: "Sign in needed",
    403: "Refused",
    404: "Not found",
    405: "Method not allowed",
    409: "Not possible",
    500: "Something went wrong",
    503: "Database busy",
}


def _error_response(request: Request, status: int, message: str) -> Response:
    response: Response
    if request.url.path.startswith("/api/"):
        response = SafeJSONResponse({"error": message, "status": status}, status_code=status)
    else:
        try:
            response = _dash(request).render(
                request,
                "error.html",
                {"status": status, "title": _TITLES.get(status, "Error"), "message": message},
                status=status,
            )
        except Exception:  # the error page itself failed: plain text, still no trace
            log.exception("error page failed")
            title = _TITLES.get(status, "Error")
            response = PlainTextResponse(f"{status} {title}", status_code=status)
    # 500s are answered outside the middleware that adds these.
    response.headers.update({"content-security-policy": CSP, **SECURITY_HEADERS})
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail
    if exc.status_code == 404 and message == "Not Found":
        message = "There is no such page here."
    elif exc.status_code == 405:
        message = "This address does not accept that method (changes are made with forms)."
    headers = getattr(exc, "headers", None) or {}
    response = _error_response(request, exc.status_code, str(message))
    response.headers.update(headers)
    return response


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error_response(request, 404, str(exc))


async def _store_error(request: Request, exc: Exception) -> Response:
    log.error("dashboard: %s", exc)
    transient = isinstance(exc, WatcherError) and exc.transient
    status = 503 if transient else 500
    return _error_response(request, status, "The database could not answer; try again shortly.")


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("dashboard: %s %s failed", request.method, request.url.path, exc_info=exc)
    return _error_response(request, 500, "The page could not be built; the log says why.")


# --- middleware -------------------------------------------------------------------


class GuardMiddleware:
    """Host check, authentication and security headers, for every request."""

    def __init__(self, app: ASGIApp, dashboard: Dashboard) -> None:
        self.app = app
        self.dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = {"content-security-policy": CSP, **SECURITY_HEADERS}
                for name, value in extra.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        request = Request(scope)
        dash = self.dashboard
        if dash.allowed_hosts is not None:
            host = request.headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in dash.allowed_hosts:
                response: Response = PlainTextResponse("unknown host", status_code=400)
                await response(scope, receive, send_with_headers)
                return
        path = request.url.path
        public = path.startswith("/static/") or path == "/login"
        if not public and not dash.authorised(request):
            if path.startswith("/api/") or path.endswith(".atom") or request.method != "GET":
                response = SafeJSONResponse(
                    {"error": "authentication required", "status": 401},
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="watcher"'},
                )
            else:
                target = path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


# --- the app ----------------------------------------------------------------------


def create_app(
    config: Config,
    *,
    host: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Starlette:
    """The dashboard app for `config`, as it will be served on `host`.

    Raises ConfigError when `host` is not loopback and no auth token is set.
    """
    host = host or config.dashboard.host
    token = auth_token(config, host, os.environ if environ is None else environ)
    allowed: tuple[str, ...] | None = None
    if is_loopback(host):
        # DNS rebinding: a web page that resolves its own name to 127.0.0.1
        # must not be able to read this dashboard, so only loopback names
        # (and the configured dashboard_url's host, for a local proxy) pass.
        extra = urlsplit(config.watcher.dashboard_url).hostname
        allowed = (*LOOPBACK_HOSTS, *([extra] if extra else []))
    dashboard = Dashboard(
        config=config,
        token=token,
        allowed_hosts=None if token else allowed,
        stores=_Stores(config.watcher.state_dir),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            added = await run_in_threadpool(dashboard.store.index_versions)
            if added:
                log.info("dashboard: indexed %d versions for search", added)
        except WatcherError as exc:
            log.warning("dashboard: search index catch-up failed: %s", exc)
        try:
            yield
        finally:
            dashboard.stores.close()

    task_id = "{task_id:int}"
    routes = [
        Route("/", overview_page),
        Route("/sources/{source_id}", source_page),
        Route("/sources/{source_id}/diff", diff_page),
        Route("/sources/{source_id}/versions/{number:int}/raw", version_raw),
        Route("/sources/{source_id}/versions/{number:int}/text", version_text),
        Route("/sources/{source_id}/feed.atom", feed_source),
        Route("/labs/{lab:path}/feed.atom", feed_lab),
        Route("/feed.atom", feed_all),
        Route("/tasks", tasks_page),
        Route(f"/tasks/{task_id}", task_page),
        *(
            Route(f"/tasks/{task_id}/{action}", _task_action(action), methods=["POST"])
            for action in ("assign", "close", "dismiss", "reopen")
        ),
        Route("/search", search_page),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/api/sources", api_sources),
        Route("/api/sources/{source_id}/versions", api_versions),
        Route("/api/sources/{source_id}/versions/{number:int}", api_version),
        Route("/api/sources/{source_id}/diff", api_diff),
        Route("/api/tasks", api_tasks),
        Route(f"/api/tasks/{task_id}", api_task),
        Route("/api/search", api_search),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        debug=False,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: _http_error,
            NotFound: _not_found,
            StoreError: _store_error,
            Exception: _server_error,
        },
    )
    app.state.dashboard = dashboard
    app.add_middleware(GuardMiddleware, dashboard=dashboard)
    return app


# --- serving ----------------------------------------------------------------------


class DashboardServer(uvicorn.Server):
    """uvicorn, leaving signals to its host unless asked (the daemon has its own)."""

    def __init__(self, config: uvicorn.Config, *, handle_signals: bool) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self.handle_signals:
            with super().capture_signals():
                yield
        else:
            yield


def make_server(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    handle_signals: bool = False,
    environ: Mapping[str, str] | None = None,
) -> DashboardServer:
    """A uvicorn server for the dashboard (refuses an open non-loopback bind)."""
    host = host or config.dashboard.host
    port = config.dashboard.port if port is None else port
    app = create_app(config, host=host, environ=environ)
    uv_config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    return DashboardServer(uv_config, handle_signals=handle_signals)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise WatcherError(
            f"the dashboard cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    return sock


async def serve(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    handle_signals: bool = False,
) -> None:
    """Serve the dashboard until cancelled (or, with handle_signals, until SIGINT/SIGTERM).

    Raises ConfigError for an open non-loopback bind and WatcherError when
    the address cannot be bound. Cancelling the task stops the server cleanly.
    """
    server = make_server(config, host=host, port=port, handle_signals=handle_signals)
    sock = _bind(server.config.host, server.config.port)
    log.info("dashboard on http://%s:%d/", server.config.host, server.config.port)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
        raise
    finally:
        sock.close()
