"""Alerts: one message model (`Alert`), rendered and sent per channel.

    make_sender(channel, os.environ)  → a Sender, or None when unconfigured
    await sender.send(alert)          → delivered, or DeliveryError (transient or not)
    await sender.aclose()

Channel kinds are registered in `SENDERS`, keyed by the config's `type`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from watcher.config import (
    APPRISE_INSTALL,
    AppriseChannel,
    Channel,
    Config,
    EmailChannel,
    SlackChannel,
    WatcherSettings,
    WebhookChannel,
    apprise_missing,
)
from watcher.errors import DeliveryError
from watcher.notify.alert import Alert

if TYPE_CHECKING:
    from watcher.notify.apprise import AppriseSender
    from watcher.notify.email import EmailSender
    from watcher.notify.slack import SlackSender
    from watcher.notify.webhook import WebhookSender

__all__ = [
    "SENDERS",
    "Alert",
    "AppriseSender",
    "EmailSender",
    "Sender",
    "SlackSender",
    "WebhookSender",
    "make_sender",
    "send_test",
]


class Sender(Protocol):
    """What the outbox needs of a channel."""

    async def send(self, alert: Alert) -> None: ...

    def fits(self, alert: Alert) -> bool:
        """Whether one message shows the whole alert (every item of a summary)."""
        ...

    async def aclose(self) -> None: ...


# The senders (email, templates, Slack's blocks) load when a channel is used:
# most passes send nothing, and every command would pay for their imports.
def __getattr__(name: str) -> Any:
    if name == "EmailSender":
        from watcher.notify.email import EmailSender

        return EmailSender
    if name == "SlackSender":
        from watcher.notify.slack import SlackSender

        return SlackSender
    if name == "WebhookSender":
        from watcher.notify.webhook import WebhookSender

        return WebhookSender
    if name == "AppriseSender":
        from watcher.notify.apprise import AppriseSender

        return AppriseSender
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _slack(
    channel: SlackChannel, environ: Mapping[str, str], settings: WatcherSettings | None
) -> Sender | None:
    from watcher.notify.slack import SlackSender

    url = environ.get(channel.webhook_url_env)
    if not url:
        return None
    return SlackSender(channel, url, transport=_routes(environ, settings))


def _routes(environ: Mapping[str, str], settings: WatcherSettings | None) -> Any:
    from watcher.transport import ProxyRoutes

    # Web channels go through the same proxy as the fetches: [watcher] proxy,
    # else the environment's proxy variables.
    if settings is None:
        return ProxyRoutes(environ=environ)
    return ProxyRoutes(settings.proxy, auth=settings.proxy_auth(environ), environ=environ)


def _webhook(
    channel: WebhookChannel, environ: Mapping[str, str], settings: WatcherSettings | None
) -> Sender | None:
    if channel.secret_missing(environ):
        return None
    from watcher.notify.webhook import WebhookSender

    return WebhookSender(
        channel,
        environ[channel.url_env],
        environ[channel.secret_env],
        transport=_routes(environ, settings),
    )


def _apprise(
    channel: AppriseChannel, environ: Mapping[str, str], settings: WatcherSettings | None
) -> Sender | None:
    # Without the package the channel is unconfigured: its alerts wait, and
    # `Config.warnings()` names the install command.
    if channel.secret_missing(environ) or apprise_missing():
        return None
    from watcher.notify.apprise import AppriseSender

    return AppriseSender(channel, environ[channel.url_env])


def _email(
    channel: EmailChannel, environ: Mapping[str, str], settings: WatcherSettings | None
) -> Sender | None:
    if channel.secret_missing(environ):
        return None
    from watcher.notify.email import EmailSender

    username = environ[channel.username_env] if channel.username_env else None
    password = environ[channel.password_env] if channel.password_env else None
    return EmailSender(channel, username=username, password=password)


SENDERS: dict[str, Callable[[Any, Mapping[str, str], WatcherSettings | None], Sender | None]] = {
    "slack": _slack,
    "email": _email,
    "webhook": _webhook,
    "apprise": _apprise,
}


def make_sender(
    channel: Channel, environ: Mapping[str, str], settings: WatcherSettings | None = None
) -> Sender | None:
    """The sender for a configured channel; None when its secret variables are unset.

    `settings` gives the `[watcher]` proxy web channels go through (None: the
    environment's proxy variables only)."""
    return SENDERS[channel.type](channel, environ, settings)


async def send_test(
    config: Config, names: list[str], environ: Mapping[str, str]
) -> dict[str, str | None]:
    """Send a test alert through each named channel, directly (not via the outbox).

    Returns, per channel, None when it was accepted, else the reason it was not.
    """
    results: dict[str, str | None] = {}
    for name in names:
        channel = config.channels[name]
        missing = channel.secret_missing(environ)
        if missing:
            results[name] = f"not configured: {', '.join(missing)} is not set"
            continue
        if waiting := channel.waiting_for(environ):
            results[name] = f"not configured: waiting for {', '.join(waiting)}"
            continue
        sender = make_sender(channel, environ, config.watcher)
        if sender is None:
            missing_package = channel.type == "apprise" and apprise_missing()
            results[name] = (
                f"not configured: Apprise is not installed ({APPRISE_INSTALL})"
                if missing_package
                else "not configured"
            )
            continue
        try:
            await sender.send(
                Alert(kind="test", summary=f"watcher test message from channel {name}")
            )
            results[name] = None
        except DeliveryError as exc:
            results[name] = f"refused: {exc.reason}"
        finally:
            await sender.aclose()
    return results
