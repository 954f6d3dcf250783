"""The reviewers' dashboard assembled and served: routes, error pages, uvicorn.

A server-rendered Starlette app over the watcher database. Its parts:
`views` (read pages), `forms` (task actions and sign-in, POST with CSRF
tokens), `feed` (Atom), `api` (JSON), `diffs` (diffs and signals, cached),
`security` (hosts, tokens, headers) and `dashboard` (the shared state,
templates and request helpers). Checks stay the daemon's job.

Safety, since every page shows text scraped from the web:
- templates autoescape everything, and control/bidi characters are shown as
  `\\xNN`/`\\uNNNN` (`watcher.escape`); JSON escapes `<`, `>` and `&`; raw
  snapshots are downloads only;
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
import logging
import os
import signal
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from watcher.config import Config
from watcher.errors import NotFound, StoreError, WatcherError
from watcher.web import api, feed, forms, views
from watcher.web.dashboard import HERE, Dashboard, SafeJSONResponse, Stores, dashboard_of
from watcher.web.security import (
    CSP,
    LOOPBACK_HOSTS,
    SECURITY_HEADERS,
    GuardMiddleware,
    auth_token,
    is_loopback,
    user_tokens,
)

log = logging.getLogger(__name__)


# --- errors -----------------------------------------------------------------------

_TITLES = {
    400: "Bad request",
    401: "Sign in needed",
    403: "Refused",
    413: "Too large",
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
            response = dashboard_of(request).render(
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
    env = os.environ if environ is None else environ
    token = auth_token(config, host, env)
    users = user_tokens(config, host, env)
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
        # with tokens, a rebinding page cannot read anything; a trusted header it could set
        allowed_hosts=allowed if config.dashboard.trusted_header or not (token or users) else None,
        stores=Stores(config.watcher.state_dir),
        users=users,
        trusted_header=config.dashboard.trusted_header,
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
        Route("/", views.overview_page),
        Route("/sources/{source_id}", views.source_page),
        Route("/sources/{source_id}/diff", views.diff_page),
        Route("/sources/{source_id}/versions/{number:int}/raw", views.version_raw),
        Route("/sources/{source_id}/versions/{number:int}/text", views.version_text),
        Route("/sources/{source_id}/versions/{number:int}", views.version_page),
        Route(
            "/sources/{source_id}/versions/{number:int}/cite", forms.cite_submit, methods=["POST"]
        ),
        Route("/sources/{source_id}/feed.atom", feed.feed_source),
        Route("/labs/{lab:path}/feed.atom", feed.feed_lab),
        Route("/labs/{lab:path}/criteria", views.criteria_page),
        Route("/feed.atom", feed.feed_all),
        *(
            Route(
                f"/sources/{{source_id}}/{action}", forms.lineage_action(action), methods=["POST"]
            )
            for action in ("link", "unlink")
        ),
        Route("/compare", views.compare_page),
        Route("/tasks", views.tasks_page),
        Route(f"/tasks/{task_id}", views.task_page),
        *(
            Route(f"/tasks/{task_id}/{action}", forms.task_action(action), methods=["POST"])
            for action in ("assign", "close", "dismiss", "reopen")
        ),
        Route("/search", views.search_page),
        Route("/login", forms.login_page, methods=["GET"]),
        Route("/login", forms.login_submit, methods=["POST"]),
        Route("/api/sources", api.api_sources),
        Route("/api/sources/{source_id}/versions", api.api_versions),
        Route("/api/sources/{source_id}/versions/{number:int}", api.api_version),
        Route("/api/sources/{source_id}/diff", api.api_diff),
        Route("/api/compare", api.api_compare),
        Route("/api/tasks", api.api_tasks),
        Route(f"/api/tasks/{task_id}", api.api_task),
        *(
            Route(f"/api/tasks/{task_id}/{action}", api.api_task_action(action), methods=["POST"])
            for action in ("assign", "close", "dismiss", "reopen")
        ),
        Route("/api/sources/{source_id}/check", api.api_check, methods=["POST"]),
        Route("/sources/{source_id}/check", forms.check_submit, methods=["POST"]),
        Route("/api/search", api.api_search),
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

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        handle_signals: bool,
        on_listening: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals
        self.on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        # the address as bound, so port 0 shows the port the system chose
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        log.info("dashboard on %s", url)
        if self.on_listening is not None:
            self.on_listening(url)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own version raises the signal again once the server has shut
        # down, so Ctrl-C, handled, still ended `watcher serve` as a KeyboardInterrupt
        # ("Aborted!", exit 1). Here a handled signal is a clean stop.
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def make_server(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    handle_signals: bool = False,
    environ: Mapping[str, str] | None = None,
    on_listening: Callable[[str], None] | None = None,
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
    return DashboardServer(uv_config, handle_signals=handle_signals, on_listening=on_listening)


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
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve the dashboard until cancelled (or, with handle_signals, until SIGINT/SIGTERM).

    Raises ConfigError for an open non-loopback bind and WatcherError when
    the address cannot be bound. `on_listening` is called with the dashboard's
    URL once it listens. Cancelling the task stops the server cleanly.
    """
    server = make_server(
        config, host=host, port=port, handle_signals=handle_signals, on_listening=on_listening
    )
    sock = _bind(server.config.host, server.config.port)
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
