"""SNS email subscriptions through the SNS API (decision 0180), in process with botocore's
model over the real services and the real worker, mailing into a real SMTP server on the
loopback: GetSubscriptionAttributes of a pending email subscription, a ``json`` message
structure's ``email`` key mailed, FIFO topics and delivery policies refused for email, and a
message the relay refuses for good sent to the subscription's dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from andromede.notifications.smtp import SmtpMailer, SmtpRelay
from support.smtp_sink import SmtpSink, smtp_sink
from support.snsworld import Sns, refused, sns_world, topic


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as started:
        yield started


@pytest.fixture
async def sns(tmp_path: Path, sink: SmtpSink) -> AsyncIterator[Sns]:
    sink.mails.clear()
    sink.rcpt_reply = None
    relay = SmtpRelay(
        host="127.0.0.1",
        port=sink.port,
        tls="none",
        sender="no-reply@sns.test",
        base_url="https://sns.test:9000",
        timeout=5.0,
    )
    async with sns_world(tmp_path, mailer=SmtpMailer(relay)) as made:
        yield made


async def _confirmed(sns: Sns, sink: SmtpSink, arn: str, **attributes: str) -> str:
    """An email subscription of ``arn``, confirmed with the token its mail carried."""
    held = await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="email",
        Endpoint="ops@example.test",
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    shown = await sns.root.call(
        "sns", "GetSubscriptionAttributes", SubscriptionArn=held["SubscriptionArn"]
    )
    assert shown["Attributes"]["Protocol"] == "email"
    assert shown["Attributes"]["PendingConfirmation"] == "true"
    await sns.deliverer.deliver_once()
    mails = sink.wait_for(1)
    token = mails[-1].text.split("Token=", 1)[1].split()[0]
    await sns.pubsub.confirm(arn, token)
    return str(held["SubscriptionArn"])


async def test_a_json_structures_email_key_is_mailed(sns: Sns, sink: SmtpSink) -> None:
    arn = await topic(sns.root, "structured")
    await _confirmed(sns, sink, arn)
    message = {"default": "for everyone", "email": "for the mail reader"}
    await sns.root.call(
        "sns", "Publish", TopicArn=arn, Message=json.dumps(message), MessageStructure="json"
    )
    await sns.deliverer.deliver_once()
    mail = sink.wait_for(2)[1]
    assert mail.text.startswith("for the mail reader\n")
    assert mail.message["Subject"] == "AWS Notification Message"


async def test_email_refused_where_sns_refuses_it(sns: Sns) -> None:
    fifo = str(
        (
            await sns.root.call(
                "sns", "CreateTopic", Name="orders.fifo", Attributes={"FifoTopic": "true"}
            )
        )["TopicArn"]
    )
    await refused(
        sns.root, "Subscribe", "InvalidParameter", TopicArn=fifo, Protocol="email",
        Endpoint="ops@example.test",
    )  # fmt: skip
    arn = await topic(sns.root, "plain")
    await refused(
        sns.root, "Subscribe", "InvalidParameter", TopicArn=arn, Protocol="email-json",
        Endpoint="ops@example.test",
        Attributes={"DeliveryPolicy": json.dumps({"healthyRetryPolicy": {"numRetries": 1}})},
    )  # fmt: skip
    await refused(
        sns.root, "Subscribe", "InvalidParameter", TopicArn=arn, Protocol="email",
        Endpoint="ops@example.test>\r\nBcc: <victim@example.test",
    )  # fmt: skip


async def test_a_mail_refused_for_good_goes_to_the_dead_letter_queue(
    sns: Sns, sink: SmtpSink
) -> None:
    arn = await topic(sns.root, "redriven-mail")
    dlq = await sns.queue(sns.world.tenant_id, "mail-dead-letters")
    await _confirmed(sns, sink, arn, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn}))
    sink.rcpt_reply = "550 5.1.1 mailbox unknown"
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="disk full", Subject="ALARM")
    bodies = await sns.received(dlq)
    assert [json.loads(b)["Message"] for b in bodies] == ["disk full"]
    assert len(sink.mails) == 1  # the confirmation only
    assert await sns.events.waiting(sns.world.tenant_id) == 0
