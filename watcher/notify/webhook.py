"""Webhook: POST each alert as a signed JSON document to a URL of the user's.

Headers a receiver relies on:

- `X-Watcher-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes,
  keyed with the secret in `secret_env`;
- `X-Watcher-Event`: the alert kind (change, reminder, failing, recovered,
  digest, batch, test);
- `X-Watcher-Delivery`: the outbox row's id, the same on every retry, so a
  receiver that took a message whose answer got lost can drop the repeat.

The URL is a secret too (it may carry a token): it appears in no reason and
no log line (`HookPoster`), whose classification the outbox uses: 2xx
delivered, 429 (or 503 with Retry-After) throttled, other 5xx and network
failures transient, any other answer permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import replace

import httpx

from watcher.config import WebhookChannel
from watcher.notify.alert import Alert
from watcher.notify.hook import HookPoster
from watcher.notify.webhook_render import delivery_id, render_webhook

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Watcher-Signature"


def signature(secret: str, body: bytes) -> str:
    """The X-Watcher-Signature value of `body`: 'sha256=' and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Sends alerts to one webhook URL as signed JSON documents."""

    def __init__(
        self,
        channel: WebhookChannel,
        url: str,
        secret: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.channel = channel
        self._secret = secret
        self._where = f"webhook channel {channel.name!r}"
        self._poster = HookPoster(
            url,
            where=self._where,
            service="the receiver",
            url_env=channel.url_env,
            timeout=timeout,
            transport=transport,
        )

    async def send(self, alert: Alert) -> None:
        """Post the alert; raises DeliveryError (transient or not) when the receiver did not take it."""
        if alert.kind == "test" and not alert.title:
            alert = replace(alert, title=self.channel.name)
        body = render_webhook(alert)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Watcher-Event": alert.kind,
            "X-Watcher-Delivery": delivery_id(alert),
            SIGNATURE_HEADER: signature(self._secret, body),
        }
        await self._poster.post(body, headers)
        log.debug("alert %s delivered to %s", alert.kind, self._where)

    def fits(self, alert: Alert) -> bool:
        """A JSON document has room for every alert of a summary."""
        return True

    async def aclose(self) -> None:
        await self._poster.aclose()

    def __repr__(self) -> str:  # never the URL or the secret
        return f"WebhookSender(channel={self.channel.name!r})"
