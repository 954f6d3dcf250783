"""The fetch stage: one conditional GET per check, polite, bounded and strict.

`Fetcher` owns the one shared `httpx.AsyncClient` of a pass (built by
`build_client`, the only place the HTTP library is configured, so a swap to
the `httpx2` fork is one import). A fetch:

- waits for a slot of its host (`per_host`) and then of the pass
  (`concurrency`), for every hop of a redirect chain, and holds no slot while
  it sleeps before a retry;
- sends the user agent and `If-None-Match` / `If-Modified-Since`;
- follows at most `max_redirects` redirects, and a redirect from https to
  http only when `allow_downgrade` (the result then names the downgrade);
- bounds every phase (`httpx.Timeout`) and every hop as a whole
  (`asyncio.timeout`), because a server that drips a byte at a time never
  trips a read timeout;
- reads the raw body and inflates gzip/deflate itself with `max_length`, so a
  body over `max_bytes` (compressed or not) is refused after inflating at
  most `max_bytes + 1` bytes;
- retries transient failures (network, timeouts, truncated bodies, 429, 5xx)
  with exponential backoff and full jitter, honouring `Retry-After` up to a cap.

It returns a `FetchResult` for a 2xx or a 304 to a conditional request (a 304
to a request that carried no validator is an error) and raises a `FetchError`
subclass with a one-line reason for everything else; no exception of httpx,
httpcore or ssl escapes this module.

The transport is httpx's own (httpcore and h11), one connection pool per
origin, routed to proxies by `watcher.transport.ProxyRoutes`: proxies come
from the settings, a source's own `proxy`, or the environment as curl reads it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from types import TracebackType

import httpx  # the one import to change for the httpx2 fork

from watcher import clock, escape
from watcher.errors import (
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    TooLarge,
    TooManyRedirects,
    TruncatedBody,
)
from watcher.models import FetchResult
from watcher.transport import ProxyRoutes

log = logging.getLogger(__name__)

# Only what we can inflate ourselves: brotli and zstd need optional libraries,
# and a body we cannot decode is worse than a slightly larger download.
ACCEPT_ENCODING = "gzip, deflate"
URL_CACHE_SIZE = 100_000  # parsed URLs kept by a Fetcher (a daemon's lives for months)

# What httpx and the transport under it raise, mapped to a FetchError.
_MAPPED_ERRORS: tuple[type[BaseException], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    ssl.SSLError,
    OSError,
)


@dataclass(frozen=True)
class FetchSettings:
    """How the fetcher behaves; the defaults are those of `config.toml`."""

    user_agent: str
    timeout: float = 30.0  # seconds, per phase and per hop as a whole
    max_bytes: int = 25_000_000  # of the decoded body
    concurrency: int = 16  # requests in flight overall
    per_host: int = 2  # requests in flight per host:port
    max_redirects: int = 10
    retries: int = 2  # attempts after the first, for transient errors only
    backoff: float = 1.0  # base seconds of the exponential backoff (full jitter)
    retry_after_cap: float = 120.0  # Retry-After is honoured up to this many seconds
    allow_downgrade: bool = True  # follow a redirect from https to http
    proxy: str | None = None  # a proxy URL, "none" (direct), or None: the environment's
    proxy_auth: tuple[str, str] | None = None  # user and password for a configured proxy


def build_client(
    settings: FetchSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one HTTP client of the package, configured from `settings`."""
    if transport is None:
        transport = ProxyRoutes(settings.proxy, auth=settings.proxy_auth)
    client = httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.timeout),
        follow_redirects=False,  # followed hop by hop in `Fetcher`, each in its host's slot
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
    )
    _keep_cookies_only_when_set(client.cookies)
    return client


