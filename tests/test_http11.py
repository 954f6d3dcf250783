"""The fetcher's HTTP/1.1 transport (watcher/http11.py) against raw servers on loopback.

Framing, keep-alive and hostile answers: each test is a peer that writes the
bytes itself, so what reaches the parser is exactly what a server could send.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.servers import RawRequest, RawServer
from watcher import http11
from watcher.errors import FetchError, NetworkError
from watcher.fetch import Fetcher, FetchSettings
from watcher.models import FetchResult

pytestmark = pytest.mark.anyio


def settings(**overrides: Any) -> FetchSettings:
    values: dict[str, Any] = {"user_agent": "watcher-test/1.0", "timeout": 5.0, "retries": 0}
    values.update(overrides)
    return FetchSettings(**values)


def keep_alive(body: bytes) -> bytes:
    """A 200 that leaves the connection open (HTTP/1.1's default)."""
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode("latin-1") + body


class Conversations:
    """A handler answering every request on a connection with `answer(n)`; counts connections."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[RawRequest] = []
        self._lock = threading.Lock()

    def __call__(self, request: RawRequest | None, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        while request is not None:
            with self._lock:
                self.requests.append(request)
                n = len(self.requests)
            reply = self.answer(n)
            if reply is None:
                return  # hang up without answering
            conn.sendall(reply)
            request = RawServer._read_head(conn)


async def fetch_all(urls: list[str], **overrides: Any) -> list[FetchResult]:
    async with Fetcher(settings(**overrides)) as fetcher:
        return [await fetcher.fetch(url) for url in urls]


async def test_keep_alive_reuses_one_connection_for_sequential_requests() -> None:
    talk = Conversations(lambda n: keep_alive(f"answer {n}".encode()))
    with RawServer(talk) as server:
        results = await fetch_all([server.url("/a"), server.url("/b"), server.url("/c")])
    assert [r.content for r in results] == [b"answer 1", b"answer 2", b"answer 3"]
    assert talk.connections == 1
    assert [r.path for r in talk.requests] == ["/a", "/b", "/c"]


async def test_an_idle_connection_is_closed_when_its_keep_alive_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A daemon may not come back to a host for an hour: its socket must not stay open."""
    monkeypatch.setattr(http11, "KEEPALIVE_EXPIRY_S", 0.2)
    hung_up = threading.Event()

    def handler(request: RawRequest | None, conn: socket.socket) -> None:
        conn.sendall(keep_alive(b"ok"))
        if RawServer._read_head(conn) is None:  # blocks until the client closes
            hung_up.set()

    with RawServer(handler) as server:
        async with Fetcher(settings()) as fetcher:
            await fetcher.fetch(server.url("/"))
            await asyncio.sleep(0.5)
            assert hung_up.wait(2)


async def test_chunked_body_is_reassembled_and_the_connection_kept() -> None:
    def answer(n: int) -> bytes:
        return (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n"
        )

    talk = Conversations(answer)
    with RawServer(talk) as server:
        results = await fetch_all([server.url("/"), server.url("/")])
    assert [r.content for r in results] == [b"hello, world"] * 2
    assert talk.connections == 1


async def test_transfer_encoding_overrides_a_content_length_sent_with_it() -> None:
    talk = Conversations(
        lambda n: (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nok\r\n0\r\n\r\n"
        )
    )
    with RawServer(talk) as server:
        [result] = await fetch_all([server.url("/")])
    assert result.content == b"ok"


async def test_body_ended_by_the_connection_is_whole_and_not_reused() -> None:
    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
        conn.shutdown(socket.SHUT_WR)

    with RawServer(handler) as server:
        results = await fetch_all([server.url("/"), server.url("/")])
    assert [r.content for r in results] == [b"until the end"] * 2
    assert len(server.requests) == 2  # one per connection: the first could not carry another


@pytest.mark.parametrize(
    "head",
    [
        "HTTP/1.1 200 OK\r\nConnection: close\r\n",
        "HTTP/1.0 200 OK\r\n",
        "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n",
    ],
)
async def test_an_answer_that_ends_the_connection_is_not_reused(head: str) -> None:
    talk = Conversations(lambda n: f"{head}Content-Length: 2\r\n\r\nok".encode())
    with RawServer(talk) as server:
        results = await fetch_all([server.url("/"), server.url("/")])
    assert [r.content for r in results] == [b"ok", b"ok"]
    assert talk.connections == 2


async def test_http_1_0_keep_alive_is_reused() -> None:
    talk = Conversations(
        lambda n: b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
    )
    with RawServer(talk) as server:
        await fetch_all([server.url("/"), server.url("/")])
    assert talk.connections == 1


async def test_idle_connection_closed_by_the_server_is_replaced_without_a_retry() -> None:
    """The race every keep-alive client meets: the server hangs up an idle connection."""
    closed = threading.Event()

    def handler(request: RawRequest | None, conn: socket.socket) -> None:
        if not closed.is_set():
            conn.sendall(keep_alive(b"first"))
            closed.set()
            conn.close()  # silently, without Connection: close
            return
        while request is not None:
            conn.sendall(keep_alive(b"again"))
            request = RawServer._read_head(conn)

    with RawServer(handler) as server:
        async with Fetcher(settings(retries=0)) as fetcher:
            first = await fetcher.fetch(server.url("/"))
            assert closed.wait(5)
            second = await fetcher.fetch(server.url("/"))
    assert (first.content, second.content) == (b"first", b"again")
    assert len(server.requests) == 2


async def test_stale_connection_that_takes_the_request_then_hangs_up_is_replaced() -> None:
    """The server closes the connection just as the reused request reaches it."""
    talk = Conversations(lambda n: keep_alive(b"fresh") if n != 2 else None)
    with RawServer(talk) as server:
        results = await fetch_all([server.url("/"), server.url("/")], retries=0)
    assert [r.content for r in results] == [b"fresh", b"fresh"]
    assert talk.connections == 2 and len(talk.requests) == 3


async def test_a_new_connection_hanging_up_is_an_error_not_a_loop() -> None:
    talk = Conversations(lambda n: None)
    with RawServer(talk) as server, pytest.raises(NetworkError) as caught:
        await fetch_all([server.url("/")], retries=0)
    assert "disconnected without sending a response" in caught.value.reason
    assert len(talk.requests) == 1


async def test_informational_answers_are_skipped() -> None:
    talk = Conversations(
        lambda n: (
            b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
            + keep_alive(b"final")
        )
    )
    with RawServer(talk) as server:
        [result] = await fetch_all([server.url("/")])
    assert (result.status, result.content) == (200, b"final")


async def test_a_big_body_arrives_whole_through_flow_control() -> None:
    body = bytes(range(256)) * (3 * http11.HIGH_WATER // 256 + 7)
    talk = Conversations(lambda n: keep_alive(body))
    with RawServer(talk) as server:
        results = await fetch_all([server.url("/"), server.url("/")])
    assert [r.content for r in results] == [body, body]
    assert talk.connections == 1


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"hello there\r\n\r\n", "invalid HTTP response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n", "invalid HTTP"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid HTTP response"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid HTTP"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", "switched protocols"),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (70 * 1024), "head larger than 64 KB"),
    ],
)
async def test_broken_answers_are_network_errors_naming_the_fault(
    reply: bytes, reason: str
) -> None:
    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(reply)
        server.wait(1)

    with RawServer(handler) as server, pytest.raises(NetworkError) as caught:
        await fetch_all([server.url("/")])
    assert caught.value.reason.startswith("127.0.0.1 broke the HTTP protocol: ")
    assert reason in caught.value.reason


