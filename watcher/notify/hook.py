"""POST a message to a secret URL and classify the answer: Slack's and the webhook's transport.

The URL is a secret (whoever has it can post): it appears in no error message
and no log line. That is why the request goes straight to an httpx transport
rather than through `httpx.AsyncClient`, which logs every request's URL at
INFO. The transport is the fetcher's (`watcher.transport.ProxyRoutes`): the
proxy variables are honoured as curl reads them (`https_proxy`, `no_proxy`...).

Answers are classified for the outbox: 2xx delivered; 429 (and 503 with a
`Retry-After`) throttled: the receiver asks to slow down, which is not a
failed attempt; other 5xx, connection errors and timeouts transient; any
other answer permanent, with the receiver's short error text.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from watcher.errors import DeliveryError
from watcher.fetch import parse_retry_after
from watcher.transport import ProxyRoutes

USER_AGENT = "watcher-alerts"

#: Characters of the receiver's error text kept in a reason.
_BODY_MAX = 120
_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


class HookPoster:
    """Posts bodies to one secret URL; raises DeliveryError when the receiver did not take one."""

    def __init__(
        self,
        url: str,
        *,
        where: str,
        service: str,
        url_env: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._where = where  # "Slack channel 'raters'": how reasons name the channel
        self._service = service  # "Slack": who answered
        self._url_env = url_env
        self._timeout = timeout
        self._transport = transport or ProxyRoutes()

    async def post(self, body: bytes, headers: Mapping[str, str]) -> None:
        """POST `body` with `headers`; return once the receiver answered 2xx."""
        where = self._where
        parts = urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DeliveryError(f"{where}: ${self._url_env} is not an http(s) URL", transient=False)
        try:
            async with asyncio.timeout(self._timeout):
                status, retry_after, text = await self._post(body, headers)
        except (TimeoutError, httpx.TimeoutException):
            # asyncio.timeout bounds the whole exchange: httpx has no total timeout.
            raise DeliveryError(
                f"{where}: no answer within {self._timeout:g} s", transient=True
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, ssl.SSLError, OSError) as exc:
            raise DeliveryError(f"{where}: {self._describe(exc)}", transient=True) from None
        if 200 <= status < 300:
            return
        detail = f"{where}: {self._service} answered HTTP {status}" + (f": {text}" if text else "")
        if status == 429 or (status == 503 and retry_after is not None):
            raise DeliveryError(detail, transient=True, retry_after=retry_after, throttled=True)
        raise DeliveryError(detail, transient=status >= 500)

    async def _post(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, float | None, str]:
        request = httpx.Request(
            "POST",
            self._url,
            content=body,
            headers={"User-Agent": USER_AGENT, **headers},
            extensions={"timeout": httpx.Timeout(self._timeout).as_dict()},
        )
        response = await self._transport.handle_async_request(request)
        try:
            content = b""
            async for chunk in response.aiter_raw():
                content += chunk
                if len(content) > 4096:  # an error text is a word; the rest is noise
                    break
        finally:
            await response.aclose()
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return response.status_code, retry_after, self._clean(content)

    def _clean(self, content: bytes) -> str:
        """The answer as a short printable line, with the secret URL removed."""
        text = _PRINTABLE.sub(" ", content.decode("utf-8", "replace"))
        text = self.redact(" ".join(text.split()))
        return text if len(text) <= _BODY_MAX else text[: _BODY_MAX - 3] + "..."

    def _describe(self, exc: BaseException) -> str:
        kind = "connection failed" if isinstance(exc, httpx.ConnectError) else "request failed"
        if isinstance(exc, httpx.ProxyError):
            kind = "the proxy refused the tunnel"
        reason = self.redact(" ".join(str(exc).split()))[:200]
        return f"{kind}: {reason}" if reason else f"{kind} ({type(exc).__name__})"

    def redact(self, text: str) -> str:
        """`text` with the URL and its path (the token part) replaced: both are secrets."""
        path = urlsplit(self._url).path
        for secret in (self._url, path if len(path) > 1 else ""):
            if secret:
                text = text.replace(secret, "[webhook URL]")
        return text

    async def aclose(self) -> None:
        await self._transport.aclose()
