"""Log output: text or one JSON object per line, scraped text escaped, secrets redacted.

The CLI group sets up a stderr handler on the root logger with `TextFormatter`;
`use_format` swaps its formatter for log shippers, and `redact` makes every
handler of the root logger replace the given secret values (webhook URLs,
SMTP passwords read from the environment) wherever they would appear: in the
message, its arguments or a traceback.

Both formatters pass the message through `escape.log`: a scraped title or
server error cannot start a forged log line, colour the terminal or reorder
the line with bidi controls. Tracebacks keep their lines (`escape.terminal`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

from watcher import escape

LogFormat = Literal["text", "json"]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

MIN_SECRET_LEN = 6  # shorter values would redact ordinary words
REDACTED = "[redacted]"

#: The text format's layout (the CLI's default).
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else was passed with `extra=`.
_STANDARD = frozenset(
    {*vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None)), "message", "asctime"}
)


class TextFormatter(logging.Formatter):
    """`TEXT_FORMAT` lines with the message escaped for a log."""

    def __init__(self, fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape.log(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: ExcInfo) -> str:
        return escape.terminal(super().formatException(ei))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        data: dict[str, object] = {
            "ts": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": escape.log(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = escape.log(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exc"] = escape.terminal(record.exc_text)
        return json.dumps(data, ensure_ascii=False, default=str)


class RedactFilter(logging.Filter):
    """Replaces secret values in a record before any handler formats it."""

    def __init__(self) -> None:
        super().__init__("")
        self.secrets: frozenset[str] = frozenset()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True

    def _clean(self, text: str) -> str:
        # longest first: a secret that contains another is replaced whole
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


_redactor = RedactFilter()


def use_format(fmt: LogFormat) -> None:
    """Format every root handler's output as `fmt`."""
    if fmt != "json":
        return
    for handler in logging.getLogger().handlers:
        handler.setFormatter(JsonFormatter())


def redact(secrets: Iterable[str]) -> None:
    """From now on, no root handler writes any of `secrets` (replacing the previous set)."""
    _redactor.secrets = frozenset(s for s in secrets if len(s) >= MIN_SECRET_LEN)
    for handler in logging.getLogger().handlers:
        if _redactor not in handler.filters:
            handler.addFilter(_redactor)
