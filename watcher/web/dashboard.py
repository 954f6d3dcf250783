"""What the dashboard's endpoints share: its state, templates and request helpers.

`Dashboard` holds the config, the access token, a SQLite connection per
worker thread, the Jinja environment (autoescape on; scraped text goes
through the `vis` filter, `watcher.escape.visible`) and the secret behind
the CSRF tokens and sign-in cookies.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from watcher import clock, escape
from watcher.config import Config
from watcher.store import Store, VersionRow

HERE = Path(__file__).parent
CSRF_COOKIE = "watcher_csrf"
SESSION_COOKIE = "watcher_session"
CSRF_FIELD = "csrf_token"


# --- the database, one connection per worker thread -------------------------------


class Stores:
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


def _words_changed(item: dict[str, Any]) -> str:
    """'+16 −12 words': what an edit added and removed, never only the net count."""
    return f"+{item['words_added']:,} −{item['words_removed']:,} words"


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
        words_changed=_words_changed,
        ranges=_ranges,
        http_url=_http_url,
        sev=_severity_class,
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
    stores: Stores
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


def dashboard_of(request: Request) -> Dashboard:
    dash: Dashboard = request.app.state.dashboard
    return dash


def query_param(request: Request, name: str) -> str | None:
    """A query parameter, stripped, or None when absent or empty."""
    value = request.query_params.get(name, "").strip()
    return value or None


def int_param(request: Request, name: str) -> int | None:
    value = query_param(request, name)
    if value is None:
        return None
    if not value.isdigit():
        raise HTTPException(400, f"{name} must be a version number, not {value[:20]!r}")
    return int(value)


def date_param(request: Request, name: str) -> str | None:
    value = query_param(request, name)
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


def version_of(store: Store, source_id: str, number: int) -> VersionRow:
    store.require_source(source_id)
    return store.version(source_id, number)
