"""config.toml → validated, frozen settings for the rest of the program.

`load_config(path)` reads the file with tomllib, validates every table with
pydantic (unknown keys are errors) and hands back plain frozen dataclasses:
pydantic stays inside the config modules (this one; config_channels.py and
config_people.py for channels and people; config_values.py, each key type's
validator; config_problems.py, how problems are worded). Every problem of the
file is reported in one go, one line each, naming the file, the table and key,
and what is wrong:

    config.toml: sources[3] (acme-rsp).interval: '5 minutes' is not a duration (use 90s, 30m, 6h, 1d)

Secrets never live in the file: channels name the environment variables that
hold them (`*_env` keys). A channel whose variable is unset is *unconfigured*,
not invalid; `Config.warnings()` says so, one line per channel.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    field_validator,
)

from watcher import __version__
from watcher.config_channels import (  # noqa: F401  (public here too)
    APPRISE_INSTALL,
    AppriseChannel,
    Channel,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
    _AppriseModel,
    _EmailModel,
    _load_channels,
    _SlackModel,
    _WebhookModel,
    apprise_missing,
    placeholder_host,
)
from watcher.config_people import (
    LabSettings,
    RaterName,
    RaterSettings,
    _header_name,
    _LabModel,
    _load_named,
    _RaterModel,
    _users,
)
from watcher.config_problems import _STRICT, _Problems, _suggest, _table, _unknown_key
from watcher.config_values import (  # noqa: F401  (parse_duration, parse_size: public here too)
    DAY,
    Address,
    BatchOver,
    Browser,
    CookieVars,
    Duration,
    EnvName,
    Headers,
    Mentions,
    Pace,
    Proxy,
    Regexes,
    ReportSchedule,
    Selector,
    Selectors,
    Size,
    Strings,
    Text,
    _addresses,
    _as_tuple,
    _cron,
    _dashboard_url,
    _default_browser,
    _host,
    _http_url,
    _known_channels,
    _lineage_rule,
    _short,
    _source_id,
    _time_of_day,
    _toml_type,
    parse_duration,
    parse_size,
)
from watcher.errors import ConfigError, NotFound
from watcher.models import BrowserMode, ExtractRules

Kind = Literal["auto", "html", "pdf"]
Severity = Literal["minor", "substantive", "major"]
SEVERITIES: tuple[Severity, ...] = ("minor", "substantive", "major")

DEFAULT_USER_AGENT = f"watcher/{__version__} (policy change watcher)"


def default_config_path(environ: Mapping[str, str]) -> Path:
    """The `--config` default: $WATCHER_CONFIG when set, else ./config.toml."""
    return Path(environ.get("WATCHER_CONFIG") or "config.toml")


# -- the settings handed to the rest of the program -------------------------


@dataclass(frozen=True)
class WatcherSettings:
    """The `[watcher]` table; durations in seconds, sizes in bytes."""

    state_dir: Path  # absolute
    default_interval: float
    user_agent: str
    concurrency: int = 100
    per_host: int = 2
    timeout: float = 30.0
    max_bytes: int = 25_000_000
    failure_alert_after: int = 3
    dashboard_url: str = ""  # without a trailing slash
    notify: tuple[str, ...] = ()
    admin_notify: tuple[str, ...] | None = None  # None: each source's own channels
    remind_after: float = 3 * DAY
    remind_every: float = 3 * DAY
    digest_at: str = "09:00"  # HH:MM, UTC
    keep_checks: float = 90 * DAY
    shutdown_grace: float = 30.0
    max_redirects: int = 10
    retries: int = 2  # attempts after the first
    allow_downgrade: bool = True  # follow a redirect from https to http (and warn)
    proxy: str | None = None  # a proxy URL, "none" (direct), or None: the environment's
    proxy_auth_env: str | None = None  # the variable holding the proxy's "user:password"
    browser: BrowserMode = False  # the `browser` of a source that sets none: false or "auto"
    browser_path: str | None = None  # Chromium's executable; None: found on PATH
    browser_concurrency: int = 2  # pages rendering at once

    def proxy_auth(self, environ: Mapping[str, str]) -> tuple[str, str] | None:
        """The configured proxy's credentials from `proxy_auth_env`, None when unset."""
        value = environ.get(self.proxy_auth_env or "") or ""
        if not value:
            return None
        user, _, password = value.partition(":")
        return user, password


