"""Email: send an alert through an SMTP relay.

smtplib runs in a worker thread (`asyncio.to_thread`); every socket operation
is bounded by `timeout`. `security` decides the transport: "ssl" is implicit
TLS (usually port 465), "starttls" upgrades a plain connection and refuses to
go on when the server does not offer STARTTLS (never sends in clear what was
meant to be encrypted), "none" is plain SMTP (a local relay).

Failures become `DeliveryError`: connection refused, timeouts and a dropped
connection are transient; SMTP 4xx answers (421 too busy, 451 try later,
452...) are the server throttling: the outbox pauses the channel without
spending the alert's attempts; SMTP 5xx (recipient refused,
authentication failed), a missing STARTTLS or AUTH and certificate errors are
permanent. The password never appears in a reason.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
import ssl
from dataclasses import replace

from watcher.config import EmailChannel
from watcher.errors import DeliveryError
from watcher.escape import one_line
from watcher.notify.alert import Alert
from watcher.notify.email_render import fits_email, render_email

log = logging.getLogger(__name__)


class EmailSender:
    """Sends alerts by email to the addresses of one channel."""

    def __init__(
        self,
        channel: EmailChannel,
        *,
        username: str | None,
        password: str | None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.channel = channel
        self._username = username
        self._password = password
        self._timeout = timeout
        self._ssl_context = ssl_context

    async def send(self, alert: Alert) -> None:
        """Send the alert; raises DeliveryError (transient or not) when the relay did not take it."""
        if alert.kind == "test" and not alert.title:
            alert = replace(alert, title=self.channel.name)
        await asyncio.to_thread(self._send, alert)

    def _send(self, alert: Alert) -> None:
        channel = self.channel
        where = f"email channel {channel.name!r} ({channel.smtp_host}:{channel.smtp_port})"
        try:
            message = render_email(alert, sender=channel.from_addr, recipients=channel.to)
            with self._connect() as smtp:
                if channel.security == "starttls":
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        raise DeliveryError(
                            f"{where}: the server does not offer STARTTLS; not sending in clear",
                            transient=False,
                        )
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                if self._username and self._password:
                    smtp.login(self._username, self._password)
                refused = smtp.send_message(message, channel.from_addr, list(channel.to))
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise _delivery_error(where, exc, self._password) from None
        if refused:
            # The others got it: sending again would double their copy.
            log.warning(
                "%s: delivered, but %d of %d recipients refused: %s",
                where,
                len(refused),
                len(channel.to),
                one_line(", ".join(f"{rcpt} ({code})" for rcpt, (code, _) in refused.items())),
            )
        log.debug("alert %s delivered to %s", alert.kind, where)

    def _connect(self) -> smtplib.SMTP:
        host, port = self.channel.smtp_host, self.channel.smtp_port
        if self.channel.security == "ssl":
            return smtplib.SMTP_SSL(host, port, timeout=self._timeout, context=self._context())
        return smtplib.SMTP(host, port, timeout=self._timeout)

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def fits(self, alert: Alert) -> bool:
        """Whether one message shows the whole alert (every item of a summary)."""
        return fits_email(alert)

    async def aclose(self) -> None:
        """Nothing to close: each send uses its own connection."""

    def __repr__(self) -> str:  # never the password
        return f"EmailSender(channel={self.channel.name!r})"


def _delivery_error(where: str, exc: BaseException, password: str | None) -> DeliveryError:
    """An SMTP, TLS or socket failure as a DeliveryError with a one-line reason."""
    transient = True
    throttled = False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        transient = throttled = all(400 <= code < 500 for code in codes)
        detail = "recipients refused: " + ", ".join(
            f"{rcpt} ({code} {_text(answer)})" for rcpt, (code, answer) in exc.recipients.items()
        )
    elif isinstance(exc, smtplib.SMTPResponseException):
        # 4xx: try again later; 5xx: will not work as it is (auth failed, refused...).
        transient = throttled = 400 <= exc.smtp_code < 500
        what = {
            smtplib.SMTPAuthenticationError: "login failed",
            smtplib.SMTPSenderRefused: "sender refused",
            smtplib.SMTPDataError: "message refused",
            smtplib.SMTPHeloError: "greeting refused",
            smtplib.SMTPConnectError: "connection refused by the server",
        }.get(type(exc), "the server answered")
        detail = f"{what}: {exc.smtp_code} {_text(exc.smtp_error)}"
    elif isinstance(exc, smtplib.SMTPServerDisconnected):
        detail = (
            f"the server closed the connection ({exc})"
            if str(exc)
            else "the server closed the connection"
        )
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        transient = False
        detail = f"not supported by the server: {exc}"
    elif isinstance(exc, smtplib.SMTPException):
        transient = False  # another protocol error: nothing a retry would change
        detail = f"SMTP failed: {exc}"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        transient = False
        detail = f"TLS certificate not trusted: {exc.verify_message or exc.reason}"
    elif isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        detail = "the server closed the connection during TLS"
    elif isinstance(exc, ssl.SSLError):
        # Protocol mismatches ("wrong version number": TLS against a plain port)
        # are configuration errors: retrying will not help.
        transient = False
        detail = f"TLS failed: {exc.reason or exc}"
    elif isinstance(exc, TimeoutError | socket.timeout):
        detail = "timed out"
    elif isinstance(exc, ConnectionRefusedError):
        detail = "connection refused"
    elif isinstance(exc, socket.gaierror):
        detail = f"cannot resolve the host ({exc.strerror or exc})"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    reason = one_line(detail, 400)
    if password:
        reason = reason.replace(password, "[password]")
    return DeliveryError(f"{where}: {reason}", transient=transient, throttled=throttled)


def _text(answer: bytes | str) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
    return one_line(text, 200)
