"""The fetch stage against real servers on loopback.

Well-behaved HTTP comes from pytest-httpserver; misbehaving peers (dripping,
truncating, hanging, TLS, counting concurrency) from tests/servers.py.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.servers import RawRequest, RawServer, free_port, http_response
from watcher import clock, fetch
from watcher.errors import (
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    TooLarge,
    TooManyRedirects,
    TruncatedBody,
)
from watcher.fetch import Fetcher, FetchSettings, parse_content_type, parse_retry_after
from watcher.models import FetchResult

pytestmark = pytest.mark.anyio

UA = "watcher-test/1.0 (+https://example.org/test)"


def settings(**overrides: Any) -> FetchSettings:
    """Fast settings for tests: short timeouts and backoff."""
    values: dict[str, Any] = {
        "user_agent": UA,
        "timeout": 5.0,
        "retries": 2,
        "backoff": 0.01,
        "retry_after_cap": 0.05,
    }
    values.update(overrides)
    return FetchSettings(**values)


async def get(url: str, **kwargs: Any) -> FetchResult:
    """One fetch with a fresh Fetcher; `kwargs` go to FetchSettings except etag/last_modified."""
    etag = kwargs.pop("etag", None)
    last_modified = kwargs.pop("last_modified", None)
    async with Fetcher(settings(**kwargs)) as fetcher:
        return await fetcher.fetch(url, etag=etag, last_modified=last_modified)


# --- conditional requests -------------------------------------------------


async def test_etag_then_304_on_if_none_match(httpserver: HTTPServer) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(b"<p>policy</p>", headers={"ETag": '"v1"', "Content-Type": "text/html"})

    httpserver.expect_request("/doc").respond_with_handler(handler)
    url = httpserver.url_for("/doc")

    first = await get(url)
    assert (first.status, first.content, first.etag) == (200, b"<p>policy</p>", '"v1"')
    assert not first.not_modified

    second = await get(url, etag=first.etag)
    assert second.not_modified
    assert (second.status, second.content, second.etag) == (304, b"", '"v1"')
    assert httpserver.log[1][0].headers["If-None-Match"] == '"v1"'


async def test_a_304_to_a_request_without_validators_is_a_failure(httpserver: HTTPServer) -> None:
    # Nothing was offered to revalidate, so there is no body to fall back on.
    httpserver.expect_request("/doc").respond_with_response(Response(status=304))
    with pytest.raises(HTTPStatusError, match=r"^304 without a conditional request$") as caught:
        await get(httpserver.url_for("/doc"), retries=2)
    assert caught.value.status == 304 and not caught.value.transient
    assert len(httpserver.log) == 1
    assert "If-None-Match" not in httpserver.log[0][0].headers


async def test_a_304_after_a_redirect_of_a_conditional_request_is_not_modified(
    httpserver: HTTPServer,
) -> None:
    # the validators travel with the request through the redirect
    httpserver.expect_request("/old").respond_with_response(
        Response(status=301, headers={"Location": "/new"})
    )
    httpserver.expect_request("/new", headers={"If-None-Match": '"v1"'}).respond_with_response(
        Response(status=304)
    )
    result = await get(httpserver.url_for("/old"), etag='"v1"')
    assert result.not_modified and result.etag == '"v1"'


async def test_last_modified_then_304_carries_the_given_validator(httpserver: HTTPServer) -> None:
    stamp = "Wed, 01 Oct 2025 10:00:00 GMT"

    def handler(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return Response(status=304)  # no validators in the 304: keep ours
        return Response(b"text", headers={"Last-Modified": stamp})

    httpserver.expect_request("/doc").respond_with_handler(handler)
    url = httpserver.url_for("/doc")

    first = await get(url)
    assert (first.status, first.last_modified, first.etag) == (200, stamp, None)
    second = await get(url, last_modified=stamp, etag='"old"')
    assert (second.status, second.last_modified, second.etag) == (304, stamp, '"old"')


async def test_user_agent_and_accept_encoding_are_sent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ua").respond_with_data("ok")
    await get(httpserver.url_for("/ua"))
    headers = httpserver.log[0][0].headers
    assert headers["User-Agent"] == UA
    assert headers["Accept-Encoding"] == "gzip, deflate"
    assert "If-None-Match" not in headers
    assert "If-Modified-Since" not in headers


# --- redirects --------------------------------------------------------------


async def test_redirect_is_followed_and_final_url_reported(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_data("moved here", content_type="text/plain")
    result = await get(httpserver.url_for("/old"))
    assert result.url == httpserver.url_for("/new")
    assert result.content == b"moved here"


async def test_redirect_loop_is_too_many_redirects(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(TooManyRedirects, match="redirect loop or more than 3 redirects"):
        await get(httpserver.url_for("/a"), max_redirects=3)
    assert len(httpserver.log) == 4  # the first request and 3 redirects, no retries


async def test_redirect_to_another_host_is_followed() -> None:
    def target(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, request.local_host.encode()))

    with RawServer(target, host="127.0.0.2") as other:

        def source(request: RawRequest, conn: socket.socket) -> None:
            conn.sendall(http_response(302, headers={"Location": other.url("/x")}))

        with RawServer(source) as first:
            result = await get(first.url("/"))
    assert (result.url, result.content) == (other.url("/x"), b"127.0.0.2")


async def test_cookies_set_on_the_way_are_sent_on_for_the_rest_of_the_pass(
    httpserver: HTTPServer,
) -> None:
    """A consent or bot-check cookie set on a redirect is sent to its target, and to
    later fetches from the same host in the pass; answers that set no cookie keep the jar."""
    seen: list[str | None] = []

    def start(request: Request) -> Response:
        response = Response("", status=302, headers={"Location": "/doc"})
        response.set_cookie("consent", "yes", path="/")
        return response

    def doc(request: Request) -> Response:
        seen.append(request.headers.get("Cookie"))
        if request.cookies.get("consent") != "yes":
            return Response("consent first", status=403)
        return Response("<p>policy</p>", content_type="text/html")

    httpserver.expect_request("/start").respond_with_handler(start)
    httpserver.expect_request("/doc").respond_with_handler(doc)
    async with Fetcher(settings()) as fetcher:
        first = await fetcher.fetch(httpserver.url_for("/start"))
        again = await fetcher.fetch(httpserver.url_for("/doc"))
    async with Fetcher(settings(retries=0)) as fresh:
        with pytest.raises(HTTPStatusError, match="403"):
            await fresh.fetch(httpserver.url_for("/doc"))
    assert (first.status, first.content, again.content) == (200, b"<p>policy</p>", b"<p>policy</p>")
    assert seen == ["consent=yes", "consent=yes", None]


# --- HTTP status and retries ------------------------------------------------


async def test_404_is_an_error_and_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/missing").respond_with_data("nope", status=404)
    with pytest.raises(HTTPStatusError, match=r"^HTTP 404 NOT FOUND$") as caught:
        await get(httpserver.url_for("/missing"))
    assert caught.value.status == 404
    assert not caught.value.transient
    assert len(httpserver.log) == 1


async def test_503_then_200_succeeds_after_a_retry(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_oneshot_request("/flaky").respond_with_data("busy", status=503)
    httpserver.expect_request("/flaky").respond_with_data("fine")
    url = httpserver.url_for("/flaky")
    with caplog.at_level(logging.INFO, logger="watcher.fetch"):
        result = await get(url)
    assert (result.status, result.content) == (200, b"fine")
    assert len(httpserver.log) == 2
    retries = [r for r in caplog.records if r.levelno == logging.INFO and "retrying" in r.message]
    assert len(retries) == 1
    assert url in retries[0].message
    assert "HTTP 503" in retries[0].message


async def test_429_retry_after_is_honoured_up_to_the_cap(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/limited").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "30"}
    )
    httpserver.expect_request("/limited").respond_with_data("ok")
    started = time.monotonic()
    # No backoff: any wait comes from Retry-After, capped at 0.3 s instead of 30 s.
    result = await get(httpserver.url_for("/limited"), backoff=0.0, retry_after_cap=0.3)
    elapsed = time.monotonic() - started
    assert result.content == b"ok"
    assert 0.3 <= elapsed < 10
    assert result.duration_ms >= 300


async def test_500_every_time_fails_after_all_retries(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/broken").respond_with_data("oops", status=500)
    with pytest.raises(HTTPStatusError, match="HTTP 500") as caught:
        await get(httpserver.url_for("/broken"), retries=2)
    assert caught.value.transient
    assert len(httpserver.log) == 3


@pytest.mark.parametrize("status", [200, 203, 206])
async def test_any_2xx_is_a_result(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/two").respond_with_data("body", status=status)
    result = await get(httpserver.url_for("/two"))
    assert (result.status, result.content) == (status, b"body")


async def test_empty_200_is_a_result_with_no_content(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/empty").respond_with_data(b"", content_type="text/html")
    result = await get(httpserver.url_for("/empty"))
    assert (result.status, result.content, result.content_type) == (200, b"", "text/html")


async def test_content_type_and_charset_from_the_header(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/page").respond_with_data(
        "é".encode("latin-1"), headers={"Content-Type": 'Text/HTML; Charset="ISO-8859-1"'}
    )
    result = await get(httpserver.url_for("/page"))
    assert (result.content_type, result.charset) == ("text/html", "iso-8859-1")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/html; charset=utf-8", ("text/html", "utf-8")),
        ('text/html; charset="UTF-8"', ("text/html", "utf-8")),
        ("application/PDF", ("application/pdf", None)),
        ("text/plain;format=flowed; charset=windows-1252", ("text/plain", "windows-1252")),
        ("text/html; charset=", ("text/html", None)),
        ("", ("", None)),
    ],
)
def test_parse_content_type(header: str, expected: tuple[str, str | None]) -> None:
    assert parse_content_type(header) == expected


def test_parse_retry_after() -> None:
    later = format_datetime(clock.now() + timedelta(seconds=60), usegmt=True)
    earlier = format_datetime(clock.now() - timedelta(seconds=60), usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after(earlier) == 0.0
    waited = parse_retry_after(later)
    assert waited is not None
    assert 57 <= waited <= 61


# --- network failures ---------------------------------------------------------


async def test_connection_refused_is_a_transient_network_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(NetworkError, match=r"connection refused by 127\.0\.0\.1") as caught:
        await get(url, retries=0)
    assert caught.value.transient


async def test_dns_failure_names_the_host() -> None:
    with pytest.raises(NetworkError, match=r"DNS lookup failed for does-not-exist\.invalid"):
        await get("http://does-not-exist.invalid/", retries=0)


async def test_https_to_a_plain_http_server_is_a_tls_error_not_retried(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/").respond_with_data("plain")
    url = httpserver.url_for("/").replace("http://", "https://")
    # The server answers the TLS ClientHello with an HTTP 400: a handshake failure.
    with pytest.raises(NetworkError, match=r"^TLS error with localhost") as caught:
        await get(url, retries=2)
    assert not caught.value.transient
    assert httpserver.log == []  # nothing it could parse as a request, and no retry


async def test_self_signed_certificate_is_a_tls_error() -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, b"secret"))

    with RawServer(handler, ssl_context=context) as server:
        with pytest.raises(NetworkError, match=r"TLS error with 127\.0\.0\.1: .*certificate") as c:
            await get(server.url("/"), retries=2)
        assert not c.value.transient
        assert server.requests == []


async def test_https_with_a_trusted_certificate_reuses_its_connection(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TLS over asyncio's streams: a verified handshake, then two requests on one connection."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # httpx's trust store, as users set it
    connections: list[int] = []

    def handler(request: RawRequest, conn: socket.socket) -> None:
        connections.append(1)
        while request is not None:
            body = f"page {request.path}".encode()
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            request = RawServer._read_head(conn)  # the next request on this connection

    with RawServer(handler, ssl_context=context) as server:
        async with Fetcher(settings()) as fetcher:
            first = await fetcher.fetch(server.url("/a"))
            second = await fetcher.fetch(server.url("/b"))
    assert (first.content, second.content) == (b"page /a", b"page /b")
    assert len(connections) == 1


@pytest.fixture
def trusted_tls(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context whose certificate (127.0.0.1) the client trusts."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    return context


def redirecting_to(target: str) -> Callable[[RawRequest, socket.socket], None]:
    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(302, headers={"Location": target}, reason="Found"))

    return handler


async def test_https_redirect_to_http_is_followed_and_named(
    httpserver: HTTPServer, trusted_tls: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/plain").respond_with_data(b"the policy", content_type="text/html")
    target = httpserver.url_for("/plain")
    with RawServer(redirecting_to(target), ssl_context=trusted_tls) as server:
        source = server.url("/secure")
        with caplog.at_level(logging.WARNING, logger="watcher.fetch"):
            result = await get(source)
    assert (result.status, result.content, result.url) == (200, b"the policy", target)
    assert result.downgrade == f"{source} → {target}"
    assert "redirected from https to http" in caplog.text


async def test_https_redirect_to_http_is_refused_when_downgrades_are_not_allowed(
    httpserver: HTTPServer, trusted_tls: ssl.SSLContext
) -> None:
    httpserver.expect_request("/plain").respond_with_data(b"the policy")
    target = httpserver.url_for("/plain")
    with RawServer(redirecting_to(target), ssl_context=trusted_tls) as server:
        source = server.url("/secure")
        with pytest.raises(FetchError) as caught:
            await get(source, allow_downgrade=False, retries=2)
        assert len(server.requests) == 1  # refused, not retried
    assert caught.value.reason == (
        f"redirected from https to http ({source} → {target}); refused by allow_downgrade = false"
    )
    assert not caught.value.transient
    assert httpserver.log == []  # the http URL was never requested


async def test_https_to_https_and_http_to_http_redirects_are_no_downgrade(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/a").respond_with_response(
        Response(status=301, headers={"Location": "/b"})
    )
    httpserver.expect_request("/b").respond_with_data(b"ok")
    result = await get(httpserver.url_for("/a"), allow_downgrade=False)
    assert (result.content, result.downgrade) == (b"ok", None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/file.pdf", "unsupported URL 'ftp://127.0.0.1/file.pdf'"),
        ("example.org/page", "unsupported URL 'example.org/page'"),
        ("http://[::1/", "invalid URL 'http://[::1/'"),
        ("http://127.0.0.1:99999/", "invalid URL 'http://127.0.0.1:99999/': port 99999"),
        ("http://ex\x00ample.org/", "invalid URL"),
    ],
)
async def test_bad_urls_are_fetch_errors_not_retried(url: str, message: str) -> None:
    with pytest.raises(FetchError, match=re.escape(message)) as caught:
        await get(url)
    assert not caught.value.transient


async def test_redirect_to_an_unsupported_scheme_is_a_fetch_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/r").respond_with_data(
        "", status=302, headers={"Location": "ftp://127.0.0.1/x"}
    )
    with pytest.raises(FetchError, match=re.escape("unsupported URL 'ftp://127.0.0.1/x'")):
        await get(httpserver.url_for("/r"))


async def test_server_that_never_answers_times_out() -> None:
    def handler(request: RawRequest, conn: socket.socket) -> None:
        server.wait(10)

    with RawServer(handler) as server:
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match=r"timed out after 0\.5s") as caught:
            await get(server.url("/"), timeout=0.5, retries=0)
        assert time.monotonic() - started < 2
        assert caught.value.transient


async def test_dripping_server_hits_the_total_timeout() -> None:
    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, content_length=1000))
        # One byte every 0.2 s: every read succeeds well within the read timeout.
        while not server.wait(0.2):
            conn.sendall(b"x")

    with RawServer(handler) as server:
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match=r"^timed out after 0.8s$"):
            await get(server.url("/"), timeout=0.8, retries=0)
        assert time.monotonic() - started < 2


# --- bodies: size cap, encodings, truncation ---------------------------------


async def test_content_length_over_max_bytes_is_refused_before_reading(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/big").respond_with_data(b"a" * 2_000)
    with pytest.raises(TooLarge, match=r"^body over 1,000 bytes \(max_bytes\)$") as caught:
        await get(httpserver.url_for("/big"), max_bytes=1_000)
    assert not caught.value.transient
    assert len(httpserver.log) == 1


async def test_body_over_max_bytes_without_content_length_is_refused() -> None:
    sent = threading.Event()

    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, content_length=-1))
        for _ in range(200):  # 200 × 64 KiB = 12.8 MB, ended by closing
            conn.sendall(b"b" * 65536)
        sent.set()

    with RawServer(handler) as server, pytest.raises(TooLarge, match="body over 1,000,000"):
        await get(server.url("/"), max_bytes=1_000_000)
    assert not sent.is_set()  # the client hung up long before the end


async def test_body_of_exactly_max_bytes_is_accepted() -> None:
    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, b"c" * 1000, content_length=-1))

    with RawServer(handler) as server:
        result = await get(server.url("/"), max_bytes=1000)
    assert result.content == b"c" * 1000


class InflationMeter:
    """Counts the bytes every zlib decompressor made by fetch inflates."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inflated = 0
        real = zlib.decompressobj
        meter = self

        class Counting:
            def __init__(self, wbits: int = zlib.MAX_WBITS) -> None:
                self._inner = real(wbits=wbits)

            def decompress(self, data: bytes, max_length: int = 0) -> bytes:
                out = self._inner.decompress(data, max_length)
                meter.inflated += len(out)
                return out

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

        monkeypatch.setattr(fetch.zlib, "decompressobj", Counting)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MB of zeros, gzipped to about 50 KB."""
    return gzip.compress(bytes(50_000_000), compresslevel=9)


async def test_gzip_bomb_is_refused_without_inflating_it(
    gzip_bomb: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    meter = InflationMeter(monkeypatch)

    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, gzip_bomb, {"Content-Encoding": "gzip"}))

    with RawServer(handler) as server:
        started = time.monotonic()
        with pytest.raises(TooLarge, match="body over 1,000,000 bytes"):
            await get(server.url("/"), max_bytes=1_000_000)
        assert time.monotonic() - started < 2
    assert len(gzip_bomb) < 1_000_000  # the compressed size passes the Content-Length check
    assert 1_000_000 < meter.inflated <= 1_000_001


def _deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


TEXT = ("<h1>Policy</h1>" + "<p>We commit to evaluations before deployment.</p>" * 500).encode()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
        ("deflate", _deflate_raw),  # raw, as some servers send
        ("gzip", lambda data: gzip.compress(data[:100]) + gzip.compress(data[100:])),
        ("identity", lambda data: data),
        ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
    ],
    ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "gzip-members", "identity", "twice"],
)
async def test_encoded_bodies_are_decoded(
    httpserver: HTTPServer, encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    httpserver.expect_request("/enc").respond_with_data(
        encode(TEXT), headers={"Content-Encoding": encoding}, content_type="text/html"
    )
    result = await get(httpserver.url_for("/enc"))
    assert result.content == TEXT


async def test_unsupported_content_encoding_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/br").respond_with_data(
        b"\x1b\x00", headers={"Content-Encoding": "br"}
    )
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'") as caught:
        await get(httpserver.url_for("/br"))
    assert not caught.value.transient
    assert len(httpserver.log) == 1


async def test_corrupt_gzip_is_a_fetch_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/bad").respond_with_data(
        b"this is not gzip at all", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FetchError, match="corrupt gzip body"):
        await get(httpserver.url_for("/bad"))


async def test_truncated_body_is_reported_and_retried() -> None:
    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, b"t" * 100, content_length=1000))

    with (
        RawServer(handler) as server,
        pytest.raises(
            TruncatedBody, match=r"^connection closed after 100 of 1,000 bytes$"
        ) as caught,
    ):
        await get(server.url("/"), retries=1)
    assert caught.value.transient
    assert len(server.requests) == 2


async def test_truncated_gzip_stream_is_a_truncated_body() -> None:
    whole = gzip.compress(TEXT)
    cut = whole[: len(whole) // 2]

    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, cut, {"Content-Encoding": "gzip"}, content_length=-1))

    with RawServer(handler) as server, pytest.raises(TruncatedBody, match="ended early"):
        await get(server.url("/"), retries=0)


# --- concurrency --------------------------------------------------------------


class InFlight:
    """Records the most requests in flight at once, per host and overall."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.max: dict[str, int] = {}
        self.max_total = 0

    def handler(self, request: RawRequest, conn: socket.socket) -> None:
        host = request.local_host
        with self._lock:
            self.now[host] = self.now.get(host, 0) + 1
            self.max[host] = max(self.max.get(host, 0), self.now[host])
            self.max_total = max(self.max_total, sum(self.now.values()))
        time.sleep(0.15)
        with self._lock:
            # Leave before answering, so the next request can never look concurrent.
            self.now[host] -= 1
        conn.sendall(http_response(200, host.encode()))