def _keep_cookies_only_when_set(cookies: httpx.Cookies) -> None:
    """Read a response into the cookie jar only when it sets a cookie.

    httpx hands every response to the standard library's cookie jar, through
    wrappers that rebuild the request as a `urllib` one: 50 µs a response, a
    quarter of what the client adds to a fetch (measured). The jar only ever
    reads Set-Cookie and Set-Cookie2, so a response without them is skipped.
    """
    extract = cookies.extract_cookies

    def extract_cookies(response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            extract(response)

    cookies.extract_cookies = extract_cookies  # type: ignore[method-assign]


class Fetcher:
    """Fetches documents over one shared client; use as `async with Fetcher(...) as f`."""

    def __init__(
        self, settings: FetchSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        # Parsed once per URL: httpx parses a URL in Python, 70 µs of the
        # ~95 µs of building a request (measured), and the daemon's fetcher
        # fetches the same URLs every interval for as long as it runs.
        self._urls: dict[str, httpx.URL] = {}

    async def __aenter__(self) -> Fetcher:
        self._client = build_client(self.settings, transport=self._transport)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        proxy: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """GET `url`, conditionally when `etag` / `last_modified` are given.

        A 2xx gives a result with the body, a 304 (to a conditional request:
        `etag` or `last_modified` given) a result with status 304 and
        no content (carrying the validators given when the server sends none).
        `proxy` (a URL or "none") overrides the settings' proxy for this URL
        and its redirects. `headers` are a source's own (`request_headers`):
        they replace the client's (a `User-Agent` among them); a `Cookie`
        goes to the source's host only, on every hop that stays on it.
        Everything else raises a `FetchError` subclass, after retries when the
        failure is transient.
        """
        request_headers: dict[bytes, bytes] = {
            name.encode("latin-1"): value.encode("utf-8") for name, value in (headers or {}).items()
        }
        # Bytes, not str: httpx refuses a non-ASCII str, and a validator must go back as it came.
        if etag:
            request_headers[b"If-None-Match"] = etag.encode("utf-8", "surrogateescape")
        if last_modified:
            request_headers[b"If-Modified-Since"] = last_modified.encode("utf-8", "surrogateescape")
        # Time spent talking to servers and waiting to retry; not time queued for
        # a slot, which says more about the pass than about the source.
        spent = _Stopwatch()
        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            try:
                result = await self._attempt(url, request_headers, spent, proxy)
            except FetchError as exc:
                if not exc.transient or attempt + 1 == attempts:
                    raise
                delay = self._retry_delay(attempt, exc)
                log.info(
                    "retrying %s in %.2fs (attempt %d of %d): %s",
                    url,
                    delay,
                    attempt + 2,
                    attempts,
                    exc.reason,
                )
                with spent:
                    await asyncio.sleep(delay)
                continue
            if result.not_modified:
                result = replace(
                    result,
                    etag=result.etag or etag,
                    last_modified=result.last_modified or last_modified,
                )
            return replace(result, duration_ms=round(spent.total * 1000))
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_delay(self, attempt: int, exc: FetchError) -> float:
        """Seconds to wait before attempt `attempt + 2`: Retry-After (capped) or full jitter."""
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        if retry_after is not None:
            return min(retry_after, self.settings.retry_after_cap)
        return random.uniform(0, self.settings.backoff * 2**attempt)

    @asynccontextmanager
    async def _slot(self, url: httpx.URL) -> AsyncIterator[None]:
        """Hold a slot of the URL's host:port, then one of the pass."""
        # Host first: a request queued behind a busy host must not hold one
        # of the global slots that requests to other hosts could use.
        key = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        host_slot = self._host_slots.get(key)
        if host_slot is None:
            host_slot = self._host_slots[key] = asyncio.Semaphore(self.settings.per_host)
        async with host_slot, self._slots:
            yield

    async def _attempt(
        self, url: str, headers: dict[bytes, bytes], spent: _Stopwatch, proxy: str | None
    ) -> FetchResult:
        """One attempt: the request and its redirects, each hop in its host's slot."""
        if self._client is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        client = self._client
        try:
            parsed = self._urls.get(url)
            if parsed is None:
                parsed = httpx.URL(url)
                if len(self._urls) < URL_CACHE_SIZE:
                    self._urls[url] = parsed
            # httpx carries a request's extensions on to its redirects.
            extensions = {"watcher.proxy": proxy} if proxy is not None else None
            request = client.build_request("GET", parsed, headers=headers, extensions=extensions)
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid URL {escape.quote(url)}: {exc}") from None
        shown = url
        downgrade: str | None = None
        cookie = request.headers.get("Cookie")
        home = request.url.host
        for _hop in range(self.settings.max_redirects + 1):
            _check_url(request.url, shown)
            async with self._slot(request.url):
                with spent:
                    outcome = await self._hop(client, request)
            if isinstance(outcome, FetchResult):
                return replace(outcome, downgrade=downgrade) if downgrade else outcome
            if request.url.scheme == "https" and outcome.url.scheme == "http":
                step = f"{shown} → {outcome.url}"
                if not self.settings.allow_downgrade:
                    raise FetchError(
                        f"redirected from https to http ({step}); refused by allow_downgrade = false"
                    )
                log.warning("%s: redirected from https to http (%s)", url, step)
                downgrade = downgrade or step
            request = outcome
            if cookie is not None and request.url.host == home:
                # httpx drops a Cookie header on a redirect; the source's cookies
                # are for its own host.
                request.headers["Cookie"] = cookie
            shown = str(outcome.url)
        raise TooManyRedirects(
            f"redirect loop or more than {self.settings.max_redirects} redirects"
        )

    async def _hop(
        self, client: httpx.AsyncClient, request: httpx.Request
    ) -> FetchResult | httpx.Request:
        """Send one request: its result, or the next request of a redirect."""
        timeout = self.settings.timeout
        max_bytes = self.settings.max_bytes
        host = request.url.host
        in_body = False
        body_read = 0
        content_length: int | None = None
        try:
            async with asyncio.timeout(timeout):
                response = await client.send(request, stream=True, follow_redirects=False)
                try:
                    # 304 first: httpx counts it as a redirect.
                    if response.status_code == 304:
                        if not _conditional(request):
                            # nothing was offered to revalidate: the body is simply missing
                            raise HTTPStatusError(304, "304 without a conditional request")
                        return _result(response, b"")
                    if response.next_request is not None:
                        return response.next_request
                    if not 200 <= response.status_code < 300:
                        error = _status_error(response)
                        if response.status_code in CHALLENGE_STATUSES:
                            error.body = await _head_of(response, ERROR_BODY_BYTES)
                            error.content_type = parse_content_type(
                                response.headers.get("Content-Type", "")
                            )[0]
                        raise error
                    content_length = _content_length(response)
                    if content_length is not None and content_length > max_bytes:
                        raise _too_large(max_bytes)
                    decoder = _Decoder(response.headers.get("Content-Encoding", ""))
                    parts: list[bytes] = []
                    size = 0
                    in_body = True
                    async for chunk in response.aiter_raw():
                        body_read += len(chunk)
                        for part in decoder.feed(chunk, max_bytes - size):
                            size += len(part)
                            parts.append(part)
                        if size > max_bytes:
                            raise _too_large(max_bytes)
                    decoder.finish(body_read)
                    return _result(response, b"".join(parts))
                finally:
                    await response.aclose()
        except FetchError:
            raise
        except TimeoutError:
            raise FetchTimeout(f"timed out after {timeout:g}s") from None
        except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
            # h11 names a body cut short by the connection's end a protocol error.
            cut = isinstance(exc, httpx.ReadError) or "complete message body" in str(exc)
            if not in_body or not cut:
                raise _map_error(exc, host, timeout) from None
            of = f" of {content_length:,}" if content_length is not None else ""
            raise TruncatedBody(f"connection closed after {body_read:,}{of} bytes") from None
        except httpx.ProxyError as exc:
            raise self._proxy_error(request, exc) from None
        except _MAPPED_ERRORS as exc:
            via = self._via(request)
            if via is not None and isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                # Through a proxy, the connection that failed is the proxy's.
                raise _map_error(exc, f"proxy {via}", timeout) from None
            raise _map_error(exc, host, timeout) from None

    def _via(self, request: httpx.Request) -> str | None:
        """The proxy `request` went through (its host:port), None when direct or unknown."""
        routes = self._client._transport if self._client is not None else None
        if not isinstance(routes, ProxyRoutes):
            return None
        proxy = routes.route(request.url, request.extensions.get("watcher.proxy"))
        if proxy is None:
            return None
        parsed = httpx.URL(proxy)
        return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host

    def _proxy_error(self, request: httpx.Request, exc: httpx.ProxyError) -> FetchError:
        """A proxy that would not tunnel to the server: a one-line reason, not retried."""
        detail = " ".join(str(exc).split()) or type(exc).__name__
        via = self._via(request) or "the proxy"
        target = f"{request.url.host}:{request.url.port or 443}"
        hint = ""
        if detail.startswith("407"):
            hint = " (it asks for credentials: set proxy_auth_env)"
        return NetworkError(
            f"proxy {via} refused the tunnel to {target}: {detail}{hint}", transient=False
        )


# Statuses a bot challenge comes with; the start of their body is kept on the
# error, where `browser = "auto"` looks for the challenge.
CHALLENGE_STATUSES = frozenset({403, 429, 503})
ERROR_BODY_BYTES = 256 * 1024


async def _head_of(response: httpx.Response, limit: int) -> bytes:
    """Up to `limit` decoded bytes of an error page; b"" when it cannot be read."""
    try:
        decoder = _Decoder(response.headers.get("Content-Encoding", ""))
        parts: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            for part in decoder.feed(chunk, limit - size):
                size += len(part)
                parts.append(part)
            if size >= limit:
                break
        return b"".join(parts)[:limit]
    except (FetchError, httpx.HTTPError, ssl.SSLError, OSError):
        return b""


def request_headers(
    user_agent: str | None,
    headers: Mapping[str, str],
    cookies_env: Mapping[str, str],
    environ: Mapping[str, str],
) -> dict[str, str]:
    """A source's own request headers: its `headers`, `user_agent` and cookies.

    `cookies_env` maps a cookie name to the environment variable holding its
    value; an unset or empty variable sends no cookie (`Config.warnings` says so).
    """
    result = dict(headers)
    if user_agent:
        result["User-Agent"] = user_agent
    cookies = [(name, environ.get(var, "")) for name, var in cookies_env.items()]
    if any(value for _, value in cookies):
        result["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies if value)
    return result


class _Stopwatch:
    """Adds up the time spent inside `with stopwatch:` blocks."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self.total += time.monotonic() - self._started


def _check_url(url: httpx.URL, shown: str) -> None:
    """Refuse what httpx would only fail on deep inside the connection; `shown` names it."""
    if url.scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL {escape.quote(shown)}: only http and https are fetched")
    if not url.host:
        raise FetchError(f"invalid URL {escape.quote(shown)}: no host")
    if url.port is not None and not 0 < url.port < 65536:
        raise FetchError(f"invalid URL {escape.quote(shown)}: port {url.port} out of range")


def _conditional(request: httpx.Request) -> bool:
    return "If-None-Match" in request.headers or "If-Modified-Since" in request.headers


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None:
        return None
    try:
        return int(value.split(",")[0].strip())
    except ValueError:
        return None


def _too_large(max_bytes: int) -> TooLarge:
    return TooLarge(f"body over {max_bytes:,} bytes (max_bytes)")


def _result(response: httpx.Response, content: bytes) -> FetchResult:
    content_type, charset = parse_content_type(response.headers.get("Content-Type", ""))
    return FetchResult(
        url=str(response.url),
        status=response.status_code,
        content=content,
        content_type=content_type,
        charset=charset,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        duration_ms=0,  # set by `fetch`, over all attempts
    )


def parse_content_type(value: str) -> tuple[str, str | None]:
    """`text/html; charset="UTF-8"` → ("text/html", "utf-8"); ("", None) when absent."""
    media_type, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = param_value.strip().strip("\"'").strip().lower() or None
    return media_type.strip().lower(), charset


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # an HTTP-date is GMT even when written as -0000
        return None
    return max(0.0, (moment - clock.now()).total_seconds())


def _status_error(response: httpx.Response) -> HTTPStatusError:
    status = response.status_code
    reason = response.reason_phrase or httpx.codes.get_reason_phrase(status)
    message = f"HTTP {status} {reason}".rstrip()
    if status == 407:
        message += " from the proxy (it asks for credentials: set proxy_auth_env)"
    if 300 <= status < 400:
        message += " without a usable Location header"
    return HTTPStatusError(
        status, message, retry_after=parse_retry_after(response.headers.get("Retry-After"))
    )


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and the chain of exceptions under it."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _map_error(exc: BaseException, host: str, timeout: float) -> FetchError:
    """A library exception as a FetchError with a one-line reason."""
    causes = _causes(exc)
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for data",
            httpx.WriteTimeout: "sending",
            httpx.PoolTimeout: "waiting for a connection",
        }.get(type(exc), "")
        return FetchTimeout(f"timed out after {timeout:g}s {phase}".rstrip())
    if isinstance(exc, httpx.TooManyRedirects):
        return TooManyRedirects(f"redirect loop or too many redirects: {detail}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return FetchError(f"unsupported URL: {detail}")
    if isinstance(exc, httpx.InvalidURL):
        return FetchError(f"invalid URL: {detail}")
    if isinstance(exc, httpx.RemoteProtocolError) and "location header" in detail.lower():
        return FetchError(f"invalid redirect: {detail}")
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls is not None or "SSL" in detail or "CERTIFICATE" in detail.upper():
        if isinstance(tls, ssl.SSLCertVerificationError):
            text = f"certificate verify failed: {tls.verify_message}"
        elif tls is not None and tls.reason:
            text = tls.reason.replace("_", " ").lower()
        else:
            text = detail
        # A certificate or protocol mismatch will not fix itself in a minute.
        return NetworkError(f"TLS error with {host}: {text}", transient=False)
    if any(isinstance(c, socket.gaierror) for c in causes) or _looks_like_dns(detail):
        return NetworkError(f"DNS lookup failed for {host}: {detail}")
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in detail.lower():
        return NetworkError(f"connection refused by {host}")
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(f"could not connect to {host}: {detail}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return NetworkError(f"{host} broke the HTTP protocol: {detail}")
    if isinstance(exc, httpx.LocalProtocolError):
        return FetchError(f"could not send the request: {detail}")
    if isinstance(exc, httpx.TransportError | OSError):
        return NetworkError(f"network error with {host}: {detail}")
    return FetchError(f"fetch failed: {detail}")


def _looks_like_dns(detail: str) -> bool:
    lowered = detail.lower()
    return any(
        marker in lowered
        for marker in (
            "name or service not known",
            "temporary failure in name resolution",
            "nodename nor servname",
            "no address associated with hostname",
            "getaddrinfo failed",
        )
    )


class _Decoder:
    """Inflates a body by its Content-Encoding, never more than the room left.

    `feed` fails with TooLarge as soon as the decoded body would pass
    `max_bytes`, having inflated at most one byte more than the room, so a
    compression bomb costs nothing.
    """

    def __init__(self, content_encoding: str) -> None:
        self._layers: list[_Inflater] = []
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        # Codings are listed in the order they were applied: undo them backwards.
        for coding in reversed(codings):
            if coding in ("gzip", "x-gzip"):
                self._layers.append(_Inflater(gzip=True))
            elif coding == "deflate":
                self._layers.append(_Inflater(gzip=False))
            elif coding != "identity":
                raise FetchError(f"unsupported Content-Encoding {escape.quote(coding)}")

    def feed(self, chunk: bytes, room: int) -> list[bytes]:
        """Decoded parts of `chunk`, inflating at most `room + 1` bytes per layer.

        More than `room` bytes in the parts means the body is too large; the
        caller refuses it.
        """
        data = [chunk]
        for layer in self._layers:
            decoded: list[bytes] = []
            budget = room
            for piece in data:
                parts = layer.feed(piece, budget)
                decoded.extend(parts)
                budget -= sum(map(len, parts))
                if budget < 0:
                    break
            data = decoded
        return data

    def finish(self, body_read: int) -> None:
        """Raise TruncatedBody when a compressed stream did not reach its end."""
        if body_read and any(not layer.complete for layer in self._layers):
            raise TruncatedBody(f"compressed body ended early, after {body_read:,} bytes")


class _Inflater:
    """One gzip or deflate stream (or several gzip members back to back)."""

    def __init__(self, *, gzip: bool) -> None:
        self._gzip = gzip
        self._raw_deflate = False
        self._started = False
        self._inflater = self._new()
        self.complete = False

    def _new(self) -> zlib._Decompress:
        if self._gzip:
            return zlib.decompressobj(wbits=31)
        return zlib.decompressobj(wbits=-15 if self._raw_deflate else 15)

    def feed(self, data: bytes, room: int) -> list[bytes]:
        parts: list[bytes] = []
        produced = 0
        while data:
            if self.complete:
                if not (self._gzip and data.startswith(b"\x1f\x8b")):
                    break  # trailing padding after the stream, as some servers send
                # Another gzip member follows.
                self._inflater = self._new()
                self.complete = False
            try:
                out = self._inflater.decompress(data, max(room - produced, 0) + 1)
            except zlib.error as exc:
                if not self._gzip and not self._started and not self._raw_deflate:
                    # "deflate" is often sent without its zlib header.
                    self._raw_deflate = True
                    self._inflater = self._new()
                    continue
                kind = "gzip" if self._gzip else "deflate"
                raise FetchError(f"corrupt {kind} body: {exc}") from None
            self._started = True
            produced += len(out)
            parts.append(out)
            if produced > room:
                return parts  # the caller sees more than room and refuses
            if self._inflater.eof:
                self.complete = True
                data = self._inflater.unused_data
            else:
                data = self._inflater.unconsumed_tail
        return parts
