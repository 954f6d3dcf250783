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
    │   └── TruncatedBody      connection closed before Content-Length
    ├── ExtractionError        the bytes could not be turned into text
    │   └── SuspiciousExtraction   text that looks wrong: error page, bot
    │                              challenge, empty, collapsed, select matched nothing
    ├── DeliveryError          an alert could not be delivered to a channel
    │                          (transient: retried with backoff; else marked failed;
    │                          throttled: the channel said "slow down", not a failure)
    ├── StoreError             database problems (locked, corrupt, schema too new)
    ├── NotFound               an unknown source, version or task (CLI input)
    └── TaskStateError         a task action that its state does not allow
"""

from __future__ import annotations


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
    """The document could not be downloaded."""


class NetworkError(FetchError):
    transient = True


class FetchTimeout(FetchError):
    transient = True


class HTTPStatusError(FetchError):
    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, transient=status == 429 or status >= 500)
        self.status = status
        self.retry_after = retry_after


class TooManyRedirects(FetchError):
    pass


class TooLarge(FetchError):
    pass


class TruncatedBody(FetchError):
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


class NotFound(WatcherError):
    pass


class TaskStateError(WatcherError):
    pass
