"""Slack: post an alert to an incoming webhook.

The webhook URL is a secret (whoever has it can post to the channel): it
appears in no error message and no log line. That is why the request goes
straight to an httpx transport rather than through `httpx.AsyncClient`, which
logs every request's URL at INFO. The transport is the fetcher's
(`watcher.transport.ProxyRoutes`): the proxy variables are honoured as curl reads
them (`https_proxy`, `no_proxy`...).

Answers are classified for the outbox: 2xx delivered; 429 (and 503 with a
`Retry-After`) throttled: the channel asks to slow down, which is not a failed
attempt; other 5xx, connection errors and timeouts transient; any
other answer (400 invalid_payload, 403, 404 no_service, 410
channel_is_archived...) permanent, with Slack's short error text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
from dataclasses import replace
from urllib.parse import urlsplit

import httpx

from watcher.config import SlackChannel
from watcher.errors import DeliveryError
from watcher.fetch import parse_retry_after
from watcher.notify.alert import Alert
from watcher.notify.render import fits_slack, render_slack
from watcher.transport import ProxyRoutes

log = logging.getLogger(__name__)

USER_AGENT = "watcher-alerts"

#: Characters of Slack's error text kept in a reason.
_BODY_MAX = 120
_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


class SlackSender:
    """Sends alerts to one Slack channel through its incoming webhook."""

    def __init__(
        self,
        channel: SlackChannel,
        webhook_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.channel = channel
        self._url = webhook_url
        self._timeout = timeout
        self._transport = transport or ProxyRoutes()

    async def send(self, alert: Alert) -> None:
        """Post the alert; raises DeliveryError (transient or not) when Slack did not take it."""
        if alert.kind == "test" and not alert.title:
            alert = replace(alert, title=self.channel.name)
        where = f"Slack channel {self.channel.name!r}"
        parts = urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DeliveryError(
                f"{where}: ${self.channel.webhook_url_env} is not an http(s) URL",
                transient=False,
            )
        body = json.dumps(render_slack(alert), ensure_ascii=False).encode("utf-8")
        try:
            async with asyncio.timeout(self._timeout):
                status, retry_after, text = await self._post(body)
        except (TimeoutError, httpx.TimeoutException):
            # asyncio.timeout bounds the whole exchange: httpx has no total timeout.
            raise DeliveryError(
                f"{where}: no answer within {self._timeout:g} s", transient=True
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, ssl.SSLError, OSError) as exc:
            raise DeliveryError(f"{where}: {self._describe(exc)}", transient=True) from None

        if 200 <= status < 300:
            log.debug("alert %s delivered to %s", alert.kind, where)
            return
        detail = f"{where}: Slack answered HTTP {status}" + (f": {text}" if text else "")
        if status == 429 or (status == 503 and retry_after is not None):
            raise DeliveryError(detail, transient=True, retry_after=retry_after, throttled=True)
        raise DeliveryError(detail, transient=status >= 500)

    async def _post(self, body: bytes) -> tuple[int, float | None, str]:
        request = httpx.Request(
            "POST",
            self._url,
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
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
        """Slack's answer as a short printable line, with the secret URL removed."""
        text = _PRINTABLE.sub(" ", content.decode("utf-8", "replace"))
        text = self._redact(" ".join(text.split()))
        return text if len(text) <= _BODY_MAX else text[: _BODY_MAX - 3] + "..."

    def _describe(self, exc: BaseException) -> str:
        kind = "connection failed" if isinstance(exc, httpx.ConnectError) else "request failed"
        if isinstance(exc, httpx.ProxyError):
            kind = "the proxy refused the tunnel"
        reason = self._redact(" ".join(str(exc).split()))[:200]
        return f"{kind}: {reason}" if reason else f"{kind} ({type(exc).__name__})"

    def _redact(self, text: str) -> str:
        # The whole URL and its path (the token part) are both secrets.
        path = urlsplit(self._url).path
        for secret in (self._url, path if len(path) > 1 else ""):
            if secret:
                text = text.replace(secret, "[webhook URL]")
        return text

    def fits(self, alert: Alert) -> bool:
        """Whether one message shows the whole alert (every item of a summary)."""
        return fits_slack(alert)

    async def aclose(self) -> None:
        await self._transport.aclose()

    def __repr__(self) -> str:  # never the URL
        return f"SlackSender(channel={self.channel.name!r})"
