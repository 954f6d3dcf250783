"""The values of config.toml keys: each type's validator, for the config modules' models.

Every function takes what TOML gave and returns the value to keep, or raises
ValueError with a one-line reason (pydantic turns it into the key's problem).
The `Annotated` types at the end are what the models declare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from watcher.css import selector_problem

DAY = 86_400.0
DURATION_HINT = "use 90s, 30m, 6h, 1d"
SIZE_HINT = "use 500KB, 25MB, 1GB or a number of bytes"

# -- values ----------------------------------------------------------------

_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY}
_DURATION_PART = r"(\d+(?:\.\d+)?)\s*([smhdw])"
_DURATION_RE = re.compile(rf"(?:{_DURATION_PART}\s*)+")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as "90s", "30m", "6h", "1d", "2w" or "1h30m"."""
    cleaned = text.strip().lower()
    if not _DURATION_RE.fullmatch(cleaned):
        raise ValueError(f"{text!r} is not a duration ({DURATION_HINT})")
    seconds = sum(
        float(number) * _DURATION_UNITS[unit]
        for number, unit in re.findall(_DURATION_PART, cleaned)
    )
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration ({DURATION_HINT})")
    return seconds


def parse_size(text: str | int) -> int:
    """Bytes in a size such as "500KB", "25MB", "1GB" (powers of 1000), "1MiB", or an int."""
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise ValueError(f"{text!r} is not a size ({SIZE_HINT})")
    if isinstance(text, int):
        if text <= 0:
            raise ValueError(f"{text!r} is not a positive size ({SIZE_HINT})")
        return text
    match = _SIZE_RE.fullmatch(text.strip().lower())
    if not match or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size ({SIZE_HINT})")
    size = round(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
    if size <= 0:
        raise ValueError(f"{text!r} is not a positive size ({SIZE_HINT})")
    return size


def _toml_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    names.update({list: "array", tuple: "array", dict: "table"})
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _as_tuple(value: Any) -> Any:
    # A single string is as good as a list of one; anything else is left to
    # pydantic, which then reports the offending item with its index.
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(value)
    return value


def _nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(value: str) -> str:
    _nonempty(value)
    if _CONTROL_RE.search(value):
        raise ValueError("must be one line without control characters")
    return value


def _css(value: str) -> str:
    problem = selector_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
    return value


def _lineage_rule(value: str) -> str:
    """A source's `lineage` rule: a regex that finds a policy's name in a link
    text or file name, its `policy` group naming the policy when it has one."""
    _regex(value)
    if not value.strip():
        raise ValueError("is empty: give a regular expression naming the policy")
    compiled = re.compile(value)
    if compiled.groupindex and "policy" not in compiled.groupindex:
        names = ", ".join(sorted(compiled.groupindex))
        raise ValueError(f"names the group(s) {names}: call the policy's group (?P<policy>…)")
    if compiled.search(""):
        raise ValueError(f"{value!r} matches an empty text: every document would be one policy")
    return value


def _duration(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A bare number is ambiguous (6 seconds or 6 hours?): ask for the unit.
        raise ValueError(f"{value!r} is not a duration: give a unit ({DURATION_HINT})")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as '6h', got {_toml_type(value)}")
    return parse_duration(value)


PACE_MAX_S = 600.0


def _pace(value: Any) -> float:
    # "0s" turns pacing off; a bare number is refused like any duration
    # (messages per second or seconds per message? the unit says).
    if isinstance(value, str) and re.fullmatch(r"0+(?:\.0+)?\s*[smh]", value.strip().lower()):
        return 0.0
    seconds = _duration(value)
    if seconds > PACE_MAX_S:
        raise ValueError(
            f"{value!r} is too long a pace: at most one message every 10m "
            "(the time between two messages, e.g. '1s')"
        )
    return seconds


def _size(value: Any) -> int:
    return parse_size(value)


_ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _source_id(value: str) -> str:
    # Children found by `follow` get "<parent>--<link id>": a configured id
    # with "--" (or a dangling hyphen) could collide with one of them.
    if not _ID_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid id (lowercase letters, digits and single hyphens, "
            "not at either end, e.g. 'acme-rsp')"
        )
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    # split() is [value] exactly when the value holds no whitespace
    if parts.scheme.lower() not in ("http", "https") or value.split() != [value]:
        raise ValueError(f"{value!r} is not an http(s) URL")
    try:
        host = parts.hostname
    except ValueError:
        host = None
    if not host:
        raise ValueError(f"{value!r} has no host")
    return value


def _proxy(value: str) -> str:
    """A proxy URL (`http://host:port`) or "none" (direct); never credentials."""
    if value == "none":
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or value.split() != [value]:
        raise ValueError(f"{value!r} is not a proxy URL (use http://host:port, or 'none')")
    if "@" in parts.netloc:
        # The value is not echoed: it holds a password.
        raise ValueError(
            "credentials do not go in the file: name the variable holding "
            "'user:password' in [watcher] proxy_auth_env"
        )
    try:
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"{value!r} is not a proxy URL (use http://host:port)") from None
    if not host:
        raise ValueError(f"{value!r} has no host")
    return value


def _browser_mode(value: Any) -> Any:
    if isinstance(value, bool) or value == "auto":
        return value
    raise ValueError(f'expected true, false or "auto", got {_toml_type(value)} {_short(value)}')


def _default_browser(value: Any) -> Any:
    if value is False or value == "auto":
        return value
    raise ValueError(
        f'expected false or "auto" (a source sets browser = true itself), got {_short(value)}'
    )


_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _header_pairs(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError(
            f'expected a table such as {{"Accept-Language" = "en-US"}}, got {_toml_type(value)}'
        )
    pairs = []
    for name, text in value.items():
        if not _TOKEN_RE.fullmatch(name):
            raise ValueError(f"{name!r} is not a header name")
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            raise ValueError(f"{name!r} is set by the HTTP client, not by the config")
        if not isinstance(text, str):
            raise ValueError(f"{name}: expected a string, got {_toml_type(text)}")
        if _CONTROL_RE.search(text) or not text.isascii():
            raise ValueError(f"{name}: the value must be one line of ASCII text")
        pairs.append((name, text))
    return tuple(pairs)


def _cookie_vars(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError(
            f'expected a table of cookie name = "ENV_VARIABLE", got {_toml_type(value)}'
        )
    pairs = []
    for name, var in value.items():
        if not _TOKEN_RE.fullmatch(name):
            raise ValueError(f"{name!r} is not a cookie name")
        # Never echo the value: a user may have pasted the cookie itself here.
        if not isinstance(var, str) or not _ENV_RE.fullmatch(var):
            raise ValueError(
                f"{name}: must be the name of an environment variable holding the cookie's "
                "value (letters, digits, _), not the value itself"
            )
        pairs.append((name, var))
    return tuple(pairs)


def _dashboard_url(value: str) -> str:
    return _http_url(value).rstrip("/") if value else value


_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    # Never echo the value: a user may have pasted the secret itself here.
    if not _ENV_RE.fullmatch(value):
        raise ValueError(
            "must be the name of an environment variable (letters, digits, _), "
            "not the secret itself"
        )
    return value


def _host(value: str) -> str:
    if not value or any(c.isspace() for c in value) or "/" in value:
        raise ValueError(f"{value!r} is not a host name (e.g. 'smtp.example.org')")
    return value


_ADDRESS_RE = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+")


def _address(value: str) -> str:
    # Loose on purpose (the SMTP server is the judge), strict on line breaks:
    # these values end up in mail headers.
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(f"{value!r} contains a line break or control character")
    parsed = getaddresses([value])
    if len(parsed) != 1 or not _ADDRESS_RE.fullmatch(parsed[0][1]):
        raise ValueError(f"{value!r} is not an email address")
    return value


def _addresses(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("needs at least one address")
    return value


# -- report schedules (a channel's `report`) -----------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SCHEDULE_RE = re.compile(
    r"(?:(?P<daily>daily)|weekly\s+(?P<day>[a-z]+))\s+(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Schedule:
    """When a channel's report is due: every day, or one day a week, at HH:MM UTC."""

    weekday: int | None  # 0 = Monday; None: daily
    hour: int
    minute: int

    @property
    def period(self) -> timedelta:
        return timedelta(days=1 if self.weekday is None else 7)

    def due_at(self, moment: datetime) -> datetime:
        """The latest due time at or before `moment`."""
        due = moment.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if self.weekday is not None:
            due -= timedelta(days=(due.weekday() - self.weekday) % 7)
        while due > moment:
            due -= self.period
        return due

    def __str__(self) -> str:
        day = "daily" if self.weekday is None else f"weekly {_DAYS[self.weekday].title()}"
        return f"{day} {self.hour:02d}:{self.minute:02d}"


def parse_schedule(text: str) -> Schedule:
    """`"weekly Mon 08:00"` or `"daily 08:00"` (UTC) → Schedule; ValueError with the reason."""
    match = _SCHEDULE_RE.fullmatch(text.strip())
    name = (match.group("day") or "").lower() if match else ""
    day = name[:3]
    if not match or (
        name and (day not in _DAYS or not _DAY_NAMES[_DAYS.index(day)].startswith(name))
    ):
        raise ValueError(
            f'{text!r} is not a report schedule (use "weekly Mon 08:00" or "daily 08:00", UTC)'
        )
    weekday = None if match.group("daily") else _DAYS.index(day)
    return Schedule(weekday, int(match.group("h")), int(match.group("m")))


def _report_schedule(value: str) -> str:
    return str(parse_schedule(value))


_TIME_RE = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _time_of_day(value: str) -> str:
    match = _TIME_RE.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day (use HH:MM, 24-hour, UTC)")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _cron(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger  # imported here: heavy, rarely needed

    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"{value!r} is not a cron expression: expected 5 fields "
            f"(minute hour day month day-of-week), got {len(fields)}"
        )
    # APScheduler 3 reads day-of-week 0 as Monday where cron reads Sunday:
    # numbers would silently shift the schedule by a day, names cannot.
    if any(char.isdigit() for char in fields[4]):
        raise ValueError(
            f"{value!r}: write the day of week as a name (mon, tue, ... sun, or mon-fri), "
            "not a number"
        )
    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a cron expression: {exc}") from None
    return value


def _known_channels(names: tuple[str, ...] | None, info: ValidationInfo) -> tuple[str, ...] | None:
    known: tuple[str, ...] = (info.context or {}).get("channels", ())
    unknown = [name for name in names or () if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)) if known else "no channels are configured"
        plural = "s" if len(unknown) > 1 else ""
        names_text = ", ".join(f"'{name}'" for name in unknown)
        raise ValueError(f"unknown channel{plural} {names_text} (known: {listed})")
    return names


# Slack's mention forms a channel may add to major alerts: a user group, a
# user, or everyone active in the channel. Nothing else: the config is the
# only source of a `<…>` that Slack would act on.
_MENTION_RE = re.compile(r"<!subteam\^[A-Z0-9]{2,30}>|<@[UW][A-Z0-9]{2,30}>|<!here>")


def _mentions(value: Any) -> Any:
    if not isinstance(value, list):
        raise ValueError(
            f'expected a list such as ["<!subteam^S0123ABC>", "<@U0123ABC>", "<!here>"], '
            f"got {_toml_type(value)}"
        )
    for item in value:
        if not isinstance(item, str) or not _MENTION_RE.fullmatch(item):
            raise ValueError(
                f'{_short(item)} is not a Slack mention: use "<!subteam^ID>" (a user group), '
                '"<@ID>" (a user) or "<!here>"'
            )
    return tuple(dict.fromkeys(value))


Text = Annotated[str, AfterValidator(_one_line)]
Duration = Annotated[float, BeforeValidator(_duration)]
Pace = Annotated[float, BeforeValidator(_pace)]
ReportSchedule = Annotated[str, AfterValidator(_report_schedule)]
BatchOver = Annotated[int, Field(ge=1)]
Size = Annotated[int, BeforeValidator(_size)]
Strings = Annotated[
    tuple[Annotated[str, AfterValidator(_nonempty)], ...], BeforeValidator(_as_tuple)
]
Selector = Annotated[str, AfterValidator(_css)]
Selectors = Annotated[tuple[Selector, ...], BeforeValidator(_as_tuple)]
Regexes = Annotated[tuple[Annotated[str, AfterValidator(_regex)], ...], BeforeValidator(_as_tuple)]
EnvName = Annotated[str, AfterValidator(_env_name)]
Address = Annotated[str, AfterValidator(_address)]
Proxy = Annotated[str, AfterValidator(_proxy)]
Browser = Annotated[Any, BeforeValidator(_browser_mode)]
Headers = Annotated[tuple[tuple[str, str], ...], BeforeValidator(_header_pairs)]
Mentions = Annotated[tuple[str, ...], BeforeValidator(_mentions)]
CookieVars = Annotated[tuple[tuple[str, str], ...], BeforeValidator(_cookie_vars)]