@dataclass(frozen=True)
class SourceConfig:
    """One `[[sources]]` entry, with defaults applied."""

    id: str
    lab: str
    title: str
    url: str
    select: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    follow: str | None = None
    # a regex naming the policy of each followed document (its `policy` group or match)
    lineage: str | None = None
    interval: float | None = None  # seconds; None when `cron` schedules the source
    cron: str | None = None
    notify: tuple[str, ...] = ()  # [watcher] notify when the source names none
    kind: Kind = "auto"
    watch_terms: tuple[str, ...] = ()
    enabled: bool = True
    proxy: str | None = None  # overrides [watcher] proxy: a URL or "none"
    browser: BrowserMode = False  # true: rendered in Chromium; "auto": when plain HTTP is blocked
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request for this source
    cookies_env: tuple[tuple[str, str], ...] = ()  # cookie name → variable holding its value
    user_agent: str | None = None  # None: [watcher] user_agent
    owner: str | None = None  # the rater new tasks are assigned to (None: the lab's owner)

    @property
    def rules(self) -> ExtractRules:
        return ExtractRules(
            select=self.select, remove=self.remove, ignore=self.ignore, follow=self.follow
        )

    @property
    def rules_hash(self) -> str:
        """The hash of the rules that shape the extracted text (`ExtractRules.hash`)."""
        return self.rules.hash


@dataclass(frozen=True)
class AnalysisSettings:
    """The `[analysis]` table."""

    watch_terms: tuple[str, ...] = ()
    alert_min_severity: Severity = "minor"
    large_rewrite_share: float = 0.5
    substantive_share: float = 0.05
    substantive_words: int = 50


@dataclass(frozen=True)
class DashboardSettings:
    """The `[dashboard]` table."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8765
    auth_token_env: str | None = None
    # rater name → the environment variable holding that rater's token
    users: tuple[tuple[str, str], ...] = ()
    # a reverse proxy's header naming the signed-in rater (loopback hosts only)
    trusted_header: str | None = None


@dataclass(frozen=True)
class Config:
    """A whole, valid config.toml."""

    path: Path  # absolute
    watcher: WatcherSettings
    channels: Mapping[str, Channel]
    sources: tuple[SourceConfig, ...]
    analysis: AnalysisSettings = AnalysisSettings()
    dashboard: DashboardSettings = DashboardSettings()
    labs: Mapping[str, LabSettings] = field(default_factory=dict)
    raters: Mapping[str, RaterSettings] = field(default_factory=dict)
    label: str = field(default="config.toml", compare=False)  # the path as the user gave it

    @cached_property
    def source_urls(self) -> frozenset[str]:
        """The URL of every configured source, enabled or not (built once per config:
        each check that follows links asks)."""
        return frozenset(source.url for source in self.sources)

    def source(self, id: str) -> SourceConfig:
        """The configured source `id`; raises NotFound naming the close matches."""
        for source in self.sources:
            if source.id == id:
                return source
        hint = _suggest(id, [s.id for s in self.sources])
        raise NotFound(f"no source '{id}' in {self.label}{hint}")

    def owner_of(self, source_id: str) -> str | None:
        """The rater a new task of configured source `source_id` goes to: the
        source's `owner`, else its lab's, else nobody."""
        for source in self.sources:
            if source.id == source_id:
                lab = self.labs.get(source.lab)
                return source.owner or (lab.owner if lab else None)
        return None

    def warnings(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """One line per channel whose secret's environment variable is unset."""
        env = os.environ if environ is None else environ
        lines = []
        for name, channel in self.channels.items():
            missing = channel.secret_missing(env)
            if missing:
                verb, pronoun = ("is", "it") if len(missing) == 1 else ("are", "they")
                lines.append(
                    f"{self.label}: channels.{name}: {' and '.join(missing)} {verb} not set; "
                    f"alerts for this channel wait in the outbox until {pronoun} {verb}"
                )
            if placeholders := channel.placeholders():
                keys = list(placeholders)
                named = ", ".join(keys[:-1]) + " and " * (len(keys) > 1) + keys[-1]
                held = "wait in the outbox" if "smtp_host" in keys else "cannot be delivered"
                lines.append(
                    f"{self.label}: channels.{name}: {named} still "
                    f"{'hold placeholder values' if len(keys) > 1 else 'holds a placeholder'} "
                    f"({', '.join(placeholders.values())}); its alerts {held} until "
                    f"{'they are' if len(keys) > 1 else 'it is'} edited"
                )
        if any(c.type == "apprise" for c in self.channels.values()) and apprise_missing():
            names = ", ".join(n for n, c in self.channels.items() if c.type == "apprise")
            lines.append(
                f"{self.label}: channels.{names}: Apprise is not installed "
                f"({APPRISE_INSTALL}); alerts for this channel wait in the outbox until it is"
            )
        for index, source in enumerate(self.sources):
            for name, var in source.cookies_env:
                if not env.get(var):
                    lines.append(
                        f"{self.label}: sources[{index}] ({source.id}).cookies_env.{name}: {var} is not "
                        "set; the cookie is not sent"
                    )
        for name, var in self.dashboard.users:
            if not env.get(var):
                lines.append(
                    f"{self.label}: dashboard.users.{name}: {var} is not set; "
                    f"{name} cannot sign in to the dashboard or use the API"
                )
        auth_env = self.watcher.proxy_auth_env
        if auth_env and not env.get(auth_env):
            lines.append(
                f"{self.label}: watcher.proxy_auth_env: {auth_env} is not set; "
                "proxies are used without credentials"
            )
        return lines


