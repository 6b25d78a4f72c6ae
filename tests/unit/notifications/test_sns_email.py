"""SNS email and email-json subscriptions (decision 0180): the mails as built (SNS's subjects,
the SubscribeURL, the UnsubscribeURL footer, the JSON of email-json), header injection
refused at Subscribe and at the mail, the SMTP failures mapped to giving up (5xx) or trying
again (4xx, network), and the real delivery worker mailing through a real SMTP server on the
loopback (``support.smtp_sink``): confirmation, filter policy, a refused recipient given up,
a deferred one retried, the per-subscription rate, and Subscribe refused while no relay is
set."""

from __future__ import annotations

import json
import os
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import pytest
from pydantic import ValidationError

from andromede.iam.secrets import SecretSealer
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.errors import InvalidTopic
from andromede.notifications.mails import (
    CONFIRMATION_SUBJECT,
    DEFAULT_SUBJECT,
    MailRefused,
    build_mail,
    check_address,
)
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.memory_subscriptions import MemorySubscriptionStore
from andromede.notifications.messages import check_publish
from andromede.notifications.pubsub import PubSubLimits, PubSubService
from andromede.notifications.service import TopicService
from andromede.notifications.smtp import MailDeferred, SmtpMailer, SmtpRelay, classify
from andromede.settings import Settings
from andromede.wiring.pubsub import StoredSigningKeys, sns_mailer
from support.smtp_sink import SmtpSink, self_signed, smtp_sink
from unit.notifications.test_delivery import Clock

TENANT = "t1"
BASE = "https://sns.test"
ARN = "arn:aws:sns:eu:t1:alarms:0b7c6a4e-1f0e-4c8e-9d3a-0d6f5f4a1b2c"
NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as started:
        yield started


@pytest.fixture(autouse=True)
def _fresh(sink: SmtpSink) -> None:
    sink.mails.clear()
    sink.rcpt_reply = sink.data_reply = None


def _mail(protocol: str, kind: str, envelope: dict[str, object]) -> EmailMessage:
    return build_mail(
        protocol=protocol,
        kind=kind,
        body=json.dumps(envelope),
        recipient="ops@example.test",
        sender="no-reply@sns.test",
        subscription_arn=ARN,
        base_url=BASE,
        now=NOW,
    )


CONFIRMATION = {
    "Type": "SubscriptionConfirmation",
    "TopicArn": "arn:aws:sns:eu:t1:alarms",
    "SubscribeURL": f"{BASE}/?Action=ConfirmSubscription&TopicArn=x&Token=abc",
}


def test_the_confirmation_mail_carries_the_subscribe_and_unsubscribe_links() -> None:
    mail = _mail("email", "SubscriptionConfirmation", CONFIRMATION)
    assert mail["Subject"] == CONFIRMATION_SUBJECT
    assert mail["To"] == "ops@example.test" and mail["From"] == "no-reply@sns.test"
    text = mail.get_content()
    assert CONFIRMATION["SubscribeURL"] in text and "arn:aws:sns:eu:t1:alarms" in text
    arn = "arn%3Aaws%3Asns%3Aeu%3At1%3Aalarms%3A"
    unsubscribe = f"{BASE}/?Action=Unsubscribe&SubscriptionArn={arn}"
    assert unsubscribe in text
    assert mail["List-Unsubscribe"].startswith(f"<{unsubscribe}")
    as_json = _mail("email-json", "SubscriptionConfirmation", CONFIRMATION)
    assert json.loads(as_json.get_content()) == CONFIRMATION


def test_a_notification_mail_its_subject_and_the_unsubscribe_footer() -> None:
    envelope = {
        "Type": "Notification",
        "Message": "CPU above 90 %",
        "Subject": "ALARM: cpu",
        "UnsubscribeURL": f"{BASE}/?Action=Unsubscribe&SubscriptionArn=u",
    }
    mail = _mail("email", "Notification", envelope)
    assert mail["Subject"] == "ALARM: cpu"
    text = mail.get_content()
    assert text.startswith("CPU above 90 %\n") and envelope["UnsubscribeURL"] in text
    no_subject = _mail("email", "Notification", {**envelope, "Subject": None})
    assert no_subject["Subject"] == DEFAULT_SUBJECT
    as_json = _mail("email-json", "Notification", envelope)
    assert json.loads(as_json.get_content()) == envelope


@pytest.mark.parametrize(
    "subject", ["ALARM\r\nBcc: victim@example.test", "line\nbreak", "tab\there", "x" * 101]
)
def test_a_subject_a_header_cannot_carry_is_refused(subject: str) -> None:
    with pytest.raises(MailRefused):
        _mail("email", "Notification", {"Message": "m", "Subject": subject})
    if "\n" in subject or "\t" in subject:  # and Publish refuses it first, as SNS
        with pytest.raises(InvalidTopic):
            check_publish("m", subject, {}, None, 1024)


