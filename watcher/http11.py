"""The fetcher's HTTP/1.1 transport: httptools' C parser on asyncio's protocols.

httpx stays the client (URLs, headers, redirects, errors); this is the
`httpx.AsyncBaseTransport` under it, in place of httpcore and h11. Those
two are pure Python, and a pass spent most of its main-process CPU in them:
a warm pass of 1000 sources waits on that CPU, because every host's next
request queues behind the answers being parsed. Here the bytes go from the
socket straight into llhttp (the parser of Node.js, through httptools), and a
response wakes its task twice: once for the head, once for the whole body
(or every `HIGH_WATER` bytes of a big one).

One `_HostPool` per scheme, host and port keeps that host's idle keep-alive
connections. The pool does not limit connections: `Fetcher` never lets more
than `per_host` requests at a host at once, and a connection goes back to the
pool before its slot is released.

Every failure is an `httpx` exception, raised from the underlying one (an
`ssl.SSLError`, a `socket.gaierror`...), so `fetch._map_error` reads them as
it reads httpx's own.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable

import httptools
import httpx

KEEPALIVE_EXPIRY_S = 30.0
MAX_HEAD_BYTES = 64 * 1024  # status line and headers of one response
HIGH_WATER = 1024 * 1024  # body bytes buffered before the reader is woken and the socket paused

_INFORMATIONAL = range(100, 200)
# What would split the request: one search per field (a generator of `in`
# tests per byte cost 40 µs a request).
_BAD_IN_VALUE = re.compile(rb"[\r\n\0]")
_BAD_IN_NAME = re.compile(rb"[\r\n\0: \t]")
_BAD_IN_TARGET = re.compile(rb"[\r\n\0 ]")


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.idle_since = 0.0
        self.expiry: asyncio.TimerHandle | None = None
        self._begin()
        self._active = False

    def _begin(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        # RFC 9112 §6.3: Transfer-Encoding overrides a Content-Length sent with it.
        self._parser.set_dangerous_leniencies(lenient_chunked_length=True)
        self._active = True
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.error: httpx.TransportError | None = None
        self.body: list[bytes] = []
        self._buffered = 0
        self.received = 0  # body bytes
        self._paused = False
        self._until_eof = False
        self._progress = False
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self._active or self.complete:
            # Bytes nobody asked for: the connection cannot be trusted again.
            self._discard()
            return
        self._progress = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Excess):
                self._discard()  # the answer is whole; what follows it is not ours
            else:
                self._fail(cause if isinstance(cause, httpx.TransportError) else _protocol(exc))
            return
        except httptools.HttpParserError as exc:
            self._fail(_protocol(exc))
            return
        if not self.head_done:
            # httptools gathers a header whole before it hands it over: bound it here.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._fail(
                    httpx.RemoteProtocolError(
                        f"response head larger than {MAX_HEAD_BYTES // 1024} KB"
                    )
                )

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._active and not self.complete and self.error is None:
            if self.head_done and self._until_eof:
                self.complete = True  # the end of a body delimited by the connection's end
            elif self.head_done:
                self._fail(
                    httpx.ReadError(
                        "peer closed the connection without sending the complete body"
                        f" ({self.received:,} bytes received)"
                    ),
                    exc,
                )
                return
            else:
                self._fail(
                    httpx.RemoteProtocolError("server disconnected without sending a response"),
                    exc,
                )
                return
        self._wake()

    # -- httptools callbacks --

    def on_message_begin(self) -> None:
        if self.complete:
            raise _Excess  # bytes after the answer: stop before they touch it
        self.reason = b""
        self.headers = []

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status in _INFORMATIONAL:
            if status == 101:
                raise httpx.RemoteProtocolError("server switched protocols unasked (101)")
            return  # 100 Continue, 103 Early Hints...: the answer is still to come
        self.status = status
        version = self._parser.get_http_version()
        names = {name.lower(): value for name, value in self.headers}
        tokens = {t.strip().lower() for t in names.get(b"connection", b"").split(b",")}
        chunked = b"chunked" in names.get(b"transfer-encoding", b"").lower()
        bodiless = status in (204, 304)
        self._until_eof = not bodiless and not chunked and b"content-length" not in names
        if version == "1.1":
            self.keep_alive = b"close" not in tokens
        else:
            self.keep_alive = b"keep-alive" in tokens
        self.keep_alive = self.keep_alive and not self._until_eof
        self.head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.received += len(body)
        self._buffered += len(body)
        if self._buffered >= HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
            self._wake()

    def on_message_complete(self) -> None:
        if not self.head_done:
            return  # an informational answer ended
        self.complete = True
        self._wake()

    # -- used by the pool and the body --

    def send(self, head: bytes) -> None:
        self._begin()
        assert self.transport is not None
        self.transport.write(head)

    async def wait_head(self, timeout: float | None) -> None:
        await self._wait(lambda: self.head_done, timeout)

    async def wait_body(self, timeout: float | None) -> None:
        await self._wait(lambda: bool(self.body) or self.complete, timeout)

    def take_body(self) -> list[bytes]:
        parts, self.body, self._buffered = self.body, [], 0
        if self._paused and self.transport is not None and not self.lost:
            self._paused = False
            self.transport.resume_reading()
        return parts

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.lost

    def close(self, *, abort: bool = False) -> None:
        """Close now; `abort` skips TLS's closing handshake (an idle connection owes nothing)."""
        self._active = False
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
        self.lost = True

    async def _wait(self, ready: Callable[[], bool], timeout: float | None) -> None:
        while not ready():
            if self.error is not None:
                raise self.error
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            self._progress = False
            try:
                async with asyncio.timeout(timeout):
                    await waiter
            except TimeoutError:
                if self._progress:
                    continue  # bytes are arriving, only slowly: the whole hop has its own bound
                raise httpx.ReadTimeout("timed out waiting for data") from None
            finally:
                self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: httpx.TransportError, cause: BaseException | None = None) -> None:
        if cause is not None:
            error.__cause__ = cause
        if self.error is None:
            self.error = error
        self._discard()
        self._wake()

    def _discard(self) -> None:
        self.keep_alive = False
        self.lost = True  # closing: no one may take it from the pool meanwhile
        if self.transport is not None:
            self.transport.close()