# -- validation (pydantic stays in the config modules) -----------------------


class _WatcherModel(BaseModel):
    model_config = _STRICT

    state_dir: Text = "state"
    default_interval: Duration = 6 * 3600.0
    user_agent: Text = DEFAULT_USER_AGENT
    concurrency: int = Field(100, ge=1)
    per_host: int = Field(2, ge=1)
    timeout: Duration = 30.0
    max_bytes: Size = 25_000_000
    failure_alert_after: int = Field(3, ge=1)
    dashboard_url: Annotated[str, AfterValidator(_dashboard_url)] = ""
    notify: Strings = ()
    admin_notify: Strings | None = None
    remind_after: Duration = 3 * DAY
    remind_every: Duration = 3 * DAY
    digest_at: Annotated[str, AfterValidator(_time_of_day)] = "09:00"
    keep_checks: Duration = 90 * DAY
    shutdown_grace: Duration = 30.0
    max_redirects: int = Field(10, ge=0)
    retries: int = Field(2, ge=0)
    allow_downgrade: bool = True
    proxy: Proxy | None = None
    proxy_auth_env: EnvName | None = None
    browser: Annotated[Any, BeforeValidator(_default_browser)] = False
    browser_path: Text | None = None
    browser_concurrency: int = Field(2, ge=1)

    _channels = field_validator("notify", "admin_notify")(_known_channels)


class _SourceModel(BaseModel):
    model_config = _STRICT

    id: Annotated[str, AfterValidator(_source_id)]
    lab: Text
    title: Text
    url: Annotated[str, AfterValidator(_http_url)]
    select: Selectors = ()
    remove: Selectors = ()
    ignore: Regexes = ()
    follow: Selector | None = None
    lineage: Annotated[str, AfterValidator(_lineage_rule)] | None = None
    interval: Duration | None = None
    cron: Annotated[str, AfterValidator(_cron)] | None = None
    notify: Strings | None = None
    kind: Kind = "auto"
    watch_terms: Strings = ()
    enabled: bool = True
    proxy: Proxy | None = None
    browser: Browser | None = None
    headers: Headers = ()
    cookies_env: CookieVars = ()
    user_agent: Text | None = None
    owner: RaterName | None = None

    _channels = field_validator("notify")(_known_channels)


class _AnalysisModel(BaseModel):
    model_config = _STRICT

    watch_terms: Strings = ()
    alert_min_severity: Severity = "minor"
    large_rewrite_share: float = Field(0.5, gt=0, le=1)
    substantive_share: float = Field(0.05, gt=0, le=1)
    substantive_words: int = Field(50, ge=1)


class _DashboardModel(BaseModel):
    model_config = _STRICT

    enabled: bool = False
    host: Annotated[str, AfterValidator(_host)] = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    auth_token_env: EnvName | None = None
    users: Annotated[tuple[tuple[str, str], ...], BeforeValidator(_users)] = ()
    trusted_header: Annotated[str, AfterValidator(_header_name)] | None = None


_SECTIONS = ("watcher", "channels", "sources", "analysis", "dashboard", "labs", "raters")
_TABLE_MODELS: dict[str, type[BaseModel]] = {
    "watcher": _WatcherModel,
    "analysis": _AnalysisModel,
    "dashboard": _DashboardModel,
}