@pytest.mark.parametrize(
    "address",
    [
        "ops@example.test\r\nBcc: victim@example.test",
        "Ops <ops@example.test>",
        "ops@example.test, other@example.test",
        "ops example@test",
        "no-at-sign",
        "@example.test",
        "ops@",
        "ops@-bad-.test",
        "a" * 65 + "@example.test",
        "ops@" + "a" * 250 + ".test",
    ],
)
def test_an_endpoint_that_is_not_one_bare_address_is_refused(address: str) -> None:
    with pytest.raises(InvalidTopic, match="Email address"):
        check_address(address)


def test_addresses_taken() -> None:
    for address in ("ops@example.test", "first.last+sns@mail.example.fr", "root@localhost"):
        assert check_address(address) == address


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (smtplib.SMTPRecipientsRefused({"a@b": (550, b"no such user")}), MailRefused),
        (smtplib.SMTPRecipientsRefused({"a@b": (450, b"mailbox busy")}), MailDeferred),
        (smtplib.SMTPDataError(554, b"rejected"), MailRefused),
        (smtplib.SMTPDataError(451, b"try later"), MailDeferred),
        (smtplib.SMTPSenderRefused(553, b"bad sender", "x@y"), MailRefused),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), MailDeferred),
        (smtplib.SMTPServerDisconnected("gone"), MailDeferred),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported"), MailDeferred),
        (ConnectionRefusedError(111, "refused"), MailDeferred),
        (TimeoutError(), MailDeferred),
    ],
)
def test_smtp_failures_given_up_on_5xx_and_tried_again_otherwise(
    exc: Exception, kind: type[Exception]
) -> None:
    mapped = classify(exc)
    assert type(mapped) is kind
    assert "no such user" not in str(mapped) and "a@b" not in str(mapped)


async def _world(
    sink: SmtpSink, *, email: bool = True, per_subscription: float = 100.0, lease: float = 60.0
) -> tuple[PubSubService, Deliverer, MemoryEventQueue, Clock, str]:
    clock = Clock()
    events = MemoryEventQueue([])
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=5, clock=clock, queue=events)
    topic = await topics.create_topic(TENANT, "alarms", {})
    store = MemorySubscriptionStore()
    keys = StoredSigningKeys(store, SecretSealer(os.urandom(32)), "eu")
    pubsub = PubSubService(
        topics, store, events, keys, None, PubSubLimits(base_url=BASE, email=email), clock=clock
    )
    relay = SmtpRelay(
        host="127.0.0.1",
        port=sink.port,
        tls="none",
        sender="no-reply@sns.test",
        base_url=BASE,
        timeout=5.0,
        per_subscription=per_subscription,
    )
    policy = DeliveryPolicy(retry_base=2.0, timeout=2.0, batch=10, lease=lease)
    deliverer = Deliverer(
        events, topics, policy, clock=clock, subscribers=pubsub, mailer=SmtpMailer(relay)
    )
    return pubsub, deliverer, events, clock, topic.arn


async def test_subscribe_is_refused_while_the_operator_set_no_relay(sink: SmtpSink) -> None:
    pubsub, *_, topic = await _world(sink, email=False)
    for protocol in ("email", "email-json"):
        with pytest.raises(InvalidTopic, match="email delivery is not configured by the operator"):
            await pubsub.subscribe(TENANT, topic, protocol, "ops@example.test", {})


async def test_confirmed_by_the_mailed_link_then_filtered_notifications(sink: SmtpSink) -> None:
    pubsub, deliverer, events, _, topic = await _world(sink)
    with pytest.raises(InvalidTopic, match="raw message delivery"):
        await pubsub.subscribe(
            TENANT, topic, "email", "ops@example.test", {"RawMessageDelivery": "true"}
        )
    held = await pubsub.subscribe(
        TENANT,
        topic,
        "email",
        "ops@example.test",
        {"FilterPolicy": json.dumps({"severity": ["high"]})},
    )
    await pubsub.publish(TENANT, topic, "too early", None, {}, None)
    await deliverer.deliver_once()
    (confirmation,) = sink.wait_for(1)
    assert confirmation.recipients == ("ops@example.test",)
    assert confirmation.message["Subject"] == CONFIRMATION_SUBJECT
    token = confirmation.text.split("Token=", 1)[1].split()[0]
    assert (await pubsub.confirm(topic, token)).arn == held.arn
    for severity in ("low", "high"):
        await pubsub.publish(
            TENANT, topic, f"disk {severity}", "Disk", {"severity": ("String", severity)}, None
        )
    await deliverer.deliver_once()
    mails = sink.wait_for(2)
    assert len(mails) == 2 and mails[1].message["Subject"] == "Disk"
    assert mails[1].text.startswith("disk high\n") and "Action=Unsubscribe" in mails[1].text
    assert await events.waiting(TENANT) == 0 and deliverer.delivered == 2


