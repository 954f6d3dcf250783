"""Channels: where alerts go ([channels.NAME] of type slack, email, webhook or apprise).

The frozen settings each channel type hands to notify/, the pydantic model
that validates its table, and `_load_channels`, which reads `[channels]`.
Secrets never live in the file: a channel names the environment variables
that hold them (`*_env` keys), and one whose variable is unset waits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from watcher.config_problems import _STRICT, _Problems, _table
from watcher.config_values import (
    Address,
    BatchOver,
    EnvName,
    Mentions,
    Pace,
    ReportSchedule,
    _addresses,
    _as_tuple,
    _host,
    _short,
)

# -- the settings handed to notify/ ------------------------------------------


def _unset(names: tuple[str | None, ...], environ: Mapping[str, str]) -> list[str]:
    # An empty variable is as good as none: nothing to authenticate with.
    return [name for name in names if name and not environ.get(name)]


#: the names reserved for examples and tests (RFC 2606, RFC 6761), never a real host
_RESERVED_TLDS = frozenset({"example", "invalid", "test", "localhost"})


def placeholder_host(host: str, *, localhost: bool = False) -> bool:
    """Whether `host` is a name reserved for examples (example.org, relay.test, …).

    `localhost` counts too when `localhost` is true: a relay may run there,
    but no one reads mail addressed to it.
    """
    labels = host.strip().rstrip(".").lower().split(".")
    if labels[-1] == "localhost":
        return localhost
    return labels[-1] in _RESERVED_TLDS or "example" in labels[-2:]


class _SecretOnly:
    """A channel whose alerts wait only for its secret variables (no placeholder keys)."""

    def secret_missing(self, environ: Mapping[str, str]) -> list[str]:
        raise NotImplementedError

    def placeholders(self) -> dict[str, str]:
        """The keys still holding the example config's placeholder values: none here."""
        return {}

    def waiting_for(self, environ: Mapping[str, str]) -> list[str]:
        """What the channel's alerts wait for before they can be sent (nothing: [])."""
        return self.secret_missing(environ)


@dataclass(frozen=True)
class SlackChannel(_SecretOnly):
    """A Slack incoming webhook whose URL is read from `webhook_url_env`."""

    name: str
    webhook_url_env: str
    pace: float = 1.0  # seconds at least between two messages (0: no pacing)
    batch_over: int = 10  # more alerts due at once are sent as one summary
    report: str | None = None  # "weekly Mon 08:00" / "daily 08:00" (UTC): a scheduled report
    task_updates: bool = False  # also a short message when an alerted task is closed/reopened
    # "<!subteam^S123>", "<@U123>", "<!here>": added to major changes only
    mention_on_major: tuple[str, ...] = ()
    type: Literal["slack"] = "slack"

    def secret_missing(self, environ: Mapping[str, str]) -> list[str]:
        """Names of the environment variables this channel needs that are unset."""
        return _unset((self.webhook_url_env,), environ)


@dataclass(frozen=True)
class EmailChannel:
    """An SMTP relay and the addresses alerts go to."""

    name: str
    smtp_host: str
    smtp_port: int
    security: Literal["starttls", "ssl", "none"]
    username_env: str | None
    password_env: str | None
    from_addr: str
    to: tuple[str, ...]
    pace: float = 0.0  # seconds at least between two messages (0: no pacing)
    batch_over: int = 10  # more alerts due at once are sent as one summary
    report: str | None = None  # "weekly Mon 08:00" / "daily 08:00" (UTC): a scheduled report
    task_updates: bool = False  # also a short message when an alerted task is closed/reopened
    type: Literal["email"] = "email"

    def secret_missing(self, environ: Mapping[str, str]) -> list[str]:
        """Names of the environment variables this channel needs that are unset."""
        return _unset((self.username_env, self.password_env), environ)

    def placeholders(self) -> dict[str, str]:
        """The keys still holding a name reserved for examples (smtp.example.org,
        raters@example.org), with the value: the shipped config's placeholders."""
        found = {"smtp_host": self.smtp_host} if placeholder_host(self.smtp_host) else {}
        if placeholder_host(self.from_addr.rpartition("@")[2], localhost=True):
            found["from"] = self.from_addr
        for to in self.to:
            if placeholder_host(to.rpartition("@")[2], localhost=True):
                found.setdefault("to", to)
        return found

    def waiting_for(self, environ: Mapping[str, str]) -> list[str]:
        """What the channel's alerts wait for before they can be sent (nothing: []).

        A placeholder relay host is waited for like an unset secret: sending
        to a host that does not exist would only fail the alerts.
        """
        host = (
            [f"a real smtp_host (not {self.smtp_host})"]
            if "smtp_host" in self.placeholders()
            else []
        )
        return self.secret_missing(environ) + host


@dataclass(frozen=True)
class WebhookChannel(_SecretOnly):
    """A URL (read from `url_env`) that receives each alert as a signed JSON document."""

    name: str
    url_env: str
    secret_env: str  # the HMAC-SHA256 key of X-Watcher-Signature
    pace: float = 0.0  # seconds at least between two messages (0: no pacing)
    batch_over: int = 10  # more alerts due at once are sent as one summary
    report: str | None = None  # "weekly Mon 08:00" / "daily 08:00" (UTC): a scheduled report
    task_updates: bool = False  # also a short message when an alerted task is closed/reopened
    type: Literal["webhook"] = "webhook"

    def secret_missing(self, environ: Mapping[str, str]) -> list[str]:
        """Names of the environment variables this channel needs that are unset."""
        return _unset((self.url_env, self.secret_env), environ)