def _load_sources(
    raw: Any, problems: _Problems, context: Mapping[str, Any]
) -> list[tuple[_SourceModel, str]]:
    """Validated source entries with their display path ("sources[3] (acme-rsp)")."""
    if isinstance(raw, dict):
        problems.add(
            "sources", "expected an array of tables ([[sources]]), got a table ([sources])"
        )
        return []
    if not isinstance(raw, list):
        problems.add("sources", f"expected an array of tables ([[sources]]), got {_toml_type(raw)}")
        return []
    loaded = []
    first_seen: dict[str, int] = {}
    for index, body in enumerate(raw):
        where = f"sources[{index}]"
        if not isinstance(body, dict):
            problems.add(where, f"expected a table ([[sources]]), got {_toml_type(body)}")
            continue
        source_id = body.get("id")
        if isinstance(source_id, str) and source_id:
            where += f" ({source_id})"
            if source_id in first_seen:
                problems.add(
                    f"{where}.id",
                    f"duplicate id '{source_id}' (also sources[{first_seen[source_id]}])",
                )
            else:
                first_seen[source_id] = index
        model = problems.validate(_SourceModel, body, where, context)
        if "interval" in body and "cron" in body:
            problems.add(f"{where}.cron", "set either interval or cron, not both")
        if "lineage" in body and "follow" not in body:
            problems.add(
                f"{where}.lineage", "groups followed documents: set `follow` too, or remove it"
            )
        if model is not None:
            loaded.append((model, where))
    return loaded


def _resolve_dir(value: str, config_path: Path) -> Path:
    folder = Path(os.path.expanduser(value))
    if not folder.is_absolute():
        folder = config_path.parent / folder
    return Path(os.path.normpath(folder))


# Notepad and other Windows editors save UTF-8 with a byte-order mark; TOML
# forbids one, but the file means the same without it.
_UTF8_BOM = b"\xef\xbb\xbf"


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    skipped = 0
    try:
        data = path.read_bytes()
        if data.startswith(_UTF8_BOM):
            skipped = len(_UTF8_BOM)
        return tomllib.loads(data[skipped:].decode("utf-8"))
    except FileNotFoundError:
        problem = "file not found (pass --config PATH or set WATCHER_CONFIG)"
    except IsADirectoryError:
        problem = "is a folder, not a file"
    except PermissionError:
        problem = "permission denied"
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text ({exc.reason} at byte {exc.start + skipped})"
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11 puts the position only in the message: "... (at line 3, column 5)".
        message = str(exc)
        match = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, flags=re.S)
        if match:
            problem = f"line {match.group(2)}, column {match.group(3)}: {match.group(1)}"
        else:
            problem = message.replace(" (at end of document)", "") + " at the end of the file"
    except OSError as exc:
        problem = exc.strerror or str(exc)
    raise ConfigError([f"{label}: {problem}"])