async def test_a_refused_recipient_is_given_up_a_deferred_one_tried_again(sink: SmtpSink) -> None:
    pubsub, deliverer, events, clock, topic = await _world(sink)
    await pubsub.subscribe(TENANT, topic, "email-json", "ops@example.test", {})
    sink.rcpt_reply = "550 5.1.1 no such user"
    await deliverer.deliver_once()
    assert sink.mails == [] and deliverer.dropped == 1 and await events.waiting(TENANT) == 0
    held = await pubsub.subscribe(TENANT, topic, "email-json", "dev@example.test", {})
    sink.rcpt_reply = "451 4.3.0 try again later"
    await deliverer.deliver_once()
    assert sink.mails == [] and await events.waiting(TENANT) == 1
    sink.rcpt_reply = None
    clock.now += timedelta(seconds=3)
    await deliverer.deliver_once()
    (mail,) = sink.wait_for(1)
    envelope = json.loads(mail.message.get_content())
    assert envelope["Type"] == "SubscriptionConfirmation" and held.token == envelope["Token"]


async def test_mails_over_the_subscription_rate_wait_their_turn(sink: SmtpSink) -> None:
    # One mail a second and a 1 s lease: the second's turn is further than half a lease
    # away, so it is put back, its claim not counted.
    pubsub, deliverer, events, _, topic = await _world(sink, per_subscription=1.0, lease=1.0)
    held = await pubsub.subscribe(TENANT, topic, "email", "ops@example.test", {})
    assert held.token is not None
    await pubsub.confirm(topic, held.token)
    for n in range(2):
        await pubsub.publish(TENANT, topic, f"alarm {n}", None, {}, None)
    # The confirmation (still queued) and both alarms claimed: one mailed, two put back.
    assert await deliverer.deliver_once() == 3
    assert len(sink.wait_for(1)) == 1 and await events.waiting(TENANT) == 2
    assert deliverer.dropped == 0


def test_the_relay_settings(tmp_path: Path) -> None:
    assert sns_mailer(Settings(data_dir=tmp_path)) is None
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cr3t-value\n")
    mailer = sns_mailer(
        Settings(
            data_dir=tmp_path,
            s3_host="cloud.example.fr",
            sns_smtp_host="relay.example.fr",
            sns_smtp_username="andromede",
            sns_smtp_password_file=secret,
        )
    )
    assert mailer is not None
    relay = mailer.relay
    assert relay.password == "s3cr3t-value" and "s3cr3t" not in repr(relay)
    assert (relay.port, relay.tls, relay.per_subscription) == (587, "starttls", 10.0)
    assert relay.sender == "no-reply@cloud.example.fr"


@pytest.mark.parametrize(
    "values",
    [
        {"sns_smtp_username": "u", "sns_smtp_tls": "none", "sns_smtp_password_file": "/p"},
        {"sns_smtp_username": "u"},
        {"sns_smtp_tls": "ssl"},
        {"sns_smtp_port": 0},
        {"sns_email_from": "Ops <ops@example.test>"},
        {"sns_email_from": "ops@example.test\r\nBcc: x@y"},
        {"sns_email_from": "nobody"},
        {"sns_email_per_second": 0},
        {"sns_email_per_second_per_tenant": -1},
    ],
)
def test_relay_settings_refused(tmp_path: Path, values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


async def test_starttls_required_never_a_fall_back_to_clear(sink: SmtpSink) -> None:
    relay = SmtpRelay(
        host="127.0.0.1", port=sink.port, tls="starttls", sender="a@sns.test", base_url=BASE
    )
    message = _mail("email", "Notification", {"Message": "secret alarm"})
    with pytest.raises(MailDeferred, match="STARTTLS"):
        await SmtpMailer(relay).send(message)
    assert sink.mails == []


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_tls_then_login_then_the_mail(tls: Literal["starttls", "implicit"]) -> None:
    server, client = self_signed()
    with smtp_sink(server, implicit=tls == "implicit") as secured:
        relay = SmtpRelay(
            host="127.0.0.1",
            port=secured.port,
            tls=tls,
            sender="no-reply@sns.test",
            base_url=BASE,
            username="andromede",
            password="s3cr3t-value",
        )
        await SmtpMailer(relay, tls=lambda: client).send(
            _mail("email", "Notification", {"Message": "over TLS"})
        )
        (mail,) = secured.wait_for(1)
        assert secured.logins == [("andromede", "s3cr3t-value")]
        assert mail.text.startswith("over TLS\n")
        # A certificate the platform does not trust: never sent, tried again later.
        with pytest.raises(MailDeferred):
            await SmtpMailer(relay).send(_mail("email", "Notification", {"Message": "x"}))
        assert len(secured.mails) == 1 and len(secured.logins) == 1
