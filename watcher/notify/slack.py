"""Slack: post an alert to an incoming webhook.

The webhook URL is a secret: `HookPoster` keeps it out of every reason and
log line, and classifies Slack's answers for the outbox: 2xx delivered; 429
(and 503 with a `Retry-After`) throttled; other 5xx, connection errors and
timeouts transient; any other answer (400 invalid_payload, 403, 404
no_service, 410 channel_is_archived...) permanent, with Slack's short error
text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import httpx

from watcher.config import SlackChannel
from watcher.notify.alert import Alert
from watcher.notify.hook import HookPoster
from watcher.notify.slack_render import fits_slack, render_slack

log = logging.getLogger(__name__)


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
        self._where = f"Slack channel {channel.name!r}"
        self._poster = HookPoster(
            webhook_url,
            where=self._where,
            service="Slack",
            url_env=channel.webhook_url_env,
            timeout=timeout,
            transport=transport,
        )

    async def send(self, alert: Alert) -> None:
        """Post the alert; raises DeliveryError (transient or not) when Slack did not take it."""
        if alert.kind == "test" and not alert.title:
            alert = replace(alert, title=self.channel.name)
        payload = render_slack(alert, self.channel.mention_on_major)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        await self._poster.post(body, {"Content-Type": "application/json; charset=utf-8"})
        log.debug("alert %s delivered to %s", alert.kind, self._where)

    def fits(self, alert: Alert) -> bool:
        """Whether one message shows the whole alert (every item of a summary)."""
        return fits_slack(alert)

    async def aclose(self) -> None:
        await self._poster.aclose()

    def __repr__(self) -> str:  # never the URL
        return f"SlackSender(channel={self.channel.name!r})"
