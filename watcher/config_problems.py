"""How config.toml is validated and its problems worded, for the config modules.

Every table is a strict pydantic model (unknown keys are errors, no
coercion); `_Problems` collects what is wrong with each, one line per
problem naming its path ("sources[3] (acme-rsp).interval: ..."), so the
whole file is reported in one go.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from watcher.config_values import _short, _toml_type

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
}


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unknown_key(key: str, known: list[str]) -> str:
    return "unknown key" + _suggest(key, known)


def _describe_error(error: Any, model: type[BaseModel]) -> str:
    kind, loc, value = error["type"], error["loc"], error.get("input")
    ctx = error.get("ctx", {})
    secret = any(isinstance(part, str) and part.endswith("_env") for part in loc)
    if kind == "extra_forbidden":
        known = [info.alias or name for name, info in model.model_fields.items()]
        return _unknown_key(str(loc[-1]), known)
    if kind == "missing":
        return "required key is missing"
    if kind in _TYPE_WORDS:
        got = _toml_type(value) if secret else f"{_toml_type(value)} {_short(value)}"
        return f"expected {_TYPE_WORDS[kind]}, got {got}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"{_short(value)} is not allowed (use {ctx['expected']})"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        word, key = bounds[kind]
        bound = ctx[key]
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {word} {bound}, got {_short(value)}"
    return str(error["msg"])


def _format_loc(loc: tuple[Any, ...], raw: Mapping[str, Any]) -> str:
    # A single string given where a list is allowed is validated as a list of
    # one: do not show the user an index they did not write.
    if len(loc) == 2 and loc[1] == 0 and isinstance(raw.get(loc[0]), str):
        loc = loc[:1]
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


class _Problems:
    """Collects one line per problem, prefixed with the table and key path."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{where}: {message}")

    def validate(
        self,
        model: type[BaseModel],
        raw: Mapping[str, Any],
        where: str,
        context: Mapping[str, Any],
    ) -> Any:
        """`model` validated from `raw`, or None with its problems recorded."""
        try:
            return model.model_validate(raw, context=dict(context))
        except ValidationError as exc:
            # In the order the keys appear in the file; missing keys last.
            position = {key: index for index, key in enumerate(raw)}
            errors = sorted(
                exc.errors(include_url=False),
                key=lambda error: position.get(str(error["loc"][0]), len(position)),
            )
            for error in errors:
                path = _format_loc(tuple(error["loc"]), raw)
                self.add(f"{where}{path}", _describe_error(error, model))
            return None


def _table(value: Any, where: str, problems: _Problems, hint: str) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    problems.add(where, f"expected a table ({hint}), got {_toml_type(value)}")
    return None