async def test_bytes_after_the_answer_spoil_the_connection_not_the_result() -> None:
    talk = Conversations(lambda n: keep_alive(b"ok") + b"HTTP/1.1 200 OK\r\n\r\nsmuggled")
    with RawServer(talk) as server:
        results = await fetch_all([server.url("/"), server.url("/")])
    assert [r.content for r in results] == [b"ok", b"ok"]
    assert talk.connections == 2


@pytest.mark.parametrize("etag", ['"a"\r\nX-Injected: 1', '"a"\n', '"a\x00"'])
async def test_a_validator_that_would_split_the_request_is_refused(etag: str) -> None:
    talk = Conversations(lambda n: keep_alive(b"ok"))
    with RawServer(talk) as server, pytest.raises(FetchError) as caught:
        async with Fetcher(settings()) as fetcher:
            await fetcher.fetch(server.url("/"), etag=etag)
    assert "could not send the request" in caught.value.reason
    assert talk.requests == []


@pytest.mark.parametrize(
    ("name", "value"),
    [(b"X-Bad Name", b"v"), (b"X-Bad:Name", b"v"), (b"X-Bad\tName", b"v"), (b"X-Ok", b"a\r\nb")],
)
def test_header_fields_that_would_split_the_request_are_refused(name: bytes, value: bytes) -> None:
    request = httpx.Request("GET", "http://127.0.0.1/doc", headers=[(name, value)])
    with pytest.raises(httpx.LocalProtocolError, match="invalid header"):
        http11._head(request)


def test_a_request_target_with_a_space_or_line_break_is_refused() -> None:
    """httpx percent-encodes these in every URL it builds; the transport does not
    rely on it. A stand-in request carries the raw target httpx never makes."""
    assert http11._head(httpx.Request("GET", "http://127.0.0.1/a b")).startswith(b"GET /a%20b ")
    for target in (b"/a b", b"/a\r\nX: y", b"/a\x00"):
        request = SimpleNamespace(
            headers=httpx.Headers(), method="GET", url=SimpleNamespace(raw_path=target)
        )
        with pytest.raises(httpx.LocalProtocolError, match="invalid request target"):
            http11._head(request)  # type: ignore[arg-type]