def load_config(path: Path | str) -> Config:
    """Read and validate `path`; raises ConfigError listing every problem."""
    label = str(path)
    config_path = Path(os.path.abspath(path))  # normalised, symlinks kept
    data = _read_toml(config_path, label)
    problems = _Problems()

    for key in data:
        if key not in _SECTIONS:
            problems.add(key, _unknown_key(key, list(_SECTIONS)))

    # Channel names come first: every `notify` list is checked against them,
    # even when the channel itself has problems of its own.
    raw_channels = data.get("channels", {})
    names = tuple(raw_channels) if isinstance(raw_channels, dict) else ()
    context = {"channels": names}

    # Sections in file order, so the problems read top to bottom.
    order = [key for key in data if key in _SECTIONS]
    order += [key for key in _SECTIONS if key not in data]
    models: dict[str, Any] = {}
    channels: dict[str, Channel] = {}
    sources: list[tuple[_SourceModel, str]] = []
    raw_sources = data.get("sources", [])
    labs_known = sorted(
        {s["lab"] for s in raw_sources if isinstance(s, dict) and isinstance(s.get("lab"), str)}
        if isinstance(raw_sources, list)
        else set()
    )
    labs: dict[str, _LabModel] = {}
    raters: dict[str, _RaterModel] = {}
    for section in order:
        raw = data.get(section, {})
        if section == "channels":
            channels = _load_channels(raw, problems)
        elif section == "sources":
            sources = _load_sources(data.get("sources", []), problems, context)
        elif section == "labs":
            labs = _load_named(raw, "labs", _LabModel, problems, context, labs_known)
        elif section == "raters":
            raters = _load_named(raw, "raters", _RaterModel, problems, context)
        else:
            table = _table(raw, section, problems, f"[{section}]")
            if table is not None:
                models[section] = problems.validate(_TABLE_MODELS[section], table, section, context)

    dashboard: _DashboardModel | None = models.get("dashboard")
    if dashboard is not None:
        public = not _is_loopback(dashboard.host)
        if public and not dashboard.auth_token_env and not dashboard.users:
            problems.add(
                "dashboard.auth_token_env",
                f"required (or [dashboard.users]) when host is not a loopback address "
                f"(host is {dashboard.host!r})",
            )
        if dashboard.trusted_header and dashboard.users:
            problems.add(
                "dashboard.trusted_header",
                "set either dashboard.users (a token per rater) or dashboard.trusted_header "
                "(a proxy names the rater), not both",
            )
        if dashboard.trusted_header and public:
            # anyone who reaches the port could name themselves in the header
            problems.add(
                "dashboard.trusted_header",
                f"needs a loopback host, with the proxy in front on the same machine "
                f"(host is {dashboard.host!r}: anyone reaching it could set the header)",
            )

    watcher: _WatcherModel | None = models.get("watcher")
    analysis: _AnalysisModel | None = models.get("analysis")
    if problems.lines or watcher is None or analysis is None or dashboard is None:
        raise ConfigError([f"{label}: {line}" for line in problems.lines])

    settings = WatcherSettings(
        state_dir=_resolve_dir(watcher.state_dir, config_path),
        default_interval=watcher.default_interval,
        user_agent=watcher.user_agent,
        concurrency=watcher.concurrency,
        per_host=watcher.per_host,
        timeout=watcher.timeout,
        max_bytes=watcher.max_bytes,
        failure_alert_after=watcher.failure_alert_after,
        dashboard_url=watcher.dashboard_url,
        notify=watcher.notify,
        admin_notify=watcher.admin_notify,
        remind_after=watcher.remind_after,
        remind_every=watcher.remind_every,
        digest_at=watcher.digest_at,
        keep_checks=watcher.keep_checks,
        shutdown_grace=watcher.shutdown_grace,
        max_redirects=watcher.max_redirects,
        retries=watcher.retries,
        allow_downgrade=watcher.allow_downgrade,
        proxy=watcher.proxy,
        proxy_auth_env=watcher.proxy_auth_env,
        browser=watcher.browser,
        browser_path=watcher.browser_path,
        browser_concurrency=watcher.browser_concurrency,
    )
    return Config(
        path=config_path,
        watcher=settings,
        channels=channels,
        sources=tuple(_source(model, settings) for model, _ in sources),
        analysis=AnalysisSettings(
            watch_terms=analysis.watch_terms,
            alert_min_severity=analysis.alert_min_severity,
            large_rewrite_share=analysis.large_rewrite_share,
            substantive_share=analysis.substantive_share,
            substantive_words=analysis.substantive_words,
        ),
        dashboard=DashboardSettings(
            enabled=dashboard.enabled,
            host=dashboard.host,
            port=dashboard.port,
            auth_token_env=dashboard.auth_token_env,
            users=dashboard.users,
            trusted_header=dashboard.trusted_header,
        ),
        labs={name: LabSettings(owner=lab.owner) for name, lab in labs.items()},
        raters={name: RaterSettings(notify=rater.notify) for name, rater in raters.items()},
        label=label,
    )


def _source(model: _SourceModel, settings: WatcherSettings) -> SourceConfig:
    interval = None if model.cron else (model.interval or settings.default_interval)
    return SourceConfig(
        id=model.id,
        lab=model.lab,
        title=model.title,
        url=model.url,
        select=model.select,
        remove=model.remove,
        ignore=model.ignore,
        follow=model.follow,
        lineage=model.lineage,
        interval=interval,
        cron=model.cron,
        notify=settings.notify if model.notify is None else model.notify,
        kind=model.kind,
        watch_terms=model.watch_terms,
        enabled=model.enabled,
        proxy=model.proxy,
        browser=settings.browser if model.browser is None else model.browser,
        headers=model.headers,
        cookies_env=model.cookies_env,
        user_agent=model.user_agent,
        owner=model.owner,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
