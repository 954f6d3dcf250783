"""The exception tree of watcher.

Every error raised on purpose by the package derives from `WatcherError` and
says whether retrying later may help (`transient`). Third-party exceptions
(httpx, sqlite3, pypdfium2, smtplib) are mapped to these at the module that
calls the library and never escape it unwrapped.

    WatcherError
    ├── ConfigError            invalid config.toml (carries one line per problem)
    ├── FetchError             the document could not be downloaded
    │   ├── NetworkError       DNS, connection refused, TLS, reset   (transient)
    │   ├── FetchTimeout       connect/read/total timeout             (transient)
    │   ├── HTTPStatusError    4xx/5xx (transient for 429 and 5xx)
    │   ├── TooManyRedirects   redirect loop or chain too long
    │   ├── TooLarge           body over max_bytes
    │   ├── TruncatedBody      connection closed before Content-Length
    │   └── BrowserError       Chromium could not render the page: not found,
    │                          crashed, hung, a dialog, a navigation away  (transient)
    ├── ExtractionError        the bytes could not be turned into text
    │   └── SuspiciousExtraction   text that looks wrong: error page, bot
    │                              challenge, empty, collapsed, select matched nothing
    ├── DeliveryError          an alert could not be delivered to a channel
    │                          (transient: retried with backoff; else marked failed;
    │                          throttled: the channel said "slow down", not a failure)
    ├── StoreError             database problems (schema too new, a blob unreadable)
    │   └── StorageError       the database file could not be read or written:
    │                          disk full, read-only, locked, corrupt, cannot open
    ├── NotFound               an unknown source, version or task (CLI input)
    ├── TaskStateError         a task action that its state does not allow
    ├── LineageError           a lineage fix that cannot be made (a loop, no version yet)
    └── CitationError          a citation that cannot be made: quote not found, found
                               twice, a duplicate (CLI input)
"""

from __future__ import annotations

from pathlib import Path


class WatcherError(Exception):
    """Base of every error watcher raises on purpose."""

    transient: bool = False

    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        super().__init__(message)
        if transient is not None:
            self.transient = transient

    @property
    def reason(self) -> str:
        """A one-line reason, fit for a `checks.error` cell or a log line."""
        text = " ".join(str(self).split())
        return text if len(text) <= 500 else text[:497] + "..."


class ConfigError(WatcherError):
    """The configuration is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class FetchError(WatcherError):
    """The document could not be downloaded; `fetcher` says by which fetcher."""

    fetcher: str = "http"  # or "browser"


class NetworkError(FetchError):
    transient = True


class FetchTimeout(FetchError):
    transient = True


class HTTPStatusError(FetchError):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        retry_after: float | None = None,
        body: bytes = b"",
        content_type: str = "",
    ) -> None:
        super().__init__(message, transient=status == 429 or status >= 500)
        self.status = status
        self.retry_after = retry_after
        # The start of the error page (403/503 only): a bot challenge is told by it.
        self.body = body
        self.content_type = content_type


class TooManyRedirects(FetchError):
    pass


class TooLarge(FetchError):
    pass


class TruncatedBody(FetchError):
    transient = True


class BrowserError(FetchError):
    """Chromium could not render the page (or could not be started)."""

    fetcher = "browser"
    transient = True


class ExtractionError(WatcherError):
    """The bytes could not be turned into text (corrupt PDF, undecodable text...)."""


class SuspiciousExtraction(ExtractionError):
    """Extraction produced text that must not become a version."""


class DeliveryError(WatcherError):
    """An alert could not be delivered; `retry_after` is the server's wish, in seconds.

    `throttled`: the channel refused it as rate limited (Slack's 429, an SMTP
    4xx reply): the channel waits, and the alert's attempts are not spent.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        throttled: bool = False,
    ) -> None:
        super().__init__(message, transient=transient or throttled)
        self.retry_after = retry_after
        self.throttled = throttled


class StoreError(WatcherError):
    pass


# What the operator can do about each cause of a StorageError; {path} is the
# database file, {folder} the state folder holding it.
STORAGE_HINTS: dict[str, str] = {
    "full": "the disk is full; free space on the disk holding {folder}, then run again "
    "(nothing of the interrupted work was written)",
    "readonly": "it is read-only; give the user running watcher write permission on "
    "{folder} and the files in it (commands that only read work without it)",
    "locked": "another process held it locked past the busy timeout; wait for that "
    "process to finish (`watcher status` shows a running daemon), then run again",
    "corrupt": "it is damaged; stop watcher and restore it from a backup (make backups "
    'with: sqlite3 {path} ".backup /safe/place/watcher.db")',
    "cantopen": "it cannot be opened; check that {folder} exists and that the user "
    "running watcher may read and write it",
    "ioerr": "the disk reported an input/output error; check the disk and its file "
    "system, then run again",
    "outdated": "it was written by an older watcher; run `watcher check` once with "
    "write access to {folder} to upgrade it",
    "missing": "there is no database there yet; run `watcher check` first",
    "other": "it could not be used; run again, and if it persists check the disk and "
    "restore the file from a backup",
}


class StorageError(StoreError):
    """The database file could not be read or written.

    `cause` is a key of STORAGE_HINTS; the message names the file, what went
    wrong and what to do, on one line. `opening` is True when the database
    could not even be opened (the CLI exits 2 then, 1 otherwise).
    """

    def __init__(self, path: Path, cause: str, detail: str, *, opening: bool = False) -> None:
        self.path = path
        self.cause = cause if cause in STORAGE_HINTS else "other"
        # SQLite's own words, on one line (a quick check reports several)
        detail = " ".join(detail.split())
        self.detail = detail if len(detail) <= 200 else detail[:199] + "…"
        self.opening = opening
        hint = STORAGE_HINTS[self.cause].format(path=path, folder=path.parent)
        super().__init__(
            f"database {path}: {hint} [{self.detail}]",
            transient=self.cause in ("full", "locked", "ioerr"),
        )

    def while_opening(self) -> StorageError:
        """The same error, marked as raised while opening the database."""
        if self.opening:
            return self
        again = StorageError(self.path, self.cause, self.detail, opening=True)
        again.__cause__ = self.__cause__
        return again


class NotFound(WatcherError):
    pass


class TaskStateError(WatcherError):
    pass


class LineageError(WatcherError):
    pass


class CitationError(WatcherError):
    """A citation that cannot be made as asked (the message says what to do instead)."""
