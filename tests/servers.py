"""Small real servers on loopback for tests that need a misbehaving peer.

pytest-httpserver covers well-behaved HTTP. `RawServer` is for what it cannot
do: drip bytes, close mid-body, never answer, speak TLS with a self-signed
certificate, or count concurrent requests. Each connection runs in its own
thread and gets the parsed request head; the handler writes raw bytes.

    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, b"hello"))

    with RawServer(handler) as server:
        url = server.url("/path")
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawRequest:
    """The head of one request as the server received it (header names lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    local_host: str  # the address the client connected to, e.g. 127.0.0.2
    body: bytes = b""  # as many bytes as Content-Length announced


Handler = Callable[[RawRequest, socket.socket], None]


def http_response(
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    content_length: int | None = None,
    reason: str = "OK",
) -> bytes:
    """A complete HTTP/1.1 response with Connection: close.

    `content_length` overrides the header (to lie about the body); pass -1 to
    leave it out, so the body ends when the connection closes.
    """
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
    length = len(body) if content_length is None else content_length
    if length >= 0:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def free_port(host: str = "127.0.0.1") -> int:
    """A port on `host` with nothing listening on it (connecting is refused)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class RawServer:
    """A threaded TCP server on `host` whose connections `handler` answers."""

    handler: Handler
    host: str = "127.0.0.1"
    ssl_context: ssl.SSLContext | None = None
    requests: list[RawRequest] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str = "/", *, scheme: str | None = None) -> str:
        scheme = scheme or ("https" if self.ssl_context else "http")
        return f"{scheme}://{self.host}:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopped.set()
        # Wake accept() by connecting once, then close the listening socket.
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1):
            pass
        self._acceptor.join(5)
        self._sock.close()
        for thread in self._threads:
            thread.join(5)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when the server is stopping (handlers should return)."""
        return self.stopped.wait(seconds)

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if self.stopped.is_set():
                conn.close()
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        # Peers that hang up are the point of these tests: swallow socket errors
        # (ssl.SSLError included) so pytest does not report them as unhandled
        # thread exceptions.
        try:
            conn.settimeout(10)
            if self.ssl_context is not None:
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
            request = self._read_head(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            self.handler(request, conn)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def _read_head(conn: socket.socket) -> RawRequest | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head_bytes, body = data.split(b"\r\n\r\n", 1)
        head = head_bytes.decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return RawRequest(method, path, headers, conn.getsockname()[0], body)


@dataclass
class ProxyServer:
    """A forward HTTP proxy on loopback that records what it was asked.

    A plain-http URL arrives as `GET http://host:port/path` (recorded as
    `("GET", url)`) and is relayed; an https URL arrives as `CONNECT host:port`
    (recorded as `("CONNECT", "host:port")`) and is tunnelled byte for byte.
    `refuse_connect` answers every CONNECT with 403; `credentials`
    ("user:password") answers 407 to a request without them. Each client
    connection carries one request (the proxy answers with Connection: close).
    """

    refuse_connect: bool = False
    credentials: str | None = None
    host: str = "127.0.0.1"
    seen: list[tuple[str, str]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)  # Proxy-Authorization of each request

    def __post_init__(self) -> None:
        self._server = RawServer(self._handle, host=self.host)
        self.port = self._server.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> ProxyServer:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(None, None, None)

    def _handle(self, request: RawRequest, conn: socket.socket) -> None:
        target = request.path
        self.seen.append((request.method, target))
        given = request.headers.get("proxy-authorization")
        self.auth.append(given)
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(self.credentials.encode()).decode()
            if given != expected:
                conn.sendall(
                    http_response(
                        407,
                        b"",
                        {"Proxy-Authenticate": 'Basic realm="test"'},
                        reason="Proxy Authentication Required",
                    )
                )
                return
        if request.method == "CONNECT":
            if self.refuse_connect:
                conn.sendall(http_response(403, b"no tunnels", reason="Forbidden"))
                return
            host, _, port = target.rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), 5) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _pipe(conn, upstream)
            return
        parts = urlsplit(target)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        head = [f"{request.method} {path} HTTP/1.1"]
        for name, value in request.headers.items():
            if name not in ("proxy-authorization", "proxy-connection", "connection"):
                head.append(f"{name}: {value}")
        head.append("connection: close")
        body = request.body
        with socket.create_connection((parts.hostname or "", parts.port or 80), 5) as upstream:
            upstream.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            while chunk := upstream.recv(65536):
                conn.sendall(chunk)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""

    def copy(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    other = threading.Thread(target=copy, args=(b, a), daemon=True)
    other.start()
    copy(a, b)
    other.join(10)
