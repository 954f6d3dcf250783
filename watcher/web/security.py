"""Who may ask, and what every answer carries: hosts, tokens, security headers.

On a loopback address only loopback Host headers are served (against DNS
rebinding); any other address needs `[dashboard] auth_token_env` or
`[dashboard.users]`, and then every request carries a token (bearer, HTTP
Basic for feed readers, or the sign-in cookie): a rater's token makes the
request that rater's. Behind a reverse proxy on the same machine,
`trusted_header` names the rater instead (refused beyond loopback: anyone
reaching the port could set it). Every response gets a Content-Security-Policy that allows no
scripts at all, and the headers in `SECURITY_HEADERS`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watcher.config import Config
from watcher.errors import ConfigError
from watcher.web.dashboard import VISITOR_KEY, Dashboard, SafeJSONResponse

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


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def user_tokens(config: Config, host: str, environ: Mapping[str, str]) -> dict[str, str]:
    """Each rater's token from `[dashboard.users]`, for the variables that are set.

    An unset variable is a `validate` warning (that rater cannot sign in); none
    set at all beyond loopback, with no shared token either, is a ConfigError.
    """
    users = {name: environ[var] for name, var in config.dashboard.users if environ.get(var)}
    configured = config.dashboard.users and not config.dashboard.auth_token_env
    if configured and not users and not is_loopback(host):
        names = ", ".join(var for _, var in config.dashboard.users)
        raise ConfigError([f"dashboard: none of the raters' token variables is set ({names})"])
    return users


def auth_token(config: Config, host: str, environ: Mapping[str, str]) -> str | None:
    """The shared token requests may carry, or None without `auth_token_env`.

    Raises ConfigError when binding beyond loopback without any token, or when
    the configured variable is unset or empty: the dashboard never runs open
    to the network by accident.
    """
    if config.dashboard.trusted_header and not is_loopback(host):
        raise ConfigError(
            [
                f"dashboard: trusted_header needs a loopback host (binding to {host}: "
                "anyone reaching the port could set the header)"
            ]
        )
    name = config.dashboard.auth_token_env
    if name:
        token = environ.get(name, "")
        if not token:
            raise ConfigError(
                [f"dashboard: environment variable {name} (auth_token_env) is unset or empty"]
            )
        return token
    if not is_loopback(host) and not config.dashboard.users:
        raise ConfigError(
            [
                f"dashboard: binding to {host} needs [dashboard] auth_token_env "
                "(the name of an environment variable holding the access token)"
            ]
        )
    return None


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
        visitor = dash.visitor(request)
        if visitor is not None:
            scope[VISITOR_KEY] = visitor
        if not public and visitor is None:
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
