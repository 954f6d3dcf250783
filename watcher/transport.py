"""The transport under the fetcher's httpx client: one pool per origin, proxies as curl reads them.

`ProxyRoutes` sends each request straight to its server or through a proxy:
the configured one, a source's own (the request's `"watcher.proxy"`
extension), or the environment's (`http_proxy`, `https_proxy`, `all_proxy`,
`no_proxy`). Under it, httpx's own transport (httpcore), one connection pool
per origin, closed once idle past the keep-alive. `proxy_for` tells people
which proxy a URL goes through (`watcher validate`).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import httpx  # the one import to change for the httpx2 fork

KEEPALIVE_EXPIRY_S = 30.0  # an idle connection is closed this long after its last answer
DIRECT = "none"  # the proxy setting that goes straight to the server


def _pool(
    proxy: httpx.Proxy | None = None, tls: ssl.SSLContext | None = None
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (httpcore): one connection pool, through `proxy` when given."""
    return httpx.AsyncHTTPTransport(
        verify=tls if tls is not None else True,
        proxy=proxy,
        retries=0,  # connection retries are ours, with backoff
        # No pool limits: `Fetcher` bounds requests per host and per pass itself.
        limits=httpx.Limits(
            max_connections=None,
            max_keepalive_connections=None,
            keepalive_expiry=KEEPALIVE_EXPIRY_S,
        ),
    )


# One pool per origin, not one for every host: httpcore's pool looks at each of
# its connections (a poll() of its socket, for an idle one) on every request it
# routes, so one pool shared by a pass over 1000 hosts spent most of the main
# process's CPU there (a cold pass: 20 s of 35 under a profiler). A pool per
# origin holds the few connections `per_host` allows. Pools idle for longer
# than their connections' keep-alive are closed, so a daemon that checks many
# hosts over a day keeps no sockets open for hosts it is not talking to.
Origin = tuple[str | None, str, str, int | None]  # (proxy, scheme, host, port)


@dataclass
class _OriginPool:
    transport: httpx.AsyncHTTPTransport
    in_flight: int = 0  # answers whose bodies are still being read
    last_used: float = 0.0


class _TrackedStream(httpx.AsyncByteStream):
    """A response body that tells its pool when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, pool: _OriginPool) -> None:
        self._stream = stream
        self._pool = pool
        self._open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._open:
                self._open = False
                self._pool.in_flight -= 1
                self._pool.last_used = time.monotonic()


class ProxyRoutes(httpx.AsyncBaseTransport):
    """Sends each request straight to its server or through the proxy `route` picks.

    httpx reads the proxy variables only when it builds its own transport, so
    the choice is made here: `proxy` (a URL, or "none" for direct; None for
    the environment, read as curl reads it: `http_proxy`, `https_proxy`,
    `all_proxy`, `no_proxy`). A request's `"watcher.proxy"` extension
    overrides it (a source's own `proxy`). One pool per origin and proxy, made
    on first use and closed once idle past the keep-alive.
    """

    def __init__(
        self,
        proxy: str | None = None,
        *,
        auth: tuple[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._proxy = proxy
        self._auth = auth
        self._environ = dict(os.environ if environ is None else environ)
        self._pools: dict[Origin, _OriginPool] = {}
        self._swept = time.monotonic()
        # One TLS context for every pool: loading the trust store costs ~25 ms.
        self._tls: ssl.SSLContext | None = None

    def route(self, url: httpx.URL, override: str | None = None) -> str | None:
        """The proxy URL `url` goes through, or None for a direct connection."""
        setting = override if override is not None else self._proxy
        if setting is not None:
            return None if setting == DIRECT else setting
        return environment_proxy(url, self._environ)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        proxy = self.route(url, request.extensions.get("watcher.proxy"))
        await self._close_idle_pools()
        origin: Origin = (proxy, url.scheme, url.host, url.port)
        pool = self._pools.get(origin)
        if pool is None:
            if self._tls is None:
                self._tls = httpx.create_ssl_context()  # SSL_CERT_FILE/_DIR as httpx reads them
            pool = self._pools[origin] = _OriginPool(_pool(self._proxy_of(proxy), self._tls))
        pool.in_flight += 1
        pool.last_used = time.monotonic()
        try:
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            pool.in_flight -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_TrackedStream(response.stream, pool),
            extensions=response.extensions,
        )

    async def _close_idle_pools(self) -> None:
        """Close the pools nobody used for longer than a connection may idle."""
        now = time.monotonic()
        if now - self._swept < KEEPALIVE_EXPIRY_S:
            return
        self._swept = now
        for origin, pool in list(self._pools.items()):
            if pool.in_flight == 0 and now - pool.last_used > KEEPALIVE_EXPIRY_S:
                del self._pools[origin]
                await pool.transport.aclose()

    def _proxy_of(self, proxy: str | None) -> httpx.Proxy | None:
        if proxy is None:
            return None
        url = httpx.URL(proxy)
        # Credentials from the environment's own URL (as curl takes them) or proxy_auth_env.
        if url.userinfo or self._auth is None:
            return httpx.Proxy(url)
        return httpx.Proxy(url, auth=self._auth)

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.transport.aclose()


def proxy_for(url: str, setting: str | None, environ: Mapping[str, str]) -> str | None:
    """The proxy (host:port) `url` goes through under `setting`, for people to read; None: direct."""
    proxy = ProxyRoutes(setting, environ=environ).route(httpx.URL(url))
    if proxy is None:
        return None
    parsed = httpx.URL(proxy)
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host


def environment_proxy(url: httpx.URL, environ: Mapping[str, str]) -> str | None:
    """The proxy curl would use for `url` from `environ`, or None.

    Each variable in either case, lower case first. (curl ignores an upper-case
    `HTTP_PROXY` because a CGI program's environment can carry one from a
    request's `Proxy:` header; watcher is never a CGI program, and users who
    set `HTTP_PROXY` expect it to be used.) `no_proxy` lists hosts
    to reach directly: `*` for all, a name (`example.com` and `.example.com`
    both match the name and every name under it), an IP address or network
    (`10.0.0.0/8`), each optionally with `:port` to match that port only.
    """
    if _no_proxy(url, _env(environ, "no_proxy")):
        return None
    if url.scheme == "http":
        value = _env(environ, "http_proxy") or _env(environ, "all_proxy")
    else:
        value = _env(environ, "https_proxy") or _env(environ, "all_proxy")
    value = (value or "").strip()
    if not value:
        return None
    return value if "://" in value else f"http://{value}"


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name) or environ.get(name.upper()) or ""


def _no_proxy(url: httpx.URL, value: str) -> bool:
    host = url.host.lower().rstrip(".")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in value.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """`host:8080` → ("host", 8080); `[::1]:8080` → ("::1", 8080); `::1` stays whole."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return name, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        if port.isdigit():
            return name, int(port)
    return entry, None