@dataclass(frozen=True)
class AppriseChannel(_SecretOnly):
    """An Apprise URL (Teams, Discord, Matrix, Telegram, ntfy...) read from `url_env`."""

    name: str
    url_env: str
    pace: float = 1.0  # seconds at least between two messages (0: no pacing)
    batch_over: int = 10  # more alerts due at once are sent as one summary
    report: str | None = None  # "weekly Mon 08:00" / "daily 08:00" (UTC): a scheduled report
    task_updates: bool = False  # also a short message when an alerted task is closed/reopened
    type: Literal["apprise"] = "apprise"

    def secret_missing(self, environ: Mapping[str, str]) -> list[str]:
        """Names of the environment variables this channel needs that are unset."""
        return _unset((self.url_env,), environ)


APPRISE_INSTALL = "pip install -e '.[apprise]'"


def apprise_missing() -> bool:
    """Whether the optional Apprise package is not installed (`type = "apprise"` needs it)."""
    import importlib.util

    return importlib.util.find_spec("apprise") is None


Channel: TypeAlias = SlackChannel | EmailChannel | WebhookChannel | AppriseChannel


# -- validation -------------------------------------------------------------


class _SlackModel(BaseModel):
    model_config = _STRICT

    type: Literal["slack"]
    webhook_url_env: EnvName
    pace: Pace = 1.0
    batch_over: BatchOver = 10
    report: ReportSchedule | None = None
    task_updates: bool = False
    mention_on_major: Mentions = ()


class _WebhookModel(BaseModel):
    model_config = _STRICT

    type: Literal["webhook"]
    url_env: EnvName
    secret_env: EnvName
    pace: Pace = 0.0
    batch_over: BatchOver = 10
    report: ReportSchedule | None = None
    task_updates: bool = False


class _AppriseModel(BaseModel):
    model_config = _STRICT

    type: Literal["apprise"]
    url_env: EnvName
    pace: Pace = 1.0
    batch_over: BatchOver = 10
    report: ReportSchedule | None = None
    task_updates: bool = False


_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class _EmailModel(BaseModel):
    model_config = _STRICT

    type: Literal["email"]
    smtp_host: Annotated[str, AfterValidator(_host)]
    smtp_port: int | None = Field(None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    from_: Address = Field(alias="from")
    to: Annotated[tuple[Address, ...], BeforeValidator(_as_tuple), AfterValidator(_addresses)]
    pace: Pace = 0.0
    batch_over: BatchOver = 10
    report: ReportSchedule | None = None
    task_updates: bool = False


_ChannelModel: TypeAlias = _SlackModel | _EmailModel | _WebhookModel | _AppriseModel
_CHANNEL_MODELS: dict[str, type[_ChannelModel]] = {
    "slack": _SlackModel,
    "email": _EmailModel,
    "webhook": _WebhookModel,
    "apprise": _AppriseModel,
}
_CHANNELS: dict[str, type[SlackChannel | WebhookChannel | AppriseChannel]] = {
    "slack": SlackChannel,
    "webhook": WebhookChannel,
    "apprise": AppriseChannel,
}
_CHANNEL_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")


def _load_channels(raw: Any, problems: _Problems) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    table = _table(raw, "channels", problems, "[channels.NAME]")
    for name, body in (table or {}).items():
        where = f"channels.{name}"
        if not _CHANNEL_NAME_RE.fullmatch(name):
            problems.add(where, "a channel name may hold only letters, digits, '-' and '_'")
            continue
        body = _table(body, where, problems, f"[channels.{name}]")
        if body is None:
            continue
        kind = body.get("type")
        if kind is None:
            known = ", ".join(f'"{kind}"' for kind in _CHANNEL_MODELS)
            problems.add(f"{where}.type", f"required key is missing ({known})")
            continue
        if kind not in _CHANNEL_MODELS:
            known = ", ".join(sorted(_CHANNEL_MODELS))
            problems.add(f"{where}.type", f"unknown channel type {_short(kind)} (known: {known})")
            continue
        model = problems.validate(_CHANNEL_MODELS[kind], body, where, {})
        if kind == "email" and bool(body.get("username_env")) != bool(body.get("password_env")):
            missing = "password_env" if body.get("username_env") else "username_env"
            other = "username_env" if missing == "password_env" else "password_env"
            problems.add(f"{where}.{missing}", f"required when {other} is set")
        if isinstance(model, _EmailModel):
            channels[name] = EmailChannel(
                name=name,
                smtp_host=model.smtp_host,
                smtp_port=model.smtp_port or _DEFAULT_PORTS[model.security],
                security=model.security,
                username_env=model.username_env,
                password_env=model.password_env,
                from_addr=model.from_,
                to=model.to,
                pace=model.pace,
                batch_over=model.batch_over,
                report=model.report,
                task_updates=model.task_updates,
            )
        elif model is not None:
            # the other kinds' keys are their settings' fields, name for name
            channels[name] = _CHANNELS[kind](name=name, **dict(model))
    return channels
