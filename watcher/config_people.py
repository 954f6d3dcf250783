"""People: the raters and labs of config.toml ([dashboard.users], [labs], [raters]).

Who may sign in to the dashboard (a token per rater, or a trusted proxy
header), which rater owns each lab's tasks, and where each rater's own
alerts go.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, field_validator

from watcher import people
from watcher.config_problems import _STRICT, _Problems, _suggest, _table
from watcher.config_values import _ENV_RE, Strings, _known_channels, _short, _toml_type

# -- the settings handed to the rest of the program -------------------------


@dataclass(frozen=True)
class LabSettings:
    """One `[labs."NAME"]` table."""

    owner: str | None = None


@dataclass(frozen=True)
class RaterSettings:
    """One `[raters.NAME]` table."""

    notify: tuple[str, ...] = ()


# -- validation -------------------------------------------------------------


def _rater_name(value: str) -> str:
    return people.check_name(value)


RaterName = Annotated[str, AfterValidator(_rater_name)]
_HEADER_RE = re.compile(r"[A-Za-z0-9-]+")
_NOT_TRUSTED = frozenset({"authorization", "cookie", "host", "origin", "content-type"})


def _header_name(value: str) -> str:
    if not _HEADER_RE.fullmatch(value):
        raise ValueError("must be an HTTP header name (letters, digits, '-'), e.g. \"Remote-User\"")
    if value.lower() in _NOT_TRUSTED:
        raise ValueError(f"{value!r} is not a header a proxy sets to name the user")
    return value


def _users(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError(
            f'expected a table of rater name = "ENV_VARIABLE", got {_toml_type(value)}'
        )
    pairs = []
    for name, var in value.items():
        try:
            people.check_name(name)
        except ValueError as exc:
            raise ValueError(f"{_short(name)}: {exc}") from None
        if not isinstance(var, str):
            raise ValueError(
                f"{name}: expected the name of an environment variable, got {_toml_type(var)}"
            )
        if not _ENV_RE.fullmatch(var):
            raise ValueError(
                f"{name}: must be the name of an environment variable (letters, digits, _), "
                "not the token itself"
            )
        pairs.append((name, var))
    return tuple(pairs)


class _LabModel(BaseModel):
    model_config = _STRICT

    owner: RaterName | None = None


class _RaterModel(BaseModel):
    model_config = _STRICT

    notify: Strings = ()

    _channels = field_validator("notify")(_known_channels)


def _load_named(
    raw: Any,
    section: str,
    model: type[_LabModel] | type[_RaterModel],
    problems: _Problems,
    context: Mapping[str, Any],
    known: list[str] | None = None,
) -> dict[str, Any]:
    """`[labs."NAME"]` or `[raters.NAME]`: each table validated; a lab name must be
    one of the sources' labs (`known`), a rater's name a valid name."""
    loaded: dict[str, Any] = {}
    table = _table(raw, section, problems, f"[{section}.NAME]")
    for name, body in (table or {}).items():
        where = (
            f'{section}."{name}"'
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name)
            else f"{section}.{name}"
        )
        if known is not None and name not in known:
            listed = ", ".join(sorted(known)) or "no sources are configured"
            problems.add(
                where, f"unknown lab{_suggest(name, known)} (labs of the sources: {listed})"
            )
            continue
        if known is None:
            try:
                people.check_name(name)
            except ValueError as exc:
                problems.add(where, str(exc))
                continue
        body = _table(body, where, problems, f"[{where}]")
        if body is not None:
            value = problems.validate(model, body, where, context)
            if value is not None:
                loaded[name] = value
    return loaded