@pytest.mark.parametrize(
    ("concurrency", "per_host", "max_per_host", "max_total"),
    [(16, 2, 2, 4), (3, 2, 2, 3), (16, 1, 1, 2)],
)
async def test_concurrency_limits(
    concurrency: int, per_host: int, max_per_host: int, max_total: int
) -> None:
    meter = InFlight()
    with RawServer(meter.handler) as one, RawServer(meter.handler, host="127.0.0.2") as two:
        urls = [server.url(f"/{i}") for i in range(8) for server in (one, two)]
        async with Fetcher(settings(concurrency=concurrency, per_host=per_host)) as fetcher:
            results = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
    assert sorted({r.content for r in results}) == [b"127.0.0.1", b"127.0.0.2"]
    assert meter.max == {"127.0.0.1": max_per_host, "127.0.0.2": max_per_host}
    assert meter.max_total == max_total


async def test_no_slot_is_held_while_waiting_to_retry(httpserver: HTTPServer) -> None:
    # per_host=1: if the failing fetch kept its slot during its 0.3 s Retry-After
    # wait, the other fetch to the same host would finish after it.
    httpserver.expect_oneshot_request("/slow").respond_with_data(
        "", status=503, headers={"Retry-After": "1"}
    )
    httpserver.expect_request("/slow").respond_with_data("slow")
    httpserver.expect_request("/quick").respond_with_data("quick")
    done: list[bytes] = []

    async with Fetcher(settings(per_host=1, retry_after_cap=0.3)) as fetcher:

        async def one(path: str, delay: float) -> None:
            await asyncio.sleep(delay)
            done.append((await fetcher.fetch(httpserver.url_for(path))).content)

        await asyncio.gather(one("/slow", 0), one("/quick", 0.05))
    assert done == [b"quick", b"slow"]


async def test_fetch_outside_async_with_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await Fetcher(settings()).fetch("http://127.0.0.1/")
