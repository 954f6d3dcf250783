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

from watcher import clock, escape, people
from watcher.config import Config
from watcher.store import Store, VersionRow
from watcher.wording import plural

HERE = Path(__file__).parent
CSRF_COOKIE = "watcher_csrf"
SESSION_COOKIE = "watcher_session"
CSRF_FIELD = "csrf_token"
VISITOR_KEY = "watcher.visitor"  # the request scope's key for who is asking


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
        plural=lambda v, noun: "—" if v is None else plural(v, noun),
    )
    return env


# --- the application state --------------------------------------------------------


@dataclass(frozen=True)
class Visitor:
    """Who a request comes from, once authenticated."""

    name: str | None  # a rater; None: the shared token, or an open loopback dashboard
    bearer: bool = False  # authenticated by an `Authorization: Bearer` token

    def actor(self, default: str) -> str:
        """The name a task's history records: the rater's, else `default`."""
        return self.name or default


@dataclass
class Dashboard:
    """Everything the endpoints share."""

    config: Config
    token: str | None
    allowed_hosts: tuple[str, ...] | None  # None: any Host header
    stores: Stores
    env: jinja2.Environment = field(default_factory=_environment)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    users: dict[str, str] = field(default_factory=dict)  # rater → token (the set ones)
    trusted_header: str | None = None
    # the sources a "check now" is running for (one at a time per source)
    checking: set[str] = field(default_factory=set)
    checking_lock: threading.Lock = field(default_factory=threading.Lock)

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

    @property
    def open(self) -> bool:
        """No authentication configured: a loopback dashboard anyone local may use."""
        return self.token is None and not self.config.dashboard.users and not self.trusted_header

    @property
    def has_tokens(self) -> bool:
        """Whether any token (shared or a rater's) is set: the write API needs one."""
        return self.token is not None or bool(self.users)

    def session_value(self, name: str | None = None) -> str:
        """The sign-in cookie for the shared token, or for rater `name` (the name,
        then a MAC of it under the rater's token)."""
        if name is None:
            assert self.token is not None
            return hmac.new(self.token.encode(), b"watcher-session-v1", hashlib.sha256).hexdigest()
        mac = hmac.new(
            self.users[name].encode(), b"watcher-session-v1:" + name.encode(), hashlib.sha256
        ).hexdigest()
        label = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
        return f"{label}.{mac}"

    def match_token(self, sent: str) -> Visitor | None:
        """Who `sent` is the token of: a rater, the shared token (name None), or nobody.

        Every configured token is compared, in constant time, whatever matched.
        """
        found: Visitor | None = None
        data = sent.encode()
        for name, token in self.users.items():
            if hmac.compare_digest(data, token.encode()) and found is None:
                found = Visitor(name)
        if self.token is not None and hmac.compare_digest(data, self.token.encode()):
            found = found or Visitor(None)
        return found

    def visitor(self, request: Request) -> Visitor | None:
        """Who is asking, or None when the request is not authenticated."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            found = self.match_token(value.strip())
            if found is not None:
                return Visitor(found.name, bearer=True)
        if scheme.lower() == "basic":
            # Feed readers speak Basic: any user name, the token as password.
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                _, _, password = base64.b64decode(value.strip()).decode().partition(":")
                if password and (found := self.match_token(password)) is not None:
                    return found
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if cookie:
            found = self._session(cookie)
            if found is not None:
                return found
        if self.trusted_header:
            named = request.headers.get(self.trusted_header)
            if named is not None:
                with contextlib.suppress(ValueError):
                    return Visitor(people.check_name(named))
        return Visitor(None) if self.open else None

    def _session(self, cookie: str) -> Visitor | None:
        label, dot, _ = cookie.partition(".")
        if not dot:
            if self.token is not None and hmac.compare_digest(cookie, self.session_value()):
                return Visitor(None)
            return None
        try:
            name = base64.urlsafe_b64decode(label + "=" * (-len(label) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if name in self.users and hmac.compare_digest(cookie, self.session_value(name)):
            return Visitor(name)
        return None

    def authorised(self, request: Request) -> bool:
        return self.visitor(request) is not None

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
            auth=not self.open,
            signed_in=visitor_of(request).name,
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


def visitor_of(request: Request) -> Visitor:
    """Who is asking (set by the guard; nobody named on the public sign-in page)."""
    visitor = request.scope.get(VISITOR_KEY)
    return visitor if isinstance(visitor, Visitor) else Visitor(None)


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
