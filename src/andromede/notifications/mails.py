"""SNS's mails (decision 0180): what an ``email`` or ``email-json`` subscription receives,
built from the envelope queued for it (``notifications.envelope``). Pure: no I/O.

- **Confirmation.** An ``email`` subscription gets a text mail carrying the SubscribeURL
  (and an UnsubscribeURL, to drop the request); an ``email-json`` one gets the
  ``SubscriptionConfirmation`` JSON itself, as SNS sends them. Subject: SNS's "AWS
  Notification - Subscription Confirmation".
- **Notification.** ``email``: the message's text, then SNS's footer with the UnsubscribeURL;
  ``email-json``: the signed ``Notification`` JSON (which holds the UnsubscribeURL). Subject:
  the Publish's Subject, else SNS's "AWS Notification Message".
- **No header injection.** The recipient is checked at Subscribe (``check_address``: one bare
  address, no space, comma, angle bracket nor line break); a Subject is checked at Publish
  and again here (``MailRefused`` for a line break or a control character), and
  ``EmailMessage`` under the SMTP policy refuses any header value with a line break besides.
  A ``List-Unsubscribe`` header (RFC 2369) carries the UnsubscribeURL for mail clients.
- **From's name** is the topic's ``DisplayName`` (decision 0180's addendum), checked at
  CreateTopic/SetTopicAttributes (printable ASCII) and put in the header as an RFC 5322
  display name by ``headerregistry.Address`` (quoted, its quotes and backslashes escaped),
  never pasted into the header's text; a control character there is ``MailRefused``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Final
from urllib.parse import quote

from andromede.notifications.errors import InvalidTopic

__all__ = [
    "CONFIRMATION_SUBJECT",
    "DEFAULT_SUBJECT",
    "EMAIL_PROTOCOLS",
    "MailRefused",
    "build_mail",
    "check_address",
]

EMAIL_PROTOCOLS: Final = ("email", "email-json")
CONFIRMATION_SUBJECT: Final = "AWS Notification - Subscription Confirmation"
DEFAULT_SUBJECT: Final = "AWS Notification Message"
# One bare address (RFC 5321's dot-atom local part and a host name): nothing a header could
# be made of (space, comma, angle brackets, quotes, line breaks).
_ADDRESS: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*"
)
_MAX_ADDRESS: Final = 254  # RFC 5321's path less its angle brackets
_MAX_LOCAL: Final = 64
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_FOOTER: Final = (
    "\n\n--\n"
    "If you wish to stop receiving notifications from this topic, please click or visit the "
    "link below to unsubscribe:\n{url}\n\n"
    "Please do not reply directly to this email.\n"
)
_CONFIRMATION: Final = (
    "You have chosen to subscribe to the topic:\n{topic}\n\n"
    "To confirm this subscription, click or visit the link below (If this was in error no "
    "action is necessary):\n{subscribe}\n\n"
    "To cancel this subscription request, click or visit:\n{unsubscribe}\n\n"
    "Please do not reply directly to this email.\n"
)


class MailRefused(Exception):
    """The mail cannot be built and never will be (a Subject a header cannot carry)."""


def check_address(endpoint: str) -> str:
    """The address as kept; InvalidTopic (InvalidParameter) for anything but one bare
    address. The message never repeats it."""
    local, _, _domain = endpoint.partition("@")
    if (
        len(endpoint) > _MAX_ADDRESS
        or len(local) > _MAX_LOCAL
        or _ADDRESS.fullmatch(endpoint) is None
    ):
        raise InvalidTopic("Invalid parameter: Email address")
    return endpoint


def unsubscribe_url(base_url: str, subscription_arn: str) -> str:
    """The envelope's UnsubscribeURL (``envelope.notification``'s form)."""
    return f"{base_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription_arn, safe='')}"


def build_mail(
    *,
    protocol: str,
    kind: str,
    body: str,
    recipient: str,
    sender: str,
    subscription_arn: str,
    base_url: str,
    now: datetime,
    display_name: str | None = None,
) -> EmailMessage:
    """The mail for a queued delivery: ``kind`` its ``x-amz-sns-message-type``
    (``SubscriptionConfirmation`` or ``Notification``), ``body`` its signed envelope (JSON);
    ``display_name`` the topic's DisplayName, From's name. MailRefused when it cannot be
    mailed."""
    try:
        envelope = json.loads(body)
    except ValueError as exc:
        raise MailRefused("the envelope is not JSON") from exc
    if not isinstance(envelope, dict):
        raise MailRefused("the envelope is not a JSON object")
    unsubscribe = str(envelope.get("UnsubscribeURL") or unsubscribe_url(base_url, subscription_arn))
    if kind == "SubscriptionConfirmation":
        subject = CONFIRMATION_SUBJECT
        text = (
            body
            if protocol == "email-json"
            else _CONFIRMATION.format(
                topic=envelope.get("TopicArn", ""),
                subscribe=envelope.get("SubscribeURL", ""),
                unsubscribe=unsubscribe,
            )
        )
    else:
        subject = str(envelope.get("Subject") or DEFAULT_SUBJECT)
        text = (
            body
            if protocol == "email-json"
            else str(envelope.get("Message", "")) + _FOOTER.format(url=unsubscribe)
        )
    if _CONTROL.search(subject) or len(subject) > 100:
        raise MailRefused("the Subject cannot be a mail header")
    if display_name and (_CONTROL.search(display_name) or len(display_name) > 100):
        raise MailRefused("the DisplayName cannot be a mail header")
    message = EmailMessage(policy=SMTP)
    try:
        message["From"] = (
            Address(display_name=display_name, addr_spec=sender) if display_name else sender
        )
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
    except ValueError as exc:  # a line break in a header value
        raise MailRefused("a header cannot carry the value") from exc
    message.set_content(text, subtype="plain", charset="utf-8")
    return message
