"""The operator's SMTP relay (decision 0180): how SNS's mails leave the platform.

- **Stdlib.** ``smtplib`` in a worker thread (``asyncio.to_thread``), one connection per mail:
  a mail is rare beside an HTTP push, and a connection held open would be one more thing a
  relay drops under us.
- **TLS.** ``starttls`` (STARTTLS required: a relay that does not offer it is a failure, never
  a fall back to clear), ``implicit`` (TLS from the first byte) or ``none``; the
  certificate is checked against the platform's trust store.
- **What a failure means.** A 5xx answer to the recipient or the message (RCPT, DATA) is for
  good: ``MailRefused``, the delivery given up (then the subscription's dead-letter queue).
  A 4xx, a refused login (the operator's configuration, not the message's fault), a network
  failure or a timeout is for now: ``MailDeferred``, tried again on the worker's schedule.
- **No secret in the logs.** The password never leaves this object (not in its ``repr``); a
  failure's reason is the SMTP code, never the relay's text (it may repeat the address).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Final, Literal

from andromede.notifications.mails import MailRefused

__all__ = ["MailDeferred", "MailRefused", "SmtpMailer", "SmtpRelay", "classify"]

Tls = Literal["starttls", "implicit", "none"]
_PERMANENT: Final = range(500, 600)


@dataclass(frozen=True, slots=True)
class SmtpRelay:
    host: str
    port: int
    tls: Tls
    sender: str  # the From and envelope sender
    base_url: str  # the SNS endpoint as subscribers reach it (UnsubscribeURL)
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0
    per_subscription: float = 10.0  # mails a second to one subscription
    per_tenant: float = 50.0  # mails a second for one tenant's subscriptions


class MailDeferred(Exception):
    """The relay did not take the mail this time; it may later."""


def classify(exc: Exception) -> Exception:
    """``MailRefused`` (for good) or ``MailDeferred`` (for now) for a failure of smtplib or
    of the network, its reason the SMTP code only."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code in _PERMANENT for code in codes):
            return MailRefused(f"the relay refused the recipient ({codes[0]})")
        return MailDeferred(f"the relay deferred the recipient ({codes[0] if codes else '-'})")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # 535 is a 5xx, but the operator's credentials, not this mail: tried again.
        return MailDeferred(f"the relay refused the login ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPResponseException):
        if exc.smtp_code in _PERMANENT:
            return MailRefused(f"the relay refused the mail ({exc.smtp_code})")
        return MailDeferred(f"the relay deferred the mail ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailDeferred("the relay does not offer STARTTLS")
    return MailDeferred(type(exc).__name__)


class SmtpMailer:
    """Sends mails through one relay."""

    def __init__(
        self, relay: SmtpRelay, *, tls: Callable[[], ssl.SSLContext] | None = None
    ) -> None:
        self.relay = relay
        self._tls = tls or ssl.create_default_context

    async def send(self, message: EmailMessage) -> None:
        """MailRefused or MailDeferred when the relay did not take it."""
        try:
            await asyncio.to_thread(self._send, message)
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from exc

    def _send(self, message: EmailMessage) -> None:
        relay = self.relay
        client: smtplib.SMTP
        if relay.tls == "implicit":
            client = smtplib.SMTP_SSL(
                relay.host, relay.port, timeout=relay.timeout, context=self._tls()
            )
        else:
            client = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
        with client:
            if relay.tls == "starttls":
                client.starttls(context=self._tls())
            if relay.username:
                client.login(relay.username, relay.password)
            client.send_message(message, from_addr=relay.sender)
