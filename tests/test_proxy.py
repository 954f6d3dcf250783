"""Proxies: the configured one, a source's own, the environment's as curl reads it.

A real forward proxy on loopback (tests/servers.py `ProxyServer`) records the
GETs and CONNECTs it is asked for.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from tests.servers import ProxyServer, RawRequest, RawServer, http_response
from watcher.errors import HTTPStatusError, NetworkError
from watcher.fetch import Fetcher, FetchSettings
from watcher.transport import ProxyRoutes, environment_proxy

pytestmark = pytest.mark.anyio


def settings(**overrides: Any) -> FetchSettings:
    values: dict[str, Any] = {"user_agent": "watcher-test/1.0", "timeout": 5.0, "retries": 0}
    values.update(overrides)
    return FetchSettings(**values)


def answer(body: bytes) -> Any:
    def handler(request: RawRequest, conn: socket.socket) -> None:
        conn.sendall(http_response(200, body))

    return handler


async def test_a_configured_proxy_relays_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("http_proxy", raising=False)
    with RawServer(answer(b"via proxy")) as server, ProxyServer() as proxy:
        async with Fetcher(settings(proxy=proxy.url)) as fetcher:
            result = await fetcher.fetch(server.url("/doc"))
    assert result.content == b"via proxy"
    assert proxy.seen == [("GET", server.url("/doc"))]


async def test_https_goes_through_a_connect_tunnel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with (
        RawServer(answer(b"tunnelled"), ssl_context=server_context) as server,
        ProxyServer() as proxy,
    ):
        async with Fetcher(settings(proxy=proxy.url)) as fetcher:
            result = await fetcher.fetch(server.url("/"))
    assert result.content == b"tunnelled"
    assert proxy.seen == [("CONNECT", f"127.0.0.1:{server.port}")]


async def test_a_source_can_go_direct_or_through_its_own_proxy() -> None:
    with (
        RawServer(answer(b"ok")) as server,
        ProxyServer() as configured,
        ProxyServer() as own,
    ):
        async with Fetcher(settings(proxy=configured.url)) as fetcher:
            await fetcher.fetch(server.url("/default"))
            await fetcher.fetch(server.url("/direct"), proxy="none")
            await fetcher.fetch(server.url("/own"), proxy=own.url)
    assert configured.seen == [("GET", server.url("/default"))]
    assert own.seen == [("GET", server.url("/own"))]
    assert [r.path for r in server.requests] == ["/default", "/direct", "/own"]


async def test_the_environment_proxy_is_used_and_no_proxy_honoured() -> None:
    with RawServer(answer(b"ok")) as server, ProxyServer() as proxy:
        environ = {"http_proxy": proxy.url, "no_proxy": f"example.org,127.0.0.1:{server.port + 1}"}
        client_transport = ProxyRoutes(environ=environ)
        async with Fetcher(settings(), transport=client_transport) as fetcher:
            await fetcher.fetch(server.url("/through"))
        environ["no_proxy"] = f"localhost, 127.0.0.1:{server.port}"
        async with Fetcher(settings(), transport=ProxyRoutes(environ=environ)) as fetcher:
            await fetcher.fetch(server.url("/direct"))
    assert proxy.seen == [("GET", server.url("/through"))]
    assert [r.path for r in server.requests] == ["/through", "/direct"]


@pytest.mark.parametrize(
    ("url", "environ", "expected"),
    [
        ("http://a.example/", {"http_proxy": "p:3128"}, "http://p:3128"),
        # curl reads http_proxy in lower case only
        ("http://a.example/", {"HTTP_PROXY": "http://p:1"}, "http://p:1"),
        (
            "http://a.example/",
            {"http_proxy": "http://l:1", "HTTP_PROXY": "http://u:1"},
            "http://l:1",
        ),
        ("https://a.example/", {"HTTPS_PROXY": "http://p:2"}, "http://p:2"),
        ("https://a.example/", {"ALL_PROXY": "http://p:3"}, "http://p:3"),
        ("https://a.example/", {"all_proxy": "http://p:3", "NO_PROXY": "*"}, None),
        # suffixes: a name matches itself and every name under it, with or without a dot
        ("https://docs.example.com/", {"all_proxy": "http://p", "no_proxy": "example.com"}, None),
        ("https://example.com/", {"all_proxy": "http://p", "no_proxy": ".example.com"}, None),
        ("https://example.com/", {"all_proxy": "http://p", "no_proxy": "*.example.com"}, None),
        (
            "https://notexample.com/",
            {"all_proxy": "http://p", "no_proxy": "example.com"},
            "http://p",
        ),
        # ports: only that port goes direct
        ("https://a.example:8443/", {"all_proxy": "http://p", "no_proxy": "a.example:8443"}, None),
        ("https://a.example/", {"all_proxy": "http://p", "no_proxy": "a.example:8443"}, "http://p"),
        ("http://10.1.2.3/", {"http_proxy": "http://p", "no_proxy": "10.0.0.0/8"}, None),
        ("http://[::1]:81/", {"http_proxy": "http://p", "no_proxy": "[::1]:81"}, None),
        ("http://[::1]:82/", {"http_proxy": "http://p", "no_proxy": "[::1]:81"}, "http://p"),
    ],
)
def test_environment_proxy_reads_the_variables_as_curl_does(
    url: str, environ: dict[str, str], expected: str | None
) -> None:
    assert environment_proxy(httpx.URL(url), environ) == expected


# --- bad input: a failed check with a one-line reason, nothing else disturbed ---


async def test_a_proxy_refusing_connect_fails_that_check_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with (
        RawServer(answer(b"ok")) as server,
        ProxyServer(refuse_connect=True) as proxy,
    ):
        async with Fetcher(settings(proxy=proxy.url)) as fetcher:
            with pytest.raises(NetworkError) as caught:
                await fetcher.fetch(server.url("/", scheme="https"))
            # the same fetcher still fetches plain http through the proxy
            result = await fetcher.fetch(server.url("/plain"))
    reason = caught.value.reason
    assert reason == (
        f"proxy 127.0.0.1:{proxy.port} refused the tunnel to 127.0.0.1:{server.port}: 403 Forbidden"
    )
    assert not caught.value.transient
    assert result.content == b"ok"


async def test_a_proxy_asking_for_credentials_names_the_key() -> None:
    with (
        RawServer(answer(b"ok")) as server,
        ProxyServer(credentials="alice:s3cret") as proxy,
    ):
        async with Fetcher(settings(proxy=proxy.url)) as fetcher:
            with pytest.raises(NetworkError) as tunnel:
                await fetcher.fetch(server.url("/", scheme="https"))
            with pytest.raises(HTTPStatusError) as plain:
                await fetcher.fetch(server.url("/"))
        async with Fetcher(settings(proxy=proxy.url, proxy_auth=("alice", "s3cret"))) as fetcher:
            result = await fetcher.fetch(server.url("/"))
    assert "407 Proxy Authentication Required" in tunnel.value.reason
    assert "proxy_auth_env" in tunnel.value.reason and "\n" not in tunnel.value.reason
    assert plain.value.status == 407 and "proxy_auth_env" in plain.value.reason
    assert result.content == b"ok"
    assert proxy.auth[-1] is not None and proxy.auth[-1].startswith("Basic ")


async def test_an_unreachable_proxy_is_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Fetcher(settings(proxy=f"http://127.0.0.1:{port}")) as fetcher:
        with pytest.raises(NetworkError) as caught:
            await fetcher.fetch("http://127.0.0.2:9/doc")
    assert caught.value.reason == f"connection refused by proxy 127.0.0.1:{port}"


async def test_slack_alerts_honour_the_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from watcher.config import SlackChannel
    from watcher.notify.alert import Alert
    from watcher.notify.slack import SlackSender

    with RawServer(answer(b"ok")) as slack, ProxyServer() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        sender = SlackSender(SlackChannel("team", "SLACK_URL"), slack.url("/services/T/B/x"))
        try:
            await sender.send(Alert(kind="test"))
        finally:
            await sender.aclose()
    assert proxy.seen == [("POST", slack.url("/services/T/B/x"))]
    assert slack.requests[0].method == "POST" and slack.requests[0].body.startswith(b"{")


async def test_slack_alerts_go_through_the_configured_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from watcher.config import SlackChannel, WatcherSettings
    from watcher.notify import make_sender
    from watcher.notify.alert import Alert

    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with RawServer(answer(b"ok")) as slack, ProxyServer() as proxy:
        environ = {"SLACK_URL": slack.url("/services/T/B/x"), "PROXY_LOGIN": "rater:s3cret"}
        base = {"state_dir": Path("state"), "default_interval": 3600.0, "user_agent": "w/1"}
        settings = WatcherSettings(**base, proxy=proxy.url, proxy_auth_env="PROXY_LOGIN")
        sender = make_sender(SlackChannel("team", "SLACK_URL"), environ, settings)
        assert sender is not None
        try:
            await sender.send(Alert(kind="test"))
        finally:
            await sender.aclose()
        # "none" in [watcher] proxy: the webhook is posted directly
        direct = make_sender(
            SlackChannel("team", "SLACK_URL"), environ, WatcherSettings(**base, proxy="none")
        )
        assert direct is not None
        try:
            await direct.send(Alert(kind="test"))
        finally:
            await direct.aclose()
    assert proxy.seen == [("POST", slack.url("/services/T/B/x"))]
    assert proxy.auth[0] is not None and proxy.auth[0].startswith("Basic ")
    assert len(slack.requests) == 2


def _config(tmp_path: Path, watcher: str, source: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"[watcher]\n{watcher}\n\n[[sources]]\nid = 'a'\nlab = 'L'\ntitle = 'T'\n"
        f"url = 'https://a.example/'\n{source}\n"
    )
    return path


@pytest.mark.parametrize(
    ("watcher", "source", "message"),
    [
        ("proxy = 'http://bob:pw@p:3128'", "", "watcher.proxy: credentials do not go in the file"),
        ("proxy = 'socks5://p:1080'", "", "is not a proxy URL"),
        ("", "proxy = 'p:3128'", "sources[0] (a).proxy: 'p:3128' is not a proxy URL"),
        ("proxy_auth_env = 'bob:pw'", "", "must be the name of an environment variable"),
    ],
)
def test_bad_proxy_keys_are_one_line_errors(
    tmp_path: Path, watcher: str, source: str, message: str
) -> None:
    from watcher.config import load_config
    from watcher.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, watcher, source))
    text = str(caught.value)
    assert message in text
    assert "pw" not in text.replace("proxy_auth_env", "")


def test_validate_prints_which_sources_go_through_which_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from watcher.cli import main

    path = tmp_path / "config.toml"
    path.write_text(
        "[watcher]\nproxy = 'http://proxy.internal:3128'\n"
        "[[sources]]\nid = 'a'\nlab = 'L'\ntitle = 'T'\nurl = 'https://a.example/'\n"
        "[[sources]]\nid = 'b'\nlab = 'L'\ntitle = 'T'\nurl = 'https://b.example/'\n"
        "proxy = 'none'\n"
    )
    result = CliRunner().invoke(main, ["--config", str(path), "validate"])
    assert result.exit_code == 0, result.output
    assert "a: through proxy.internal:3128" in result.output
    assert "b: direct" in result.output
