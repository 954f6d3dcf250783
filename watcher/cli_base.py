"""What every command of the command line shares: its context, its error
mapping to one line and an exit status, and its ways of printing (escaped)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from watcher import escape, people
from watcher.config import Config, load_config
from watcher.errors import ConfigError, NotFound, StorageError, WatcherError
from watcher.models import Signal
from watcher.store import Store

# Scraped text must not move the cursor, retitle the terminal or reorder a line.
safe = escape.terminal


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return " ".join(safe(value).split())


def _table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    width: int = 60,
    fit: int | None = None,
    shrink: Sequence[tuple[str, int]] = (),
    drop: Sequence[str] = (),
) -> str:
    """A plain aligned table; long cells are cut with an ellipsis.

    With `fit`, the table is made to fit that many characters a line: the
    `shrink` columns narrow, in order, each down to its minimum width (a cut,
    never a wrap); when that is not enough, the `drop` columns are left out,
    in order. Other columns are never cut.
    """
    cells = [[_cut(_cell(row.get(col)), width) for col in columns] for row in rows]
    natural = {
        col: max([len(col), *(len(line[i]) for line in cells)]) for i, col in enumerate(columns)
    }
    shown, widths = list(columns), natural
    if fit is not None:
        for count in range(len(drop) + 1):
            shown = [col for col in columns if col not in drop[:count]]
            widths, excess = _narrowed(shown, natural, fit, shrink)
            if excess <= 0:
                break
    at = [list(columns).index(col) for col in shown]
    lines = ["  ".join(col.ljust(widths[col]) for col in shown).rstrip()]
    for line in cells:
        picked = [
            _cut(line[i], widths[col]).ljust(widths[col]) for i, col in zip(at, shown, strict=True)
        ]
        lines.append("  ".join(picked).rstrip())
    return "\n".join(lines)


def _narrowed(
    columns: Sequence[str], natural: dict[str, int], fit: int, shrink: Sequence[tuple[str, int]]
) -> tuple[dict[str, int], int]:
    """The widths of `columns` narrowed by `shrink` towards `fit`, and how far over it remains."""
    widths = {col: natural[col] for col in columns}
    excess = sum(widths.values()) + 2 * (len(columns) - 1) - fit
    for name, least in shrink:
        if excess <= 0 or name not in widths:
            continue
        narrower = min(widths[name], max(least, len(name), widths[name] - excess))
        excess -= widths[name] - narrower
        widths[name] = narrower
    return widths, excess


def _cut(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: width - 1] + "…"


def terminal_width() -> int:
    """Characters a line of the terminal holds: $COLUMNS, else the terminal's, else 80."""
    return shutil.get_terminal_size().columns


def _print_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


def _signal_line(signal: Signal) -> str:
    # the renderers (email, HTML) load only for the commands that show signals
    from watcher.notify.render import signal_line

    return signal_line(signal)


# --- context and error mapping -----------------------------------------------


@dataclass
class App:
    """What every command needs: where the config is, loaded once on demand."""

    config_path: Path
    _config: Config | None = None

    def config(self, *, warn: bool = False) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        if warn:
            for line in self._config.warnings(os.environ):
                click.echo(f"warning: {safe(line)}", err=True)
        return self._config

    def store(self) -> Store:
        return Store.open(self.config().watcher.state_dir)

    def reader(self) -> Store:
        """The database for a command that only reads (works in a read-only state folder)."""
        return Store.open_for_reading(self.config().watcher.state_dir)


class WatcherGroup(click.Group):
    """Turns watcher's own errors into one clear line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            for line in exc.problems:
                click.echo(safe(line), err=True)
            ctx.exit(2)
        except NotFound as exc:
            _fail(str(exc), 2)
        except StorageError as exc:
            # one line naming the database and what to do; 2 when it cannot be opened
            _fail(str(exc), 2 if exc.opening else 1)
        except WatcherError as exc:
            _fail(str(exc), 1)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {safe(message)}", err=True)
    sys.exit(code)


pass_app: Callable[[Callable[..., Any]], Callable[..., Any]] = click.make_pass_decorator(App)


def _by(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """The rater named by --by, else $WATCHER_USER, else the login name; checked."""
    where = "--by" if value is not None else f"${people.USER_ENV} (or the login name)"
    try:
        return people.check_name(value if value is not None else people.default_name(os.environ))
    except ValueError as exc:
        _fail(f"{where}: {exc}", 2)


by_option: Callable[[Callable[..., Any]], Callable[..., Any]] = click.option(
    "--by",
    "by",
    metavar="NAME",
    callback=_by,
    help="Who does this, recorded in the history (default: $WATCHER_USER, then the login name).",
)
