"""Apprise: one URL reaches Teams, Discord, Matrix, Telegram, ntfy and 100 more.

Apprise is an optional extra (`pip install -e '.[apprise]'`): without it a
channel of `type = "apprise"` is unconfigured, and its alerts wait in the
outbox. Its `notify()` is synchronous (each service plugin uses requests), so
it runs in a worker thread, bounded by `timeout`.

The body is plain text (`NotifyFormat.TEXT`): Apprise itself escapes it for a
service that reads Markdown or HTML, so nothing scraped becomes a link, a
mention or markup there. The title is the phone-first headline.

Apprise answers only "sent" or "not sent": a failure is transient (the
outbox retries with backoff); a URL Apprise does not understand is permanent.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import warnings
from dataclasses import replace
from types import ModuleType

from watcher.config import AppriseChannel
from watcher.errors import DeliveryError
from watcher.notify.alert import Alert
from watcher.notify.render import headline, render_plain

log = logging.getLogger(__name__)


def _load_apprise() -> ModuleType:
    """The apprise module, its service plugins loaded.

    Loading them warns (one imports `imghdr`, deprecated since Python 3.11): a
    third party's warning, not the user's to act on. Loaded here, in the event
    loop's thread, not in the worker: `catch_warnings` is not thread-safe.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module("apprise")
        module.Apprise().add("json://127.0.0.1/")  # loads the plugins; sends nothing
        return module


class AppriseSender:
    """Sends alerts to one Apprise URL, as a title and a plain-text body."""

    def __init__(self, channel: AppriseChannel, url: str, *, timeout: float = 30.0) -> None:
        self.channel = channel
        self._url = url
        self._timeout = timeout
        self._apprise = _load_apprise()
        # Apprise's debug lines can carry a service's token: keep its log quieter than ours.
        logging.getLogger("apprise").setLevel(logging.WARNING)

    async def send(self, alert: Alert) -> None:
        """Notify; raises DeliveryError (transient or not) when Apprise did not deliver."""
        if alert.kind == "test" and not alert.title:
            alert = replace(alert, title=self.channel.name)
        where = f"Apprise channel {self.channel.name!r}"
        if alert.kind == "report":
            from watcher.notify.report import render_report_text, report_subject

            title = report_subject(alert).removeprefix("[watcher] ")
            body = render_report_text(alert)
        else:
            title, body = headline(alert, 250), render_plain(alert)
        try:
            async with asyncio.timeout(self._timeout):
                sent = await asyncio.to_thread(self._notify, where, title, body)
        except TimeoutError:
            raise DeliveryError(
                f"{where}: no answer within {self._timeout:g} s", transient=True
            ) from None
        if not sent:
            raise DeliveryError(f"{where}: Apprise could not deliver the message", transient=True)
        log.debug("alert %s delivered to %s", alert.kind, where)

    def _notify(self, where: str, title: str, body: str) -> bool:
        apprise = self._apprise
        notifier = apprise.Apprise()
        if not notifier.add(self._url):
            raise DeliveryError(
                f"{where}: ${self.channel.url_env} is not a URL Apprise knows", transient=False
            )
        try:
            return bool(
                notifier.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
            )
        except Exception as exc:  # a plugin's own failure: Apprise has no exception tree
            log.warning("%s: Apprise failed: %s", where, type(exc).__name__)
            return False

    def fits(self, alert: Alert) -> bool:
        """Whether one message shows the whole alert: as the email's text part does."""
        from watcher.notify.email_render import fits_email

        return fits_email(alert)

    async def aclose(self) -> None:
        """Nothing to close: Apprise opens its connections per message."""

    def __repr__(self) -> str:  # never the URL
        return f"AppriseSender(channel={self.channel.name!r})"