class _Excess(Exception):
    """The server sent more than the one answer asked for."""


def _protocol(exc: Exception) -> httpx.RemoteProtocolError:
    error = httpx.RemoteProtocolError(f"invalid HTTP response: {exc}")
    error.__cause__ = exc
    return error


class _Body(httpx.AsyncByteStream):
    """The body of one response, as it arrives; closing it frees the connection."""

    def __init__(self, pool: _HostPool, conn: _Connection, read_timeout: float | None) -> None:
        self._pool = pool
        self._conn = conn
        self._timeout = read_timeout
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.body:
                for part in conn.take_body():
                    yield part
                continue
            if conn.complete:
                return
            if conn.error is not None:
                raise conn.error
            await conn.wait_body(self._timeout)

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        conn = self._conn
        if conn.reusable() and not conn.body:
            self._pool.put(conn)
        else:
            conn.close()


class _HostPool:
    """Idle keep-alive connections to one scheme://host:port."""

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> None:
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._idle: list[_Connection] = []

    def put(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        # A daemon may not come back to this host for an hour: close the socket
        # when it expires, not when the host's next check finds it stale.
        conn.expiry = asyncio.get_running_loop().call_later(KEEPALIVE_EXPIRY_S, self._expire, conn)
        self._idle.append(conn)

    def _expire(self, conn: _Connection) -> None:
        if conn in self._idle:
            self._idle.remove(conn)
            conn.close(abort=True)

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.expiry is not None:
                conn.expiry.cancel()
                conn.expiry = None
            if not conn.lost and now - conn.idle_since < KEEPALIVE_EXPIRY_S:
                return conn
            conn.close()
        return None

    async def _connect(self, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out connecting") from None
        except OSError as exc:  # ssl.SSLError and socket.gaierror are OSErrors
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return conn

    async def request(self, request: httpx.Request, head: bytes) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        while True:
            conn = self._take()
            reused = conn is not None
            if conn is None:
                conn = await self._connect(timeouts.get("connect"))
            try:
                conn.send(head)
                await conn.wait_head(read_timeout)
            except httpx.RemoteProtocolError:
                conn.close()
                if reused and not conn.head_done and not conn.received:
                    # The server closed an idle connection as we reused it: a
                    # GET is safe to send again, on a new connection.
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            return httpx.Response(
                status_code=conn.status,
                headers=conn.headers,
                stream=_Body(self, conn, read_timeout),
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason},
            )

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            if conn.expiry is not None:
                conn.expiry.cancel()
            conn.close(abort=True)


class Http11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive, one connection pool per host. Bodiless requests only."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, str, int], _HostPool] = {}
        # Loading the system's CA certificates takes ~50 ms: once, not per host.
        self._ssl_context: ssl.SSLContext | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        port = url.port or (443 if scheme == "https" else 80)
        # the ASCII (IDNA) form httpx encoded, not Python's own IDNA 2003 codec's
        host = url.raw_host.decode("ascii")
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            context = None
            if scheme == "https":
                if self._ssl_context is None:
                    self._ssl_context = httpx.create_ssl_context()
                context = self._ssl_context
            pool = self._pools[key] = _HostPool(host, port, context)
        return await pool.request(request, _head(request))

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        await asyncio.sleep(0)  # the sockets close in the loop's next turn: let it come


def _head(request: httpx.Request) -> bytes:
    """The request line and headers, refusing anything that could split them."""
    headers = request.headers
    if headers.get("Content-Length", "0") != "0" or "Transfer-Encoding" in headers:
        raise httpx.LocalProtocolError("this transport sends no request bodies")
    target = request.url.raw_path
    if _BAD_IN_TARGET.search(target):
        raise httpx.LocalProtocolError("invalid request target")
    parts = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers.raw:
        if _BAD_IN_VALUE.search(value) or _BAD_IN_NAME.search(name):
            raise httpx.LocalProtocolError(f"invalid header {name!r}")
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)
